//! HTML form bodies as ordered name/value pairs. Browsers repeat a name for each checked
//! checkbox (`roles=admin&roles=viewer`), which plain serde structs cannot take.

use actix_web::web;

pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn from(f: web::Form<Vec<(String, String)>>) -> FormData {
        FormData(f.into_inner())
    }
    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && !v.is_empty())
    }
    /// A checkbox: present and not "false"/"off".
    pub fn checked(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(k, v)| k == name && v != "false" && v != "off")
    }
    /// A password field with its "clear" checkbox: cleared, kept (left empty: the stored one
    /// stays) or a new one.
    pub fn secret(&self, name: &str, clear: &str) -> crate::secrets::Secret {
        match (self.get(name), self.checked(clear)) {
            (_, true) => crate::secrets::Secret::Empty,
            ("", false) => crate::secrets::Secret::Keep,
            (p, false) => crate::secrets::Secret::Plain(p.to_string()),
        }
    }
    /// An optional number; "" is None, anything unparsable is an error naming the field.
    pub fn opt<T: std::str::FromStr>(&self, name: &'static str) -> crate::error::Result<Option<T>> {
        let v = self.get(name).trim();
        if v.is_empty() {
            return Ok(None);
        }
        v.parse()
            .map(Some)
            .map_err(|_| crate::error::Error::invalid(name, "common.err.number"))
    }
    /// A choice of a `snake_case` serde enum (a select's value); None when absent or unknown.
    pub fn choice<T: serde::de::DeserializeOwned>(&self, name: &str) -> Option<T> {
        serde_json::from_value(serde_json::Value::String(self.get(name).to_string())).ok()
    }
    /// Values as a JSON object of strings, to refill a form after an error.
    pub fn echo(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (k, v) in &self.0 {
            if k == "csrf" || k.contains("password") {
                continue;
            }
            m.entry(k.clone()).or_insert_with(|| v.clone().into());
        }
        serde_json::Value::Object(m)
    }
}

/// Reads the `file` field of a multipart upload: (file name, bytes). Refuses anything over
/// `max` bytes, and a request without a file.
pub async fn read_upload(
    mut mp: actix_multipart::Multipart,
    max: usize,
) -> Result<(String, Vec<u8>), crate::web::error::AppError> {
    use crate::error::Error;
    use crate::i18n::Msg;
    use crate::web::error::AppError;
    use futures_util::StreamExt;
    while let Some(field) = mp.next().await {
        let mut field = field
            .map_err(|e| AppError::bad_request(Msg::new("web.err.bad_form").arg("detail", e)))?;
        if field.name() != Some("file") {
            continue;
        }
        let name = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .unwrap_or("")
            .to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| {
                AppError::bad_request(Msg::new("web.err.bad_form").arg("detail", e))
            })?;
            push_limited(&mut bytes, &chunk, max)?;
        }
        if bytes.is_empty() {
            break;
        }
        return Ok((name, bytes));
    }
    Err(Error::invalid("file", "web.err.file_empty").into())
}

/// A multipart form with text fields and files: the fields (as a [`FormData`]) and every
/// non-empty file field as (field name, file name, bytes). Each file at most `max_file`
/// bytes, all of them together at most `max_total`.
pub async fn read_multipart(
    mut mp: actix_multipart::Multipart,
    max_file: usize,
    max_total: usize,
) -> Result<(FormData, Vec<(String, String, Vec<u8>)>), crate::web::error::AppError> {
    use crate::error::Error;
    use crate::i18n::Msg;
    use crate::web::error::AppError;
    use futures_util::StreamExt;
    let (mut fields, mut files, mut total) = (Vec::new(), Vec::new(), 0usize);
    while let Some(field) = mp.next().await {
        let mut field = field
            .map_err(|e| AppError::bad_request(Msg::new("web.err.bad_form").arg("detail", e)))?;
        let name = field.name().unwrap_or("").to_string();
        let filename = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(String::from);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| {
                AppError::bad_request(Msg::new("web.err.bad_form").arg("detail", e))
            })?;
            total += chunk.len();
            if bytes.len() + chunk.len() > max_file || total > max_total {
                return Err(Error::invalid_msg(
                    "file",
                    Msg::new("web.err.file_too_large").arg("mib", max_file >> 20),
                )
                .into());
            }
            bytes.extend_from_slice(&chunk);
        }
        match filename {
            Some(f) if !bytes.is_empty() => files.push((name, f, bytes)),
            Some(_) => {}
            None => fields.push((name, String::from_utf8_lossy(&bytes).into_owned())),
        }
    }
    Ok((FormData(fields), files))
}

/// A textarea of one item per line (blank lines skipped): `parse` reads a line, or answers
/// None and the refusal names the line (`key` is a message taking `n` and `line`).
pub fn parse_lines<T>(
    text: &str,
    field: &'static str,
    key: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> crate::error::Result<Vec<T>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let item = parse(line).ok_or_else(|| {
            crate::error::Error::invalid_msg(
                field,
                crate::i18n::Msg::new(key).arg("n", i + 1).arg("line", line),
            )
        })?;
        out.push(item);
    }
    Ok(out)
}

/// Appends a chunk of an upload, refusing what would pass `max` bytes.
fn push_limited(
    bytes: &mut Vec<u8>,
    chunk: &[u8],
    max: usize,
) -> Result<(), crate::web::error::AppError> {
    if bytes.len() + chunk.len() > max {
        return Err(crate::error::Error::invalid_msg(
            "file",
            crate::i18n::Msg::new("web.err.file_too_large").arg("mib", max >> 20),
        )
        .into());
    }
    bytes.extend_from_slice(chunk);
    Ok(())
}

/// A raw request body (a drawing, a package) of at most `max` bytes.
pub async fn read_body(
    mut payload: actix_web::web::Payload,
    max: usize,
) -> Result<Vec<u8>, crate::web::error::AppError> {
    use futures_util::StreamExt;
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            crate::web::error::AppError::bad_request(
                crate::i18n::Msg::new("web.err.bad_form").arg("detail", e),
            )
        })?;
        push_limited(&mut bytes, &chunk, max)?;
    }
    Ok(bytes)
}
