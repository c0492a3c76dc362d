//! What a vendor may ask in a session, and what each request may touch (pure; tested
//! natively). A request is refused unless the session is open, not past its end, and the
//! request stays inside the scope the plant admin approved.

use serde::{Deserialize, Serialize};

/// What the admin approved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// Tags the vendor may read (current values and the last hours' history).
    pub read: Vec<String>,
    /// Tags the vendor may write (each also readable). Empty: no writes.
    pub write: Vec<String>,
    /// Whether the vendor may read the alarm journal.
    pub logs: bool,
}

/// A vendor's request, as JSON on the session's request topic.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Current values of tags.
    Read {
        #[serde(default)]
        id: String,
        tags: Vec<String>,
    },
    /// A tag's history over the last `minutes` (1–1440).
    History {
        #[serde(default)]
        id: String,
        tag: String,
        minutes: u32,
    },
    /// Writes a value to a tag.
    Write {
        #[serde(default)]
        id: String,
        tag: String,
        value: f64,
    },
    /// The alarm journal of the last `hours` (1–72).
    Logs {
        #[serde(default)]
        id: String,
        hours: u32,
    },
}

impl Request {
    pub fn id(&self) -> &str {
        match self {
            Request::Read { id, .. }
            | Request::History { id, .. }
            | Request::Write { id, .. }
            | Request::Logs { id, .. } => id,
        }
    }
}

/// Why a request is refused, in English (the vendor's engineers read it) — the plant's own
/// pages show the same refusal in Chinese through the audit log.
pub fn refusal(scope: &Scope, r: &Request) -> Option<String> {
    let readable = |t: &str| scope.read.iter().chain(&scope.write).any(|x| x == t);
    match r {
        Request::Read { tags, .. } => {
            if tags.is_empty() || tags.len() > 100 {
                return Some("read: 1–100 tags".into());
            }
            tags.iter()
                .find(|t| !readable(t))
                .map(|t| format!("tag {t} is outside this session's scope"))
        }
        Request::History { tag, minutes, .. } => {
            if !(1..=1440).contains(minutes) {
                Some("history: 1–1440 minutes".into())
            } else if !readable(tag) {
                Some(format!("tag {tag} is outside this session's scope"))
            } else {
                None
            }
        }
        Request::Write { tag, value, .. } => {
            if !scope.write.iter().any(|x| x == tag) {
                Some(format!("writing {tag} is not granted in this session"))
            } else if !value.is_finite() {
                Some("write: a finite number".into())
            } else {
                None
            }
        }
        Request::Logs { hours, .. } => {
            if !scope.logs {
                Some("the alarm journal is not granted in this session".into())
            } else if !(1..=72).contains(hours) {
                Some("logs: 1–72 hours".into())
            } else {
                None
            }
        }
    }
}

/// A list typed by the admin (`TT101, PT101`) as tag names: trimmed, no blanks, no repeats.
pub fn tag_list(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in text.split([',', '，', ';', ' ', '\n']) {
        let t = t.trim();
        if !t.is_empty() && !out.iter().any(|x| x == t) {
            out.push(t.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            read: vec!["R101.TT101".into(), "R101.PT101".into()],
            write: vec!["R101.TIC101.SP".into()],
            logs: false,
        }
    }

    fn req(json: &str) -> Request {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn requests_inside_the_scope_pass_and_the_rest_say_why() {
        let s = scope();
        assert_eq!(
            refusal(&s, &req(r#"{"op":"read","id":"1","tags":["R101.TT101"]}"#)),
            None
        );
        assert_eq!(
            refusal(&s, &req(r#"{"op":"read","tags":["R101.TIC101.SP"]}"#)),
            None,
            "a writable tag is readable"
        );
        assert_eq!(
            refusal(
                &s,
                &req(r#"{"op":"read","tags":["R101.TT101","TK201.LT"]}"#)
            )
            .unwrap(),
            "tag TK201.LT is outside this session's scope"
        );
        assert_eq!(
            refusal(&s, &req(r#"{"op":"write","tag":"R101.TT101","value":1}"#)).unwrap(),
            "writing R101.TT101 is not granted in this session"
        );
        assert_eq!(
            refusal(
                &s,
                &req(r#"{"op":"write","tag":"R101.TIC101.SP","value":80}"#)
            ),
            None
        );
        assert!(
            refusal(&s, &req(r#"{"op":"logs","hours":2}"#))
                .unwrap()
                .contains("not granted")
        );
        assert!(
            refusal(
                &s,
                &req(r#"{"op":"history","tag":"R101.TT101","minutes":0}"#)
            )
            .is_some()
        );
        assert!(refusal(&s, &req(r#"{"op":"read","tags":[]}"#)).is_some());
    }

    #[test]
    fn unknown_requests_do_not_parse() {
        assert!(serde_json::from_str::<Request>(r#"{"op":"shell","cmd":"ls"}"#).is_err());
        assert!(
            serde_json::from_str::<Request>(r#"{"op":"read","tags":["A"],"extra":1}"#).is_err()
        );
    }

    #[test]
    fn tag_lists_are_trimmed_and_unique() {
        assert_eq!(tag_list(" A, B，A;C\n"), ["A", "B", "C"]);
        assert!(tag_list(" , ").is_empty());
    }
}
