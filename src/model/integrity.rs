//! Optional integrity of a model file: a SHA-256 in a sidecar (`<file>.sha256`, hex, as `sha256sum`
//! writes it) and an ed25519 signature (`<file>.sig`, hex) by the key configured on the station.
//! A station that requires signatures refuses unsigned files.

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum IntegrityError {
    #[error("{0}: SHA-256 does not match its .sha256 sidecar (file {1}, sidecar {2})")]
    HashMismatch(PathBuf, String, String),
    #[error("{0}: unsigned, and this station requires signed models")]
    Unsigned(PathBuf),
    #[error("{0}: signature does not verify with the station's key")]
    BadSignature(PathBuf),
    #[error("{0}: signed, but no public key is configured to check it")]
    NoKey(PathBuf),
    /// A sidecar that cannot be read (the error names it).
    #[error(transparent)]
    Unreadable(#[from] super::file::FileError),
}

/// A key file or a file to sign that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Unreadable(#[from] super::file::FileError),
    #[error("{0}: expected 64 hex characters (an ed25519 public key)")]
    PublicNotHex(PathBuf),
    #[error("{path}: {source}")]
    PublicInvalid { path: PathBuf, source: ed25519_dalek::SignatureError },
    #[error("secret key: expected 64 hex characters")]
    SecretNotHex,
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

#[derive(Debug, Clone, Default)]
pub struct IntegrityPolicy {
    pub require_signature: bool,
    pub public_key: Option<VerifyingKey>,
}

/// What was proven about a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Integrity {
    pub sha256_sidecar: bool,
    pub signed: bool,
}

fn sidecar(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(ext);
    PathBuf::from(s)
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    (0..t.len()).step_by(2).map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok()).collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a public key file: 32 bytes as 64 hex characters.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    // A key named by the config: a regular file of a few bytes, never /dev/zero or a FIFO read forever.
    let text = super::file::read_sidecar(path)?;
    let bytes: [u8; 32] =
        hex_decode(&text).and_then(|b| b.try_into().ok()).ok_or_else(|| KeyError::PublicNotHex(path.into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|source| KeyError::PublicInvalid { path: path.into(), source })
}

fn secret_key(secret_hex: &str) -> Result<SigningKey, KeyError> {
    let bytes: [u8; 32] = hex_decode(secret_hex).and_then(|b| b.try_into().ok()).ok_or(KeyError::SecretNotHex)?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Signs a file, writing `<file>.sig`; `secret` is 32 bytes as hex.
pub fn sign_file(path: &Path, secret_hex: &str) -> Result<PathBuf, KeyError> {
    let key = secret_key(secret_hex)?;
    let data = std::fs::read(path).map_err(|source| KeyError::Io { path: path.into(), source })?;
    let sig = key.sign(&data);
    let out = sidecar(path, ".sig");
    std::fs::write(&out, hex(&sig.to_bytes()) + "\n").map_err(|source| KeyError::Io { path: out.clone(), source })?;
    Ok(out)
}

/// The public key (hex) of a secret key (hex).
pub fn public_of(secret_hex: &str) -> Result<String, KeyError> {
    Ok(hex(secret_key(secret_hex)?.verifying_key().as_bytes()))
}

/// Checks `data` (the bytes of `path`) against its sidecars and the policy.
pub fn check(path: &Path, data: &[u8], policy: &IntegrityPolicy) -> Result<Integrity, IntegrityError> {
    let mut out = Integrity::default();
    let sha_path = sidecar(path, ".sha256");
    if sha_path.exists() {
        let text = super::file::read_sidecar(&sha_path)?;
        let want = text.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
        let got = hex(&Sha256::digest(data));
        if want != got {
            return Err(IntegrityError::HashMismatch(path.into(), got, want));
        }
        out.sha256_sidecar = true;
    }
    let sig_path = sidecar(path, ".sig");
    if sig_path.exists() {
        let key = policy.public_key.ok_or_else(|| IntegrityError::NoKey(path.into()))?;
        let text = super::file::read_sidecar(&sig_path)?;
        let sig: [u8; 64] = hex_decode(&text)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| IntegrityError::BadSignature(path.into()))?;
        key.verify(data, &Signature::from_bytes(&sig)).map_err(|_| IntegrityError::BadSignature(path.into()))?;
        out.signed = true;
    } else if policy.require_signature {
        return Err(IntegrityError::Unsigned(path.into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_key_that_is_a_device_or_a_fifo_is_refused_at_once() {
        for p in ["/dev/zero", "/dev/null"] {
            let e = read_public_key(std::path::Path::new(p));
            assert!(matches!(e, Err(KeyError::Unreadable(_))), "{p}: {e:?}");
        }
        let dir = tempfile::tempdir().expect("tmp");
        let fifo = dir.path().join("key.pub");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let e = read_public_key(&fifo);
        assert!(matches!(e, Err(KeyError::Unreadable(_))), "a FIFO with no writer must not block: {e:?}");
    }

    const SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

    fn policy(require: bool) -> IntegrityPolicy {
        let key = hex_decode(&public_of(SECRET).expect("public")).expect("hex");
        IntegrityPolicy {
            require_signature: require,
            public_key: Some(VerifyingKey::from_bytes(&key.try_into().expect("32")).expect("key")),
        }
    }

    #[test]
    fn sidecar_hash_and_signature_are_checked() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("m.onnx");
        std::fs::write(&f, b"model bytes").expect("write");
        assert!(matches!(check(&f, b"model bytes", &policy(true)), Err(IntegrityError::Unsigned(_))));
        assert_eq!(check(&f, b"model bytes", &policy(false)).expect("no sidecars"), Integrity::default());

        sign_file(&f, SECRET).expect("sign");
        let ok = check(&f, b"model bytes", &policy(true)).expect("signed");
        assert!(ok.signed);
        // The file changed after signing: refused.
        assert!(matches!(check(&f, b"model bytez", &policy(true)), Err(IntegrityError::BadSignature(_))));

        std::fs::write(dir.path().join("m.onnx.sha256"), "00ff  m.onnx\n").expect("write");
        assert!(matches!(check(&f, b"model bytes", &policy(false)), Err(IntegrityError::HashMismatch(..))));
        let good = hex(&Sha256::digest(b"model bytes"));
        std::fs::write(dir.path().join("m.onnx.sha256"), format!("{good}  m.onnx\n")).expect("write");
        assert!(check(&f, b"model bytes", &policy(false)).expect("hash ok").sha256_sidecar);
    }

    #[test]
    fn signature_without_a_station_key_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("m.onnx");
        std::fs::write(&f, b"x").expect("write");
        sign_file(&f, SECRET).expect("sign");
        assert!(matches!(check(&f, b"x", &IntegrityPolicy::default()), Err(IntegrityError::NoKey(_))));
    }

    #[test]
    fn bad_keys_are_refused_by_kind() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = dir.path().join("key.pub");
        std::fs::write(&key, "not hex\n").expect("write");
        assert!(matches!(read_public_key(&key), Err(KeyError::PublicNotHex(p)) if p == key));
        assert!(matches!(public_of("abc"), Err(KeyError::SecretNotHex)));
        let missing = dir.path().join("missing.onnx");
        assert!(matches!(sign_file(&missing, SECRET), Err(KeyError::Io { path, .. }) if path == missing));
        assert_eq!(
            read_public_key(&key).unwrap_err().to_string(),
            format!("{}: expected 64 hex characters (an ed25519 public key)", key.display())
        );
    }
}
