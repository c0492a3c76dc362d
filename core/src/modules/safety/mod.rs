//! 安全生产 (safety production), 附件2 row 1, required of every enterprise type.
//!
//! Four areas, each a folder with the module shape (`model`, `service` — the only writer of
//! the area's tables — and `routes`):
//! - `archive/`: the enterprise archive (企业档案): licences, certificates and reports of the
//!   enterprise and the certificates of people, with yellow / red status as due dates
//!   approach, periodic-update dates per kind, attachments and renewal history;
//! - `permits/`: special work permits (八大特殊作业) per GB 30871-2022: the rules as pure
//!   functions, the life cycle with signing duties and approval chains, the box's own stops,
//!   printing with a QR code, the register and the API;
//! - `people/`: people, vehicles, gates and head counts, the plant map with zones, live
//!   positions and their rules (`tracking`, `live`), the duty roster, the demo simulator;
//! - `hazards/`: dual prevention (双重预防): the risk register, inspections, hidden dangers.
//!
//! Owns the `safety.*` tables, declared in `store.rs`; each area's service writes only its
//! own. This file registers the module and raises its alarms.

pub mod archive;
mod demo;
pub mod hazards;
pub mod people;
pub mod permits;
mod store;

use crate::alerts::{Raise, Route};
use crate::app::App;
use crate::auth::model::Level;
use crate::i18n::{Lang, Msg};
use crate::registry::{Evidence, Figure, Health, MenuEntry, Module, PermissionDef, Standing};

pub struct Safety;

const PERMISSIONS: &[PermissionDef] = &[
    PermissionDef {
        level: Level::Read,
        description_key: "safety.perm.read",
    },
    PermissionDef {
        level: Level::Write,
        description_key: "safety.perm.write",
    },
    PermissionDef {
        level: Level::Approve,
        description_key: "safety.perm.approve",
    },
];

impl Module for Safety {
    fn id(&self) -> &'static str {
        "safety"
    }

    fn permissions(&self) -> &'static [PermissionDef] {
        PERMISSIONS
    }

    fn routes(&self, cfg: &mut actix_web::web::ServiceConfig) {
        // permits first: `/safety/permits/...` are more specific than the archive's pages
        permits::routes::configure(cfg);
        people::routes::configure(cfg);
        hazards::routes::configure(cfg);
        archive::routes::configure(cfg)
    }

    fn prefixes(&self) -> &'static [&'static str] {
        &["/safety", "/api/v1/safety"]
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        let mut doc = <archive::routes::Doc as utoipa::OpenApi>::openapi();
        doc.merge(<permits::routes::Doc as utoipa::OpenApi>::openapi());
        doc.merge(people::routes::doc());
        doc.merge(<hazards::routes::Doc as utoipa::OpenApi>::openapi());
        doc
    }

    fn menu(&self) -> Vec<MenuEntry> {
        vec![
            MenuEntry {
                label_key: "safety.menu.overview",
                href: "/safety".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "safety.menu.certificates",
                href: "/safety/certificates".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "safety.menu.permits",
                href: "/safety/permits".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "safety.menu.permit_settings",
                href: "/safety/permits/settings".into(),
                level: Level::Approve,
            },
            MenuEntry {
                label_key: "safety.menu.people",
                href: "/safety/people".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "safety.menu.vehicles",
                href: "/safety/vehicles".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "safety.menu.gates",
                href: "/safety/gates".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "safety.menu.map",
                href: "/safety/map".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "safety.menu.roster",
                href: "/safety/roster".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "safety.menu.hazards",
                href: "/safety/hazards".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "safety.menu.inspections",
                href: "/safety/inspections".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "safety.menu.risks",
                href: "/safety/risks".into(),
                level: Level::Read,
            },
            MenuEntry {
                label_key: "safety.menu.kinds",
                href: "/safety/kinds".into(),
                level: Level::Approve,
            },
        ]
    }

    fn health(&self, app: &App) -> Health {
        match app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| archive::service::kinds(&r))
        {
            Ok(_) => Health::Ok,
            Err(e) => Health::Faulted(e.to_string()),
        }
    }

    fn evidence(&self, app: &App, lang: Lang) -> Vec<Evidence> {
        let today = crate::plant_time::today(app.offset);
        let Ok(s) = app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| archive::service::summary(&r, today))
        else {
            return Vec::new();
        };
        let since = crate::util::now_ms() - 30 * 86_400_000;
        let issued = app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| permits::service::issued_since(&r, since))
            .unwrap_or_default();
        let total: usize = issued.iter().map(|(_, n)| n).sum();
        let per_type = issued
            .iter()
            .map(|(w, n)| {
                format!(
                    "{} {n}",
                    crate::i18n::t(lang, &format!("safety.work.{}", w.id()))
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let now = crate::util::now_ms();
        let video = app
            .store
            .read()
            .map_err(crate::error::Error::from)
            .and_then(|r| {
                permits::service::special_hot_work_since(&r, since)?
                    .iter()
                    .map(|w| {
                        crate::cameras::video::record::permit_video(&r, w, now)
                            .map(|v| (w.number.clone(), v.full))
                    })
                    .collect::<crate::error::Result<Vec<_>>>()
            })
            .unwrap_or_default();
        let without: Vec<&str> = video
            .iter()
            .filter(|(_, full)| !full)
            .map(|(n, _)| n.as_str())
            .collect();
        let l = people::live::live(app);
        let last = |a: &std::sync::atomic::AtomicI64| a.load(std::sync::atomic::Ordering::Relaxed);
        let (pos, gate) = (last(&l.last_position_ms), last(&l.last_gate_ms));
        let when = |ms: i64| {
            if ms == 0 {
                crate::i18n::t(lang, "safety.evidence.never").to_string()
            } else {
                crate::plant_time::format_ms(ms, app.offset)
            }
        };
        let (pos_live, gate_live) = (
            pos > 0 && now - pos < 300_000,
            gate > 0 && now - gate < 86_400_000,
        );
        let roster = l.roster_status(app, now).unwrap_or_default();
        let staffed: Vec<_> = roster
            .iter()
            .filter(|s| s.shift.is_some() && !s.assigned.is_empty())
            .collect();
        let on_post = staffed.iter().filter(|s| !s.holding.is_empty()).count();
        vec![
            Evidence {
                item_key: "module.safety.item.tracking",
                met: pos_live && gate_live,
                detail: Msg::new("safety.evidence.tracking")
                    .arg("position", when(pos))
                    .arg_key(
                        "position_state",
                        if pos_live {
                            "safety.evidence.live"
                        } else {
                            "safety.evidence.not_live"
                        },
                    )
                    .arg("gate", when(gate))
                    .arg_key(
                        "gate_state",
                        if gate_live {
                            "safety.evidence.live"
                        } else {
                            "safety.evidence.not_live"
                        },
                    )
                    .render(lang),
            },
            Evidence {
                item_key: "module.safety.item.duty",
                met: !staffed.is_empty() && on_post == staffed.len(),
                detail: Msg::new("safety.evidence.duty")
                    .arg("posts", roster.len())
                    .arg("on_post", on_post)
                    .arg("staffed", staffed.len())
                    .render(lang),
            },
            // one row per guide item: the permit count and their video
            Evidence {
                item_key: "module.safety.item.permits",
                met: total > 0 && without.is_empty(),
                detail: format!(
                    "{}; {}",
                    Msg::new("safety.evidence.permits")
                        .arg("total", total)
                        .arg("per_type", per_type)
                        .render(lang),
                    Msg::new("safety.evidence.permit_video")
                        .arg("total", video.len())
                        .arg("full", video.len() - without.len())
                        .arg(
                            "without",
                            if without.is_empty() {
                                "—".to_string()
                            } else {
                                without.join(", ")
                            },
                        )
                        .render(lang)
                ),
            },
            Evidence {
                item_key: "module.safety.item.archive",
                // in use and kept current: documents on file and none of them expired
                met: s.enterprise > 0 && s.expired == 0,
                detail: Msg::new("safety.evidence.archive")
                    .arg("total", s.total)
                    .arg("enterprise", s.enterprise)
                    .arg("person", s.person)
                    .arg("expiring", s.expiring)
                    .arg("expired", s.expired)
                    .render(lang),
            },
        ]
    }

    fn figures(&self, app: &App) -> crate::error::Result<Vec<Figure>> {
        use Standing::{Attention, Danger, Normal};
        // compliance paperwork: expired, it is a gap to close; any other licence or
        // certificate (the licences to produce and store, people's operating certificates,
        // kinds the plant added) expired means work under it must stop
        const PAPERWORK: [&str; 3] = [
            "safety_evaluation",
            "emergency_plan",
            "safety_standardization",
        ];
        let (today, now) = (crate::plant_time::today(app.offset), crate::util::now_ms());
        let r = app.store.read()?;
        let certs = archive::service::certificates(&r, today, &Default::default())?;
        let expired = |paperwork: bool| {
            certs
                .iter()
                .filter(|c| c.status == archive::model::Status::Expired)
                .filter(|c| PAPERWORK.contains(&c.cert.kind.as_str()) == paperwork)
                .count()
        };
        let expiring = certs
            .iter()
            .filter(|c| c.status == archive::model::Status::Expiring)
            .count();
        let hazards = hazards::service::stats(&r, today, now, app.offset)?;
        let due = permits::service::due(&r, now)?;
        // a failing gas analysis with the work going on: danger; the work stopped on it
        // (suspended, as the box does when the reading is recorded) waits for a retest
        let gas = due
            .iter()
            .filter(|(p, d)| {
                matches!(d, permits::service::Due::GasFailed { .. })
                    && p.stage == permits::model::Stage::Working
            })
            .count();
        let on_site = permits::service::on_site(&r)?;
        let people: usize = people::service::head_counts(&r)?
            .iter()
            .filter(|h| h.area == "plant")
            .map(|h| h.people)
            .sum();
        Ok(vec![
            Figure::count("permits_on_site", on_site.all, Normal),
            // the highest-risk work under way: someone at the park should know
            Figure::count(
                "special_hot_work_on_site",
                on_site.special_hot_work,
                Attention,
            ),
            Figure::count("confined_space_on_site", on_site.confined_space, Normal),
            // past the planned end, a reading missing, work stopped on a failed analysis
            Figure::count("permits_due", due.len() - gas, Attention),
            Figure::count("permits_gas_failed", gas, Danger),
            Figure::count("people_on_site", people, Normal),
            Figure::count("hazards_open", hazards.open, Normal),
            Figure::count("hazards_overdue", hazards.overdue, Attention),
            Figure::count("hazards_major_open", hazards.major_open, Danger),
            Figure::count("certificates_expiring", expiring, Attention),
            Figure::count("paperwork_expired", expired(true), Attention),
            Figure::count("certificates_expired", expired(false), Danger),
        ])
    }

    fn periodic(&self, app: &App) -> crate::error::Result<()> {
        let now = crate::util::now_ms();
        // these are alerts now: a store written before keeps no such alarms
        app.alarms.retire_external(&[
            "safety.certificate:",
            "safety.hazard:",
            "safety.inspection:",
            "safety.gate:",
        ])?;
        certificate_alerts(app)?;
        permits::enforce(app, now)?;
        hazards::service::generate_inspections(&app.store, now)?;
        hazard_alerts(app, now)
    }

    fn seed_demo(&self, app: &App) -> crate::error::Result<()> {
        demo::seed(app)
    }

    fn start(&self, app: std::sync::Arc<App>) {
        permits::start(app.clone());
        people::live::start(app)
    }
}

/// Alarm source of a certificate's due date.
fn cert_source(id: u64) -> String {
    format!("safety.certificate:{id}")
}

/// A message in both languages, as module alarms carry it.
pub(crate) fn texts(msg: &Msg) -> crate::alarms::model::Text {
    crate::alarms::model::Text {
        zh: msg.render(Lang::ZhCn),
        en: msg.render(Lang::En),
    }
}

fn sync_alarms(
    app: &App,
    prefixes: &[&str],
    standing: Vec<(
        String,
        crate::alarms::model::Priority,
        crate::alarms::model::Text,
    )>,
) -> crate::error::Result<()> {
    app.alarms.sync_external("safety", prefixes, standing)
}

/// Raises an alert for every expired (high priority) and expiring (low) document of the
/// archive, to the safety staff, and clears those of documents renewed or deleted since.
/// An alert, not an alarm: the safety office renews documents, operators do not.
pub fn certificate_alerts(app: &App) -> crate::error::Result<()> {
    use crate::alarms::model::{Priority, Text};
    let today = crate::plant_time::today(app.offset);
    let r = app.store.read()?;
    let kinds = archive::service::kinds(&r)?;
    let certs = archive::service::certificates(&r, today, &archive::service::Filter::default())?;
    drop(r);
    let mut standing = Vec::new();
    for c in &certs {
        let priority = match c.status {
            archive::model::Status::Expired => Priority::High,
            archive::model::Status::Expiring => Priority::Low,
            _ => continue,
        };
        let kind = kinds.iter().find(|k| k.id == c.cert.kind);
        // the kind's name is data in both languages, not a catalogue key
        let text = |lang: Lang| {
            let name = kind
                .map(|k| match lang {
                    Lang::ZhCn => k.name_zh.clone(),
                    Lang::En => k.name_en.clone(),
                })
                .unwrap_or_else(|| c.cert.kind.clone());
            let key = match (c.status, c.due_reason) {
                (archive::model::Status::Expired, _) => "safety.alarm.expired",
                (_, Some(archive::model::DueReason::PeriodicUpdate)) => "safety.alarm.update_due",
                _ => "safety.alarm.expiring",
            };
            Msg::new(key)
                .arg("kind", name)
                .arg("number", &c.cert.number)
                .arg("holder", &c.cert.holder)
                .arg("due", c.due.as_deref().unwrap_or(""))
                .arg("days", c.days_left.unwrap_or(0).abs())
                .render(lang)
        };
        let message = Text {
            zh: text(Lang::ZhCn),
            en: text(Lang::En),
        };
        standing.push(Raise {
            source: cert_source(c.cert.id),
            priority,
            text: message,
            link: format!("/safety/certificates/{}", c.cert.id),
            route: Route::holders("safety", Level::Write),
        });
    }
    app.sync_alerts("safety", &["safety.certificate:"], standing)
}

/// Raises an alert for every hidden danger past its rectification deadline (high priority
/// for major ones; to its assignee and the safety staff) and every inspection not done a
/// day after it fell due (to its assignee and the safety staff); clears them when closed or
/// done.
pub fn hazard_alerts(app: &App, now_ms: i64) -> crate::error::Result<()> {
    use crate::alarms::model::Priority;
    let today = crate::plant_time::today(app.offset);
    let r = app.store.read()?;
    let overdue = hazards::service::hazards(&r, Some("overdue"), today)?;
    let late = hazards::service::late_inspections(&r, now_ms)?;
    drop(r);
    let mut standing = Vec::new();
    for h in overdue {
        let priority = match h.level {
            hazards::model::HazardLevel::Major => Priority::High,
            hazards::model::HazardLevel::General => Priority::Medium,
        };
        let msg = Msg::new("safety.hazard.alarm.overdue")
            .arg("number", &h.number)
            .arg("title", &h.title)
            .arg("deadline", h.deadline.as_deref().unwrap_or(""))
            .arg("assignee", &h.assignee_name);
        standing.push(Raise {
            source: format!("safety.hazard:{}", h.id),
            priority,
            text: texts(&msg),
            link: format!("/safety/hazards/{}", h.id),
            route: Route::holders("safety", Level::Write).owners(h.assignee),
        });
    }
    for i in late {
        let msg = Msg::new("safety.task.alarm.late")
            .arg("name", &i.name)
            .arg("due", crate::plant_time::format_ms(i.due_ms, app.offset));
        standing.push(Raise {
            source: format!("safety.inspection:{}", i.id),
            priority: Priority::Low,
            text: texts(&msg),
            link: "/safety/inspections".into(),
            route: Route::holders("safety", Level::Write).owners([i.assignee]),
        });
    }
    app.sync_alerts(
        "safety",
        &["safety.hazard:", "safety.inspection:"],
        standing,
    )
}

/// Raises an alarm for every permit past its planned end with work still on site (high: it
/// was stopped and must not go on), for work on site with a failing gas analysis standing
/// (high: people must leave), and for confined-space work without a reading in the last 2
/// hours; a permit past its end with nobody on site and not yet closed is paperwork: an
/// alert to its applicant and the safety staff. Clears them when their cause is gone.
pub fn permit_alarms(app: &App, now_ms: i64) -> crate::error::Result<()> {
    use crate::alarms::model::{Priority, Text};
    use permits::service::Due;
    let due = permits::service::due(&app.store.read()?, now_ms)?;
    let mut standing = Vec::new();
    let mut open = Vec::new();
    for (p, d) in &due {
        let msg = |key| {
            Msg::new(key)
                .arg("number", &p.number)
                .arg_key("work", format!("safety.work.{}", p.work().id()))
                .arg("location", &p.location)
                .arg("to", crate::plant_time::format_minute(p.to_ms, app.offset))
        };
        let (source, priority, text) = match d {
            Due::Expired { on_site: false } => {
                let m = msg("safety.alarm.permit_open").arg("minutes", (now_ms - p.to_ms) / 60_000);
                open.push(Raise {
                    source: format!("safety.permit_open:{}", p.id),
                    priority: Priority::Low,
                    text: texts(&m),
                    link: format!("/safety/permits/{}", p.id),
                    route: Route::holders("safety", Level::Write).owners([p.applicant_id]),
                });
                continue;
            }
            Due::Expired { on_site: true } => {
                let m = msg("safety.alarm.permit_expired_on_site")
                    .arg("minutes", (now_ms - p.to_ms) / 60_000);
                (format!("safety.permit:{}", p.id), Priority::High, texts(&m))
            }
            Due::ReadingDue { minutes } => (
                format!("safety.permit_gas:{}", p.id),
                Priority::Medium,
                texts(&msg("safety.alarm.permit_reading_due").arg("minutes", minutes)),
            ),
            Due::GasFailed {
                point,
                findings_zh,
                findings_en,
            } => {
                let m = msg("safety.alarm.permit_gas_failed").arg("point", point);
                let t = texts(&m);
                (
                    format!("safety.permit_gas_failed:{}", p.id),
                    Priority::High,
                    Text {
                        zh: format!("{}{findings_zh}", t.zh),
                        en: format!("{} {findings_en}", t.en),
                    },
                )
            }
        };
        standing.push((source, priority, text));
    }
    app.sync_alerts("safety", &["safety.permit_open:"], open)?;
    sync_alarms(
        app,
        &[
            "safety.permit:",
            "safety.permit_gas:",
            "safety.permit_gas_failed:",
        ],
        standing,
    )
}

#[cfg(test)]
mod tests {
    use super::permits::model::{Action, Details, Duty};
    use super::permits::service::{self as psvc, ActionInput, PermitInput, Signer};
    use super::*;
    use crate::store::Actor;

    fn signer(id: u64, d: Duty) -> Signer {
        Signer {
            user_id: id,
            username: format!("u{id}"),
            name: format!("U{id}"),
            duties: vec![d],
            can_write: false,
        }
    }

    #[test]
    fn permits_open_past_their_end_raise_alarms_until_closed() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::config::Config {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let app = App::open(cfg).unwrap();
        let off = app.offset;
        let guard = crate::auth::service::create_user(
            &app.store,
            &Actor::system("t"),
            crate::auth::service::NewUser {
                username: "guard".into(),
                display_name: "监护".into(),
                password: "Guard-2026-permit".into(),
                department_id: None,
                roles: vec!["operator".into()],
                phone: String::new(),
                email: String::new(),
                must_change_password: false,
            },
        )
        .unwrap();
        // duties by user id (the signers below are not users)
        let mut w = app.store.write(&Actor::system("t")).unwrap();
        w.insert(&store::DUTIES, &guard.id, &vec![Duty::Guardian])
            .unwrap();
        w.insert(&store::DUTIES, &900, &vec![Duty::Applicant])
            .unwrap();
        w.insert(&store::DUTIES, &901, &vec![Duty::Unit]).unwrap();
        for d in [Duty::Fire, Duty::SafetyDept, Duty::Specialist] {
            w.insert(&store::DUTIES, &(910 + d as u64), &vec![d])
                .unwrap();
        }
        w.commit().unwrap();
        let g = Signer {
            user_id: guard.id,
            username: "guard".into(),
            name: "监护".into(),
            duties: vec![Duty::Guardian],
            can_write: false,
        };
        let t0 = crate::util::now_ms() - 3 * 3_600_000;
        let (a, unit) = (signer(900, Duty::Applicant), signer(901, Duty::Unit));
        let input = PermitInput {
            details: Details::RoadBreak {
                road_section: "东路".into(),
                reason: "开挖".into(),
                detour: "西路".into(),
            },
            applicant_unit: "生产部".into(),
            content: "断路".into(),
            location: "东路".into(),
            x: 0.0,
            y: 0.0,
            work_unit: "设备部".into(),
            leader: "徐".into(),
            workers: vec![super::permits::model::Worker {
                name: "王强".into(),
                cert: String::new(),
            }],
            guardian_id: Some(guard.id),
            linked: Vec::new(),
            risks: "车辆".into(),
            from: crate::plant_time::format_minute(t0, off),
            to: crate::plant_time::format_minute(t0 + 2 * 3_600_000, off),
            windows: Vec::new(),
            activities: Vec::new(),
            checklist: None,
        };
        let p = psvc::create(&app.store, &a, input, t0 - 600_000, off, Lang::ZhCn).unwrap();
        let step = |s: &Signer, action, at| {
            let site = permits::Instruments(&app);
            psvc::act(
                &app.store,
                &site,
                s,
                p.id,
                ActionInput::new(action),
                at,
                off,
            )
            .unwrap()
        };
        step(&a, Action::Submit, t0 - 500_000);
        step(&a, Action::ConfirmMeasures, t0 - 400_000);
        for d in [Duty::Fire, Duty::SafetyDept, Duty::Specialist] {
            step(&signer(910 + d as u64, d), Action::Approve, t0 - 300_000);
        }
        step(&a, Action::Brief, t0 - 200_000);
        step(&g, Action::Start, t0);
        // an hour past its end, still working: the box stops the work, and a
        // high-priority alarm stands until the permit is closed
        permits::enforce(&app, crate::util::now_ms()).unwrap();
        let stopped = psvc::permit(&app.store.read().unwrap(), p.id).unwrap();
        assert_eq!(stopped.stage, permits::model::Stage::Suspended);
        let source = format!("safety.permit:{}", p.id);
        let active = |app: &App| {
            app.alarms
                .external_id(&source)
                .and_then(|id| app.alarms.instance(id))
                .map(|i| (i.active, i.priority))
        };
        assert_eq!(
            active(&app),
            Some((true, crate::alarms::model::Priority::High))
        );
        step(&a, Action::Finish, crate::util::now_ms());
        step(&unit, Action::Accept, crate::util::now_ms());
        permit_alarms(&app, crate::util::now_ms()).unwrap();
        assert_eq!(active(&app).map(|a| a.0), Some(false));
    }
}
