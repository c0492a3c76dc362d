//! HTTPS: the plant's own PEM files, or a self-signed certificate generated on first start
//! and kept in `<data>/tls/` (so its fingerprint stays the same across restarts).

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::app::StartError;
use crate::i18n::Msg;

pub struct TlsSetup {
    pub config: rustls::ServerConfig,
    /// SHA-256 of the certificate, `AB:CD:…`, for people to compare with their browser.
    pub fingerprint: String,
}

fn err(key: &'static str, path: &Path, detail: impl ToString) -> StartError {
    StartError(
        Msg::new(key)
            .arg("path", path.display())
            .arg("detail", detail.to_string()),
    )
}

pub fn from_files(cert: &Path, key: &Path) -> Result<TlsSetup, StartError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| err("tls.err.cert", cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| err("tls.err.cert", cert, e))?;
    if certs.is_empty() {
        return Err(err("tls.err.cert", cert, "no CERTIFICATE block"));
    }
    let k = PrivateKeyDer::from_pem_file(key).map_err(|e| err("tls.err.key", key, e))?;
    let fingerprint = fingerprint(&certs[0]);
    let config = rustls::ServerConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()
    .map_err(|e| err("tls.err.config", cert, e))?
    .with_no_client_auth()
    .with_single_cert(certs, k)
    .map_err(|e| err("tls.err.config", cert, e))?;
    Ok(TlsSetup {
        config,
        fingerprint,
    })
}

fn fingerprint(c: &CertificateDer) -> String {
    Sha256::digest(c.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Loads `<data>/tls/cert.pem` and `key.pem`, generating them first if missing.
pub fn self_signed(data_dir: &Path) -> Result<TlsSetup, StartError> {
    let dir = data_dir.join("tls");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if !cert.is_file() || !key.is_file() {
        generate(&dir, &cert, &key)?;
    }
    from_files(&cert, &key)
}

fn generate(dir: &Path, cert: &Path, key: &Path) -> Result<(), StartError> {
    std::fs::create_dir_all(dir).map_err(|e| err("tls.err.write", dir, e))?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        let h = h.trim();
        if !h.is_empty() {
            names.push(h.to_string());
        }
    }
    if let Ok(ifs) = if_addrs::get_if_addrs() {
        names.extend(
            ifs.iter()
                .filter(|i| !i.is_loopback())
                .map(|i| i.ip().to_string()),
        );
    }
    names.dedup();
    let mut params =
        rcgen::CertificateParams::new(names).map_err(|e| err("tls.err.generate", dir, e))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "nplusx appliance");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "nplusx");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    let kp = rcgen::KeyPair::generate().map_err(|e| err("tls.err.generate", dir, e))?;
    let c = params
        .self_signed(&kp)
        .map_err(|e| err("tls.err.generate", dir, e))?;
    write_private(key, kp.serialize_pem().as_bytes())?;
    std::fs::write(cert, c.pem()).map_err(|e| err("tls.err.write", cert, e))?;
    tracing::info!(cert = %cert.display(), "generated a self-signed certificate");
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StartError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| err("tls.err.write", path, e))?;
    f.write_all(bytes)
        .map_err(|e| err("tls.err.write", path, e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn self_signed_is_generated_once_and_reused() {
        let d = tempfile::tempdir().unwrap();
        let a = super::self_signed(d.path()).unwrap();
        let b = super::self_signed(d.path()).unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_eq!(a.fingerprint.len(), 32 * 3 - 1);
    }

    #[test]
    fn bad_pem_is_refused_with_its_path() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("c.pem");
        std::fs::write(&c, "not a pem").unwrap();
        let e = super::from_files(&c, &c).err().unwrap();
        assert!(e.to_string().contains("c.pem"), "{e}");
    }
}
