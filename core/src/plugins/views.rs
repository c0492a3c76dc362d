//! What the box checks of a plugin's views (pure): a page before it is rendered (size,
//! names a form may aim at, boards that fit their grid) and, since contract 0.2, a form
//! submission against the form on the page before the plugin's `action` sees it.

use std::collections::HashSet;

use super::runtime::view::{
    Block, Field, FieldError, FieldKind, Form, Labels, Map, View, WidgetContent,
};

/// Cells one table may hold (the page's 4 MiB bounds them all together).
pub const MAX_CELLS: usize = 50_000;
/// Widgets a board may have.
pub const MAX_WIDGETS: usize = 200;
/// Rows a board's grid may have.
pub const MAX_ROWS: u16 = 24;

/// Names a plugin puts into URLs and forms (actions, pages, fields, widgets):
/// `[A-Za-z0-9_-]{1,64}`, so a plugin cannot point a form at another part of the console.
pub fn safe_name(n: &str) -> bool {
    (1..=64).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn table_problem(t: &super::runtime::view::Table) -> Option<String> {
    let cells: usize = t.rows.iter().map(Vec::len).sum();
    (cells > MAX_CELLS || t.columns.iter().any(|c| c.label.chars().count() > 100)).then(|| {
        format!("a table is too large (at most {MAX_CELLS} cells, labels of 100 characters)")
    })
}

/// Whether a link stays inside the plugin's own pages and files.
fn own_link(href: &str, plugin: &str) -> bool {
    href.strip_prefix(&format!("/x/{plugin}/"))
        .is_some_and(|rest| {
            !rest.is_empty()
                && href.len() <= 500
                && !rest.contains("..")
                && !rest.starts_with('/')
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./?=&%,".contains(c))
        })
}

/// Whether a link is a page of the box: a path (one leading `/`), no way out of it.
pub fn box_link(href: &str) -> bool {
    let lower = href.to_ascii_lowercase();
    let under = |p: &str| {
        lower == p || lower.starts_with(&format!("{p}/")) || lower.starts_with(&format!("{p}?"))
    };
    href.starts_with('/')
        && !href.starts_with("//")
        && !["/api", "/admin", "/account", "/login", "/logout", "/static"]
            .iter()
            .any(|p| under(p))
        && !lower.contains("%2e")
        && !lower.contains("%2f")
        && href.len() <= 500
        && !href.contains("..")
        && href
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./?=&%,~+:".contains(c))
}

/// Areas and markers one map may have.
pub const MAX_AREAS: usize = 2_000;
pub const MAX_MARKERS: usize = 5_000;
/// Labels one sheet may have.
pub const MAX_LABELS: usize = 1_000;

fn map_problem(m: &Map) -> Option<String> {
    let extent = |v: f32| v.is_finite() && (1.0..=100_000.0).contains(&v);
    let finite = |p: &super::runtime::view::Xy| p.x.is_finite() && p.y.is_finite();
    let text = |s: &str| s.chars().count() <= 100;
    let hint = |s: &str| s.chars().count() <= 300;
    if !extent(m.width) || !extent(m.height) || !m.grid.is_finite() || m.grid < 0.0 {
        return Some("a map is 1–100,000 units wide and high, with a grid of 0 or more".into());
    }
    if m.areas.len() > MAX_AREAS || m.markers.len() > MAX_MARKERS {
        return Some(format!(
            "a map has at most {MAX_AREAS} areas and {MAX_MARKERS} markers"
        ));
    }
    if let Some(a) = m.areas.iter().find(|a| {
        !(3..=500).contains(&a.points.len())
            || !a.points.iter().all(finite)
            || !text(&a.label)
            || !hint(&a.hint)
    }) {
        return Some(format!(
            "map area {:?}: 3–500 points, a label of at most 100 characters",
            a.label
        ));
    }
    if let Some(x) = m
        .markers
        .iter()
        .find(|x| !finite(&x.at) || !text(&x.label) || !hint(&x.hint))
    {
        return Some(format!(
            "map marker {:?}: a place and a label of at most 100 characters",
            x.label
        ));
    }
    m.areas
        .iter()
        .map(|a| &a.href)
        .chain(m.markers.iter().map(|x| &x.href))
        .find(|h| !h.is_empty() && !box_link(h))
        .map(|h| format!("a map link is not a page of the box: {h:?}"))
}

fn labels_problem(l: &Labels) -> Option<String> {
    if !(1..=6).contains(&l.columns) {
        return Some(format!("a label sheet has 1–6 columns, not {}", l.columns));
    }
    if l.items.len() > MAX_LABELS {
        return Some(format!("a label sheet has at most {MAX_LABELS} labels"));
    }
    l.items
        .iter()
        .find(|x| {
            !(1..=500).contains(&x.code.chars().count())
                || x.lines.len() > 4
                || x.title.chars().count() > 100
                || x.lines.iter().any(|l| l.chars().count() > 100)
        })
        .map(|x| {
            format!(
                "label {:?}: a code of 1–500 characters, a title and at most 4 lines of 100",
                x.title
            )
        })
}

/// The first rule the page's blocks break, if any (the size in bytes is checked apart).
pub fn problem(v: &View, plugin: &str) -> Option<String> {
    for b in &v.blocks {
        let p = match b {
            Block::Table(t) => table_problem(t),
            Block::Form(f) => (!safe_name(&f.action)
                || f.fields.iter().any(|x| !safe_name(&x.name)))
            .then(|| format!("bad action or field name in form {:?}", f.action)),
            Block::Buttons(bs) => bs
                .iter()
                .find(|b| !safe_name(&b.action))
                .map(|b| format!("bad action name {:?}", b.action)),
            Block::Links(ls) => ls
                .iter()
                .find(|l| !own_link(&l.href, plugin))
                .map(|l| format!("a link leaves the plugin's pages: {:?}", l.href)),
            Block::Map(m) => map_problem(m),
            Block::Labels(l) => labels_problem(l),
            Block::Board(board) => {
                let cols = u16::from(board.columns);
                let mut ids = HashSet::new();
                let mut p = None;
                if !(1..=24).contains(&cols) {
                    p = Some(format!("a board has 1–24 columns, not {cols}"));
                } else if board.widgets.len() > MAX_WIDGETS {
                    p = Some(format!("a board has at most {MAX_WIDGETS} widgets"));
                } else if board.refresh_seconds != 0 && !(5..=3600).contains(&board.refresh_seconds)
                {
                    p = Some("a board refreshes every 5–3600 seconds (or 0: never)".into());
                } else if !board.arrange_action.is_empty() && !safe_name(&board.arrange_action) {
                    p = Some(format!("bad action name {:?}", board.arrange_action));
                }
                for w in &board.widgets {
                    if p.is_some() {
                        break;
                    }
                    let (x, y, ww, h) = (
                        u16::from(w.x),
                        u16::from(w.y),
                        u16::from(w.w),
                        u16::from(w.h),
                    );
                    if !safe_name(&w.id) || !ids.insert(w.id.as_str()) {
                        p = Some(format!("widget id {:?}: [A-Za-z0-9_-], unique", w.id));
                    } else if ww == 0 || h == 0 || x + ww > cols || y + h > MAX_ROWS {
                        p = Some(format!(
                            "widget {:?} does not fit the grid ({cols} columns, {MAX_ROWS} rows)",
                            w.id
                        ));
                    } else if let WidgetContent::Table(t) = &w.content {
                        p = table_problem(t);
                    } else if let WidgetContent::Map(m) = &w.content {
                        p = map_problem(m);
                    }
                }
                p
            }
            _ => None,
        };
        if p.is_some() {
            return p;
        }
    }
    None
}

/// The form on the page that a submission to `action` came from.
pub fn form_of<'a>(v: &'a View, action: &str) -> Option<&'a Form> {
    v.blocks.iter().find_map(|b| match b {
        Block::Form(f) if f.action == action => Some(f),
        _ => None,
    })
}

/// Whether `action` is a button or a board's arrangement on the page.
pub fn offers_action(v: &View, action: &str) -> bool {
    v.blocks.iter().any(|b| match b {
        Block::Form(f) => f.action == action,
        Block::Buttons(bs) => bs.iter().any(|b| b.action == action),
        Block::Board(board) => board.arrange_action == action,
        _ => false,
    })
}

fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A field's value against its kind and limits; the reason in the reader's language.
fn field_error(
    f: &Field,
    value: &str,
    zh: bool,
    tag_exists: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let t = |zh_text: String, en_text: String| Some(if zh { zh_text } else { en_text });
    let v = value.trim();
    if v.is_empty() {
        return (f.required && f.kind != FieldKind::Boolean).then(|| {
            if zh {
                "必填。".to_string()
            } else {
                "Required.".to_string()
            }
        });
    }
    let within = |x: f64| {
        let low = f.min.is_some_and(|m| x < m);
        let high = f.max.is_some_and(|m| x > m);
        match (low || high, f.min, f.max) {
            (false, _, _) => None,
            (true, Some(a), Some(b)) => t(
                format!("须在 {a} 到 {b} 之间。"),
                format!("Must be from {a} to {b}."),
            ),
            (true, Some(a), None) => t(format!("不得小于 {a}。"), format!("Must be at least {a}.")),
            (true, None, Some(b)) => t(format!("不得大于 {b}。"), format!("Must be at most {b}.")),
            (true, None, None) => None,
        }
    };
    let choices: Vec<&str> = f.choices.iter().map(|c| c.value.as_str()).collect();
    match f.kind {
        FieldKind::Text | FieldKind::Multiline | FieldKind::Scan => None,
        FieldKind::Number => match number(v) {
            Some(x) => within(x),
            None => t("须为数字。".into(), "Must be a number.".into()),
        },
        FieldKind::Integer => match v.parse::<i64>() {
            Ok(i) => within(i as f64),
            Err(_) => t("须为整数。".into(), "Must be a whole number.".into()),
        },
        FieldKind::Boolean => (v != "true" && v != "false").then(|| {
            if zh {
                "须为是或否。".to_string()
            } else {
                "Must be yes or no.".to_string()
            }
        }),
        FieldKind::Date => crate::plant_time::parse_day(v).is_none().then(|| {
            if zh {
                "日期格式为 YYYY-MM-DD。".to_string()
            } else {
                "A date is YYYY-MM-DD.".to_string()
            }
        }),
        FieldKind::DateTime => {
            let ok = crate::plant_time::parse_local(&v.replace('T', " "), time::UtcOffset::UTC)
                .is_some();
            (!ok).then(|| {
                if zh {
                    "时间格式为 YYYY-MM-DD HH:MM。".to_string()
                } else {
                    "A time is YYYY-MM-DD HH:MM.".to_string()
                }
            })
        }
        FieldKind::Choice => (!choices.contains(&v)).then(|| {
            if zh {
                "请从列表中选择。".to_string()
            } else {
                "Choose one of the list.".to_string()
            }
        }),
        FieldKind::MultiChoice => v
            .split(',')
            .map(str::trim)
            .find(|x| !x.is_empty() && !choices.contains(x))
            .map(|x| {
                if zh {
                    format!("“{x}”不在列表中。")
                } else {
                    format!("“{x}” is not in the list.")
                }
            }),
        FieldKind::Tag => {
            let allowed = choices.is_empty() || choices.contains(&v);
            (!allowed || !tag_exists(v)).then(|| {
                if zh {
                    format!("没有位号 {v}。")
                } else {
                    format!("There is no tag {v}.")
                }
            })
        }
    }
}

/// Checks a submission against its form: the fields that break their kind or limits, with
/// the reason. Multi-choice values submitted as several fields of one name are joined with
/// commas (the form the action receives).
pub fn check_submission(
    form: &Form,
    fields: &[(String, String)],
    zh: bool,
    tag_exists: &dyn Fn(&str) -> bool,
) -> (Vec<(String, String)>, Vec<FieldError>) {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in fields {
        let multi = form
            .fields
            .iter()
            .any(|f| f.name == *k && f.kind == FieldKind::MultiChoice);
        match out.iter_mut().find(|(n, _)| n == k) {
            Some((_, joined)) if multi => {
                joined.push(',');
                joined.push_str(v);
            }
            _ => out.push((k.clone(), v.clone())),
        }
    }
    let mut errors = Vec::new();
    for f in &form.fields {
        let value = out
            .iter()
            .find(|(k, _)| *k == f.name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        if let Some(message) = field_error(f, value, zh, tag_exists) {
            errors.push(FieldError {
                field: f.name.clone(),
                message,
            });
        }
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::runtime::view::{Board, Choice, Gauge, Tone, Widget};

    fn field(name: &str, kind: FieldKind) -> Field {
        Field {
            name: name.into(),
            label: name.into(),
            kind,
            required: true,
            value: String::new(),
            choices: ["a", "b"]
                .iter()
                .map(|c| Choice {
                    value: c.to_string(),
                    label: c.to_uppercase(),
                })
                .collect(),
            min: Some(0.0),
            max: Some(10.0),
            hint: String::new(),
        }
    }

    #[test]
    fn submissions_are_checked_against_their_form() {
        let form = Form {
            action: "save".into(),
            fields: vec![
                field("n", FieldKind::Number),
                field("i", FieldKind::Integer),
                field("d", FieldKind::Date),
                field("t", FieldKind::DateTime),
                field("c", FieldKind::Choice),
                field("m", FieldKind::MultiChoice),
                field("g", FieldKind::Tag),
                field("s", FieldKind::Text),
            ],
            submit_label: "Save".into(),
        };
        let tags = |t: &str| t == "a";
        let good = [
            ("n", "2.5"),
            ("i", "10"),
            ("d", "2026-12-04"),
            ("t", "2026-12-04 08:30"),
            ("c", "b"),
            ("m", "a"),
            ("m", "b"),
            ("g", "a"),
            ("s", "x"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let (joined, errors) = check_submission(&form, &good, false, &tags);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(joined.contains(&("m".to_string(), "a,b".to_string())));
        let bad = [
            ("n", "11"),
            ("i", "2.5"),
            ("d", "04/12/2026"),
            ("t", "tomorrow"),
            ("c", "z"),
            ("m", "a,z"),
            ("g", "b"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let (_, errors) = check_submission(&form, &bad, false, &tags);
        let by: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            by,
            vec![
                ("n", "Must be from 0 to 10."),
                ("i", "Must be a whole number."),
                ("d", "A date is YYYY-MM-DD."),
                ("t", "A time is YYYY-MM-DD HH:MM."),
                ("c", "Choose one of the list."),
                ("m", "“z” is not in the list."),
                ("g", "There is no tag b."),
                ("s", "Required."),
            ]
        );
        let (_, errors) = check_submission(&form, &bad[..1], true, &tags);
        assert_eq!(errors[0].message, "须在 0 到 10 之间。");
    }

    fn board(widgets: Vec<Widget>) -> View {
        View {
            title: "b".into(),
            blocks: vec![Block::Board(Board {
                columns: 12,
                refresh_seconds: 30,
                widgets,
                arrange_action: "arrange".into(),
            })],
        }
    }

    fn gauge(id: &str, x: u8, y: u8, w: u8, h: u8) -> Widget {
        Widget {
            id: id.into(),
            title: id.into(),
            x,
            y,
            w,
            h,
            content: WidgetContent::Gauge(Gauge {
                label: "kW".into(),
                value: 3.0,
                min: 0.0,
                max: 10.0,
                unit: "kW".into(),
                tone: Tone::Good,
            }),
        }
    }

    #[test]
    fn boards_must_fit_their_grid() {
        let ok = board(vec![gauge("a", 0, 0, 6, 4), gauge("b", 6, 0, 6, 4)]);
        assert_eq!(problem(&ok, "p"), None);
        assert!(offers_action(&ok, "arrange"));
        for (v, says) in [
            (board(vec![gauge("a", 8, 0, 6, 4)]), "does not fit"),
            (board(vec![gauge("a", 0, 22, 1, 3)]), "does not fit"),
            (board(vec![gauge("a", 0, 0, 0, 1)]), "does not fit"),
            (
                board(vec![gauge("a", 0, 0, 1, 1), gauge("a", 1, 0, 1, 1)]),
                "unique",
            ),
            (board(vec![gauge("a b", 0, 0, 1, 1)]), "unique"),
        ] {
            assert!(problem(&v, "p").is_some_and(|p| p.contains(says)), "{says}");
        }
        let mut v = board(vec![]);
        if let Block::Board(b) = &mut v.blocks[0] {
            b.refresh_seconds = 2;
        }
        assert!(problem(&v, "p").is_some_and(|p| p.contains("5–3600")));
    }

    #[test]
    fn map_links_are_pages_of_the_box_and_nothing_else() {
        for ok in [
            "/x/warehouse/bin?wh=WH-GEN&loc=G-01",
            "/inventory/lots/12",
            "/equipment/assets/3",
        ] {
            assert!(box_link(ok), "{ok}");
        }
        for bad in [
            "//evil.example/x",
            "javascript:alert(1)",
            "https://evil.example/",
            "/api/v1/plugins",
            "/admin/plugins",
            "/ADMIN",
            "/account/password",
            "/logout",
            "/x/../admin",
            "/x/%2e%2e/admin",
            "/x/a%2Fb",
            "/x/a\"onmouseover=\"x",
            "/x/<svg>",
        ] {
            assert!(!box_link(bad), "{bad}");
        }
    }

    #[test]
    fn links_stay_inside_the_plugin() {
        use crate::plugins::runtime::view::Link;
        let page = |href: &str| View {
            title: "l".into(),
            blocks: vec![Block::Links(vec![Link {
                label: "x".into(),
                href: href.into(),
            }])],
        };
        for ok in [
            "/x/energy/report?month=2026-11",
            "/x/energy/files/1796054400000",
        ] {
            assert_eq!(problem(&page(ok), "energy"), None, "{ok}");
        }
        for bad in [
            "/x/other/report",
            "/admin/users",
            "https://evil.example/",
            "/x/energy/../../admin",
            "/x/energy//evil.example",
            "/x/energy/a\"onclick",
            "javascript:alert(1)",
        ] {
            assert!(problem(&page(bad), "energy").is_some(), "{bad}");
        }
    }
}
