//! Validated S3 names: [`BucketName`], [`ObjectKey`] and the [`ObjectPath`] they make.
//!
//! Each is checked once, where it enters (the gateway's router, a copy-source header, a wire
//! message), and can then be passed around without anyone checking it again. Their serde form
//! is the plain string, and deserializing goes through the same constructor, so an invalid name
//! cannot arrive through a message either.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// Bucket name prefixes S3 reserves (punycode, access points, documentation examples).
const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
/// Bucket name suffixes S3 reserves (access point aliases, multi-region access points,
/// directory and table buckets).
const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// Why a name was refused. The gateway maps each to its S3 error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// A bucket name that breaks S3's naming rules (`InvalidBucketName`).
    #[error("The specified bucket is not valid: {name:?} {why}.")]
    BucketName {
        /// The refused name.
        name: String,
        /// Which rule it breaks.
        why: String,
    },
    /// An empty key.
    #[error("An object key must not be empty.")]
    EmptyKey,
    /// A key longer than [`MAX_KEY_BYTES`] (`KeyTooLongError`).
    #[error("Your key is too long: {len} bytes, at most {MAX_KEY_BYTES}.")]
    KeyTooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// An object path that is not `/bucket/key`.
    #[error("{0:?} is not an object path (/bucket/key)")]
    ObjectPath(String),
}

/// A bucket name that follows S3's naming rules: 3 to 63 characters of lower-case letters,
/// digits, `.` and `-`, beginning and ending with a letter or digit, no `..`, not shaped like an
/// IPv4 address, and without a prefix or suffix S3 reserves.
///
/// The gateway applies the rules to every request, not only CreateBucket: a name that breaks
/// them can name no bucket, and it keeps odd names (`.`, `..`) out of metad's paths.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BucketName(String);

impl BucketName {
    /// Checks `name` against the rules.
    pub fn new(name: impl Into<String>) -> Result<BucketName, NameError> {
        let name = name.into();
        match bucket_name_problem(&name) {
            None => Ok(BucketName(name)),
            Some(why) => Err(NameError::BucketName { name, why }),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The rule `name` breaks, if any.
fn bucket_name_problem(name: &str) -> Option<String> {
    if !(3..=63).contains(&name.len()) {
        return Some("must be 3 to 63 characters long".into());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Some("may contain only lower-case letters, digits, '.' and '-'".into());
    }
    let edge_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !edge_ok(name.bytes().next()) || !edge_ok(name.bytes().last()) {
        return Some("must begin and end with a letter or digit".into());
    }
    if name.contains("..") {
        return Some("must not contain two adjacent periods".into());
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Some("must not be formatted as an IP address".into());
    }
    if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        return Some(format!(
            "must not start with the reserved prefix {prefix:?}"
        ));
    }
    if let Some(suffix) = RESERVED_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
        return Some(format!("must not end with the reserved suffix {suffix:?}"));
    }
    None
}

/// An object key: 1 to [`MAX_KEY_BYTES`] bytes of UTF-8, kept verbatim. `a//b`, `./x`, `../x`
/// and a trailing `/` are distinct keys, so nothing here normalises them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Checks the length of `key`.
    pub fn new(key: impl Into<String>) -> Result<ObjectKey, NameError> {
        let key = key.into();
        match key.len() {
            0 => Err(NameError::EmptyKey),
            len if len > MAX_KEY_BYTES => Err(NameError::KeyTooLong { len }),
            _ => Ok(ObjectKey(key)),
        }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the key ends in `/`: it names a directory object (`x/`), never a file.
    pub fn names_dir(&self) -> bool {
        self.0.ends_with('/')
    }
}

/// An object: a bucket and a key. Its DFS path, shown by `Display`, is `/bucket/key` with the
/// key verbatim (`/b//lead` for the key `/lead`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectPath {
    /// The bucket.
    pub bucket: BucketName,
    /// The key.
    pub key: ObjectKey,
}

impl ObjectPath {
    /// The object `key` in `bucket`.
    pub fn new(bucket: BucketName, key: ObjectKey) -> ObjectPath {
        ObjectPath { bucket, key }
    }

    /// Parses a DFS path `/bucket/key`: the first component is the bucket, all the rest (slashes
    /// included) the key.
    pub fn parse(path: &str) -> Result<ObjectPath, NameError> {
        let bad = || NameError::ObjectPath(path.to_owned());
        let (bucket, key) = path
            .strip_prefix('/')
            .and_then(|rest| rest.split_once('/'))
            .ok_or_else(bad)?;
        Ok(ObjectPath {
            bucket: BucketName::new(bucket)?,
            key: ObjectKey::new(key)?,
        })
    }
}

macro_rules! string_conversions {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl std::str::FromStr for $name {
            type Err = NameError;
            fn from_str(text: &str) -> Result<Self, NameError> {
                $name::new(text)
            }
        }
        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(text: String) -> Result<Self, NameError> {
                $name::new(text)
            }
        }
        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0
            }
        }
    };
}

string_conversions!(BucketName);
string_conversions!(ObjectKey);

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/{}", self.bucket, self.key)
    }
}

impl std::str::FromStr for ObjectPath {
    type Err = NameError;
    fn from_str(text: &str) -> Result<Self, NameError> {
        ObjectPath::parse(text)
    }
}

impl TryFrom<String> for ObjectPath {
    type Error = NameError;
    fn try_from(text: String) -> Result<Self, NameError> {
        ObjectPath::parse(&text)
    }
}

impl From<ObjectPath> for String {
    fn from(path: ObjectPath) -> String {
        path.to_string()
    }
}

#[cfg(test)]
mod tests;
