//! DFS paths as metad understands them.
//!
//! A path is `/` followed by components separated by `/`, taken verbatim: empty components,
//! `.` and `..` are ordinary names, because S3 keys such as `a//b` or `a/../b` must map onto
//! distinct files (normalising them breaks S3 clients). A trailing `/` names a directory.
//! Interactive tools normalise what a person types before they build a `DfsPath`.

use crate::names::ObjectPath;
use crate::RpcError;
use serde::{Deserialize, Serialize};

/// Longest path metad accepts, in bytes (a 63-byte bucket, a 1024-byte key and room to spare).
pub const MAX_PATH_BYTES: usize = 4096;

/// A parsed absolute path. Its serde form is the path string, and deserializing parses it, so a
/// malformed path in a message is refused when the message is decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DfsPath {
    /// The components below the root, verbatim.
    pub components: Vec<String>,
    /// Whether the path ended in `/` (it names a directory).
    pub trailing_slash: bool,
}

impl DfsPath {
    /// Parses an absolute path. The root is `/`; `/b/x/` has components `b`, `x` and a trailing
    /// slash; `/b/a//c` has components `b`, `a`, ``, `c`.
    pub fn parse(text: &str) -> Result<DfsPath, RpcError> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(RpcError::invalid(format!(
                "path {text:?} is not absolute (it must start with /)"
            )));
        };
        if text.len() > MAX_PATH_BYTES {
            return Err(RpcError::invalid(format!(
                "path is longer than {MAX_PATH_BYTES} bytes"
            )));
        }
        if text.contains('\0') {
            return Err(RpcError::invalid("path contains a NUL character"));
        }
        if rest.is_empty() {
            return Ok(DfsPath {
                components: Vec::new(),
                trailing_slash: true,
            });
        }
        let (body, trailing_slash) = match rest.strip_suffix('/') {
            Some(body) => (body, true),
            None => (rest, false),
        };
        let components: Vec<String> = body.split('/').map(str::to_owned).collect();
        if components[0].is_empty() {
            return Err(RpcError::invalid(format!(
                "path {text:?} has an empty top-level (bucket) name"
            )));
        }
        Ok(DfsPath {
            components,
            trailing_slash,
        })
    }

    /// Whether this is the root `/`.
    pub fn is_root(&self) -> bool {
        self.components.is_empty()
    }

    /// The last component, or `None` for the root.
    pub fn name(&self) -> Option<&str> {
        self.components.last().map(String::as_str)
    }

    /// The parent's components.
    pub fn parent_components(&self) -> &[String] {
        match self.components.split_last() {
            Some((_, parent)) => parent,
            None => &[],
        }
    }
}

impl std::fmt::Display for DfsPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("/")?;
        f.write_str(&self.components.join("/"))?;
        if self.trailing_slash && !self.components.is_empty() {
            f.write_str("/")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for DfsPath {
    type Err = RpcError;
    fn from_str(text: &str) -> Result<DfsPath, RpcError> {
        DfsPath::parse(text)
    }
}

impl TryFrom<String> for DfsPath {
    type Error = RpcError;
    fn try_from(text: String) -> Result<DfsPath, RpcError> {
        DfsPath::parse(&text)
    }
}

impl From<DfsPath> for String {
    fn from(path: DfsPath) -> String {
        path.to_string()
    }
}

/// An object's path: the bucket, then the key split at each `/` (a key ending in `/` gives a
/// trailing slash).
impl From<&ObjectPath> for DfsPath {
    fn from(path: &ObjectPath) -> DfsPath {
        let key = path.key.as_str();
        let (body, trailing_slash) = match key.strip_suffix('/') {
            Some(body) => (body, true),
            None => (key, false),
        };
        let mut components = vec![path.bucket.to_string()];
        components.extend(body.split('/').map(str::to_owned));
        DfsPath {
            components,
            trailing_slash,
        }
    }
}

/// Joins a directory path and a child name into a path string.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_verbatim_components() {
        let p = DfsPath::parse("/b/a//c").unwrap();
        assert_eq!(p.components, ["b", "a", "", "c"]);
        assert!(!p.trailing_slash);
        let p = DfsPath::parse("/b/x/").unwrap();
        assert_eq!(p.components, ["b", "x"]);
        assert!(p.trailing_slash);
        let p = DfsPath::parse("/b/../.").unwrap();
        assert_eq!(p.components, ["b", "..", "."]);
        assert!(DfsPath::parse("/").unwrap().is_root());
    }

    #[test]
    fn refuses_relative_and_empty_bucket() {
        assert!(DfsPath::parse("b/x").is_err());
        assert!(DfsPath::parse("//x").is_err());
        assert!(DfsPath::parse("").is_err());
        assert!(DfsPath::parse("/b/\0").is_err());
    }

    #[test]
    fn an_object_path_converts_like_its_string() {
        for text in [
            "/bkt/x",
            "/bkt/x/",
            "/bkt//lead",
            "/bkt/a//c/",
            "/bkt/./..",
            "/bkt//",
        ] {
            let object = ObjectPath::parse(text).unwrap();
            assert_eq!(
                DfsPath::from(&object),
                DfsPath::parse(text).unwrap(),
                "{text}"
            );
        }
    }

    #[test]
    fn serde_is_the_string_and_refuses_bad_paths() {
        let path = DfsPath::parse("/b/a//c/").unwrap();
        let json = serde_json::to_string(&path).unwrap();
        assert_eq!(json, r#""/b/a//c/""#);
        assert_eq!(serde_json::from_str::<DfsPath>(&json).unwrap(), path);
        assert!(serde_json::from_str::<DfsPath>(r#""relative""#).is_err());
        assert!(serde_json::from_str::<DfsPath>(r#""//x""#).is_err());
    }

    #[test]
    fn display_round_trips() {
        for text in ["/", "/b", "/b/x/", "/b/a//c", "/b/x//"] {
            assert_eq!(DfsPath::parse(text).unwrap().to_string(), text);
        }
    }
}
