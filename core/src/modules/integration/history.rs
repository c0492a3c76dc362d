//! History of tags: the trend page (`/integration/trends`), its export (CSV, Excel) and the
//! history API (`GET /api/v1/tags/{name}/history`).

use actix_web::{HttpResponse, get, web};
use minijinja::context;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::App;
use crate::error::Error;
use crate::historian::Bucket;
use crate::historian::codec::Point;
use crate::i18n::{self, Msg};
use crate::tags::model::{Quality, Tag, Value};
use crate::web::context::to_value;
use crate::web::error::{AppError, blocking};
use crate::web::export;
use crate::web::grant::{self, Need};

/// Raw queries return at most this many points; longer ranges must use buckets.
pub const MAX_RAW_POINTS: usize = 500_000;
const MAX_BUCKETS: u32 = 10_000;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct HistoryQuery {
    /// Start, RFC 3339 (e.g. `2026-03-01T08:00:00+08:00`). Default: one hour before `to`.
    #[serde(default)]
    pub from: Option<String>,
    /// End, RFC 3339. Default: now.
    #[serde(default)]
    pub to: Option<String>,
    /// Number of equal buckets to aggregate into (1–10,000); raw samples when absent.
    #[serde(default)]
    pub buckets: Option<u32>,
}

/// A time from a query, in Unix ms: RFC 3339 (`2026-03-01T08:00:00+08:00`), or a local plant
/// time as an HTML `datetime-local` input sends it (`2026-03-01T08:00`) when `offset` is given.
pub fn parse_time_at(
    field: &'static str,
    s: &str,
    offset: Option<time::UtcOffset>,
) -> Result<i64, Error> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    offset
        .and_then(|o| crate::plant_time::parse_local(s, o))
        .ok_or_else(|| Error::invalid_msg(field, Msg::new("history.err.time").arg("value", s)))
}

/// An RFC 3339 time from a query, in Unix ms.
pub fn parse_time(field: &'static str, s: &str) -> Result<i64, Error> {
    parse_time_at(field, s, None)
}

/// `[from, to]` of a query, checked; `to` defaults to now, `from` to `default_span_ms`
/// before `to`.
pub fn range_or(
    from: Option<&str>,
    to: Option<&str>,
    default_span_ms: i64,
) -> Result<(i64, i64), Error> {
    let to = match to.filter(|s| !s.is_empty()) {
        Some(s) => parse_time("to", s)?,
        None => crate::util::now_ms(),
    };
    let from = match from.filter(|s| !s.is_empty()) {
        Some(s) => parse_time("from", s)?,
        None => to - default_span_ms,
    };
    if from >= to {
        return Err(Error::invalid("from", "history.err.order"));
    }
    Ok((from, to))
}

/// `[from, to]` of a history query: the last hour by default.
pub fn range(from: Option<&str>, to: Option<&str>) -> Result<(i64, i64), Error> {
    range_or(from, to, 3_600_000)
}

/// One raw sample in a history answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HistoryPoint {
    pub ts_ms: i64,
    #[schema(value_type = Object)]
    pub value: Option<Value>,
    pub quality: Quality,
}

/// A history answer: raw `points`, or `buckets` when asked for.
#[derive(Serialize, utoipa::ToSchema)]
pub struct History {
    pub tag: String,
    pub unit: String,
    pub from_ms: i64,
    pub to_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<Vec<HistoryPoint>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<Bucket>>,
}

fn points(p: Vec<Point>) -> Vec<HistoryPoint> {
    p.into_iter()
        .map(|p| HistoryPoint {
            ts_ms: p.ts_ms,
            value: p.value,
            quality: p.quality,
        })
        .collect()
}

/// Looks up a tag by name in the live definitions.
fn tag(app: &App, name: &str) -> Result<std::sync::Arc<Tag>, Error> {
    app.tags
        .defs()
        .by_name(name)
        .cloned()
        .ok_or_else(|| Error::NotFound(Msg::new("tags.err.tag_not_found").arg("name", name)))
}

pub fn history(
    app: &App,
    t: &Tag,
    from: i64,
    to: i64,
    buckets: Option<u32>,
) -> Result<History, Error> {
    let mut h = History {
        tag: t.name.clone(),
        unit: t.unit.clone(),
        from_ms: from,
        to_ms: to,
        points: None,
        buckets: None,
    };
    match buckets {
        Some(n) => {
            if !(1..=MAX_BUCKETS).contains(&n) {
                return Err(Error::invalid("buckets", "history.err.buckets"));
            }
            h.buckets = Some(app.historian.aggregate(t.id, from, to, n)?);
        }
        None => {
            let p = app.historian.raw(t.id, from, to)?;
            if p.len() > MAX_RAW_POINTS {
                return Err(Error::invalid_msg(
                    "to",
                    Msg::new("history.err.too_many")
                        .arg("n", p.len())
                        .arg("max", MAX_RAW_POINTS),
                ));
            }
            h.points = Some(points(p));
        }
    }
    Ok(h)
}

/// History of a tag: raw samples, or `buckets` aggregates (count, min, max, avg, first,
/// last of good values).
#[utoipa::path(tag = "tags", params(("name" = String, Path, description = "Tag name"), HistoryQuery), responses(
    (status = 200, description = "History", body = History),
    (status = 404, description = "No such tag"),
    (status = 422, description = "Bad time range or bucket count; `error.field` names it")), security(("bearer" = ["integration:read"])))]
#[get("/api/v1/tags/{name}/history")]
pub async fn api_history(
    ctx: Need<grant::integration::Read>,
    name: web::Path<String>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, AppError> {
    let t = tag(&ctx.app, &name)?;
    let (from, to) = range(q.from.as_deref(), q.to.as_deref())?;
    let (app, buckets) = (ctx.app.clone(), q.buckets);
    let h = blocking(move || history(&app, &t, from, to, buckets)).await?;
    Ok(HttpResponse::Ok().json(h))
}

#[derive(Deserialize)]
pub struct TrendQuery {
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub buckets: Option<u32>,
    #[serde(default)]
    pub format: Option<String>,
}

fn selected(app: &App, names: Option<&str>) -> Vec<std::sync::Arc<Tag>> {
    let defs = app.tags.defs();
    names
        .unwrap_or("")
        .split(',')
        .filter_map(|n| defs.by_name(n.trim()).cloned())
        .take(8)
        .collect()
}

#[get("/integration/trends")]
pub async fn trends_page(
    ctx: Need<grant::integration::Read>,
    q: web::Query<TrendQuery>,
) -> Result<HttpResponse, AppError> {
    let chosen: Vec<String> = selected(&ctx.app, q.tags.as_deref())
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let mut all: Vec<serde_json::Value> = ctx
        .app
        .tags
        .defs()
        .iter()
        .filter(|t| t.data_type != crate::tags::model::DataType::String)
        .map(|t| {
            serde_json::json!({
                "name": t.name, "unit": t.unit, "area": t.area,
                "description": match ctx.lang { i18n::Lang::ZhCn => &t.description_zh, i18n::Lang::En => &t.description_en },
                "selected": chosen.contains(&t.name),
            })
        })
        .collect();
    all.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    ctx.page(
        "integration/trends.html",
        context! {
            tags => to_value(&all),
            chosen => chosen.join(","),
            from => q.from.clone().unwrap_or_default(),
            to => q.to.clone().unwrap_or_default(),
        },
    )
}

/// Exports the history of the chosen tags as CSV or Excel (raw, or `buckets` aggregates).
#[get("/integration/trends/export")]
pub async fn trends_export(
    ctx: Need<grant::integration::Read>,
    q: web::Query<TrendQuery>,
) -> Result<HttpResponse, AppError> {
    let tags = selected(&ctx.app, q.tags.as_deref());
    if tags.is_empty() {
        return Err(Error::invalid("tags", "history.err.no_tags").into());
    }
    let (from, to) = range(q.from.as_deref(), q.to.as_deref())?;
    let format = export::Format::parse(q.format.as_deref());
    let (app, buckets, lang, offset) = (ctx.app.clone(), q.buckets, ctx.lang, ctx.app.offset);
    let bytes = blocking(move || {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let head: Vec<String> = if buckets.is_some() {
            [
                "time", "tag", "unit", "count", "min", "max", "avg", "first", "last",
            ]
            .to_vec()
        } else {
            ["time", "tag", "unit", "value", "quality"].to_vec()
        }
        .iter()
        .map(|k| i18n::t(lang, &format!("history.col.{k}")).to_string())
        .collect();
        let num = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
        for t in &tags {
            let h = history(&app, t, from, to, buckets)?;
            for b in h.buckets.iter().flatten() {
                rows.push(vec![
                    crate::plant_time::format_ms(b.ts_ms, offset),
                    t.name.clone(),
                    t.unit.clone(),
                    b.count.to_string(),
                    num(b.min),
                    num(b.max),
                    num(b.avg),
                    num(b.first),
                    num(b.last),
                ]);
            }
            for p in h.points.iter().flatten() {
                let q = match p.quality {
                    Quality::Good => i18n::t(lang, "tags.quality.good").to_string(),
                    Quality::Uncertain(r) | Quality::Bad(r) => {
                        let reason = serde_json::to_value(r)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default();
                        i18n::t(lang, &format!("tags.reason.{reason}")).to_string()
                    }
                };
                let v = match &p.value {
                    Some(Value::Text(s)) => s.to_string(),
                    Some(v) => num(v.as_f64()),
                    None => String::new(),
                };
                rows.push(vec![
                    crate::plant_time::format_ms(p.ts_ms, offset),
                    t.name.clone(),
                    t.unit.clone(),
                    v,
                    q,
                ]);
            }
        }
        export::Table {
            head,
            rows,
            numeric_from: 3,
        }
        .bytes(format)
    })
    .await?;
    let stem = format!(
        "history-{}",
        crate::plant_time::format_ms(from, ctx.app.offset)
    );
    Ok(export::attachment(&stem, format, bytes))
}
