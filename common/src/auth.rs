//! Cluster-secret request signing between dfs daemons and trusted clients.
//!
//! Every internal request carries three headers:
//! - `x-dfs-time`: the sender's clock, seconds since the Unix epoch;
//! - `x-dfs-content`: what the body is, bound into the signature: `sha256=<hex>` for RPC bodies,
//!   `crc32c=<hex>` for chunk data (chunkd checks it once the data is on disk), `-` for no body;
//! - `x-dfs-signature`: hex HMAC-SHA256 over `DFS1`, method, path and query, time and content,
//!   one per line.
//!
//! A receiver refuses requests without them, with a bad signature, or whose time is more than
//! [`MAX_SKEW_SECS`] away from its own clock (so a captured request is soon useless).

use crate::secret::Secret;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Header with the sender's clock in Unix seconds.
pub const TIME_HEADER: &str = "x-dfs-time";
/// Header describing the body (bound into the signature).
pub const CONTENT_HEADER: &str = "x-dfs-content";
/// Header with the hex HMAC-SHA256 signature.
pub const SIGNATURE_HEADER: &str = "x-dfs-signature";
/// How far apart two clocks may be before a request is refused as stale.
pub const MAX_SKEW_SECS: u64 = 300;
/// Content descriptor of a request without a body.
pub const NO_CONTENT: &str = "-";

/// The secret shared by every daemon of a cluster. Never printed by `Debug` (it holds a
/// [`Secret`]).
#[derive(Clone, Debug)]
pub struct ClusterSecret(Secret);

/// Why a request's signature was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A signing header is absent or not text.
    #[error("request is not signed with the cluster secret (missing {0})")]
    Missing(&'static str),
    /// The time header is too far from the receiver's clock.
    #[error("request time is more than {MAX_SKEW_SECS} s away from this server's clock")]
    Stale,
    /// The signature does not match.
    #[error("request signature does not match the cluster secret")]
    Mismatch,
}

impl ClusterSecret {
    /// Wraps raw secret text. Surrounding white space is ignored so that files ending in a
    /// newline work.
    pub fn new(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if trimmed.len() < 16 {
            return Err("the cluster secret must be at least 16 characters long".into());
        }
        Ok(ClusterSecret(Secret::new(trimmed)))
    }

    /// A new random secret of 64 hex digits.
    pub fn generate() -> Secret {
        let bytes: [u8; 32] = rand::random();
        Secret::new(hex::encode(bytes))
    }

    /// Reads the secret from a file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read cluster secret file {}: {e}", path.display()))?;
        Self::new(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The secret a daemon's configuration gives: the text itself if set, else the file.
    /// The error says every way to give one.
    pub fn resolve(secret: Option<&Secret>, secret_file: Option<&Path>) -> Result<Self, String> {
        match (secret, secret_file) {
            (Some(text), _) => Self::new(text.expose()),
            (None, Some(file)) => Self::from_file(file),
            (None, None) => Err(
                "no cluster secret given: set secret_file in the config file, pass \
                 --secret-file FILE, or set the DFS_SECRET environment variable"
                    .into(),
            ),
        }
    }

    /// Reads `path` if it exists, otherwise writes a new random secret there (mode 0600) first.
    pub fn load_or_create(path: &Path) -> Result<Self, String> {
        if !path.exists() {
            let secret = Self::generate();
            write_private_file(path, secret.expose().as_bytes())
                .map_err(|e| format!("cannot write cluster secret file {}: {e}", path.display()))?;
        }
        Self::from_file(path)
    }

    /// The signature of one request.
    pub fn sign(&self, method: &str, path_and_query: &str, time: u64, content: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose().as_bytes())
            .expect("HMAC takes keys of any length");
        for part in ["DFS1", method, path_and_query, &time.to_string(), content] {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// HMAC-SHA256 keyed with the cluster secret over the concatenation of `parts`, for data
    /// the daemons protect with the secret besides request signatures (metad seals access-key
    /// secrets with it). The caller makes the concatenation unambiguous: a distinct leading label
    /// per use, and fixed-width or final variable-length parts.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose().as_bytes())
            .expect("HMAC takes keys of any length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Checks a request's signature headers against the secret and the clock.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &http::HeaderMap,
        now: u64,
    ) -> Result<(), SignatureError> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(SignatureError::Missing(name))
        };
        let time: u64 = header(TIME_HEADER)?
            .parse()
            .map_err(|_| SignatureError::Missing(TIME_HEADER))?;
        let content = header(CONTENT_HEADER)?;
        let given = header(SIGNATURE_HEADER)?;
        if time.abs_diff(now) > MAX_SKEW_SECS {
            return Err(SignatureError::Stale);
        }
        let expected = self.sign(method, path_and_query, time, content);
        if constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// The content descriptor of an RPC body.
pub fn sha256_content(body: &[u8]) -> String {
    format!("sha256={}", hex::encode(Sha256::digest(body)))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
pub fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Writes a file readable by its owner only, creating its folder.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(time: u64, content: &str, signature: &str) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        map.insert(TIME_HEADER, time.to_string().parse().unwrap());
        map.insert(CONTENT_HEADER, content.parse().unwrap());
        map.insert(SIGNATURE_HEADER, signature.parse().unwrap());
        map
    }

    #[test]
    fn signed_request_verifies() {
        let secret = ClusterSecret::new("0123456789abcdef0123").unwrap();
        let sig = secret.sign("POST", "/rpc/stat", 1000, "sha256=ab");
        assert_eq!(
            secret.verify("POST", "/rpc/stat", &headers(1000, "sha256=ab", &sig), 1010),
            Ok(())
        );
    }

    #[test]
    fn tampering_is_refused() {
        let secret = ClusterSecret::new("0123456789abcdef0123").unwrap();
        let sig = secret.sign("POST", "/rpc/stat", 1000, "sha256=ab");
        let h = headers(1000, "sha256=ab", &sig);
        assert_eq!(
            secret.verify("POST", "/rpc/delete", &h, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            secret.verify("GET", "/rpc/stat", &h, 1000),
            Err(SignatureError::Mismatch)
        );
        let other = headers(1000, "sha256=cd", &sig);
        assert_eq!(
            secret.verify("POST", "/rpc/stat", &other, 1000),
            Err(SignatureError::Mismatch)
        );
        let wrong_key = ClusterSecret::new("another-secret-of-length").unwrap();
        assert_eq!(
            wrong_key.verify("POST", "/rpc/stat", &h, 1000),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_and_unsigned_are_refused() {
        let secret = ClusterSecret::new("0123456789abcdef0123").unwrap();
        let sig = secret.sign("GET", "/chunk/x", 1000, NO_CONTENT);
        let h = headers(1000, NO_CONTENT, &sig);
        assert_eq!(
            secret.verify("GET", "/chunk/x", &h, 1000 + MAX_SKEW_SECS + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            secret.verify("GET", "/chunk/x", &http::HeaderMap::new(), 1000),
            Err(SignatureError::Missing(TIME_HEADER))
        );
    }

    #[test]
    fn mac_depends_on_the_secret_and_the_bytes_only() {
        let secret = ClusterSecret::new("0123456789abcdef0123").unwrap();
        let whole = secret.mac(&[b"label", b"key"]);
        assert_eq!(secret.mac(&[b"lab", b"elkey"]), whole);
        assert_ne!(secret.mac(&[b"label", b"kez"]), whole);
        let other = ClusterSecret::new("another-secret-of-length").unwrap();
        assert_ne!(other.mac(&[b"label", b"key"]), whole);
    }

    #[test]
    fn debug_hides_the_secret() {
        let secret = ClusterSecret::new("0123456789abcdef0123").unwrap();
        let text = format!("{secret:?} {secret:#?}");
        assert!(!text.contains("0123456789"), "{text}");
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(ClusterSecret::new("short").is_err());
    }
}
