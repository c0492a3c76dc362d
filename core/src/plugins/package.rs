//! The plugin package (`.nxp`): the manifest, the component and an ed25519 signature over
//! both, in one file.
//!
//! ```text
//! "NXPLUG01"                     8 bytes
//! manifest length (u32, LE)      then the manifest (TOML, UTF-8)
//! component length (u64, LE)     then the component (WebAssembly)
//! 0 (unsigned) or 1 (signed)     1 byte; if signed: public key (32) and signature (64)
//! ```
//!
//! The signature covers `"nplusx-plugin-signature-v1\n" ‖ SHA-256(manifest) ‖
//! SHA-256(component)`. Keys are written as `ed25519:<base64>`; their fingerprint is the
//! first 16 hex digits of the SHA-256 of the key.

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::manifest::Manifest;
use crate::error::{Error, Result};
use crate::i18n::Msg;

const MAGIC: &[u8; 8] = b"NXPLUG01";
const DOMAIN: &[u8] = b"nplusx-plugin-signature-v1\n";
/// Largest package accepted.
pub const MAX_BYTES: usize = 48 << 20;
const SECRET_PREFIX: &str = "nplusx-ed25519-secret:";
const PUBLIC_PREFIX: &str = "ed25519:";

/// A parsed package (signature not yet checked against trusted keys).
#[derive(Debug, Clone)]
pub struct Package {
    pub manifest_text: String,
    pub manifest: Manifest,
    pub component: Vec<u8>,
    /// The key that signed it, if signed and the signature is valid.
    pub signer: Option<VerifyingKey>,
}

fn err(key: &'static str) -> Error {
    Error::invalid("package", key)
}

fn digest(manifest: &[u8], component: &[u8]) -> Vec<u8> {
    let mut m = DOMAIN.to_vec();
    m.extend_from_slice(&Sha256::digest(manifest));
    m.extend_from_slice(&Sha256::digest(component));
    m
}

/// Builds a package; signed when a key is given.
pub fn pack(manifest_text: &str, component: &[u8], key: Option<&SigningKey>) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(manifest_text.len() as u32).to_le_bytes());
    out.extend_from_slice(manifest_text.as_bytes());
    out.extend_from_slice(&(component.len() as u64).to_le_bytes());
    out.extend_from_slice(component);
    match key {
        None => out.push(0),
        Some(k) => {
            out.push(1);
            out.extend_from_slice(k.verifying_key().as_bytes());
            let sig = k.sign(&digest(manifest_text.as_bytes(), component));
            out.extend_from_slice(&sig.to_bytes());
        }
    }
    out
}

/// Reads a package: its structure, its manifest, and (if signed) the signature. Every
/// error says exactly what is wrong; nothing is trusted yet.
pub fn parse(bytes: &[u8]) -> Result<Package> {
    if bytes.len() > MAX_BYTES {
        return Err(err("plugins.err.too_big"));
    }
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(err("plugins.err.magic"));
    }
    let mut at = MAGIC.len();
    let truncated = |what: &str, want: usize, have: usize| {
        Error::invalid_msg(
            "package",
            Msg::new("plugins.err.truncated")
                .arg("what", what)
                .arg("expected", want)
                .arg("found", have),
        )
    };
    let take = |at: &mut usize, n: usize, what: &str| -> Result<&[u8]> {
        let have = bytes.len().saturating_sub(*at);
        if have < n {
            return Err(truncated(what, n, have));
        }
        let s = &bytes[*at..*at + n];
        *at += n;
        Ok(s)
    };
    let mlen = u32::from_le_bytes(
        take(&mut at, 4, "manifest length")?
            .try_into()
            .unwrap_or_default(),
    ) as usize;
    if mlen > 1 << 20 {
        return Err(err("plugins.err.too_big"));
    }
    let manifest_bytes = take(&mut at, mlen, "manifest")?;
    let manifest_text = std::str::from_utf8(manifest_bytes)
        .map_err(|_| {
            Error::invalid_msg(
                "package",
                Msg::new("plugins.err.manifest").arg("detail", "not UTF-8"),
            )
        })?
        .to_string();
    let clen = u64::from_le_bytes(
        take(&mut at, 8, "component length")?
            .try_into()
            .unwrap_or_default(),
    );
    let clen = usize::try_from(clen).map_err(|_| err("plugins.err.too_big"))?;
    if clen > MAX_BYTES {
        return Err(err("plugins.err.too_big"));
    }
    let component = take(&mut at, clen, "component")?.to_vec();
    let signed = take(&mut at, 1, "signature flag")?[0];
    let signer = match signed {
        0 => None,
        1 => {
            let pk: [u8; 32] = take(&mut at, 32, "public key")?
                .try_into()
                .unwrap_or([0; 32]);
            let sig: [u8; 64] = take(&mut at, 64, "signature")?
                .try_into()
                .unwrap_or([0; 64]);
            let key =
                VerifyingKey::from_bytes(&pk).map_err(|_| err("plugins.err.signature_bad"))?;
            key.verify(
                &digest(manifest_bytes, &component),
                &Signature::from_bytes(&sig),
            )
            .map_err(|_| err("plugins.err.signature_bad"))?;
            Some(key)
        }
        _ => return Err(err("plugins.err.magic")),
    };
    if at != bytes.len() {
        return Err(err("plugins.err.trailing"));
    }
    let manifest = Manifest::parse(&manifest_text)?;
    Ok(Package {
        manifest_text,
        manifest,
        component,
        signer,
    })
}

/// A new signing key, as the text of its secret file and its public key.
pub fn keygen() -> (String, String) {
    let mut seed = [0u8; 32];
    crate::util::fill_random(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    (
        format!(
            "{SECRET_PREFIX}{}\n",
            base64::engine::general_purpose::STANDARD.encode(seed)
        ),
        public_text(&key.verifying_key()),
    )
}

/// Reads a secret key file's text.
pub fn read_secret(text: &str) -> Result<SigningKey> {
    let b64 = text
        .trim()
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| err("plugins.err.key_file"))?;
    let seed: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| err("plugins.err.key_file"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// `ed25519:<base64>`.
pub fn public_text(k: &VerifyingKey) -> String {
    format!(
        "{PUBLIC_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(k.as_bytes())
    )
}

/// Reads `ed25519:<base64>`.
pub fn read_public(text: &str) -> Result<VerifyingKey> {
    let b64 = text
        .trim()
        .strip_prefix(PUBLIC_PREFIX)
        .ok_or_else(|| err("plugins.err.public_key"))?;
    let raw: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| err("plugins.err.public_key"))?;
    VerifyingKey::from_bytes(&raw).map_err(|_| err("plugins.err.public_key"))
}

/// The first 16 hex digits of the key's SHA-256.
pub fn fingerprint(k: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(k.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "id = \"demo-x\"\nversion = \"1.0.0\"\nwit = \"0.1\"\nmodule = \"bi\"\nname_zh = \"演示\"\nname_en = \"Demo\"\npublisher = \"Test\"\n";

    #[test]
    fn packages_round_trip_and_every_defect_is_named() {
        let (secret, public) = keygen();
        let key = read_secret(&secret).unwrap();
        let pubkey = read_public(&public).unwrap();
        assert_eq!(key.verifying_key(), pubkey);
        let comp = b"\0asm\x0d\0\x01\0rest".to_vec();
        let bytes = pack(MANIFEST, &comp, Some(&key));
        let p = parse(&bytes).unwrap();
        assert_eq!(p.manifest.id, "demo-x");
        assert_eq!(p.component, comp);
        assert_eq!(p.signer, Some(pubkey));
        assert_eq!(fingerprint(&pubkey).len(), 16);
        // unsigned
        assert_eq!(parse(&pack(MANIFEST, &comp, None)).unwrap().signer, None);
        let code = |b: &[u8]| parse(b).unwrap_err().msg().key.to_string();
        // truncated anywhere
        for cut in [4, 10, 20, bytes.len() - 30, bytes.len() - 1] {
            let c = code(&bytes[..cut]);
            assert!(
                c == "plugins.err.truncated" || c == "plugins.err.magic",
                "{cut}: {c}"
            );
        }
        assert_eq!(code(b"PK\x03\x04 a zip"), "plugins.err.magic");
        // a changed byte of the component or the manifest breaks the signature
        let mut bad = bytes.clone();
        let i = bytes.len() - 100;
        bad[i] ^= 1;
        assert_eq!(code(&bad), "plugins.err.signature_bad");
        let mut bad = bytes.clone();
        bad[14] ^= 1;
        assert_eq!(code(&bad), "plugins.err.signature_bad");
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(code(&extra), "plugins.err.trailing");
        assert!(read_secret("garbage").is_err());
        assert!(read_public("ed25519:!!").is_err());
    }
}
