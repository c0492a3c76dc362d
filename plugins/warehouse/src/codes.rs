//! What the labels say and what a scan means (pure; tested natively).
//!
//! A label's QR code carries a short, self-describing text so a scan is never ambiguous:
//! `NX:LOC:<store>/<location>`, `NX:LOT:<material>/<lot number>`, `NX:MAT:<material>`.
//! A person may also type what is printed under the code, or a hand scanner may type it:
//! a location as `<store>/<location>`, a lot as `<material>/<lot>`, a material by its code.

/// A scanned or typed code, as far as its text tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// A location in a store: (store code, location code).
    Location(String, String),
    /// A lot of a material: (material code, lot number).
    Lot(String, String),
    /// A material by its code.
    Material(String),
    /// Text that is none of those: a bare code, to be looked up.
    Bare(String),
}

/// A part of a code with `%` and `/` escaped (`%25`, `%2F`), so a material or store code
/// holding a `/` still reads back whole. Codes without them print as they are.
pub fn escape(part: &str) -> String {
    part.replace('%', "%25").replace('/', "%2F")
}

fn unescape(part: &str) -> String {
    part.replace("%2F", "/")
        .replace("%2f", "/")
        .replace("%25", "%")
}

pub fn location(store: &str, loc: &str) -> String {
    format!("NX:LOC:{}/{}", escape(store), escape(loc))
}

pub fn lot(material: &str, lot: &str) -> String {
    format!("NX:LOT:{}/{}", escape(material), escape(lot))
}

pub fn material(code: &str) -> String {
    format!("NX:MAT:{}", escape(code))
}

fn pair(s: &str) -> Option<(String, String)> {
    let (a, b) = s.split_once('/')?;
    let (a, b) = (unescape(a.trim()), unescape(b.trim()));
    (!a.is_empty() && !b.is_empty()).then_some((a, b))
}

/// A query value for a link: everything but letters, digits and `-_.~` percent-encoded.
pub fn query(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a scan says. Prefixes are read in any case; spaces around are dropped.
pub fn parse(text: &str) -> Option<Code> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let upper = t.get(..7).map(str::to_ascii_uppercase);
    let rest = t.get(7..).unwrap_or("");
    match upper.as_deref() {
        Some("NX:LOC:") => pair(rest).map(|(a, b)| Code::Location(a, b)),
        Some("NX:LOT:") => pair(rest).map(|(a, b)| Code::Lot(a, b)),
        Some("NX:MAT:") => {
            let m = unescape(rest.trim());
            (!m.is_empty()).then_some(Code::Material(m))
        }
        _ if t.to_ascii_uppercase().starts_with("NX:") => None,
        _ => Some(Code::Bare(t.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_back_as_what_they_name() {
        assert_eq!(
            parse(&location("RM", "A-01")),
            Some(Code::Location("RM".into(), "A-01".into()))
        );
        assert_eq!(
            parse(&lot("M-001", "L2601/03")),
            Some(Code::Lot("M-001".into(), "L2601/03".into())),
            "a lot number may hold a slash: the material code ends at the first"
        );
        assert_eq!(
            parse(&material("M-001")),
            Some(Code::Material("M-001".into()))
        );
        assert_eq!(
            parse(" nx:loc:RM/A-01 "),
            Some(Code::Location("RM".into(), "A-01".into()))
        );
        assert_eq!(parse("RM/A-01"), Some(Code::Bare("RM/A-01".into())));
    }

    #[test]
    fn codes_holding_a_slash_or_percent_read_back_whole() {
        assert_eq!(lot("H2SO4/98", "L1"), "NX:LOT:H2SO4%2F98/L1");
        assert_eq!(
            parse(&lot("H2SO4/98", "L/1%")),
            Some(Code::Lot("H2SO4/98".into(), "L/1%".into()))
        );
        assert_eq!(parse(&material("A/B")), Some(Code::Material("A/B".into())));
        assert_eq!(query("G 01&x=#1/库"), "G%2001%26x%3D%231%2F%E5%BA%93");
    }

    #[test]
    fn broken_codes_are_nothing() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("NX:LOC:RM"), None);
        assert_eq!(parse("NX:LOC:/A-01"), None);
        assert_eq!(parse("NX:LOT:M-001/"), None);
        assert_eq!(parse("NX:MAT: "), None);
        assert_eq!(
            parse("NX:XYZ:1"),
            None,
            "an unknown kind of ours is not a bare code"
        );
        assert_eq!(parse("NX:"), None);
    }
}
