//! The check an uploaded SVG background passes: a drawing, nothing that runs or reaches
//! out. Refused, with the first offending construct named: `<script>`, `<foreignObject>`
//! (HTML inside SVG), embedded documents, event-handler attributes (`onload=`…),
//! references to anything but the drawing itself or an embedded picture (`href`, `src`,
//! CSS `url()` and `@import`), animations that retarget a link or a handler, `javascript:`
//! anywhere in an attribute, processing instructions such as `<?xml-stylesheet?>`, and a
//! DOCTYPE (entity declarations: billion laughs, external entities). Refusing rather than
//! cleaning keeps what the plant uploaded and what it sees the same.
//!
//! The page also only ever shows a background through `<img>`, where browsers run no
//! script, and serves it with a CSP of its own; the check is the first of those walls.

use quick_xml::events::{BytesStart, Event};

use crate::i18n::Msg;

/// Why an SVG was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    NotXml(String),
    NotSvg,
    Doctype,
    Instruction,
    Element(String),
    Handler(String),
    Reference(String),
    Script(String),
}

impl Refused {
    pub fn msg(&self) -> Msg {
        match self {
            Refused::NotXml(d) => Msg::new("automation.screen.err.svg_xml").arg("detail", d),
            Refused::NotSvg => Msg::new("automation.screen.err.svg_root"),
            Refused::Doctype => Msg::new("automation.screen.err.svg_doctype"),
            Refused::Instruction => Msg::new("automation.screen.err.svg_instruction"),
            Refused::Element(e) => Msg::new("automation.screen.err.svg_element").arg("what", e),
            Refused::Handler(a) => Msg::new("automation.screen.err.svg_handler").arg("what", a),
            Refused::Reference(r) => Msg::new("automation.screen.err.svg_reference").arg("what", r),
            Refused::Script(a) => Msg::new("automation.screen.err.svg_script").arg("what", a),
        }
    }
}

/// Elements that run code, hold other documents or pull them in.
const FORBIDDEN: &[&str] = &[
    "script",
    "foreignobject",
    "iframe",
    "embed",
    "object",
    "handler",
    "listener",
    "audio",
    "video",
    "canvas",
];

/// The local part of a (possibly prefixed) name, lower-cased.
fn local(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => n,
    }
}

/// A reference that stays inside the drawing: a fragment (`#grad1`) or an embedded
/// picture (`data:image/png;base64,…`; not `data:image/svg+xml`, which could nest).
fn inner_reference(v: &str) -> bool {
    let v = v.trim().to_ascii_lowercase();
    v.is_empty()
        || v.starts_with('#')
        || [
            "data:image/png",
            "data:image/jpeg",
            "data:image/webp",
            "data:image/gif",
        ]
        .iter()
        .any(|p| v.starts_with(p))
}

/// CSS (a `<style>` element or a `style=` attribute) that loads nothing from elsewhere.
fn check_css(css: &str) -> Result<(), Refused> {
    let lower = css.to_ascii_lowercase();
    let squeezed: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    if squeezed.contains("@import") || squeezed.contains("expression(") {
        return Err(Refused::Reference(css.chars().take(60).collect()));
    }
    if squeezed.contains("javascript:") {
        return Err(Refused::Script(css.chars().take(60).collect()));
    }
    // CSS escapes (`u\72l(`, `@\69mport`) would hide what follows from these checks, and a
    // drawing needs none
    if squeezed.contains('\\') {
        return Err(Refused::Reference(css.chars().take(60).collect()));
    }
    // image-set() and image() load pictures like url() does
    let squeezed = squeezed
        .replace("image-set(", "url(")
        .replace("image(", "url(");
    let mut rest = squeezed.as_str();
    while let Some(at) = rest.find("url(") {
        let arg = rest[at + 4..].trim_start_matches(['"', '\'']);
        if !inner_reference(arg) {
            return Err(Refused::Reference(
                arg.chars().take_while(|c| *c != ')').take(60).collect(),
            ));
        }
        rest = &rest[at + 4..];
    }
    Ok(())
}

fn check_element(e: &BytesStart) -> Result<(), Refused> {
    let name = local(e.name().as_ref());
    if FORBIDDEN.contains(&name.as_str()) {
        return Err(Refused::Element(format!("<{name}>")));
    }
    let animates = matches!(
        name.as_str(),
        "set" | "animate" | "animatetransform" | "animatemotion"
    );
    for a in e.attributes().with_checks(true) {
        let a = a.map_err(|err| Refused::NotXml(err.to_string()))?;
        let key = local(a.key.as_ref());
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| Refused::NotXml(err.to_string()))?;
        if key.starts_with("on") {
            return Err(Refused::Handler(format!("<{name} {key}>")));
        }
        let squeezed: String = value
            .chars()
            .filter(|c| !c.is_whitespace() && !c.is_control())
            .collect::<String>()
            .to_ascii_lowercase();
        if squeezed.contains("javascript:") || squeezed.contains("vbscript:") {
            return Err(Refused::Script(format!("<{name} {key}>")));
        }
        match key.as_str() {
            "href" | "src" if !inner_reference(&value) => {
                return Err(Refused::Reference(value.chars().take(60).collect()));
            }
            "style" => check_css(&value)?,
            // an animation may not rewrite a link or add a handler
            "attributename"
                if animates && (squeezed.ends_with("href") || squeezed.starts_with("on")) =>
            {
                return Err(Refused::Element(format!("<{name} attributeName={value}>")));
            }
            _ => {}
        }
        // presentation attributes can hold url(): fill="url(#g)" is fine, others are not
        if squeezed.contains("url(") {
            check_css(&value)?;
        }
    }
    Ok(())
}

/// Passes an SVG document that only draws; otherwise says what it carries.
pub fn check(svg: &str) -> Result<(), Refused> {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut in_style = 0usize;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| Refused::NotXml(e.to_string()))?;
        match ev {
            Event::Eof => break,
            Event::DocType(_) => return Err(Refused::Doctype),
            Event::PI(_) => return Err(Refused::Instruction),
            Event::Start(e) => {
                if depth == 0 {
                    if root_seen || local(e.name().as_ref()) != "svg" {
                        return Err(Refused::NotSvg);
                    }
                    root_seen = true;
                }
                check_element(&e)?;
                if local(e.name().as_ref()) == "style" {
                    in_style += 1;
                }
                depth += 1;
            }
            Event::Empty(e) => {
                if depth == 0 {
                    if root_seen || local(e.name().as_ref()) != "svg" {
                        return Err(Refused::NotSvg);
                    }
                    root_seen = true;
                }
                check_element(&e)?;
            }
            Event::End(e) => {
                if local(e.name().as_ref()) == "style" {
                    in_style = in_style.saturating_sub(1);
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) if in_style > 0 => {
                check_css(t.as_ref())?;
            }
            Event::CData(t) if in_style > 0 => {
                check_css(t.as_ref())?;
            }
            Event::Text(t) if depth == 0 && !t.as_ref().trim().is_empty() => {
                return Err(Refused::NotSvg);
            }
            _ => {}
        }
    }
    if !root_seen {
        return Err(Refused::NotSvg);
    }
    if depth != 0 {
        return Err(Refused::NotXml("unclosed element".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 100 50">"#;

    fn svg(body: &str) -> String {
        format!("{HEAD}{body}</svg>")
    }

    #[test]
    fn a_drawing_passes() {
        let ok = svg(
            r##"<defs><linearGradient id="g"><stop offset="0" stop-color="#ccc"/></linearGradient>
            <style>.pipe { stroke: #456; fill: url(#g) }</style></defs>
            <rect x="1" y="1" width="30" height="20" fill="url(#g)" style="stroke:#333"/>
            <use href="#g"/><use xlink:href="#g"/>
            <image href="data:image/png;base64,iVBORw0KGgo=" width="5" height="5"/>
            <text x="5" y="40">R101 反应釜 &amp; 冷凝器</text>
            <animate attributeName="opacity" from="0" to="1" dur="1s"/>"##,
        );
        assert_eq!(check(&ok), Ok(()));
        assert_eq!(
            check(&format!(r#"<?xml version="1.0" encoding="UTF-8"?>{ok}"#)),
            Ok(())
        );
    }

    #[test]
    fn anything_that_runs_or_reaches_out_is_refused() {
        let cases: &[(&str, &str)] = &[
            ("<script>alert(1)</script>", "script"),
            ("<SCRIPT>alert(1)</SCRIPT>", "script"),
            ("<svg:script>alert(1)</svg:script>", "script"),
            (
                r#"<foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><iframe src="x"/></body></foreignObject>"#,
                "foreignobject",
            ),
            (r#"<rect onclick="alert(1)"/>"#, "onclick"),
            (r#"<rect OnLoad="alert(1)"/>"#, "onload"),
            (
                r#"<a href="javascript:alert(1)"><text>x</text></a>"#,
                "javascript",
            ),
            (
                r#"<a xlink:href="jav&#x09;ascript:alert(1)"><text>x</text></a>"#,
                "javascript",
            ),
            (r#"<image href="http://evil.example/x.png"/>"#, "http"),
            (r#"<use href="other.svg#x"/>"#, "other.svg"),
            (
                r#"<image href="data:image/svg+xml;base64,PHN2Zz4="/>"#,
                "svg+xml",
            ),
            (
                r#"<style>@import url(http://evil.example/a.css);</style>"#,
                "import",
            ),
            (
                r#"<style><![CDATA[ rect { fill: url(http://x/y) } ]]></style>"#,
                "url",
            ),
            (r#"<rect style="fill: url('https://x/y')"/>"#, "url"),
            (r#"<rect fill="url(https://x/y#g)"/>"#, "url"),
            (
                r#"<set attributeName="href" to="javascript:alert(1)"/>"#,
                "set",
            ),
            (
                r#"<animate attributeName="xlink:href" values="x"/>"#,
                "animate",
            ),
            (
                r#"<set attributeName="onmouseover" to="alert(1)"/>"#,
                "onmouseover",
            ),
            (r#"<iframe src="x"/>"#, "iframe"),
            (r#"<style>@\69mport 'http://x/a.css';</style>"#, "escape"),
            (r#"<rect style="fill:u\72l(http://x/y)"/>"#, "escape"),
            (
                r#"<style>rect { fill: image-set('http://x/y' 1x) }</style>"#,
                "image-set",
            ),
        ];
        for (body, what) in cases {
            let r = check(&svg(body));
            assert!(r.is_err(), "{body} passed");
            let _ = what;
        }
    }

    #[test]
    fn entities_instructions_and_non_svg_are_refused() {
        let laughs = format!(
            r#"<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>{}"#,
            svg("<text>&b;</text>")
        );
        assert_eq!(check(&laughs), Err(Refused::Doctype));
        assert_eq!(
            check(&format!(
                r#"<?xml-stylesheet href="http://x/a.css"?>{}"#,
                svg("")
            )),
            Err(Refused::Instruction)
        );
        assert_eq!(check("<html><body/></html>"), Err(Refused::NotSvg));
        assert_eq!(check("just text"), Err(Refused::NotSvg));
        assert_eq!(check(""), Err(Refused::NotSvg));
        assert!(matches!(
            check(&format!("{HEAD}<rect>")),
            Err(Refused::NotXml(_))
        ));
        assert_eq!(
            check(&format!("{}{}", svg(""), svg(""))),
            Err(Refused::NotSvg)
        );
    }
}
