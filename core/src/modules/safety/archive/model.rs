//! Enterprise archive (企业档案): licences, certificates and reports of the enterprise and
//! the certificates of its people, with expiry and periodic-update tracking.

use serde::{Deserialize, Serialize};

/// Whose document a kind describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// The enterprise's own licences and reports (许可证、证书、报告).
    Enterprise,
    /// A person's certificate (特种作业操作证…), employee or contractor.
    Person,
}

/// A kind of document (证照类型), with its warning window and update period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertKind {
    /// Slug: `hazchem_license`, `safety_standardization`…
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    pub subject: Subject,
    /// Days before the due date at which the document turns yellow (default 90 ≈ 3 months).
    pub warn_days: u32,
    /// Months after issue by which the document must be renewed or re-done, when the rules
    /// require a periodic update regardless of expiry (e.g. 安全评价报告 every 3 years).
    #[serde(default)]
    pub update_months: Option<u32>,
    #[serde(default)]
    pub builtin: bool,
}

/// A previous validity period, kept when a document is renewed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Renewal {
    pub number: String,
    pub issued: String,
    pub expires: Option<String>,
    pub renewed_ms: i64,
    pub renewed_by: String,
}

/// One licence, certificate or report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Certificate {
    pub id: u64,
    /// `CertKind::id`
    pub kind: String,
    /// 证书编号
    pub number: String,
    /// 发证机关
    pub issuer: String,
    /// 许可范围 / scope of the licence or report
    #[serde(default)]
    pub scope: String,
    /// The enterprise name, or the person's name for personal certificates.
    pub holder: String,
    /// For people: their ID or employee number, to tell namesakes apart.
    #[serde(default)]
    pub holder_ref: String,
    /// Issue date `YYYY-MM-DD`.
    pub issued: String,
    /// Expiry date `YYYY-MM-DD`; none for documents without one.
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub renewals: Vec<Renewal>,
    #[serde(default)]
    pub files: Vec<FileMeta>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// An attachment's description (the bytes live in `safety.files`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileMeta {
    pub id: u64,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub uploaded_ms: i64,
    pub uploaded_by: String,
}

/// An attachment's bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileBlob {
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// Traffic-light status, as regional platforms show it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Red: past its due date.
    Expired,
    /// Yellow: due within the kind's warning window.
    Expiring,
    /// Green.
    Valid,
    /// No expiry and no update period.
    Permanent,
}

impl Status {
    pub fn key(self) -> &'static str {
        match self {
            Status::Expired => "safety.status.expired",
            Status::Expiring => "safety.status.expiring",
            Status::Valid => "safety.status.valid",
            Status::Permanent => "safety.status.permanent",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "expired" => Some(Status::Expired),
            "expiring" => Some(Status::Expiring),
            "valid" => Some(Status::Valid),
            "permanent" => Some(Status::Permanent),
            _ => None,
        }
    }
}

/// Why a document is due: its expiry or its kind's periodic update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueReason {
    Expiry,
    PeriodicUpdate,
}

/// A certificate with what follows from today's date.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CertView {
    #[serde(flatten)]
    pub cert: Certificate,
    pub status: Status,
    /// The earlier of expiry and the periodic-update date.
    pub due: Option<String>,
    pub due_reason: Option<DueReason>,
    /// Days from today to `due` (negative when overdue).
    pub days_left: Option<i64>,
}
