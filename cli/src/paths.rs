//! Paths typed by a person, made absolute and normalised before they are sent.
//!
//! metad takes paths verbatim (S3 keys such as `a//b` or `a/../b` are distinct files), so the
//! CLI resolves what a person means first: relative to the current directory, `.` and `..`
//! resolved, `//` collapsed. A trailing `/` is kept: it asks for the directory when a file and
//! a directory share a name (`/b/a` and `/b/a/`).

use std::fmt;

/// A path that cannot be normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError(pub String);

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PathError {}

/// Resolves `input` against the absolute directory `cwd`. The result is absolute, has no
/// empty, `.` or `..` component, and ends in `/` only when `input` did (and is not the
/// root). `..` at the root stays at the root, as in a POSIX shell.
pub fn normalize(cwd: &str, input: &str) -> Result<String, PathError> {
    if input.is_empty() {
        return Err(PathError("empty path".into()));
    }
    if input.contains('\0') {
        return Err(PathError(format!(
            "path {input:?} contains a NUL character"
        )));
    }
    let mut parts: Vec<&str> = Vec::new();
    if !input.starts_with('/') {
        parts.extend(cwd.split('/').filter(|c| !c.is_empty()));
    }
    for component in input.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    if parts.is_empty() {
        return Ok("/".to_owned());
    }
    let mut path = format!("/{}", parts.join("/"));
    if input.ends_with('/') {
        path.push('/');
    }
    Ok(path)
}

/// `path` without its trailing `/` (the root stays `/`).
pub fn trim_slash(path: &str) -> &str {
    if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    }
}

/// `path` in directory form, ending in `/`.
pub fn dir_form(path: &str) -> String {
    if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    }
}

/// Joins a directory and a child name.
pub fn join(dir: &str, name: &str) -> String {
    format!("{}{name}", dir_form(dir))
}

/// The last component of a normalised path (`None` for the root).
pub fn file_name(path: &str) -> Option<&str> {
    let trimmed = trim_slash(path);
    match trimmed.rsplit_once('/') {
        Some((_, name)) if !name.is_empty() => Some(name),
        _ => None,
    }
}

/// The parent directory of a normalised path (the root's parent is the root).
pub fn parent(path: &str) -> &str {
    let trimmed = trim_slash(path);
    match trimmed.rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((parent, _)) => parent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(cwd: &str, input: &str) -> String {
        normalize(cwd, input).unwrap()
    }

    #[test]
    fn absolute_paths() {
        assert_eq!(n("/x", "/"), "/");
        assert_eq!(n("/x", "/b/c"), "/b/c");
        assert_eq!(n("/x", "//b///c"), "/b/c");
        assert_eq!(n("/x", "/b/./c/."), "/b/c");
        assert_eq!(n("/x", "/b/../c"), "/c");
    }

    #[test]
    fn relative_paths() {
        assert_eq!(n("/", "b"), "/b");
        assert_eq!(n("/x/y", "z"), "/x/y/z");
        assert_eq!(n("/x/y", "."), "/x/y");
        assert_eq!(n("/x/y", ".."), "/x");
        assert_eq!(n("/x/y", "../.."), "/");
        assert_eq!(n("/x/y", "../../../.."), "/");
        assert_eq!(n("/x/y", "./a//b/../c"), "/x/y/a/c");
        assert_eq!(n("/", ".."), "/");
    }

    #[test]
    fn trailing_slash_is_kept() {
        assert_eq!(n("/", "b/a/"), "/b/a/");
        assert_eq!(n("/b", "a//"), "/b/a/");
        assert_eq!(n("/b", "/"), "/");
        assert_eq!(n("/b/a", "../"), "/b/");
        // `.` and `..` without a slash do not add one.
        assert_eq!(n("/b/a", ".."), "/b");
    }

    #[test]
    fn refused() {
        assert!(normalize("/", "").is_err());
        assert!(normalize("/", "a\0b").is_err());
    }

    #[test]
    fn helpers() {
        assert_eq!(trim_slash("/b/a/"), "/b/a");
        assert_eq!(trim_slash("/"), "/");
        assert_eq!(dir_form("/b"), "/b/");
        assert_eq!(dir_form("/"), "/");
        assert_eq!(join("/", "b"), "/b");
        assert_eq!(join("/b", "x"), "/b/x");
        assert_eq!(join("/b/", "x"), "/b/x");
        assert_eq!(file_name("/b/x"), Some("x"));
        assert_eq!(file_name("/b/x/"), Some("x"));
        assert_eq!(file_name("/"), None);
        assert_eq!(parent("/b/x"), "/b");
        assert_eq!(parent("/b"), "/");
        assert_eq!(parent("/"), "/");
    }
}
