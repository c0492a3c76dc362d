//! Dual prevention: the risk register, inspection tasks and the inspections their cycles
//! generate, and hidden dangers from report through assignment and rectification to
//! acceptance. The only writer of `safety.risks`, `safety.tasks`, `safety.inspections`,
//! `safety.hazards` and `safety.hazard_files`.

use serde::{Deserialize, Serialize};
use time::Date;

use super::model::{
    Cycle, Hazard, HazardLevel, HazardState, Inspection, ItemResult, Risk, RiskLevel, Source, Step,
    Task,
};
use crate::error::{Error, Result, text};
use crate::i18n::Msg;
use crate::modules::safety::archive::model::{FileBlob, FileMeta};
use crate::modules::safety::archive::service::check_file;
use crate::modules::safety::store::{HAZARD_FILES, HAZARDS, INSPECTIONS, RISKS, TASKS};
use crate::plant_time::{format_day, parse_day};
use crate::store::{Actor, Change, Reader, Store};

/// Who acts on a hidden danger.
#[derive(Debug, Clone)]
pub struct Person {
    pub user_id: u64,
    pub username: String,
    pub name: String,
    /// Safety approve, or the safety department duty: assigns and accepts.
    pub manages: bool,
    /// Safety write: may record for others.
    pub writes: bool,
}

impl Person {
    fn actor(&self) -> Actor {
        Actor::user(self.user_id, &self.username, None)
    }
}

// ------------------------------------------------------------------ risks

pub fn risks(r: &impl Reader) -> Result<Vec<Risk>> {
    Ok(r.values(&RISKS)?)
}

pub fn risk(r: &impl Reader, id: u64) -> Result<Risk> {
    r.get(&RISKS, &id)?
        .ok_or_else(|| Error::NotFound(Msg::new("safety.risk.err.not_found")))
}

fn in_range(field: &'static str, v: f64, lo: f64, hi: f64) -> Result<()> {
    if !v.is_finite() || v < lo || v > hi {
        return Err(Error::Invalid {
            field,
            msg: Msg::new("safety.permit.err.range")
                .arg("lo", lo)
                .arg("hi", hi),
        });
    }
    Ok(())
}

/// Creates (id 0) or changes a line of the risk register.
pub fn save_risk(store: &Store, actor: &Actor, mut x: Risk) -> Result<Risk> {
    x.object = text("object", &x.object, 100, true)?;
    x.unit = text("unit", &x.unit, 100, true)?;
    x.event = text("event", &x.event, 100, true)?;
    x.owner = text("owner", &x.owner, 50, false)?;
    x.measures = x
        .measures
        .iter()
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    if x.measures.is_empty() {
        return Err(Error::invalid("measures", "safety.risk.err.measures"));
    }
    in_range("l", x.l, 0.1, 10.0)?;
    in_range("e", x.e, 0.5, 10.0)?;
    in_range("c", x.c, 1.0, 100.0)?;
    let mut w = store.write(actor)?;
    let before = if x.id == 0 {
        x.id = w.next_id(&RISKS)?;
        None
    } else {
        Some(risk(&w, x.id)?)
    };
    w.insert(&RISKS, &x.id, &x)?;
    w.audit_saved(
        "safety.risk",
        format!("risk:{} {}/{}", x.id, x.object, x.event),
        before.as_ref(),
        &x,
    );
    w.commit()?;
    Ok(x)
}

// ------------------------------------------------------------------ tasks and inspections

pub fn tasks(r: &impl Reader) -> Result<Vec<Task>> {
    Ok(r.values(&TASKS)?)
}

pub fn save_task(store: &Store, actor: &Actor, mut t: Task) -> Result<Task> {
    t.name = text("name", &t.name, 100, true)?;
    if !(1..=1000).contains(&t.every) {
        return Err(Error::invalid("every", "safety.task.err.every"));
    }
    let mut w = store.write(actor)?;
    risk(&w, t.risk).map_err(|_| Error::invalid("risk", "safety.risk.err.not_found"))?;
    crate::auth::service::user(&w, t.assignee)?
        .filter(|u| u.enabled)
        .ok_or_else(|| Error::invalid("assignee", "safety.permit.err.user"))?;
    t.items = t
        .items
        .iter()
        .map(|i| i.trim().to_string())
        .filter(|i| !i.is_empty())
        .collect();
    let now = crate::util::now_ms();
    if !(now - 3_650 * 86_400_000..=now + 3_650 * 86_400_000).contains(&t.next_due_ms) {
        return Err(Error::invalid("next_due_ms", "safety.task.err.due"));
    }
    let before = if t.id == 0 {
        t.id = w.next_id(&TASKS)?;
        None
    } else {
        Some(
            w.get(&TASKS, &t.id)?
                .ok_or_else(|| Error::NotFound(Msg::new("safety.task.err.not_found")))?,
        )
    };
    w.insert(&TASKS, &t.id, &t)?;
    w.audit_saved(
        "safety.task",
        format!("task:{} {}", t.id, t.name),
        before.as_ref(),
        &t,
    );
    w.commit()?;
    Ok(t)
}

/// Generates the inspections that fell due: one per due task (missed periods are not
/// stacked up), and moves each task to its next due time. Returns how many were made.
pub fn generate_inspections(store: &Store, now_ms: i64) -> Result<usize> {
    let due: Vec<Task> = tasks(&store.read()?)?
        .into_iter()
        .filter(|t| t.next_due_ms <= now_ms)
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let mut w = store.write(&Actor::system("inspections"))?;
    let mut made = 0;
    for id in due.iter().map(|t| t.id) {
        // read again inside the transaction: an edit or a deletion meanwhile wins
        let Some(mut t) = w.get(&TASKS, &id)?.filter(|t| t.next_due_ms <= now_ms) else {
            continue;
        };
        // the latest period that has begun (missed ones are skipped, not stacked up)
        let period = t.cycle.ms(t.every);
        t.next_due_ms += (now_ms - t.next_due_ms) / period * period;
        let items = if t.items.is_empty() {
            risk(&w, t.risk).map(|r| r.measures).unwrap_or_default()
        } else {
            t.items.clone()
        };
        let i = Inspection {
            id: w.next_id(&INSPECTIONS)?,
            task: t.id,
            risk: t.risk,
            name: t.name.clone(),
            assignee: t.assignee,
            due_ms: t.next_due_ms,
            items: items
                .into_iter()
                .map(|item| ItemResult {
                    item,
                    ok: None,
                    note: String::new(),
                })
                .collect(),
            done_ms: None,
            done_by: String::new(),
            hazards: Vec::new(),
        };
        w.insert(&INSPECTIONS, &i.id, &i)?;
        t.next_due_ms += period;
        w.insert(&TASKS, &t.id, &t)?;
        made += 1;
    }
    w.commit()?;
    Ok(made)
}

pub fn inspections(
    r: &impl Reader,
    assignee: Option<u64>,
    pending: bool,
) -> Result<Vec<Inspection>> {
    let mut v: Vec<Inspection> = r
        .all(&INSPECTIONS)?
        .into_iter()
        .map(|(_, i)| i)
        .filter(|i| assignee.is_none_or(|a| i.assignee == a))
        .filter(|i| !pending || i.done_ms.is_none())
        .collect();
    v.sort_by_key(|i| std::cmp::Reverse(i.due_ms));
    Ok(v)
}

pub fn inspection(r: &impl Reader, id: u64) -> Result<Inspection> {
    r.get(&INSPECTIONS, &id)?
        .ok_or_else(|| Error::NotFound(Msg::new("safety.task.err.not_found")))
}

/// Records an inspection: every item checked; each failed item becomes a reported hidden
/// danger (source: daily inspection) linked to the inspection and its risk.
pub fn record_inspection(
    store: &Store,
    p: &Person,
    id: u64,
    results: Vec<(bool, String)>,
    now_ms: i64,
    offset: time::UtcOffset,
) -> Result<Inspection> {
    let mut w = store.write(&p.actor())?;
    let mut i = inspection(&w, id)?;
    if i.done_ms.is_some() {
        return Err(Error::Conflict(Msg::new("safety.task.err.done")));
    }
    if i.assignee != p.user_id && !p.writes {
        return Err(Error::Forbidden(Msg::new("safety.task.err.not_assignee")));
    }
    if results.len() != i.items.len() {
        return Err(Error::invalid("items", "safety.task.err.items"));
    }
    let r = risk(&w, i.risk).ok();
    for (item, (ok, note)) in i.items.iter_mut().zip(results) {
        let note = text("note", &note, 500, false)?;
        if !ok && note.is_empty() {
            return Err(Error::Invalid {
                field: "note",
                msg: Msg::new("safety.task.err.failed_note").arg("item", &item.item),
            });
        }
        item.ok = Some(ok);
        item.note = note;
    }
    for item in i.items.iter().filter(|x| x.ok == Some(false)) {
        let h = new_hazard(
            &w,
            p,
            HazardInput {
                title: item.item.clone(),
                description: item.note.clone(),
                location: r
                    .as_ref()
                    .map(|r| format!("{} / {}", r.object, r.unit))
                    .unwrap_or_default(),
                level: HazardLevel::General,
                source: Source::Daily,
                risk: Some(i.risk),
            },
            now_ms,
            offset,
        )?;
        let mut h = h;
        h.id = w.next_id(&HAZARDS)?;
        h.inspection = Some(i.id);
        w.insert(&HAZARDS, &h.id, &h)?;
        i.hazards.push(h.id);
    }
    i.done_ms = Some(now_ms);
    i.done_by = p.name.clone();
    w.insert(&INSPECTIONS, &i.id, &i)?;
    w.audit(
        "safety.inspection.record",
        format!("inspection:{} {}", i.id, i.name),
        Change::created(serde_json::json!({"failed": i.hazards.len(), "items": i.items.len()})),
    );
    w.commit()?;
    Ok(i)
}

// ------------------------------------------------------------------ hidden dangers

/// A hidden danger as reported.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HazardInput {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub location: String,
    pub level: HazardLevel,
    pub source: Source,
    #[serde(default)]
    pub risk: Option<u64>,
}

fn new_hazard(
    w: &crate::store::WriteTx,
    p: &Person,
    input: HazardInput,
    now_ms: i64,
    offset: time::UtcOffset,
) -> Result<Hazard> {
    let title = text("title", &input.title, 200, true)?;
    let location = text("location", &input.location, 200, true)?;
    let description = text("description", &input.description, 2000, false)?;
    if let Some(r) = input.risk {
        risk(w, r).map_err(|_| Error::invalid("risk", "safety.risk.err.not_found"))?;
    }
    let fmt = time::macros::format_description!("[year][month][day]");
    let day = crate::plant_time::local(now_ms, offset)
        .date()
        .format(&fmt)
        .unwrap_or_default();
    let prefix = format!("YH-{day}-");
    let n = w
        .all(&HAZARDS)?
        .iter()
        .filter(|(_, h)| h.number.starts_with(&prefix))
        .count();
    Ok(Hazard {
        id: 0,
        number: format!("{prefix}{:03}", n + 1),
        title,
        description,
        location,
        level: input.level,
        source: input.source,
        risk: input.risk,
        inspection: None,
        state: HazardState::Reported,
        reported_by: p.name.clone(),
        reported_ms: now_ms,
        assignee: None,
        assignee_name: String::new(),
        deadline: None,
        measures: String::new(),
        photos_before: Vec::new(),
        photos_after: Vec::new(),
        closed_ms: None,
        history: vec![Step {
            action: "report".into(),
            by: p.name.clone(),
            at_ms: now_ms,
            note: String::new(),
        }],
    })
}

/// Reports a hidden danger, with photos of it (images only).
pub fn report(
    store: &Store,
    p: &Person,
    input: HazardInput,
    photos: Vec<(String, Vec<u8>)>,
    now_ms: i64,
    offset: time::UtcOffset,
) -> Result<Hazard> {
    let checked = photos
        .into_iter()
        .map(|(n, b)| image(&n, &b).map(|(n, m)| (n, m, b)))
        .collect::<Result<Vec<_>>>()?;
    let mut w = store.write(&p.actor())?;
    let mut h = new_hazard(&w, p, input, now_ms, offset)?;
    h.id = w.next_id(&HAZARDS)?;
    for (name, mime, bytes) in checked {
        let meta = store_photo(&mut w, h.id, &name, mime, bytes, p, now_ms)?;
        h.photos_before.push(meta);
    }
    w.insert(&HAZARDS, &h.id, &h)?;
    w.audit(
        "safety.hazard.report",
        format!("hazard:{} {}", h.id, h.number),
        Change::created(
            serde_json::json!({"title": h.title, "level": h.level, "source": h.source}),
        ),
    );
    w.commit()?;
    Ok(h)
}

fn image(name: &str, bytes: &[u8]) -> Result<(String, &'static str)> {
    let (name, mime) = check_file(name, bytes)?;
    if !mime.starts_with("image/") {
        return Err(Error::invalid("file", "safety.hazard.err.photo"));
    }
    Ok((name, mime))
}

fn store_photo(
    w: &mut crate::store::WriteTx,
    hazard: u64,
    name: &str,
    mime: &str,
    bytes: Vec<u8>,
    p: &Person,
    now_ms: i64,
) -> Result<FileMeta> {
    let meta = FileMeta {
        id: w.next_id(&HAZARD_FILES)?,
        name: name.to_string(),
        content_type: mime.to_string(),
        size: bytes.len() as u64,
        uploaded_ms: now_ms,
        uploaded_by: p.name.clone(),
    };
    w.insert(&HAZARD_FILES, &(hazard, meta.id), &FileBlob { bytes })?;
    Ok(meta)
}

pub fn hazard(r: &impl Reader, id: u64) -> Result<Hazard> {
    r.get(&HAZARDS, &id)?
        .ok_or_else(|| Error::NotFound(Msg::new("safety.hazard.err.not_found")))
}

/// Hidden dangers, newest first; `state` an id, or `open` / `overdue`.
pub fn hazards(r: &impl Reader, state: Option<&str>, today: Date) -> Result<Vec<Hazard>> {
    let mut v: Vec<Hazard> = r
        .all(&HAZARDS)?
        .into_iter()
        .map(|(_, h)| h)
        .filter(|h| match state.filter(|s| !s.is_empty()) {
            None => true,
            Some("open") => h.state != HazardState::Closed,
            Some("overdue") => overdue(h, today),
            Some(s) => h.state.id() == s,
        })
        .collect();
    v.sort_by_key(|h| std::cmp::Reverse(h.id));
    Ok(v)
}

/// Past its deadline and not closed.
pub fn overdue(h: &Hazard, today: Date) -> bool {
    h.state != HazardState::Closed
        && h.deadline
            .as_deref()
            .and_then(parse_day)
            .is_some_and(|d| d < today)
}

/// A step of the workflow.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum HazardAction {
    /// 指派整改: who rectifies, by when, with which measures.
    Assign {
        assignee: u64,
        deadline: String,
        #[serde(default)]
        measures: String,
    },
    /// 整改完成 (needs an after photo).
    Rectify {
        #[serde(default)]
        note: String,
    },
    /// 验收通过
    Accept {
        #[serde(default)]
        note: String,
    },
    /// 验收不通过: back to rectification.
    Reject { note: String },
}

pub fn act(
    store: &Store,
    p: &Person,
    id: u64,
    action: HazardAction,
    now_ms: i64,
    today: Date,
) -> Result<Hazard> {
    let mut w = store.write(&p.actor())?;
    let before = hazard(&w, id)?;
    let mut h = before.clone();
    let wrong = |h: &Hazard| {
        Error::Conflict(
            Msg::new("safety.hazard.err.state")
                .arg_key("state", format!("safety.hazard.state.{}", h.state.id())),
        )
    };
    let (name, note) = match action {
        HazardAction::Assign {
            assignee,
            deadline,
            measures,
        } => {
            if !matches!(h.state, HazardState::Reported | HazardState::Rectifying) {
                return Err(wrong(&h));
            }
            if !p.manages {
                return Err(Error::Forbidden(Msg::new("safety.hazard.err.manager")));
            }
            let u = crate::auth::service::user(&w, assignee)?
                .filter(|u| u.enabled)
                .ok_or_else(|| Error::invalid("assignee", "safety.permit.err.user"))?;
            let d = parse_day(&deadline)
                .ok_or_else(|| Error::invalid("deadline", "common.err.date"))?;
            if d < today {
                return Err(Error::invalid(
                    "deadline",
                    "safety.hazard.err.deadline_past",
                ));
            }
            h.assignee = Some(u.id);
            h.assignee_name = u.display_name.clone();
            h.deadline = Some(format_day(d));
            h.measures = text("measures", &measures, 2000, false)?;
            h.state = HazardState::Rectifying;
            ("assign", format!("{} · {}", u.display_name, format_day(d)))
        }
        HazardAction::Rectify { note } => {
            if h.state != HazardState::Rectifying {
                return Err(wrong(&h));
            }
            if h.assignee != Some(p.user_id) && !p.writes {
                return Err(Error::Forbidden(Msg::new("safety.hazard.err.not_assignee")));
            }
            if h.photos_after.is_empty() {
                return Err(Error::invalid("file", "safety.hazard.err.after_photo"));
            }
            h.state = HazardState::PendingAcceptance;
            ("rectify", text("note", &note, 2000, false)?)
        }
        HazardAction::Accept { note } => {
            if h.state != HazardState::PendingAcceptance {
                return Err(wrong(&h));
            }
            if !p.manages {
                return Err(Error::Forbidden(Msg::new("safety.hazard.err.manager")));
            }
            if h.assignee == Some(p.user_id) {
                return Err(Error::Forbidden(Msg::new("safety.hazard.err.own")));
            }
            h.state = HazardState::Closed;
            h.closed_ms = Some(now_ms);
            ("accept", text("note", &note, 2000, false)?)
        }
        HazardAction::Reject { note } => {
            if h.state != HazardState::PendingAcceptance {
                return Err(wrong(&h));
            }
            if !p.manages {
                return Err(Error::Forbidden(Msg::new("safety.hazard.err.manager")));
            }
            let note = text("note", &note, 2000, true)?;
            h.state = HazardState::Rectifying;
            ("reject", note)
        }
    };
    h.history.push(Step {
        action: name.into(),
        by: p.name.clone(),
        at_ms: now_ms,
        note,
    });
    w.insert(&HAZARDS, &id, &h)?;
    w.audit(
        &format!("safety.hazard.{name}"),
        format!("hazard:{} {}", h.id, h.number),
        Change::updated(before.state.id(), h.state.id()),
    );
    w.commit()?;
    Ok(h)
}

/// Adds a photo: `after` ones (of the rectified state) while rectifying, `before` ones
/// until it is closed.
/// Adds photos: `after` ones (of the rectified state) while rectifying, by the assignee;
/// `before` ones until it is closed, by its reporter or safety staff. All or none.
pub fn add_photos(
    store: &Store,
    p: &Person,
    id: u64,
    after: bool,
    files: Vec<(String, Vec<u8>)>,
    now_ms: i64,
) -> Result<Vec<FileMeta>> {
    if files.is_empty() {
        return Err(Error::invalid("file", "web.err.file_empty"));
    }
    let checked = files
        .into_iter()
        .map(|(n, b)| image(&n, &b).map(|(n, m)| (n, m, b)))
        .collect::<Result<Vec<_>>>()?;
    let mut w = store.write(&p.actor())?;
    let mut h = hazard(&w, id)?;
    if h.state == HazardState::Closed || (after && h.state != HazardState::Rectifying) {
        return Err(Error::Conflict(
            Msg::new("safety.hazard.err.state")
                .arg_key("state", format!("safety.hazard.state.{}", h.state.id())),
        ));
    }
    let allowed = if after {
        h.assignee == Some(p.user_id) || p.writes
    } else {
        h.reported_by == p.name || p.writes || p.manages
    };
    if !allowed {
        return Err(Error::Forbidden(Msg::new("safety.hazard.err.not_assignee")));
    }
    let have = if after {
        h.photos_after.len()
    } else {
        h.photos_before.len()
    };
    if have + checked.len() > 10 {
        return Err(Error::invalid("file", "safety.err.too_many_files"));
    }
    let mut out = Vec::new();
    for (name, mime, bytes) in checked {
        let meta = store_photo(&mut w, id, &name, mime, bytes, p, now_ms)?;
        if after {
            h.photos_after.push(meta.clone());
        } else {
            h.photos_before.push(meta.clone());
        }
        out.push(meta);
    }
    w.insert(&HAZARDS, &id, &h)?;
    w.audit(
        "safety.hazard.photo",
        format!("hazard:{} {}", h.id, h.number),
        Change::created(serde_json::json!({"files": out.len(), "after": after})),
    );
    w.commit()?;
    Ok(out)
}

pub fn photo(r: &impl Reader, id: u64, file: u64) -> Result<(FileMeta, Vec<u8>)> {
    let h = hazard(r, id)?;
    let meta = h
        .photos_before
        .iter()
        .chain(&h.photos_after)
        .find(|f| f.id == file)
        .cloned()
        .ok_or_else(|| Error::NotFound(Msg::new("safety.err.file_not_found")))?;
    let blob = r
        .get(&HAZARD_FILES, &(id, file))?
        .ok_or_else(|| Error::NotFound(Msg::new("safety.err.file_not_found")))?;
    Ok((meta, blob.bytes))
}

// ------------------------------------------------------------------ statistics

/// Figures of the dual prevention work.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub total: usize,
    pub open: usize,
    pub overdue: usize,
    pub major_open: usize,
    pub by_state: Vec<(String, usize)>,
    pub by_source: Vec<(String, usize)>,
    /// Closed by their deadline / closed, last 30 days (percent).
    pub on_time_pct: Option<f64>,
    /// Inspections due in the last 30 days and how many were done.
    pub inspections_due: usize,
    pub inspections_done: usize,
    /// Risks per level: red, orange, yellow, blue.
    pub risks: Vec<(RiskLevel, usize)>,
}

/// Whether a hidden danger closed at `closed_ms` met its deadline day, which ends at
/// midnight plant time.
fn closed_on_time(deadline: Date, closed_ms: i64, offset: time::UtcOffset) -> bool {
    let next = deadline + time::Duration::days(1);
    let end = time::PrimitiveDateTime::new(next, time::Time::MIDNIGHT)
        .assume_offset(offset)
        .unix_timestamp()
        * 1000;
    closed_ms < end
}

pub fn stats(r: &impl Reader, today: Date, now_ms: i64, offset: time::UtcOffset) -> Result<Stats> {
    let all = hazards(r, None, today)?;
    let since = now_ms - 30 * 86_400_000;
    let mut s = Stats {
        total: all.len(),
        open: all
            .iter()
            .filter(|h| h.state != HazardState::Closed)
            .count(),
        overdue: all.iter().filter(|h| overdue(h, today)).count(),
        major_open: all
            .iter()
            .filter(|h| h.state != HazardState::Closed && h.level == HazardLevel::Major)
            .count(),
        ..Default::default()
    };
    for st in [
        HazardState::Reported,
        HazardState::Rectifying,
        HazardState::PendingAcceptance,
        HazardState::Closed,
    ] {
        s.by_state
            .push((st.id().into(), all.iter().filter(|h| h.state == st).count()));
    }
    for src in Source::ALL {
        let n = all.iter().filter(|h| h.source == src).count();
        if n > 0 {
            s.by_source.push((src.id().into(), n));
        }
    }
    let closed: Vec<&Hazard> = all
        .iter()
        .filter(|h| h.closed_ms.is_some_and(|c| c >= since))
        .collect();
    if !closed.is_empty() {
        let on_time = closed
            .iter()
            .filter(
                |h| match (h.deadline.as_deref().and_then(parse_day), h.closed_ms) {
                    (Some(d), Some(c)) => closed_on_time(d, c, offset),
                    _ => true,
                },
            )
            .count();
        s.on_time_pct = Some(on_time as f64 * 100.0 / closed.len() as f64);
    }
    let recent: Vec<Inspection> = inspections(r, None, false)?
        .into_iter()
        .filter(|i| i.due_ms >= since && i.due_ms <= now_ms)
        .collect();
    s.inspections_due = recent.len();
    s.inspections_done = recent.iter().filter(|i| i.done_ms.is_some()).count();
    let risks = risks(r)?;
    for l in [
        RiskLevel::Major,
        RiskLevel::Large,
        RiskLevel::General,
        RiskLevel::Low,
    ] {
        s.risks
            .push((l, risks.iter().filter(|x| x.level() == l).count()));
    }
    Ok(s)
}

/// Inspections not done a day after they fell due.
pub fn late_inspections(r: &impl Reader, now_ms: i64) -> Result<Vec<Inspection>> {
    Ok(inspections(r, None, true)?
        .into_iter()
        .filter(|i| now_ms - i.due_ms > 86_400_000)
        .collect())
}

/// The cycle's length, for pages.
pub fn cycle_of(s: &str) -> Option<Cycle> {
    Cycle::parse(s)
}

#[cfg(test)]
mod tests;
