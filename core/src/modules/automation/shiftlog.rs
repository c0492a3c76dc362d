//! The shift log (交接班) per unit: entries written during the shift, open items that stay
//! open — and are carried into every following shift's log — until someone closes them, and
//! the handover: the outgoing person hands over (naming the open items at that moment), the
//! incoming person (someone else) takes over; only then does the next shift begin. A unit
//! has one handover waiting at a time.
//!
//! Owns `automation.shift_entries` and `automation.handovers`.

use actix_web::{HttpResponse, get, post, web};
use minijinja::context;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::model::Level;
use crate::error::{Error, Result, text};
use crate::i18n::Msg;
use crate::store::{Actor, Change, Reader, Store, Table};
use crate::web::context::to_value;
use crate::web::error::AppError;
use crate::web::form::FormData;
use crate::web::grant::{self, Need};

const ENTRIES: Table<u64, Entry> = Table::new("automation.shift_entries");
const HANDOVERS: Table<u64, Handover> = Table::new("automation.handovers");

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Entry {
    pub id: u64,
    pub unit: String,
    pub at_ms: i64,
    pub by: String,
    pub text: String,
    /// An item the next shift must follow up (a leaking flange, a sample awaited).
    pub open_item: bool,
    #[serde(default)]
    pub closed_ms: Option<i64>,
    #[serde(default)]
    pub closed_by: Option<String>,
    #[serde(default)]
    pub closing_note: String,
}

impl Entry {
    pub fn is_open(&self) -> bool {
        self.open_item && self.closed_ms.is_none()
    }
}

/// A handover between two shifts of a unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Handover {
    pub id: u64,
    pub unit: String,
    pub handed_by: String,
    pub handed_ms: i64,
    #[serde(default)]
    pub note: String,
    /// The open items at the handover (entry ids), carried over.
    pub open_items: Vec<u64>,
    #[serde(default)]
    pub taken_by: Option<String>,
    #[serde(default)]
    pub taken_ms: Option<i64>,
}

/// A unit's log as the shift sees it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Log {
    pub unit: String,
    /// When this shift began (the last handover taken; none before the first).
    pub since_ms: Option<i64>,
    /// This shift's entries, oldest first.
    pub entries: Vec<Entry>,
    /// Every open item, whenever written (carried over from earlier shifts).
    pub open_items: Vec<Entry>,
    /// A handover waiting to be taken.
    pub pending: Option<Handover>,
    /// The last handover taken.
    pub last: Option<Handover>,
}

pub fn log(r: &impl Reader, unit: &str) -> Result<Log> {
    let handovers: Vec<Handover> = r
        .values(&HANDOVERS)?
        .into_iter()
        .filter(|h| h.unit == unit)
        .collect();
    let last = handovers
        .iter()
        .rev()
        .find(|h| h.taken_ms.is_some())
        .cloned();
    let pending = handovers
        .iter()
        .rev()
        .find(|h| h.taken_ms.is_none())
        .cloned();
    let since = last.as_ref().and_then(|h| h.taken_ms);
    let all: Vec<Entry> = r
        .values(&ENTRIES)?
        .into_iter()
        .filter(|e| e.unit == unit)
        .collect();
    Ok(Log {
        unit: unit.to_string(),
        since_ms: since,
        entries: all
            .iter()
            .filter(|e| since.is_none_or(|s| e.at_ms >= s))
            .cloned()
            .collect(),
        open_items: all.iter().filter(|e| e.is_open()).cloned().collect(),
        pending,
        last,
    })
}

fn unit_known(r: &impl Reader, unit: &str) -> Result<()> {
    super::batches::unit(r, unit).map(|_| ())
}

/// Writes an entry into the current shift's log.
pub fn add(
    store: &Store,
    actor: &Actor,
    unit: &str,
    body: &str,
    open_item: bool,
    now_ms: i64,
) -> Result<Entry> {
    let body = text("text", body, 2000, true)?;
    let mut w = store.write(actor)?;
    unit_known(&w, unit)?;
    let e = Entry {
        id: w.next_id(&ENTRIES)?,
        unit: unit.to_string(),
        at_ms: now_ms,
        by: actor.name.clone(),
        text: body,
        open_item,
        closed_ms: None,
        closed_by: None,
        closing_note: String::new(),
    };
    w.insert(&ENTRIES, &e.id, &e)?;
    w.audit(
        "automation.shift.entry",
        format!("shift:{} {}", e.unit, e.id),
        Change::created(&e),
    );
    w.commit()?;
    Ok(e)
}

/// Closes an open item, saying how it was resolved.
pub fn close(store: &Store, actor: &Actor, id: u64, note: &str, now_ms: i64) -> Result<Entry> {
    let note = text("note", note, 500, true)?;
    let mut w = store.write(actor)?;
    let before = w
        .get(&ENTRIES, &id)?
        .ok_or_else(|| Error::not_found("automation.shift.err.not_found"))?;
    if !before.is_open() {
        return Err(Error::Conflict(Msg::new("automation.shift.err.not_open")));
    }
    let e = Entry {
        closed_ms: Some(now_ms),
        closed_by: Some(actor.name.clone()),
        closing_note: note,
        ..before.clone()
    };
    w.insert(&ENTRIES, &id, &e)?;
    w.audit(
        "automation.shift.close",
        format!("shift:{} {}", e.unit, e.id),
        Change::updated(&before, &e),
    );
    w.commit()?;
    Ok(e)
}

/// The outgoing person hands the unit over, naming the open items now.
pub fn hand_over(
    store: &Store,
    actor: &Actor,
    unit: &str,
    note: &str,
    now_ms: i64,
) -> Result<Handover> {
    let note = text("note", note, 2000, false)?;
    let mut w = store.write(actor)?;
    unit_known(&w, unit)?;
    let l = log(&w, unit)?;
    if let Some(p) = l.pending {
        return Err(Error::Conflict(
            Msg::new("automation.shift.err.pending").arg("by", &p.handed_by),
        ));
    }
    let h = Handover {
        id: w.next_id(&HANDOVERS)?,
        unit: unit.to_string(),
        handed_by: actor.name.clone(),
        handed_ms: now_ms,
        note,
        open_items: l.open_items.iter().map(|e| e.id).collect(),
        taken_by: None,
        taken_ms: None,
    };
    w.insert(&HANDOVERS, &h.id, &h)?;
    w.audit(
        "automation.shift.hand_over",
        format!("shift:{}", h.unit),
        Change::created(&h),
    );
    w.commit()?;
    Ok(h)
}

/// The incoming person takes the unit over (not the one who handed it over): the next shift
/// begins.
pub fn take_over(store: &Store, actor: &Actor, unit: &str, now_ms: i64) -> Result<Handover> {
    let mut w = store.write(actor)?;
    let Some(before) = log(&w, unit)?.pending else {
        return Err(Error::Conflict(Msg::new(
            "automation.shift.err.none_pending",
        )));
    };
    if before.handed_by == actor.name {
        return Err(Error::Conflict(Msg::new(
            "automation.shift.err.same_person",
        )));
    }
    let h = Handover {
        taken_by: Some(actor.name.clone()),
        taken_ms: Some(now_ms),
        ..before.clone()
    };
    w.insert(&HANDOVERS, &h.id, &h)?;
    w.audit(
        "automation.shift.take_over",
        format!("shift:{}", h.unit),
        Change::updated(&before, &h),
    );
    w.commit()?;
    Ok(h)
}

// ------------------------------------------------------------------ API and page

#[derive(Deserialize, utoipa::IntoParams)]
struct UnitQuery {
    /// The unit (`R101`).
    unit: String,
}

/// A unit's shift log: this shift's entries, every open item, the handover waiting.
#[utoipa::path(tag = "automation", params(UnitQuery), responses((status = 200, description = "The log", body = Log), (status = 404, description = "No such unit")), security(("bearer" = ["automation:read"])))]
#[get("/api/v1/automation/shift-log")]
async fn api_log(
    ctx: Need<grant::automation::Read>,
    q: web::Query<UnitQuery>,
) -> std::result::Result<HttpResponse, AppError> {
    let r = ctx.app.store.read()?;
    unit_known(&r, &q.unit)?;
    Ok(HttpResponse::Ok().json(log(&r, &q.unit)?))
}

/// What the log's POST does: write an entry, close an open item, hand over or take over.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum LogAction {
    Entry {
        unit: String,
        text: String,
        #[serde(default)]
        open_item: bool,
    },
    Close {
        id: u64,
        note: String,
    },
    HandOver {
        unit: String,
        #[serde(default)]
        note: String,
    },
    TakeOver {
        unit: String,
    },
}

/// Writes to the shift log: `{"action": "entry", "unit", "text", "open_item"}`, `{"action":
/// "close", "id", "note"}`, `{"action": "hand_over", "unit", "note"}`, `{"action":
/// "take_over", "unit"}` (by someone other than who handed over).
#[utoipa::path(tag = "automation", request_body = LogAction, responses(
    (status = 200, description = "Done; the unit's log", body = Log),
    (status = 409, description = "Not open, a handover already waits, none waits, or the same person"),
    (status = 422, description = "Refused; `error.field` names the input")),
    security(("bearer" = ["automation:write"])))]
#[post("/api/v1/automation/shift-log")]
async fn api_post(
    ctx: Need<grant::automation::Write>,
    body: web::Json<LogAction>,
) -> std::result::Result<HttpResponse, AppError> {
    let a = body.into_inner();
    let l = ctx
        .write(move |app, actor| act(&app.store, actor, a))
        .await?;
    Ok(HttpResponse::Ok().json(l))
}

fn act(store: &Store, actor: &Actor, a: LogAction) -> Result<Log> {
    let now = crate::util::now_ms();
    let unit = match a {
        LogAction::Entry {
            unit,
            text,
            open_item,
        } => add(store, actor, &unit, &text, open_item, now)?.unit,
        LogAction::Close { id, note } => close(store, actor, id, &note, now)?.unit,
        LogAction::HandOver { unit, note } => hand_over(store, actor, &unit, &note, now)?.unit,
        LogAction::TakeOver { unit } => take_over(store, actor, &unit, now)?.unit,
    };
    log(&store.read()?, &unit)
}

fn page_ctx(
    ctx: &Need<grant::automation::Read>,
    unit: Option<String>,
    values: serde_json::Value,
) -> std::result::Result<minijinja::Value, AppError> {
    let r = ctx.app.store.read()?;
    let units = super::batches::units(&r)?;
    if let Some(u) = unit.as_ref().filter(|u| !u.is_empty()) {
        unit_known(&r, u)?;
    }
    let unit = unit
        .filter(|u| !u.is_empty())
        .or_else(|| units.first().map(|u| u.code.clone()));
    let log = match &unit {
        Some(u) => Some(log(&r, u)?),
        None => None,
    };
    Ok(context! {
        units => to_value(&units),
        unit => unit,
        log => to_value(&log),
        values => to_value(&values),
        me => ctx.who.user().map(|u| u.username.clone()),
        can_write => ctx.who.can("automation", Level::Write),
    })
}

#[get("/automation/shift-log")]
async fn page(
    ctx: Need<grant::automation::Read>,
    q: web::Query<std::collections::HashMap<String, String>>,
) -> std::result::Result<HttpResponse, AppError> {
    let c = page_ctx(&ctx, q.get("unit").cloned(), serde_json::json!({}))?;
    ctx.page("automation/shift_log.html", c)
}

#[post("/automation/shift-log")]
async fn page_post(
    ctx: Need<grant::automation::Read>,
    form: web::Form<Vec<(String, String)>>,
) -> std::result::Result<HttpResponse, AppError> {
    ctx.require("automation", Level::Write)?;
    let f = FormData::from(form);
    let unit = f.get("unit").to_string();
    let a = match f.get("action") {
        "close" => LogAction::Close {
            id: f.opt::<u64>("id")?.unwrap_or(0),
            note: f.get("note").to_string(),
        },
        "hand_over" => LogAction::HandOver {
            unit: unit.clone(),
            note: f.get("note").to_string(),
        },
        "take_over" => LogAction::TakeOver { unit: unit.clone() },
        _ => LogAction::Entry {
            unit: unit.clone(),
            text: f.get("text").to_string(),
            open_item: f.checked("open_item"),
        },
    };
    let result = ctx.write(move |app, actor| act(&app.store, actor, a)).await;
    let back = unit.clone();
    ctx.done(
        result.map(|l| format!("/automation/shift-log?unit={}", l.unit)),
        "flash.saved",
        "automation/shift_log.html",
        || page_ctx(&ctx, Some(back), f.echo()),
    )
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(api_log)
        .service(api_post)
        .service(page)
        .service(page_post);
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(api_log, api_post))]
pub struct Doc;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;

    fn unit(store: &Store) {
        super::super::batches::test_unit(store, "R101");
    }

    #[test]
    fn open_items_are_carried_over_until_closed_and_a_handover_needs_a_second_person() {
        let (_d, store) = temp_store();
        unit(&store);
        let day = Actor::user(1, "li.ming", None);
        let night = Actor::user(2, "sun.wei", None);
        assert!(
            add(&store, &day, "R999", "x", false, 1).is_err(),
            "no such unit"
        );
        add(&store, &day, "R101", "投料正常", false, 10).unwrap();
        let leak = add(&store, &day, "R101", "P101 机封轻微渗漏，待检修", true, 20).unwrap();
        let h = hand_over(&store, &day, "R101", "R101 反应段运行中", 30).unwrap();
        assert_eq!(h.open_items, vec![leak.id]);
        // one handover at a time; not taken by the one who handed over
        assert_eq!(
            hand_over(&store, &night, "R101", "", 31)
                .unwrap_err()
                .msg()
                .key,
            "automation.shift.err.pending"
        );
        assert_eq!(
            take_over(&store, &day, "R101", 32).unwrap_err().msg().key,
            "automation.shift.err.same_person"
        );
        take_over(&store, &night, "R101", 40).unwrap();
        // the night shift's log: its own entries only, the open item carried over
        let l = log(&store.read().unwrap(), "R101").unwrap();
        assert_eq!(l.since_ms, Some(40));
        assert!(l.entries.is_empty());
        assert_eq!(l.open_items.len(), 1);
        assert!(l.pending.is_none());
        assert_eq!(
            take_over(&store, &night, "R101", 41).unwrap_err().msg().key,
            "automation.shift.err.none_pending"
        );
        // closed: it leaves the open items; closing twice is refused; a note is required
        assert_eq!(
            close(&store, &night, leak.id, " ", 50)
                .unwrap_err()
                .msg()
                .key,
            "common.err.required"
        );
        close(&store, &night, leak.id, "已更换机封", 50).unwrap();
        assert!(close(&store, &night, leak.id, "again", 51).is_err());
        let l = log(&store.read().unwrap(), "R101").unwrap();
        assert!(l.open_items.is_empty());
        // the next handover names no open items
        assert!(
            hand_over(&store, &night, "R101", "", 60)
                .unwrap()
                .open_items
                .is_empty()
        );
    }
}
