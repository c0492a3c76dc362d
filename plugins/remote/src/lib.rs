//! 远程维护 — the remote maintenance X module, a first-party nplusx plugin written with the
//! kit (contract 0.3).
//!
//! A vendor asks for access (the plant records the request: who, why, which tags, for how
//! long); the plant admin approves a session with a scope — tags the vendor may read, tags it
//! may write, whether it may read the alarm journal — and an end time. The box then connects
//! *out* to the vendor's MQTT broker (`link`: no port is opened on the box), and answers the
//! vendor's requests on the session's topics while the session lasts:
//!
//! - requests: `<prefix>/<token>/req`, JSON `{"op": "read", "id": "1", "tags": [...]}`,
//!   `{"op": "history", "tag", "minutes"}`, `{"op": "write", "tag", "value"}`,
//!   `{"op": "logs", "hours"}`;
//! - answers: `<prefix>/<token>/resp`, `{"id", "ok": true, ...}` or `{"id", "ok": false,
//!   "error"}`; the session's state (`open`, `ended` with the reason) on
//!   `<prefix>/<token>/status`.
//!
//! Nothing outside the scope is answered (`scope` decides); the box audits every message in
//! and out. The session ends at its end time or at once with the kill switch, and the channel
//! closes with it.

pub mod scope;

use std::cell::RefCell;

use nplusx_sdk::serde_json::{self, Value, json};
use nplusx_sdk::{
    Button, Error, Event, Field, Form, Info, Kpi, Lang, Outcome, Page, Plugin, Table, Tone, Values,
    View, clock, link, log, plant, records, storage, tag_write, tags,
};
use scope::{Request, Scope};
use serde::{Deserialize, Serialize};

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum State {
    /// Asked for, waiting for the admin.
    Pending,
    Rejected,
    /// Approved and running until its end.
    Open,
    Ended,
}

/// A vendor's request for access and, once approved, its session.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Session {
    id: u32,
    vendor: String,
    engineer: String,
    reason: String,
    /// What the vendor asked for.
    asked: Scope,
    asked_minutes: u32,
    state: State,
    created_ms: i64,
    /// What the admin approved.
    #[serde(default)]
    scope: Scope,
    #[serde(default)]
    ends_ms: i64,
    /// The secret part of the session's topics, given to the vendor.
    #[serde(default)]
    token: String,
    #[serde(default)]
    ended_ms: i64,
    #[serde(default)]
    end_reason: String,
    /// Requests answered and refused.
    #[serde(default)]
    answered: u32,
    #[serde(default)]
    refused: u32,
}

impl Session {
    /// A request as the vendor made it, numbered and waiting for the admin.
    fn asked(
        vendor: impl Into<String>,
        engineer: impl Into<String>,
        reason: impl Into<String>,
        asked: Scope,
        asked_minutes: u32,
    ) -> Result<Session, String> {
        Ok(Session {
            id: next_id()?,
            vendor: vendor.into(),
            engineer: engineer.into(),
            reason: reason.into(),
            asked,
            asked_minutes,
            state: State::Pending,
            created_ms: now(),
            scope: Scope::default(),
            ends_ms: 0,
            token: String::new(),
            ended_ms: 0,
            end_reason: String::new(),
            answered: 0,
            refused: 0,
        })
    }
}

/// The admin's settings: the vendor's broker.
#[derive(Debug, Clone, Default)]
struct Settings {
    broker: String,
    tls: bool,
    username: String,
    password: String,
    prefix: String,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = RefCell::new(Settings::default());
    /// Request ids answered in the open session (a redelivered request runs once).
    static ANSWERED: RefCell<(u32, std::collections::HashSet<String>)> =
        RefCell::new((0, std::collections::HashSet::new()));
}

fn settings() -> Settings {
    SETTINGS.with(|s| s.borrow().clone())
}

fn key(id: u32) -> String {
    format!("session:{id:08}")
}

fn sessions() -> Result<Vec<Session>, Error> {
    let mut out = Vec::new();
    for k in storage::keys("session:", 10_000)? {
        if let Some(s) = storage::get_json::<Session>(&k)? {
            out.push(s);
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.id));
    Ok(out)
}

fn save(s: &Session) -> Result<(), Error> {
    storage::set_json(&key(s.id), s)
}

fn open_session() -> Result<Option<Session>, Error> {
    Ok(sessions()?.into_iter().find(|s| s.state == State::Open))
}

fn now() -> i64 {
    clock::now_ms().unwrap_or(0)
}

/// Whether a session is past its end; without the clock it is (the stricter reading).
fn expired(s: &Session) -> bool {
    clock::now_ms().map_or(true, |t| t >= s.ends_ms)
}

fn topic(s: &Session, leaf: &str) -> String {
    format!("{}/{}/{leaf}", settings().prefix, s.token)
}

/// `n` random bytes as hex, from WASI's secure random source.
fn random_hex(n: usize) -> Result<String, String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| format!("no random numbers: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The session's secret: 128 random bits.
fn token() -> Result<String, String> {
    random_hex(16)
}

/// Sends to the vendor; false when it did not go (too large, not audited, no channel).
fn send(s: &Session, leaf: &str, body: &Value) -> bool {
    match link::publish(&topic(s, leaf), body.to_string().as_bytes()) {
        Ok(()) => true,
        Err(e) => {
            log::warn(&format!("not sent to the vendor: {}", String::from(e)));
            false
        }
    }
}

/// Opens the channel for an open session.
fn connect(s: &Session) -> Result<(), String> {
    let c = settings();
    if c.broker.is_empty() {
        return Err("no vendor broker is set (settings: broker)".into());
    }
    link::open(
        &link::Broker {
            address: c.broker.clone(),
            tls: c.tls,
            // random, and nothing of the token: the broker sees client ids
            client_id: format!("nplusx-remote-{}", random_hex(6)?),
            username: c.username.clone(),
            password: c.password.clone(),
        },
        &[topic(s, "req")],
    )
    .map_err(String::from)
}

/// Ends a session: tells the vendor, closes the channel, keeps the record.
fn end(mut s: Session, reason: &str) -> Result<(), String> {
    s.state = State::Ended;
    s.ended_ms = now();
    s.end_reason = reason.to_string();
    // recorded first: were the channel to close and the record not change, a restart would
    // open it again
    let saved = save(&s).map_err(String::from);
    send(&s, "status", &json!({ "state": "ended", "reason": reason }));
    let _ = link::close();
    saved?;
    log::info(&format!(
        "session {} with {} ended: {reason}",
        s.id, s.vendor
    ));
    Ok(())
}

/// Answers one request of the vendor's, inside the scope or not at all.
fn answer(s: &Session, r: &Request) -> Value {
    let id = r.id();
    if let Some(why) = scope::refusal(&s.scope, r) {
        return json!({ "id": id, "ok": false, "error": why });
    }
    let done: Result<Value, Error> = match r {
        Request::Read { tags: names, .. } => tags::read(names).map(|cur| {
            let values: Vec<Value> = cur
                .iter()
                .map(|c| {
                    json!({
                        "tag": c.name, "ts_ms": c.ts_ms,
                        "value": nplusx_sdk::number(&c.value),
                        "quality": format!("{:?}", c.quality).to_lowercase(),
                    })
                })
                .collect();
            json!({ "values": values })
        }),
        Request::History { tag, minutes, .. } => {
            // at most 2,000 points: an answer stays under the channel's 64 KiB
            let to = now();
            tags::history(tag, to - i64::from(*minutes) * 60_000, to, 2_000)
                .map(|points| json!({ "tag": tag, "points": points }))
        }
        Request::Write { tag, value, .. } => {
            tag_write::write(tag, &nplusx_sdk::Value::Float(*value))
                .map(|()| json!({ "written": tag }))
        }
        Request::Logs { hours, .. } => {
            let to = now();
            // the alarms of the tags in scope only, without who acknowledged them; the
            // newest 200
            let scoped: Vec<&String> = s.scope.read.iter().chain(&s.scope.write).collect();
            records::between::<Value>(
                "alarms.journal",
                to - i64::from(*hours) * 3_600_000,
                to,
                &json!({}),
                10_000,
            )
            .map(|rows| {
                let rows: Vec<Value> = rows
                    .into_iter()
                    .filter(|r| scoped.iter().any(|t| r["tag"] == t.as_str()))
                    .take(200)
                    .map(|r| {
                        json!({
                            "ts_ms": r["ts_ms"], "event": r["event"], "state": r["state"],
                            "priority": r["priority"], "tag": r["tag"], "value": r["value"],
                            "message_en": r["message_en"],
                        })
                    })
                    .collect();
                json!({ "journal": rows })
            })
        }
    };
    match done {
        Ok(mut v) => {
            v["id"] = json!(id);
            v["ok"] = json!(true);
            v
        }
        Err(e) => json!({ "id": id, "ok": false, "error": String::from(e) }),
    }
}

fn on_message(data: &str) -> Result<(), String> {
    let m: Value = serde_json::from_str(data).map_err(|e| e.to_string())?;
    let (t, payload) = (
        m["topic"].as_str().unwrap_or_default(),
        m["payload"].as_str().unwrap_or_default(),
    );
    let Some(mut s) = open_session().map_err(String::from)? else {
        // a message after the session closed: nothing is answered
        let _ = link::close();
        return Ok(());
    };
    if t != topic(&s, "req") {
        return Ok(());
    }
    if expired(&s) {
        let id = serde_json::from_str::<Value>(payload)
            .ok()
            .map(|v| v["id"].clone());
        send(
            &s,
            "resp",
            &json!({ "id": id, "ok": false, "error": format!("the session ended at {}", when(s.ends_ms)) }),
        );
        return end(s, "end time");
    }
    let request = serde_json::from_str::<Request>(payload);
    // a request redelivered (MQTT is at least once) is not run twice
    if let Ok(r) = &request
        && !r.id().is_empty()
    {
        let again = ANSWERED.with(|a| {
            let mut a = a.borrow_mut();
            if a.0 != s.id {
                *a = (s.id, std::collections::HashSet::new());
            }
            !a.1.insert(r.id().to_string())
        });
        if again {
            return Ok(());
        }
    }
    let reply = match request {
        Ok(r) => answer(&s, &r),
        Err(e) => json!({ "ok": false, "error": format!("not a request: {e}") }),
    };
    let sent = send(&s, "resp", &reply);
    if reply["ok"] == true && sent {
        s.answered += 1;
    } else {
        s.refused += 1;
        if !sent {
            send(
                &s,
                "resp",
                &json!({ "id": reply["id"], "ok": false, "error": "the answer was too large to send: ask for less" }),
            );
        }
    }
    save(&s).map_err(String::from)
}

fn when(ms: i64) -> String {
    let off = plant::offset_ms().unwrap_or(0);
    format!("{} {}", plant::day_of(ms, off), plant::time_of(ms, off))
}

fn scope_text(s: &Scope, lang: Lang) -> String {
    let mut parts = Vec::new();
    if !s.read.is_empty() {
        parts.push(format!("{} {}", lang.pick("读", "read"), s.read.join(", ")));
    }
    if !s.write.is_empty() {
        parts.push(format!(
            "{} {}",
            lang.pick("写", "write"),
            s.write.join(", ")
        ));
    }
    if s.logs {
        parts.push(lang.pick("报警日志", "alarm journal").to_string());
    }
    if parts.is_empty() {
        lang.pick("无", "nothing").to_string()
    } else {
        parts.join("; ")
    }
}

fn state_name(s: State, lang: Lang) -> &'static str {
    match s {
        State::Pending => lang.pick("待审批", "pending"),
        State::Rejected => lang.pick("已拒绝", "rejected"),
        State::Open => lang.pick("进行中", "open"),
        State::Ended => lang.pick("已结束", "ended"),
    }
}

fn sessions_page(lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    let all = sessions().map_err(String::from)?;
    let mut page = Page::new(t("远程维护", "Remote maintenance"));
    let cfg = settings();
    if cfg.broker.is_empty() {
        page = page.notice(
            Tone::Warn,
            t(
                "尚未设置厂商 MQTT 服务器（插件设置：broker）。批准会话前请先设置。",
                "No vendor MQTT broker is set (plugin settings: broker). Set it before approving a session.",
            ),
        );
    }
    if let Some(s) = all.iter().find(|s| s.state == State::Open) {
        let up = link::connected().unwrap_or(false);
        page = page
            .heading(format!(
                "{} #{} · {}",
                t("进行中的会话", "Open session"),
                s.id,
                s.vendor
            ))
            .kpis(vec![
                Kpi::new(t("结束时间", "Ends"), when(s.ends_ms)),
                Kpi::new(
                    t("通道", "Channel"),
                    if up {
                        t("已连接", "connected")
                    } else {
                        t("连接中", "connecting")
                    },
                )
                .tone(if up { Tone::Good } else { Tone::Warn }),
                Kpi::new(t("已答复", "Answered"), s.answered),
                Kpi::new(t("已拒绝", "Refused"), s.refused).tone(if s.refused > 0 {
                    Tone::Warn
                } else {
                    Tone::Neutral
                }),
            ])
            .text(format!(
                "{}：{}",
                t("范围", "Scope"),
                scope_text(&s.scope, lang)
            ))
            .text(format!(
                "{}：{} / {}",
                t(
                    "厂商使用的主题（请求 / 答复）",
                    "Topics for the vendor (requests / answers)"
                ),
                topic(s, "req"),
                topic(s, "resp")
            ))
            .buttons(vec![
                Button::new("kill", t("立即终止会话", "End the session now"))
                    .confirm(t(
                        "立即断开厂商连接并结束会话？",
                        "Cut the vendor off and end the session now?",
                    ))
                    .danger(),
            ]);
    }
    let pending: Vec<&Session> = all.iter().filter(|s| s.state == State::Pending).collect();
    for s in &pending {
        page = page
            .heading(format!(
                "{} #{} · {} · {}",
                t("待审批申请", "Request"),
                s.id,
                s.vendor,
                s.engineer
            ))
            .text(format!(
                "{}：{}。{}：{}，{} {} {}",
                t("原因", "Reason"),
                s.reason,
                t("申请", "Asks for"),
                scope_text(&s.asked, lang),
                t("时长", "for"),
                s.asked_minutes,
                t("分钟", "minutes")
            ))
            .form(
                Form::new("approve", t("批准并开通", "Approve and open"))
                    .field(
                        Field::integer("id", t("申请编号", "Request"))
                            .required()
                            .value(s.id),
                    )
                    .field(
                        Field::text(
                            "read",
                            t("可读位号（逗号分隔）", "Tags it may read (comma-separated)"),
                        )
                        .value(s.asked.read.join(", ")),
                    )
                    .field(
                        Field::text(
                            "write",
                            t(
                                "可写位号（逗号分隔；留空不可写）",
                                "Tags it may write (comma-separated; empty: none)",
                            ),
                        )
                        .value(s.asked.write.join(", ")),
                    )
                    .field(
                        Field::boolean("logs", t("可读报警日志", "May read the alarm journal"))
                            .value(s.asked.logs),
                    )
                    .field(
                        Field::integer("minutes", t("时长（分钟）", "Duration (minutes)"))
                            .required()
                            .min(1.0)
                            .max(4320.0)
                            .value(s.asked_minutes),
                    ),
            )
            .form(
                Form::new("reject", t("拒绝", "Reject")).field(
                    Field::integer("id", t("申请编号", "Request"))
                        .required()
                        .value(s.id),
                ),
            );
    }
    let mut history = Table::new([
        t("编号", "No."),
        t("厂商", "Vendor"),
        t("状态", "State"),
        t("范围", "Scope"),
        t("申请时间", "Asked"),
        t("结束", "Ended"),
        t("原因", "Why it ended"),
        t("答复/拒绝", "Answered/refused"),
    ]);
    for s in &all {
        history.push([
            s.id.to_string(),
            s.vendor.clone(),
            state_name(s.state, lang).to_string(),
            scope_text(
                if s.state == State::Pending {
                    &s.asked
                } else {
                    &s.scope
                },
                lang,
            ),
            when(s.created_ms),
            if s.ended_ms > 0 {
                when(s.ended_ms)
            } else {
                String::new()
            },
            s.end_reason.clone(),
            format!("{}/{}", s.answered, s.refused),
        ]);
    }
    Ok(page
        .heading(t("全部会话", "All sessions"))
        .table(history)
        .links([(
            t("登记厂商的访问申请", "Record a vendor's request"),
            "/x/remote/request",
        )])
        .into())
}

fn request_page(lang: Lang) -> Result<View, String> {
    let t = |a: &'static str, b: &'static str| lang.pick(a, b);
    Ok(Page::new(t("登记远程维护申请", "Record a remote maintenance request"))
        .text(t(
            "厂商通过电话、邮件或工单提出访问申请，由本厂人员登记；管理员审批时确定范围和结束时间。",
            "The vendor asks by phone, email or ticket and plant staff record it here; the admin sets the scope and end time on approval.",
        ))
        .form(
            Form::new("request", t("提交申请", "Submit"))
                .field(Field::text("vendor", t("厂商", "Vendor")).required())
                .field(Field::text("engineer", t("工程师与联系方式", "Engineer and contact")).required())
                .field(Field::multiline("reason", t("原因", "Reason")).required())
                .field(Field::text("read", t("需要读取的位号（逗号分隔）", "Tags to read (comma-separated)")))
                .field(Field::text("write", t("需要写入的位号（逗号分隔）", "Tags to write (comma-separated)")))
                .field(Field::boolean("logs", t("需要报警日志", "Needs the alarm journal")))
                .field(Field::integer("minutes", t("时长（分钟）", "Duration (minutes)")).required().min(1.0).max(4320.0).value(120)),
        )
        .into())
}

fn next_id() -> Result<u32, String> {
    let n: u32 = storage::get_json("seq").map_err(String::from)?.unwrap_or(0) + 1;
    storage::set_json("seq", &n).map_err(String::from)?;
    Ok(n)
}

/// Tags that exist on the box, or the field's error.
fn known_tags(field: &str, list: &[String], lang: Lang) -> Result<(), Outcome> {
    let all: Vec<String> = tags::find("")
        .map(|l| l.into_iter().map(|t| t.name).collect())
        .unwrap_or_default();
    match list.iter().find(|t| !all.contains(t)) {
        Some(t) => Err(Outcome::field_error(
            field,
            format!("{} {t}", lang.pick("没有这个位号：", "No such tag:")),
        )),
        None => Ok(()),
    }
}

fn find(id: i64) -> Result<Option<Session>, String> {
    Ok(sessions()
        .map_err(String::from)?
        .into_iter()
        .find(|s| i64::from(s.id) == id))
}

struct Remote;

impl Plugin for Remote {
    fn info() -> Info {
        nplusx_sdk::info(
            "remote",
            "远程维护",
            "Remote maintenance",
            env!("CARGO_PKG_VERSION"),
        )
        .page("sessions", "远程维护会话", "Remote sessions", true)
        .page("request", "登记访问申请", "Record a request", false)
    }

    fn start(settings: &Values) -> Result<(), String> {
        let prefix = settings
            .text("topic_prefix")
            .trim()
            .trim_matches('/')
            .to_string();
        SETTINGS.with(|c| {
            *c.borrow_mut() = Settings {
                broker: settings.text("broker").trim().to_string(),
                tls: settings.flag("tls"),
                username: settings.text("username").to_string(),
                password: settings.text("password").to_string(),
                prefix: if prefix.is_empty() {
                    "nplusx".into()
                } else {
                    prefix
                },
            }
        });
        if settings.flag("demo") && sessions().map_err(String::from)?.is_empty() {
            let s = Session::asked(
                "杭州恒控自动化（DCS 厂商）",
                "王工 138 0571 0000",
                "R101 温度控制回路振荡，远程查看 TIC101 参数与近期报警",
                Scope {
                    read: vec!["R101.TT101".into(), "R101.PT101".into()],
                    write: Vec::new(),
                    logs: true,
                },
                120,
            )?;
            save(&s).map_err(String::from)?;
        }
        // a session still open (the box restarted) goes on until its end
        if let Some(s) = open_session().map_err(String::from)? {
            if expired(&s) {
                end(s, "end time")?;
            } else if let Err(e) = connect(&s) {
                log::warn(&format!("the vendor channel did not open: {e}"));
            }
        }
        Ok(())
    }

    fn tick(now_ms: i64) {
        if let Ok(Some(s)) = open_session()
            && (now_ms >= s.ends_ms || expired(&s))
            && let Err(e) = end(s, "end time")
        {
            log::error(&e);
        }
    }

    fn event(e: &Event) {
        if e.kind == "link.message"
            && let Err(err) = on_message(&e.data)
        {
            log::warn(&format!("a vendor message: {err}"));
        }
    }

    fn render(page: &str, _query: &Values, lang: Lang) -> Result<View, String> {
        match page {
            "sessions" => sessions_page(lang),
            "request" => request_page(lang),
            other => Err(format!("no page {other}")),
        }
    }

    fn action(page: &str, action: &str, f: &Values, lang: Lang) -> Result<Outcome, String> {
        let t = |a: &'static str, b: &'static str| lang.pick(a, b);
        match (page, action) {
            ("request", "request") => {
                let s = Session::asked(
                    f.text("vendor").trim().to_string(),
                    f.text("engineer").trim().to_string(),
                    f.text("reason").trim().to_string(),
                    Scope {
                        read: scope::tag_list(f.text("read")),
                        write: scope::tag_list(f.text("write")),
                        logs: f.flag("logs"),
                    },
                    f.integer("minutes")?.clamp(1, 4320) as u32,
                )?;
                save(&s).map_err(String::from)?;
                Ok(Outcome::message(format!(
                    "{} #{}",
                    t("已登记申请", "Request recorded:"),
                    s.id
                ))
                .next("sessions"))
            }
            ("sessions", "approve") => {
                let Some(mut s) = find(f.integer("id")?)? else {
                    return Ok(Outcome::field_error(
                        "id",
                        t("没有这个申请", "No such request"),
                    ));
                };
                if s.state != State::Pending {
                    return Ok(Outcome::field_error(
                        "id",
                        t("此申请已处理", "This request was already decided"),
                    ));
                }
                if open_session().map_err(String::from)?.is_some() {
                    return Ok(Outcome::field_error(
                        "id",
                        t(
                            "已有进行中的会话：先结束它",
                            "A session is open: end it first",
                        ),
                    ));
                }
                let scope = Scope {
                    read: scope::tag_list(f.text("read")),
                    write: scope::tag_list(f.text("write")),
                    logs: f.flag("logs"),
                };
                if let Err(o) = known_tags("read", &scope.read, lang) {
                    return Ok(o);
                }
                if let Err(o) = known_tags("write", &scope.write, lang) {
                    return Ok(o);
                }
                let cfg = settings();
                if cfg.broker.is_empty() {
                    return Ok(Outcome::field_error(
                        "id",
                        t("尚未设置厂商 MQTT 服务器", "No vendor broker is set"),
                    ));
                }
                if !cfg.tls && !cfg.password.is_empty() {
                    return Ok(Outcome::field_error(
                        "id",
                        t(
                            "有密码的连接必须使用 TLS（插件设置 tls）：密码不以明文经过网络",
                            "A connection with a password needs TLS (setting tls): no password crosses the network in clear",
                        ),
                    ));
                }
                s.scope = scope;
                s.token = token()?;
                s.ends_ms = now() + f.integer("minutes")?.clamp(1, 4320) * 60_000;
                s.state = State::Open;
                if let Err(e) = connect(&s) {
                    return Ok(Outcome::field_error("id", e));
                }
                save(&s).map_err(String::from)?;
                send(
                    &s,
                    "status",
                    &json!({ "state": "open", "ends_ms": s.ends_ms, "scope": s.scope }),
                );
                log::info(&format!(
                    "session {} with {} approved until {}",
                    s.id,
                    s.vendor,
                    when(s.ends_ms)
                ));
                Ok(Outcome::message(format!(
                    "{} #{}，{} {}",
                    t("已批准会话", "Session approved:"),
                    s.id,
                    t("至", "until"),
                    when(s.ends_ms)
                )))
            }
            ("sessions", "reject") => {
                let Some(mut s) = find(f.integer("id")?)? else {
                    return Ok(Outcome::field_error(
                        "id",
                        t("没有这个申请", "No such request"),
                    ));
                };
                if s.state != State::Pending {
                    return Ok(Outcome::field_error(
                        "id",
                        t("此申请已处理", "This request was already decided"),
                    ));
                }
                s.state = State::Rejected;
                s.ended_ms = now();
                save(&s).map_err(String::from)?;
                Ok(Outcome::message(format!(
                    "{} #{}",
                    t("已拒绝申请", "Request rejected:"),
                    s.id
                )))
            }
            ("sessions", "kill") => match open_session().map_err(String::from)? {
                Some(s) => {
                    let id = s.id;
                    end(s, "kill switch")?;
                    Ok(Outcome::message(format!(
                        "{} #{id}",
                        t("已终止会话", "Session ended:")
                    )))
                }
                None => Ok(Outcome::message(t(
                    "没有进行中的会话",
                    "No session is open",
                ))),
            },
            _ => Err(format!("no action {action} on {page}")),
        }
    }
}

nplusx_sdk::plugin!(Remote);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_differ() {
        let (a, b) = (token().unwrap(), token().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn scopes_read_as_the_admin_wrote_them() {
        let s = Scope {
            read: vec!["A".into()],
            write: vec![],
            logs: true,
        };
        assert_eq!(scope_text(&s, Lang::En), "read A; alarm journal");
        assert_eq!(scope_text(&Scope::default(), Lang::En), "nothing");
    }
}
