//! Helpers for daemon configuration: TOML files, sizes written like `8M`.

use serde::de::DeserializeOwned;
use std::path::Path;

/// Reads a TOML config file, or returns the defaults when `path` is `None`.
pub fn load_toml<T: DeserializeOwned + Default>(path: Option<&Path>) -> Result<T, String> {
    match path {
        None => Ok(T::default()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
            toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
        }
    }
}

/// Parses a size such as `8388608`, `64K`, `8M`, `1G` or `2T` (binary multiples).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, multiplier) = match text.char_indices().last() {
        Some((i, 'k' | 'K')) => (&text[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&text[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&text[..i], 1 << 30),
        Some((i, 't' | 'T')) => (&text[..i], 1 << 40),
        _ => (text, 1),
    };
    let number: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size (examples: 4096, 64K, 8M, 1G)"))?;
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("8M"), Ok(8 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
