//! The rules of the enterprise archive; the only writer of `safety.*`.

use time::Date;

use super::model::{
    CertKind, CertView, Certificate, DueReason, FileBlob, FileMeta, Renewal, Status, Subject,
};
use crate::error::{self, Error, Result};
use crate::i18n::Msg;
use crate::modules::safety::store::{CERTS, FILES, KINDS};
use crate::plant_time::{format_day, parse_day};
use crate::store::{Actor, Change, Reader, Store};
use crate::util::now_ms;

/// Largest attachment accepted.
pub const MAX_FILE_BYTES: usize = 10 << 20;
/// Attachment types accepted, by their content (not their name).
const FILE_TYPES: &[&str] = &["application/pdf", "image/png", "image/jpeg", "image/webp"];

/// The built-in kinds of 附件2 row 1 and DOMAIN.md. Admins may change their warning windows
/// and update periods (stored as overrides) and add their own kinds.
pub fn default_kinds() -> Vec<CertKind> {
    let k = |id: &str, zh: &str, en: &str, subject, update_months| CertKind {
        id: id.into(),
        name_zh: zh.into(),
        name_en: en.into(),
        subject,
        warn_days: 90,
        update_months,
        builtin: true,
    };
    vec![
        k(
            "hazchem_license",
            "危险化学品经营许可证",
            "Hazardous-chemical business licence",
            Subject::Enterprise,
            None,
        ),
        k(
            "hazchem_production",
            "安全生产许可证",
            "Safe-production licence",
            Subject::Enterprise,
            None,
        ),
        k(
            "safety_standardization",
            "安全生产标准化证书",
            "Safety standardisation certificate",
            Subject::Enterprise,
            None,
        ),
        k(
            "safety_evaluation",
            "安全评价报告",
            "Safety evaluation report",
            Subject::Enterprise,
            Some(36),
        ),
        k(
            "hazchem_registration",
            "危险化学品登记证",
            "Hazardous-chemical registration certificate",
            Subject::Enterprise,
            None,
        ),
        k(
            "emergency_plan",
            "应急预案备案",
            "Emergency plan filing",
            Subject::Enterprise,
            Some(36),
        ),
        k(
            "special_operation",
            "特种作业操作证",
            "Special operation certificate",
            Subject::Person,
            None,
        ),
        k(
            "special_equipment",
            "特种设备作业人员证",
            "Special equipment operator certificate",
            Subject::Person,
            None,
        ),
        k(
            "safety_manager",
            "安全生产管理人员证",
            "Safety manager certificate",
            Subject::Person,
            None,
        ),
    ]
}

pub fn kinds(r: &impl Reader) -> Result<Vec<CertKind>> {
    let stored = r.all(&KINDS)?;
    let mut out: Vec<CertKind> = default_kinds()
        .into_iter()
        .map(|d| {
            stored
                .iter()
                .find(|(id, _)| *id == d.id)
                .map(|(_, s)| CertKind {
                    builtin: true,
                    ..s.clone()
                })
                .unwrap_or(d)
        })
        .collect();
    out.extend(
        stored
            .into_iter()
            .filter(|(id, _)| !default_kinds().iter().any(|d| &d.id == id))
            .map(|(_, k)| k),
    );
    Ok(out)
}

pub fn kind(r: &impl Reader, id: &str) -> Result<Option<CertKind>> {
    Ok(kinds(r)?.into_iter().find(|k| k.id == id))
}

/// Creates a custom kind (`create`) or changes any kind's names, window and period.
pub fn save_kind(store: &Store, actor: &Actor, input: CertKind, create: bool) -> Result<CertKind> {
    let id = input.id.trim().to_lowercase();
    if !(2..=40).contains(&id.len())
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(Error::invalid("id", "safety.err.kind_id"));
    }
    if input.warn_days > 3650 {
        return Err(Error::invalid("warn_days", "safety.err.warn_days"));
    }
    if input.update_months.is_some_and(|m| m == 0 || m > 600) {
        return Err(Error::invalid("update_months", "safety.err.update_months"));
    }
    let mut w = store.write(actor)?;
    let before = kind(&w, &id)?;
    match (&before, create) {
        (Some(_), true) => return Err(Error::invalid("id", "safety.err.kind_exists")),
        (None, false) => return Err(Error::not_found("safety.err.kind_not_found")),
        _ => {}
    }
    let k = CertKind {
        name_zh: error::text("name_zh", &input.name_zh, 50, true)?,
        name_en: error::text("name_en", &input.name_en, 80, true)?,
        // a built-in kind keeps its subject: existing documents depend on it
        subject: before.as_ref().map(|b| b.subject).unwrap_or(input.subject),
        warn_days: input.warn_days,
        update_months: input.update_months,
        builtin: before.as_ref().is_some_and(|b| b.builtin),
        id: id.clone(),
    };
    w.insert(&KINDS, &id, &k)?;
    match before {
        None => w.audit(
            "safety.kind.create",
            format!("kind:{id}"),
            Change::created(&k),
        ),
        Some(b) => w.audit(
            "safety.kind.update",
            format!("kind:{id}"),
            Change::updated(&b, &k),
        ),
    }
    w.commit()?;
    Ok(k)
}

// ------------------------------------------------------------------ dates and status

fn add_months(d: Date, months: u32) -> Date {
    let total = d.year() * 12 + (d.month() as i32 - 1) + months as i32;
    let (y, m) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    let month = time::Month::try_from(m as u8).expect("1..=12");
    let last = month.length(y);
    Date::from_calendar_date(y, month, d.day().min(last)).expect("day clamped to the month")
}

/// Status of a certificate on `today` under its kind's rules.
pub fn view(c: &Certificate, k: Option<&CertKind>, today: Date) -> CertView {
    let expiry = c.expires.as_deref().and_then(parse_day);
    let update = k
        .and_then(|k| k.update_months)
        .and_then(|m| parse_day(&c.issued).map(|d| add_months(d, m)));
    let (due, reason) = match (expiry, update) {
        (Some(e), Some(u)) if u < e => (Some(u), Some(DueReason::PeriodicUpdate)),
        (Some(e), _) => (Some(e), Some(DueReason::Expiry)),
        (None, Some(u)) => (Some(u), Some(DueReason::PeriodicUpdate)),
        (None, None) => (None, None),
    };
    let warn = k.map(|k| k.warn_days).unwrap_or(90) as i64;
    let days_left = due.map(|d| (d - today).whole_days());
    let status = match days_left {
        None => Status::Permanent,
        Some(n) if n < 0 => Status::Expired,
        Some(n) if n <= warn => Status::Expiring,
        Some(_) => Status::Valid,
    };
    CertView {
        cert: c.clone(),
        status,
        due: due.map(format_day),
        due_reason: reason,
        days_left,
    }
}

// ------------------------------------------------------------------ certificates

/// List filters. Empty fields match everything.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
pub struct Filter {
    /// `expired`, `expiring`, `valid` or `permanent`.
    #[serde(default)]
    pub status: Option<String>,
    /// A kind id.
    #[serde(default)]
    pub kind: Option<String>,
    /// `enterprise` or `person`.
    #[serde(default)]
    pub subject: Option<String>,
    /// Text in number, holder, issuer or scope.
    #[serde(default)]
    pub q: Option<String>,
}

/// A person's certificate by its number, with its status on `day` (other modules check
/// workers' certificates through this).
pub fn person_certificate(r: &impl Reader, number: &str, day: Date) -> Result<Option<CertView>> {
    let number = number.trim();
    if number.is_empty() {
        return Ok(None);
    }
    let f = Filter {
        subject: Some("person".into()),
        q: Some(number.into()),
        ..Filter::default()
    };
    Ok(certificates(r, day, &f)?
        .into_iter()
        .find(|v| v.cert.number.trim().eq_ignore_ascii_case(number)))
}

/// Certificates matching `f`, most urgent first.
pub fn certificates(r: &impl Reader, today: Date, f: &Filter) -> Result<Vec<CertView>> {
    let kinds = kinds(r)?;
    let status = f
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(Status::parse);
    let q = f.q.as_deref().unwrap_or("").trim().to_lowercase();
    let mut out: Vec<CertView> = r
        .all(&CERTS)?
        .into_iter()
        .map(|(_, c)| {
            let k = kinds.iter().find(|k| k.id == c.kind);
            view(&c, k, today)
        })
        .filter(|v| status.is_none_or(|s| v.status == s))
        .filter(|v| {
            f.kind
                .as_deref()
                .filter(|k| !k.is_empty())
                .is_none_or(|k| v.cert.kind == k)
        })
        .filter(|v| match f.subject.as_deref() {
            Some("enterprise") | Some("person") => {
                let want = if f.subject.as_deref() == Some("person") {
                    Subject::Person
                } else {
                    Subject::Enterprise
                };
                kinds
                    .iter()
                    .any(|k| k.id == v.cert.kind && k.subject == want)
            }
            _ => true,
        })
        .filter(|v| {
            q.is_empty()
                || [
                    &v.cert.number,
                    &v.cert.holder,
                    &v.cert.issuer,
                    &v.cert.scope,
                    &v.cert.holder_ref,
                ]
                .iter()
                .any(|s| s.to_lowercase().contains(&q))
        })
        .collect();
    out.sort_by(|a, b| {
        a.status.cmp(&b.status).then(
            a.days_left
                .unwrap_or(i64::MAX)
                .cmp(&b.days_left.unwrap_or(i64::MAX)),
        )
    });
    Ok(out)
}

pub fn certificate(r: &impl Reader, id: u64) -> Result<Certificate> {
    r.get(&CERTS, &id)?
        .ok_or_else(|| Error::not_found("safety.err.cert_not_found"))
}

/// Counts per status, for the dashboard and the compliance evidence.
#[derive(Debug, Default, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub total: usize,
    pub expired: usize,
    pub expiring: usize,
    pub valid: usize,
    pub permanent: usize,
    pub enterprise: usize,
    pub person: usize,
}

pub fn summary(r: &impl Reader, today: Date) -> Result<Summary> {
    let kinds = kinds(r)?;
    let mut s = Summary::default();
    for v in certificates(r, today, &Filter::default())? {
        s.total += 1;
        match v.status {
            Status::Expired => s.expired += 1,
            Status::Expiring => s.expiring += 1,
            Status::Valid => s.valid += 1,
            Status::Permanent => s.permanent += 1,
        }
        match kinds
            .iter()
            .find(|k| k.id == v.cert.kind)
            .map(|k| k.subject)
        {
            Some(Subject::Person) => s.person += 1,
            _ => s.enterprise += 1,
        }
    }
    Ok(s)
}

/// What a user submits for a certificate.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct CertInput {
    pub kind: String,
    pub number: String,
    pub issuer: String,
    #[serde(default)]
    pub scope: String,
    pub holder: String,
    #[serde(default)]
    pub holder_ref: String,
    /// `YYYY-MM-DD`
    pub issued: String,
    /// `YYYY-MM-DD`, or empty / null for none.
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// Validates a submission and returns it normalised (trimmed, dates re-formatted).
fn check(r: &impl Reader, i: &CertInput) -> Result<CertInput> {
    if kind(r, &i.kind)?.is_none() {
        return Err(Error::invalid("kind", "safety.err.kind_not_found"));
    }
    let issued = parse_day(&i.issued).ok_or_else(|| Error::invalid("issued", "common.err.date"))?;
    let expires = match i
        .expires
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => {
            let d = parse_day(s).ok_or_else(|| Error::invalid("expires", "common.err.date"))?;
            if d <= issued {
                return Err(Error::invalid(
                    "expires",
                    "safety.err.expires_before_issued",
                ));
            }
            Some(format_day(d))
        }
    };
    Ok(CertInput {
        kind: i.kind.clone(),
        number: error::text("number", &i.number, 64, true)?,
        issuer: error::text("issuer", &i.issuer, 100, true)?,
        scope: error::text("scope", &i.scope, 1000, false)?,
        holder: error::text("holder", &i.holder, 100, true)?,
        holder_ref: error::text("holder_ref", &i.holder_ref, 64, false)?,
        issued: format_day(issued),
        expires,
        note: error::text("note", &i.note, 1000, false)?,
    })
}

impl Certificate {
    /// Takes the data fields of a checked submission.
    fn set(&mut self, c: CertInput) {
        self.kind = c.kind;
        self.number = c.number;
        self.issuer = c.issuer;
        self.scope = c.scope;
        self.holder = c.holder;
        self.holder_ref = c.holder_ref;
        self.issued = c.issued;
        self.expires = c.expires;
        self.note = c.note;
        self.updated_ms = now_ms();
    }
}

fn summary_of(c: &Certificate) -> serde_json::Value {
    serde_json::json!({
        "kind": c.kind, "number": c.number, "issuer": c.issuer, "holder": c.holder,
        "issued": c.issued, "expires": c.expires, "scope": c.scope,
    })
}

pub fn create(store: &Store, actor: &Actor, input: CertInput) -> Result<Certificate> {
    let mut w = store.write(actor)?;
    let c = check(&w, &input)?;
    let now = now_ms();
    let mut cert = Certificate {
        id: w.next_id(&CERTS)?,
        kind: String::new(),
        number: String::new(),
        issuer: String::new(),
        scope: String::new(),
        holder: String::new(),
        holder_ref: String::new(),
        issued: String::new(),
        expires: None,
        note: String::new(),
        renewals: Vec::new(),
        files: Vec::new(),
        created_ms: now,
        updated_ms: now,
    };
    cert.set(c);
    w.insert(&CERTS, &cert.id, &cert)?;
    w.audit(
        "safety.certificate.create",
        format!("certificate:{} {}", cert.id, cert.number),
        Change::created(summary_of(&cert)),
    );
    w.commit()?;
    Ok(cert)
}

/// Corrects a certificate's data (a typo, a missing scope). A new validity period is a
/// renewal, not an update, so history is kept.
pub fn update(store: &Store, actor: &Actor, id: u64, input: CertInput) -> Result<Certificate> {
    let mut w = store.write(actor)?;
    let before = certificate(&w, id)?;
    let c = check(&w, &input)?;
    let mut cert = before.clone();
    cert.set(c);
    w.insert(&CERTS, &id, &cert)?;
    w.audit(
        "safety.certificate.update",
        format!("certificate:{} {}", cert.id, cert.number),
        Change::updated(summary_of(&before), summary_of(&cert)),
    );
    w.commit()?;
    Ok(cert)
}

/// A renewed certificate: the new number and dates replace the current ones, which go to
/// the renewal history.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct RenewInput {
    pub number: String,
    pub issued: String,
    #[serde(default)]
    pub expires: Option<String>,
}

pub fn renew(store: &Store, actor: &Actor, id: u64, input: RenewInput) -> Result<Certificate> {
    let mut w = store.write(actor)?;
    let before = certificate(&w, id)?;
    let c = check(
        &w,
        &CertInput {
            kind: before.kind.clone(),
            number: input.number,
            issuer: before.issuer.clone(),
            scope: before.scope.clone(),
            holder: before.holder.clone(),
            holder_ref: before.holder_ref.clone(),
            issued: input.issued,
            expires: input.expires,
            note: before.note.clone(),
        },
    )?;
    if parse_day(&c.issued) < parse_day(&before.issued) {
        return Err(Error::invalid("issued", "safety.err.renewal_older"));
    }
    let mut cert = before.clone();
    cert.renewals.push(Renewal {
        number: before.number.clone(),
        issued: before.issued.clone(),
        expires: before.expires.clone(),
        renewed_ms: now_ms(),
        renewed_by: actor.label(),
    });
    cert.set(c);
    w.insert(&CERTS, &id, &cert)?;
    w.audit(
        "safety.certificate.renew",
        format!("certificate:{} {}", cert.id, cert.number),
        Change::updated(summary_of(&before), summary_of(&cert)),
    );
    w.commit()?;
    Ok(cert)
}

pub fn delete(store: &Store, actor: &Actor, id: u64) -> Result<()> {
    let mut w = store.write(actor)?;
    let before = certificate(&w, id)?;
    w.remove(&CERTS, &id)?;
    w.remove_range(&FILES, (id, 0)..=(id, u64::MAX))?;
    w.audit(
        "safety.certificate.delete",
        format!("certificate:{} {}", id, before.number),
        Change::deleted(summary_of(&before)),
    );
    w.commit()?;
    Ok(())
}

// ------------------------------------------------------------------ attachments

/// Checks an upload by its bytes (not its name): PDF or an image, at most 10 MiB.
pub fn check_file(name: &str, bytes: &[u8]) -> Result<(String, &'static str)> {
    if bytes.is_empty() {
        return Err(Error::invalid("file", "safety.err.file_empty"));
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Error::invalid_msg(
            "file",
            Msg::new("safety.err.file_too_large").arg("mib", MAX_FILE_BYTES >> 20),
        ));
    }
    let mime = infer::get(bytes)
        .map(|t| t.mime_type())
        .filter(|m| FILE_TYPES.contains(m))
        .ok_or_else(|| Error::invalid("file", "safety.err.file_type"))?;
    let clean: String = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(120)
        .collect();
    let clean = if clean.trim().is_empty() {
        "attachment".to_string()
    } else {
        clean
    };
    // a name that says one type over content of another is refused (a renamed file, or
    // a file made to pass as something else)
    if let Some((_, ext)) = clean.rsplit_once('.') {
        let ext = ext.to_ascii_lowercase();
        let expected = match ext.as_str() {
            "pdf" => Some("application/pdf"),
            "png" => Some("image/png"),
            "jpg" | "jpeg" => Some("image/jpeg"),
            "webp" => Some("image/webp"),
            _ => None,
        };
        if expected.is_some_and(|e| e != mime) {
            return Err(Error::invalid_msg(
                "file",
                Msg::new("safety.err.file_mismatch")
                    .arg("ext", ext)
                    .arg("actual", mime),
            ));
        }
    }
    Ok((clean, mime))
}

pub fn add_file(
    store: &Store,
    actor: &Actor,
    cert_id: u64,
    name: &str,
    bytes: Vec<u8>,
) -> Result<FileMeta> {
    let (name, mime) = check_file(name, &bytes)?;
    let mut w = store.write(actor)?;
    let mut cert = certificate(&w, cert_id)?;
    if cert.files.len() >= 20 {
        return Err(Error::invalid("file", "safety.err.too_many_files"));
    }
    let meta = FileMeta {
        id: w.next_id(&FILES)?,
        name,
        content_type: mime.to_string(),
        size: bytes.len() as u64,
        uploaded_ms: now_ms(),
        uploaded_by: actor.label(),
    };
    w.insert(&FILES, &(cert_id, meta.id), &FileBlob { bytes })?;
    cert.files.push(meta.clone());
    w.insert(&CERTS, &cert_id, &cert)?;
    w.audit(
        "safety.certificate.attach",
        format!("certificate:{} {}", cert.id, cert.number),
        Change::created(
            serde_json::json!({ "file": meta.name, "size": meta.size, "type": meta.content_type }),
        ),
    );
    w.commit()?;
    Ok(meta)
}

pub fn file(r: &impl Reader, cert_id: u64, file_id: u64) -> Result<(FileMeta, Vec<u8>)> {
    let cert = certificate(r, cert_id)?;
    let meta = cert
        .files
        .iter()
        .find(|f| f.id == file_id)
        .cloned()
        .ok_or_else(|| Error::not_found("safety.err.file_not_found"))?;
    let blob = r
        .get(&FILES, &(cert_id, file_id))?
        .ok_or_else(|| Error::not_found("safety.err.file_not_found"))?;
    Ok((meta, blob.bytes))
}

pub fn remove_file(store: &Store, actor: &Actor, cert_id: u64, file_id: u64) -> Result<()> {
    let mut w = store.write(actor)?;
    let mut cert = certificate(&w, cert_id)?;
    let Some(pos) = cert.files.iter().position(|f| f.id == file_id) else {
        return Err(Error::not_found("safety.err.file_not_found"));
    };
    let meta = cert.files.remove(pos);
    w.remove(&FILES, &(cert_id, file_id))?;
    w.insert(&CERTS, &cert_id, &cert)?;
    w.audit(
        "safety.certificate.detach",
        format!("certificate:{} {}", cert.id, cert.number),
        Change::deleted(serde_json::json!({ "file": meta.name })),
    );
    w.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;
    use time::macros::date;

    fn input(kind: &str, issued: &str, expires: Option<&str>) -> CertInput {
        CertInput {
            kind: kind.into(),
            number: "浙J安经字[2024]000123".into(),
            issuer: "兰溪市应急管理局".into(),
            holder: "兰溪宏达精细化工有限公司".into(),
            issued: issued.into(),
            expires: expires.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn status_follows_the_traffic_light() {
        let k = default_kinds()
            .into_iter()
            .find(|k| k.id == "hazchem_license")
            .unwrap();
        let today = date!(2026 - 06 - 01);
        let c = |exp: &str| Certificate {
            id: 1,
            kind: k.id.clone(),
            number: "n".into(),
            issuer: "i".into(),
            scope: String::new(),
            holder: "h".into(),
            holder_ref: String::new(),
            issued: "2023-06-01".into(),
            expires: Some(exp.into()),
            note: String::new(),
            renewals: vec![],
            files: vec![],
            created_ms: 0,
            updated_ms: 0,
        };
        assert_eq!(
            view(&c("2026-05-31"), Some(&k), today).status,
            Status::Expired
        );
        assert_eq!(
            view(&c("2026-06-01"), Some(&k), today).status,
            Status::Expiring
        );
        assert_eq!(
            view(&c("2026-08-30"), Some(&k), today).status,
            Status::Expiring
        );
        let v = view(&c("2026-09-30"), Some(&k), today);
        assert_eq!((v.status, v.days_left), (Status::Valid, Some(121)));
    }

    #[test]
    fn periodic_update_can_come_before_expiry() {
        let k = default_kinds()
            .into_iter()
            .find(|k| k.id == "safety_evaluation")
            .unwrap();
        let c = Certificate {
            id: 1,
            kind: k.id.clone(),
            number: "n".into(),
            issuer: "i".into(),
            scope: String::new(),
            holder: "h".into(),
            holder_ref: String::new(),
            issued: "2023-02-28".into(),
            expires: None,
            note: String::new(),
            renewals: vec![],
            files: vec![],
            created_ms: 0,
            updated_ms: 0,
        };
        let v = view(&c, Some(&k), date!(2026 - 01 - 01));
        assert_eq!(v.due.as_deref(), Some("2026-02-28"));
        assert_eq!(v.due_reason, Some(DueReason::PeriodicUpdate));
        assert_eq!(v.status, Status::Expiring);
        assert_eq!(add_months(date!(2024 - 01 - 31), 1), date!(2024 - 02 - 29));
    }

    #[test]
    fn renewal_keeps_history_and_bad_input_changes_nothing() {
        let (_d, s) = temp_store();
        let a = Actor::system("t");
        let c = create(
            &s,
            &a,
            input("hazchem_license", "2023-06-01", Some("2026-05-31")),
        )
        .unwrap();
        assert!(matches!(
            create(
                &s,
                &a,
                input("hazchem_license", "2023-06-01", Some("2022-01-01"))
            ),
            Err(Error::Invalid {
                field: "expires",
                ..
            })
        ));
        assert!(matches!(
            create(&s, &a, input("nope", "2023-06-01", None)),
            Err(Error::Invalid { field: "kind", .. })
        ));
        let r = renew(
            &s,
            &a,
            c.id,
            RenewInput {
                number: "浙J安经字[2026]000456".into(),
                issued: "2026-05-20".into(),
                expires: Some("2029-05-19".into()),
            },
        )
        .unwrap();
        assert_eq!(r.renewals.len(), 1);
        assert_eq!(r.renewals[0].expires.as_deref(), Some("2026-05-31"));
        assert_eq!(r.expires.as_deref(), Some("2029-05-19"));
        let all = certificates(
            &s.read().unwrap(),
            date!(2026 - 06 - 01),
            &Filter::default(),
        )
        .unwrap();
        assert_eq!(all.len(), 1);
    }

    #[test]
    fn attachments_are_type_checked_by_content() {
        let (_d, s) = temp_store();
        let a = Actor::system("t");
        let c = create(&s, &a, input("hazchem_license", "2023-06-01", None)).unwrap();
        let pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n%%EOF\n".to_vec();
        let m = add_file(&s, &a, c.id, "C:\\scans\\许可证.pdf", pdf.clone()).unwrap();
        assert_eq!(m.name, "许可证.pdf");
        assert_eq!(m.content_type, "application/pdf");
        let (_, bytes) = file(&s.read().unwrap(), c.id, m.id).unwrap();
        assert_eq!(bytes, pdf);
        let exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00".to_vec();
        assert!(add_file(&s, &a, c.id, "licence.pdf", exe).is_err());
        assert!(add_file(&s, &a, c.id, "x.pdf", vec![]).is_err());
        // a PNG named .pdf is refused, naming both types
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
        let e = add_file(&s, &a, c.id, "licence.pdf", png.clone()).unwrap_err();
        assert!(e.msg().render(crate::i18n::Lang::En).contains("image/png"));
        assert!(add_file(&s, &a, c.id, "licence.png", png).is_ok());
        remove_file(&s, &a, c.id, m.id).unwrap();
        assert_eq!(
            certificate(&s.read().unwrap(), c.id).unwrap().files.len(),
            1
        );
    }
}
