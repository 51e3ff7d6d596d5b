//! Splits a shell line into words, the way a POSIX shell would for the cases that matter here:
//! white space separates words; `'single quotes'` keep everything literally; `"double
//! quotes"` keep everything but `\"` and `\\`; a backslash outside quotes escapes the next
//! character; `#` at the start of a word begins a comment.
//!
//! Hand-written rather than the `shlex` crate so that a bad line gets a precise message
//! ("unterminated ' quote") instead of a bare failure; it is small and fully tested.

/// The words of `line`, or why it cannot be split.
pub fn tokenize(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // Whether a word is open: `""` is an empty word, distinct from no word at all.
    let mut open = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if open {
                    words.push(std::mem::take(&mut word));
                    open = false;
                }
            }
            '#' if !open => break,
            '\'' => {
                open = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                open = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated \" quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated \" quote".into()),
                    }
                }
            }
            '\\' => {
                open = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("the line ends with a lone backslash".into()),
                }
            }
            c => {
                open = true;
                word.push(c);
            }
        }
    }
    if open {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(line: &str) -> Vec<String> {
        tokenize(line).unwrap()
    }

    #[test]
    fn plain_words() {
        assert_eq!(t("ls -l /b"), ["ls", "-l", "/b"]);
        assert_eq!(t("  put   a\tb  "), ["put", "a", "b"]);
        assert!(t("").is_empty());
        assert!(t("   ").is_empty());
    }

    #[test]
    fn quotes() {
        assert_eq!(t("put 'my file.txt' /b/"), ["put", "my file.txt", "/b/"]);
        assert_eq!(t(r#"put "my file.txt" /b/"#), ["put", "my file.txt", "/b/"]);
        assert_eq!(t(r#"ls "a"'b'c"#), ["ls", "abc"]);
        assert_eq!(t(r#"ls '' """#), ["ls", "", ""]);
        assert_eq!(t(r#"ls 'it''s'"#), ["ls", "its"]);
        assert_eq!(t(r#"ls "say \"hi\" \\ \n""#), ["ls", r#"say "hi" \ \n"#]);
        assert_eq!(t(r"ls 'back\slash'"), ["ls", r"back\slash"]);
    }

    #[test]
    fn escapes() {
        assert_eq!(t(r"ls my\ file"), ["ls", "my file"]);
        assert_eq!(t(r"ls \'x\'"), ["ls", "'x'"]);
        assert_eq!(t(r"ls a\#b"), ["ls", "a#b"]);
    }

    #[test]
    fn comments() {
        assert_eq!(t("# a comment"), Vec::<String>::new());
        assert_eq!(t("ls /b # list it"), ["ls", "/b"]);
        assert_eq!(t("ls a#b"), ["ls", "a#b"]);
        assert_eq!(t("ls '#x'"), ["ls", "#x"]);
    }

    #[test]
    fn errors() {
        assert_eq!(tokenize("ls 'abc").unwrap_err(), "unterminated ' quote");
        assert_eq!(tokenize("ls \"abc").unwrap_err(), "unterminated \" quote");
        assert_eq!(tokenize("ls \"abc\\").unwrap_err(), "unterminated \" quote");
        assert!(tokenize("ls abc\\").is_err());
    }
}
