//! The one error type at the HTTP edge. Every failure becomes a status, a stable code and a
//! message in the caller's language: JSON for `/api/`, an error page (or the login page, for
//! 401) for browsers. The `finish` middleware does the per-language rendering; handlers
//! just return `Err(AppError)` (or anything that converts into one).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::error::{Error, code_of};
use crate::i18n::{Lang, Msg};
use crate::store::StoreError;

#[derive(Debug, Clone)]
pub struct AppError {
    pub status: StatusCode,
    pub msg: Msg,
    /// The form field / JSON property at fault.
    pub field: Option<&'static str>,
    /// For 429: seconds until a retry can succeed.
    pub retry_after_s: Option<u64>,
    /// For a rejected import: what is wrong in which row.
    pub rows: Vec<crate::error::RowError>,
}

impl AppError {
    pub fn new(status: StatusCode, msg: Msg) -> AppError {
        AppError {
            status,
            msg,
            field: None,
            retry_after_s: None,
            rows: Vec::new(),
        }
    }
    pub fn not_found() -> AppError {
        AppError::new(StatusCode::NOT_FOUND, Msg::new("web.err.not_found"))
    }
    pub fn unauthorized() -> AppError {
        AppError::new(
            StatusCode::UNAUTHORIZED,
            Msg::new("auth.err.login_required"),
        )
    }
    pub fn bad_request(msg: Msg) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, msg)
    }
    pub fn internal() -> AppError {
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Msg::new("web.err.internal"),
        )
    }
    /// The stable code clients branch on, e.g. `org.credit_code_check`.
    pub fn code(&self) -> String {
        code_of(self.msg.key)
    }

    pub fn to_json(&self, lang: Lang) -> serde_json::Value {
        let mut e = serde_json::json!({
            "code": self.code(),
            "message": self.msg.render(lang),
        });
        if let Some(f) = self.field {
            e["field"] = f.into();
        }
        if let Some(s) = self.retry_after_s {
            e["retry_after_s"] = s.into();
        }
        if !self.rows.is_empty() {
            e["rows"] = self
                .rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "row": r.row, "field": r.field, "code": code_of(r.msg.key), "message": r.msg.render(lang),
                    })
                })
                .collect();
        }
        serde_json::json!({ "error": e })
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code(),
            self.msg.render(Lang::En)
        )
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    /// A language-neutral default; `web::middleware::finish` replaces it with the
    /// caller's language and format.
    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if let Some(s) = self.retry_after_s {
            r.insert_header(("Retry-After", s.to_string()));
        }
        r.json(self.to_json(Lang::ZhCn))
    }
}

impl From<Error> for AppError {
    fn from(e: Error) -> AppError {
        let status = match &e {
            Error::Invalid { .. } | Error::Rows(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Device(_) => StatusCode::BAD_GATEWAY,
            Error::Store(StoreError::Locked(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Store(se) => {
                tracing::error!(error = %se, "store failure");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut a = AppError::new(status, e.msg());
        match e {
            Error::Invalid { field, .. } => a.field = Some(field),
            Error::TooMany { retry_after_s, .. } => a.retry_after_s = Some(retry_after_s),
            Error::Rows(rows) => a.rows = rows,
            _ => {}
        }
        a
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        Error::Store(e).into()
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> AppError {
        tracing::error!(error = %e, "blocking task failed");
        AppError::internal()
    }
}

impl From<minijinja::Error> for AppError {
    fn from(e: minijinja::Error) -> AppError {
        tracing::error!(error = %e, "template failed");
        AppError::internal()
    }
}

/// Runs blocking work (store writes, password hashing) off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, AppError> {
    Ok(actix_web::web::block(f).await??)
}

/// Extractor configs that turn malformed bodies, queries and paths into `AppError`s naming
/// what was wrong, instead of actix's plain-text defaults.
pub fn extractor_configs(
    max_body: usize,
) -> (
    actix_web::web::JsonConfig,
    actix_web::web::FormConfig,
    actix_web::web::QueryConfig,
    actix_web::web::PathConfig,
) {
    use actix_web::web;
    let json = web::JsonConfig::default()
        .limit(max_body)
        .error_handler(|e, _| {
            AppError::bad_request(Msg::new("web.err.bad_json").arg("detail", e)).into()
        });
    let form = web::FormConfig::default()
        .limit(max_body)
        .error_handler(|e, _| {
            AppError::bad_request(Msg::new("web.err.bad_form").arg("detail", e)).into()
        });
    let query = web::QueryConfig::default().error_handler(|e, _| {
        AppError::bad_request(Msg::new("web.err.bad_query").arg("detail", e)).into()
    });
    let path = web::PathConfig::default().error_handler(|_, _| AppError::not_found().into());
    (json, form, query, path)
}
