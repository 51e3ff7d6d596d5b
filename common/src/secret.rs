//! [`Secret`]: text that must never reach a log line.
//!
//! Every secret in dfs (the cluster secret, access-key secrets in wire types, caches and
//! configs, bench credentials) is held as a `Secret`. Its `Debug` and `Display` print
//! `[redacted]`, so deriving `Debug` on a struct that holds one, or logging it with `{}` or
//! `{:?}`, cannot leak the value. The few places that need the text itself (signing, a key
//! printed once on purpose) call [`Secret::expose`], which makes them easy to find.
//!
//! Serde sees a plain string (`#[serde(transparent)]`), so JSON and TOML shapes are those of a
//! `String`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What `Debug` and `Display` print instead of a secret.
pub const REDACTED: &str = "[redacted]";

/// A secret string whose `Debug` and `Display` print [`REDACTED`].
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The secret itself. Call it only where the value is needed: to sign or verify, or to show
    /// it to its owner on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret itself, consuming the wrapper.
    pub fn into_exposed(self) -> String {
        self.0
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Secret(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Secret(text.to_owned())
    }
}

/// Compares in time that depends only on the lengths.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        crate::auth::constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Holder {
        name: String,
        secret: Option<Secret>,
    }

    #[test]
    fn never_printed() {
        let secret = Secret::new("hunter2-hunter2-hunter2");
        assert_eq!(format!("{secret:?}"), REDACTED);
        assert_eq!(format!("{secret}"), REDACTED);
        assert_eq!(format!("{secret:#?}"), REDACTED);
        let holder = Holder {
            name: "n".into(),
            secret: Some(secret.clone()),
        };
        let text = format!("{holder:?} {holder:#?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(secret.expose(), "hunter2-hunter2-hunter2");
    }

    #[test]
    fn serialized_as_a_plain_string() {
        let holder = Holder {
            name: "n".into(),
            secret: Some("s3cr3t".into()),
        };
        let json = serde_json::to_string(&holder).unwrap();
        assert_eq!(json, r#"{"name":"n","secret":"s3cr3t"}"#);
        assert_eq!(serde_json::from_str::<Holder>(&json).unwrap(), holder);
        let toml_text = toml::to_string(&holder).unwrap();
        assert_eq!(toml_text, "name = \"n\"\nsecret = \"s3cr3t\"\n");
        assert_eq!(toml::from_str::<Holder>(&toml_text).unwrap(), holder);
    }

    #[test]
    fn equality() {
        assert_eq!(Secret::new("abc"), Secret::from("abc"));
        assert_ne!(Secret::new("abc"), Secret::new("abd"));
        assert_ne!(Secret::new("abc"), Secret::new("abcd"));
    }
}
