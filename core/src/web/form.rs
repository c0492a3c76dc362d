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
