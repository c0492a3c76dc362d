//! Page rendering: the minijinja templates of `web/templates/` (embedded, or read from disk
//! while developing: `web::source`), auto-escaped, with
//! the helpers every template uses:
//! - `t("key", name=value…)`: catalogue text in the page's language (`lang` in the context);
//! - `asset("app.css")`: the URL of an embedded static file with its content hash;
//! - `|datetime`, `|date`: Unix ms in the plant's UTC offset.

use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, State, Value};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::{assets, source};
use crate::i18n::{self, Lang};

pub struct Ui {
    offset: time::UtcOffset,
    embedded: Arc<Environment<'static>>,
    live: Option<Mutex<Live>>,
}

fn page_lang(state: &State) -> Lang {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or_default()
}

fn t(state: &State, key: &str, kwargs: Kwargs) -> Result<String, Error> {
    let lang = page_lang(state);
    let mut args: Vec<(&str, String)> = Vec::new();
    for name in kwargs.args() {
        let v: Value = kwargs.get(name)?;
        args.push((name, v.to_string()));
    }
    kwargs.assert_all_used()?;
    Ok(i18n::tf(lang, key, &args))
}

/// The label of an audit action code (`auth.user.create` → 新建用户), or the code itself.
fn action_label(state: &State, code: &str) -> String {
    let key = format!("audit.act.{}", code.replace('.', "_"));
    if i18n::has(&key) {
        i18n::t(page_lang(state), &key).to_string()
    } else {
        code.to_string()
    }
}

/// Catalogue text for a data value when there is one (`resin`|label('integration.area')
/// → 树脂车间), else the value itself (user-defined areas, kinds…).
fn label(state: &State, value: &str, prefix: &str) -> String {
    let key = format!("{prefix}.{value}");
    if i18n::has(&key) {
        i18n::t(page_lang(state), &key).to_string()
    } else {
        value.to_string()
    }
}

fn asset(name: &str) -> Result<String, Error> {
    assets::url(name).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("no embedded asset {name}"),
        )
    })
}

/// HTML-escapes `& < > " '` in strings (not `/`, which minijinja's default also escapes:
/// URLs in `href` stay readable). Other values and other contexts use the default.
fn html_formatter(
    out: &mut minijinja::Output,
    state: &mut State,
    value: &Value,
) -> Result<(), Error> {
    use std::fmt::Write;
    match (state.auto_escape(), value.as_str()) {
        (minijinja::AutoEscape::Html, Some(s)) if !value.is_safe() => {
            for c in s.chars() {
                let r = match c {
                    '&' => out.write_str("&amp;"),
                    '<' => out.write_str("&lt;"),
                    '>' => out.write_str("&gt;"),
                    '"' => out.write_str("&quot;"),
                    '\'' => out.write_str("&#x27;"),
                    c => out.write_char(c),
                };
                r.map_err(|_| Error::new(ErrorKind::WriteFailure, "write failed"))?;
            }
            Ok(())
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

impl Ui {
    pub fn new(offset: time::UtcOffset) -> Ui {
        let mut embedded = environment(offset);
        minijinja_embed::load_templates!(&mut embedded);
        let live = source::dir_path().map(|dir| {
            let dir = dir.join("templates");
            let env = from_disk(offset, &dir).unwrap_or_else(|e| {
                tracing::error!("templates in {}: {e:#}", dir.display());
                environment(offset)
            });
            Mutex::new(Live {
                stamp: source::Stamp::new(&dir),
                dir,
                env: Arc::new(env),
            })
        });
        Ui {
            offset,
            embedded: Arc::new(embedded),
            live,
        }
    }

    /// The environment to render with: the embedded one, or the one read from the web
    /// directory, read again when a template changed (a template that does not parse is
    /// reported when a page is rendered, and the others keep working).
    fn env(&self) -> Result<Arc<Environment<'static>>, Error> {
        let Some(live) = &self.live else {
            return Ok(self.embedded.clone());
        };
        let mut live = live.lock().unwrap_or_else(PoisonError::into_inner);
        if live.stamp.changed() {
            live.env = Arc::new(from_disk(self.offset, &live.dir)?);
        }
        Ok(live.env.clone())
    }

    pub fn render(&self, name: &str, lang: Lang, ctx: Value) -> Result<String, Error> {
        let ctx = minijinja::context! { lang => lang.code(), ..ctx };
        self.env()?.get_template(name)?.render(ctx)
    }

    /// Names of all templates (for tests).
    pub fn template_names(&self) -> Vec<String> {
        self.env()
            .map(|env| env.templates().map(|(n, _)| n.to_string()).collect())
            .unwrap_or_default()
    }
}

/// The environment with the helpers every template uses, without templates.
fn environment(offset: time::UtcOffset) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    env.set_formatter(html_formatter);
    env.add_function("t", t);
    env.add_function("asset", asset);
    env.add_filter("action_label", action_label);
    env.add_filter("label", label);
    env.add_filter("money", |x: Option<f64>| -> String {
        x.map(money).unwrap_or_default()
    });
    env.add_filter("datetime", move |ms: Option<i64>| -> String {
        ms.map(|m| crate::plant_time::format_ms(m, offset))
            .unwrap_or_default()
    });
    env.add_filter("minute", move |ms: Option<i64>| -> String {
        ms.map(|m| crate::plant_time::format_ms(m, offset)[..16].to_string())
            .unwrap_or_default()
    });
    env.add_filter("date", move |ms: Option<i64>| -> String {
        ms.map(|m| crate::plant_time::format_ms(m, offset)[..10].to_string())
            .unwrap_or_default()
    });
    env
}

/// An amount of money as accounts write it: two decimals, thousands grouped (`12,345.60`),
/// never `-0.00`.
pub fn money(x: f64) -> String {
    let cents = (x * 100.0).round();
    if !cents.is_finite() {
        return String::new();
    }
    let neg = cents < 0.0;
    let cents = cents.abs() as u128;
    let (whole, frac) = (cents / 100, cents % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}.{frac:02}", if neg { "-" } else { "" })
}

/// The environment with every `.html` under `dir`, named as the embedded ones are.
fn from_disk(offset: time::UtcOffset, dir: &Path) -> Result<Environment<'static>, Error> {
    let mut env = environment(offset);
    for (name, path) in source::files(dir) {
        if !name.ends_with(".html") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::new(
                ErrorKind::TemplateNotFound,
                format!("{}: {e}", path.display()),
            )
        })?;
        env.add_template_owned(name, text)?;
    }
    Ok(env)
}

/// Templates read from the web directory (`web::source`).
struct Live {
    dir: PathBuf,
    stamp: source::Stamp,
    env: Arc<Environment<'static>>,
}

/// A QR code of `text` (an address on the box) as inline SVG, for printed pages: permits,
/// certificates of analysis, sample labels.
pub fn qr_svg(text: &str) -> Value {
    let svg = qrcode::QrCode::new(text.as_bytes())
        .map(|q| {
            q.render::<qrcode::render::svg::Color>()
                .min_dimensions(140, 140)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default();
    Value::from_safe_string(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_two_decimals_grouped_and_no_negative_zero() {
        assert_eq!(money(12345.6), "12,345.60");
        assert_eq!(money(-0.001), "0.00");
        assert_eq!(money(-1234567.006), "-1,234,567.01");
        assert_eq!(money(999.999), "1,000.00");
        assert_eq!(money(0.0), "0.00");
        assert_eq!(money(f64::NAN), "");
    }

    #[test]
    fn escapes_and_translates() {
        let mut ui = Ui::new(time::UtcOffset::UTC);
        Arc::get_mut(&mut ui.embedded)
            .unwrap()
            .add_template("x.html", "{{ t('nav.users') }}|{{ v }}|{{ 0|datetime }}")
            .unwrap();
        let out = ui
            .render("x.html", Lang::En, minijinja::context! { v => "<script>" })
            .unwrap();
        assert_eq!(out, "Users|&lt;script&gt;|1970-01-01 00:00:00");
        let out = ui
            .render("x.html", Lang::ZhCn, minijinja::context! { v => "/a'\"&" })
            .unwrap();
        assert!(out.starts_with("用户|/a&#x27;&quot;&amp;|"), "{out}");
    }
}
