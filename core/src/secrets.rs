//! Credentials at rest (device passwords, camera logins): sealed with XChaCha20-Poly1305
//! under a key kept beside the store in `<data>/secret.key` (0600), never in it. A copied
//! store file or a backup alone does not reveal them; restoring on another box needs the
//! key file too, or the credentials entered again.
//!
//! [`Secret`] is the field type: the API takes plain text, stores the sealed form and shows
//! only whether one is set.

use std::path::Path;

use base64::Engine as _;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

const KEY_FILE: &str = "secret.key";
const NONCE: usize = 24;

/// A credential as configuration holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Secret {
    /// None set.
    #[default]
    Empty,
    /// Typed by a user, not sealed yet (only between the API and the service).
    Plain(String),
    /// Stored: base64 of nonce ‖ ciphertext.
    Sealed(String),
    /// "Keep what is stored" (what the API shows, and what a client sends back unchanged).
    Keep,
}

impl Secret {
    pub fn is_set(&self) -> bool {
        !matches!(self, Secret::Empty)
    }

    /// As the API shows it: whether one is set, never the value.
    pub fn redacted(&self) -> Secret {
        match self {
            Secret::Empty => Secret::Empty,
            _ => Secret::Keep,
        }
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Stored<'a> {
            sealed: &'a str,
        }
        #[derive(Serialize)]
        struct Shown {
            set: bool,
        }
        match self {
            Secret::Sealed(b) => Stored { sealed: b }.serialize(s),
            Secret::Empty => s.serialize_none(),
            // plain text is sealed before anything is stored; shown, it is just "set"
            Secret::Plain(_) | Secret::Keep => Shown { set: true }.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Secret, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Any {
            Text(String),
            Sealed { sealed: String },
            Shown { set: bool },
        }
        Ok(match Option::<Any>::deserialize(d)? {
            None => Secret::Empty,
            Some(Any::Text(t)) if t.is_empty() => Secret::Empty,
            Some(Any::Text(t)) => Secret::Plain(t),
            Some(Any::Sealed { sealed }) => Secret::Sealed(sealed),
            Some(Any::Shown { set: true }) => Secret::Keep,
            Some(Any::Shown { set: false }) => Secret::Empty,
        })
    }
}

impl utoipa::PartialSchema for Secret {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .description(Some(
                "A credential: send a string to set it, `{\"set\": true}` to keep it, null to clear it; answers show only `{\"set\": true}`.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Secret {}

/// Seals and opens secrets with the box's key.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

/// "Keep the stored secret" only while it goes to the same place: a changed host or URL
/// must come with the secret typed again, or anyone who may edit the address could send the
/// stored password to a machine of their choosing.
pub fn check_keep(
    field: &'static str,
    input: &Secret,
    before: Option<&Secret>,
    same_endpoint: bool,
) -> Result<()> {
    if matches!(input, Secret::Keep) && !same_endpoint && before.is_some_and(Secret::is_set) {
        return Err(Error::invalid(field, "common.err.secret_reenter"));
    }
    Ok(())
}

/// Scheme, host and port of a URL (`http://cam:80/a` → `http://cam:80`), to compare endpoints.
pub fn origin(url: &str) -> &str {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest
                .find(['/', '?', '#'])
                .map_or(url.len(), |i| scheme.len() + 3 + i);
            &url[..end]
        }
        None => url,
    }
}

impl Sealer {
    /// Loads `<data>/secret.key`, creating it (0600) on first use.
    pub fn open(data_dir: &Path) -> std::io::Result<Sealer> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = data_dir.join(KEY_FILE);
        let key = match std::fs::read(&path) {
            Ok(k) if k.len() == 32 => k,
            Ok(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: not a 32-byte key", path.display()),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // written aside and renamed into place: a crash never leaves a short key
                let mut k = vec![0u8; 32];
                crate::util::fill_random(&mut k);
                let tmp = data_dir.join(format!("{KEY_FILE}.tmp"));
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)?;
                f.write_all(&k)?;
                f.sync_all()?;
                std::fs::rename(&tmp, &path)?;
                std::fs::File::open(data_dir)?.sync_all()?;
                k
            }
            Err(e) => return Err(e),
        };
        let cipher = XChaCha20Poly1305::new_from_slice(&key)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad key"))?;
        Ok(Sealer { cipher })
    }

    /// The value to store for `input`, given what was stored before. A sealed value from
    /// outside is accepted only if it is the one stored (nothing else could produce it).
    pub fn seal(&self, input: &Secret, before: Option<&Secret>) -> Result<Secret> {
        Ok(match input {
            Secret::Empty => Secret::Empty,
            Secret::Sealed(s) => match before {
                Some(Secret::Sealed(b)) if b == s => Secret::Sealed(s.clone()),
                _ => return Err(Error::invalid("password", "common.err.secret_sealed")),
            },
            Secret::Keep => match before {
                Some(Secret::Sealed(s)) => Secret::Sealed(s.clone()),
                _ => Secret::Empty,
            },
            Secret::Plain(p) => {
                if p.chars().count() > 256 {
                    return Err(Error::invalid("password", "common.err.secret_long"));
                }
                let mut nonce = [0u8; NONCE];
                crate::util::fill_random(&mut nonce);
                let ct = self
                    .cipher
                    .encrypt((&nonce).into(), p.as_bytes())
                    .map_err(|_| Error::invalid("password", "common.err.secret_long"))?;
                let mut out = nonce.to_vec();
                out.extend_from_slice(&ct);
                Secret::Sealed(base64::engine::general_purpose::STANDARD.encode(out))
            }
        })
    }

    /// The plain text of a stored secret; `None` if empty or sealed under another key.
    pub fn reveal(&self, s: &Secret) -> Option<String> {
        match s {
            Secret::Plain(p) => Some(p.clone()),
            Secret::Sealed(b) => {
                let raw = base64::engine::general_purpose::STANDARD.decode(b).ok()?;
                if raw.len() < NONCE {
                    return None;
                }
                let (nonce, ct) = raw.split_at(NONCE);
                let nonce: &[u8; NONCE] = nonce.try_into().ok()?;
                let pt = self.cipher.decrypt(nonce.into(), ct).ok()?;
                String::from_utf8(pt).ok()
            }
            Secret::Empty | Secret::Keep => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_sealed_kept_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sealer::open(dir.path()).unwrap();
        let sealed = s.seal(&Secret::Plain("pa55:word".into()), None).unwrap();
        let Secret::Sealed(b) = &sealed else {
            panic!("sealed")
        };
        assert!(!b.contains("pa55"));
        assert_eq!(s.reveal(&sealed).as_deref(), Some("pa55:word"));
        // the key is stable across restarts, and private
        let again = Sealer::open(dir.path()).unwrap();
        assert_eq!(again.reveal(&sealed).as_deref(), Some("pa55:word"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // another box's key cannot open it
        let other = tempfile::tempdir().unwrap();
        assert_eq!(Sealer::open(other.path()).unwrap().reveal(&sealed), None);
        // "keep" keeps, empty clears; the API shows only that one is set
        assert_eq!(s.seal(&Secret::Keep, Some(&sealed)).unwrap(), sealed);
        assert_eq!(
            s.seal(&Secret::Empty, Some(&sealed)).unwrap(),
            Secret::Empty
        );
        assert_eq!(
            serde_json::to_string(&sealed.redacted()).unwrap(),
            r#"{"set":true}"#
        );
        assert!(
            s.seal(&Secret::Sealed("b3RoZXI=".into()), Some(&sealed))
                .is_err(),
            "a foreign sealed value"
        );
        assert!(check_keep("password", &Secret::Keep, Some(&sealed), false).is_err());
        assert!(check_keep("password", &Secret::Keep, Some(&sealed), true).is_ok());
        assert_eq!(origin("http://cam:80/ISAPI/x?y=1"), "http://cam:80");
        let back: Secret = serde_json::from_str(r#"{"set":true}"#).unwrap();
        assert_eq!(back, Secret::Keep);
        let typed: Secret = serde_json::from_str(r#""abc""#).unwrap();
        assert_eq!(typed, Secret::Plain("abc".into()));
        let stored: Secret =
            serde_json::from_str(&serde_json::to_string(&sealed).unwrap()).unwrap();
        assert_eq!(stored, sealed);
    }
}
