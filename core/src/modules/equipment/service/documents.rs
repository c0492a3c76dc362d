//! Equipment documents: manuals, drawings, inspection certificates (with the date the next
//! inspection is due, yellow and red like the safety archive) and reports, each with its
//! versions, who may see it (by department and role), and the files checked by their
//! content.

use serde::{Deserialize, Serialize};
use time::Date;

use super::super::model::{DocKind, DocVersion, Document};
use super::super::store::{DOC_FILES, DOCS_BY_EQUIPMENT, DOCUMENTS};
use super::{deleted, equipment, ids_under, store_file};
use crate::error::{Error, Result, text};
use crate::i18n::Msg;
use crate::modules::safety::archive::model::{FileMeta, Status};
use crate::store::{Actor, Reader, Store};

/// The largest document accepted (a scanned manual).
pub const MAX_DOC_BYTES: usize = 25 << 20;

/// Document types accepted, by content, with the extensions each may carry.
const DOC_TYPES: &[(&str, &[&str])] = &[
    ("application/pdf", &["pdf"]),
    ("image/png", &["png"]),
    ("image/jpeg", &["jpg", "jpeg"]),
    ("image/webp", &["webp"]),
    ("image/vnd.dwg", &["dwg"]),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &["docx"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &["xlsx"],
    ),
];

/// Checks an upload by its content: a type we keep (PDF, images, DWG drawings, Word and
/// Excel files), and an extension that says the same. Returns the clean name and the type.
pub fn check_document(name: &str, bytes: &[u8]) -> Result<(String, &'static str)> {
    if bytes.is_empty() {
        return Err(Error::invalid("file", "equipment.err.file_empty"));
    }
    if bytes.len() > MAX_DOC_BYTES {
        return Err(Error::invalid_msg(
            "file",
            Msg::new("equipment.err.file_too_large").arg("mib", MAX_DOC_BYTES >> 20),
        ));
    }
    let clean: String = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(120)
        .collect();
    let ext = clean
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let found = infer::get(bytes).map(|t| t.mime_type());
    let Some((mime, exts)) = found.and_then(|m| DOC_TYPES.iter().find(|(t, _)| *t == m)) else {
        return Err(Error::invalid("file", "equipment.err.file_type"));
    };
    if !exts.contains(&ext.as_str()) {
        return Err(Error::invalid_msg(
            "file",
            Msg::new("equipment.err.file_mismatch")
                .arg("ext", if ext.is_empty() { "—" } else { &ext })
                .arg("actual", exts[0]),
        ));
    }
    Ok((clean, mime))
}

/// What a document is, as asked for (the file comes separately).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocInput {
    /// Set to add a version to (or change) an existing document.
    #[serde(default)]
    pub id: u64,
    #[serde(default)]
    pub kind: Option<DocKind>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub number: String,
    /// Certificates: `YYYY-MM-DD` the next inspection is due (required for them).
    #[serde(default)]
    pub due: Option<String>,
    #[serde(default)]
    pub warn_days: Option<u32>,
    /// Only people of these departments (ids)…
    #[serde(default)]
    pub departments: Vec<u64>,
    /// …or with these roles may see it; both empty: everyone who reads equipment.
    #[serde(default)]
    pub roles: Vec<String>,
    /// What changed in this version.
    #[serde(default)]
    pub note: String,
}

/// Who is looking: a person's department and roles, and whether they hold the approve level.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub department: Option<u64>,
    pub roles: Vec<String>,
    pub approver: bool,
}

/// Whether `v` may see (and download) the document.
pub fn visible(d: &Document, v: &Viewer) -> bool {
    (d.departments.is_empty() && d.roles.is_empty())
        || v.approver
        || v.department.is_some_and(|x| d.departments.contains(&x))
        || v.roles.iter().any(|r| d.roles.contains(r))
}

/// A certificate's traffic light on `today`: red past its due date, yellow within its
/// warning days, green before; documents without a due date are permanent.
pub fn status(d: &Document, today: Date) -> Status {
    let Some(due) = d.due.as_deref().and_then(crate::plant_time::parse_day) else {
        return Status::Permanent;
    };
    if today > due {
        Status::Expired
    } else if today >= due.saturating_sub(time::Duration::days(i64::from(d.warn_days))) {
        Status::Expiring
    } else {
        Status::Valid
    }
}

pub fn document(r: &impl Reader, id: u64) -> Result<Document> {
    r.get(&DOCUMENTS, &id)?
        .ok_or_else(|| Error::not_found("equipment.err.document_not_found"))
}

/// The documents of a piece of equipment `v` may see, newest first.
pub fn documents_of(r: &impl Reader, equipment: u64, v: &Viewer) -> Result<Vec<Document>> {
    Ok(ids_under(r, &DOCS_BY_EQUIPMENT, equipment)?
        .into_iter()
        .map(|id| document(r, id))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|d| visible(d, v))
        .collect())
}

/// Every certificate with a due date (for the alarms).
pub fn certificates(r: &impl Reader) -> Result<Vec<Document>> {
    Ok(r.values(&DOCUMENTS)?
        .into_iter()
        .filter(|d| d.kind == DocKind::Certificate && d.due.is_some())
        .collect())
}

/// How many documents there are (for the compliance page).
pub fn count(r: &impl Reader) -> Result<u64> {
    Ok(r.count(&DOCUMENTS)?)
}

/// Saves a document of a piece of equipment: a new one needs its file; a file given for
/// an existing one is its next version. The file is checked by its content (a file whose
/// extension says something else is refused); a certificate needs its due date. Changing
/// a document, or seeing it to do so, needs that `v` may see it.
pub fn save_document(
    store: &Store,
    actor: &Actor,
    equipment_id: u64,
    input: DocInput,
    file: Option<(String, Vec<u8>)>,
    v: &Viewer,
    now_ms: i64,
) -> Result<Document> {
    let title = text("title", &input.title, 100, true)?;
    let number = text("number", &input.number, 60, false)?;
    let note = text("note", &input.note, 200, false)?;
    let kind = input
        .kind
        .ok_or_else(|| Error::invalid("kind", "equipment.err.doc_kind"))?;
    let due = match input
        .due
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => Some(
            crate::plant_time::parse_day(s)
                .map(crate::plant_time::format_day)
                .ok_or_else(|| Error::invalid("due", "common.err.date"))?,
        ),
        None if kind == DocKind::Certificate => {
            return Err(Error::invalid("due", "equipment.err.doc_due"));
        }
        None => None,
    };
    let warn_days = input.warn_days.unwrap_or(30);
    if warn_days > 365 {
        return Err(Error::invalid("warn_days", "equipment.err.warn_days"));
    }
    let checked = file
        .map(|(name, bytes)| check_document(&name, &bytes).map(|(n, m)| (n, m, bytes)))
        .transpose()?;
    let mut w = store.write(actor)?;
    let e = equipment(&w, equipment_id)?;
    if e.deleted {
        return Err(deleted(&e));
    }
    for d in &input.departments {
        if crate::org::service::department(&w, *d)?.is_none() {
            return Err(Error::invalid("departments", "equipment.err.department"));
        }
    }
    let roles: Vec<String> = input
        .roles
        .iter()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    let before = if input.id == 0 {
        None
    } else {
        let b = document(&w, input.id)?;
        if b.equipment != equipment_id || !visible(&b, v) {
            return Err(Error::not_found("equipment.err.document_not_found"));
        }
        Some(b)
    };
    let mut d = match &before {
        Some(b) => b.clone(),
        None => {
            if checked.is_none() {
                return Err(Error::invalid("file", "equipment.err.file_empty"));
            }
            Document {
                id: w.next_id(&DOCUMENTS)?,
                equipment: equipment_id,
                kind,
                title: String::new(),
                number: String::new(),
                due: None,
                warn_days,
                departments: Vec::new(),
                roles: Vec::new(),
                versions: Vec::new(),
            }
        }
    };
    d.kind = kind;
    d.title = title;
    d.number = number;
    d.due = due;
    d.warn_days = warn_days;
    d.departments = input.departments.clone();
    d.roles = roles;
    if let Some((name, mime, bytes)) = checked {
        let file = store_file(&mut w, &DOC_FILES, d.id, (&name, mime), bytes, now_ms)?;
        d.versions.push(DocVersion {
            version: d.versions.len() as u32 + 1,
            file,
            note,
        });
    }
    w.insert(&DOCUMENTS, &d.id, &d)?;
    w.insert(&DOCS_BY_EQUIPMENT, &(equipment_id, d.id), &())?;
    let summary = |x: &Document| {
        serde_json::json!({"kind": x.kind, "title": x.title, "number": x.number, "due": x.due,
            "versions": x.versions.len(), "departments": x.departments, "roles": x.roles})
    };
    w.audit_saved(
        "equipment.document",
        format!("document:{} {} {}", d.id, e.tag_no, d.title),
        before.as_ref().map(summary),
        summary(&d),
    );
    w.commit()?;
    Ok(d)
}

/// A version's file (the latest when `version` is 0), for someone who may see it.
pub fn file(r: &impl Reader, doc: u64, version: u32, v: &Viewer) -> Result<(FileMeta, Vec<u8>)> {
    let d = document(r, doc)?;
    if !visible(&d, v) {
        return Err(Error::not_found("equipment.err.document_not_found"));
    }
    let ver = match version {
        0 => d.versions.last(),
        n => d.versions.iter().find(|x| x.version == n),
    }
    .ok_or_else(|| Error::not_found("equipment.err.file_not_found"))?;
    let blob = r
        .get(&DOC_FILES, &(doc, ver.file.id))?
        .ok_or_else(|| Error::not_found("equipment.err.file_not_found"))?;
    Ok((ver.file.clone(), blob.bytes))
}
