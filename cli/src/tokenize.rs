//! Splits a shell line into words, the way a POSIX shell would for the cases that matter here:
//! white space separates words; `'single quotes'` keep everything literally; `"double
//! quotes"` keep everything but `\"` and `\\`; a backslash outside quotes escapes the next
//! character; `#` at the start of a word begins a comment.
//!
//! Hand-written rather than the `shlex` crate so that a bad line gets a precise message
//! ("unterminated ' quote") instead of a bare failure; it is small and fully tested.

/// One word of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word with quotes and escapes removed: what a command receives.
    pub text: String,
    /// The word as a wildcard pattern ([`crate::glob`]): wildcards typed bare stay
    /// wildcards, quoted or backslash-escaped ones (and backslashes) are escaped, so that
    /// `'a*'` names the file `a*` while `a*` matches.
    pub pattern: String,
    /// Byte offset in the line where the word starts (its opening quote, if any).
    pub start: usize,
    /// Byte offset just after its last character.
    pub end: usize,
}

impl Word {
    fn open(start: usize) -> Word {
        Word {
            text: String::new(),
            pattern: String::new(),
            start,
            end: start,
        }
    }

    /// Adds a character typed bare.
    fn bare(&mut self, c: char) {
        self.text.push(c);
        self.pattern.push(c);
    }

    /// Adds a quoted or escaped character: literal in the pattern too.
    fn quoted(&mut self, c: char) {
        self.text.push(c);
        self.pattern.push_str(&crate::glob::escape(&c.to_string()));
    }
}

/// The words of `line`, or why it cannot be split.
pub fn tokenize(line: &str) -> Result<Vec<String>, String> {
    Ok(words(line)?.into_iter().map(|w| w.text).collect())
}

/// The words of `line` with their patterns and offsets, or why it cannot be split.
pub fn words(line: &str) -> Result<Vec<Word>, String> {
    scan(line, false)
}

/// The words of a line being typed, up to the cursor: the finished words, and the word the
/// cursor is in (empty, starting at the end, after white space). An unterminated quote or a
/// trailing backslash is taken as typed so far, so completion works inside quotes.
pub fn partial(line: &str) -> (Vec<Word>, Word) {
    // Lenient scanning never fails.
    let mut words = scan(line, true).unwrap_or_default();
    match words.last() {
        Some(last) if last.end == line.len() => {
            let current = words.pop().unwrap_or_else(|| Word::open(line.len()));
            (words, current)
        }
        _ => (words, Word::open(line.len())),
    }
}

/// Splits `line`; `lenient` closes an unterminated quote or escape instead of failing.
fn scan(line: &str, lenient: bool) -> Result<Vec<Word>, String> {
    let mut words = Vec::new();
    // The open word: `""` is an empty word, distinct from no word at all.
    let mut word: Option<Word> = None;
    let mut chars = line.char_indices().peekable();
    let unterminated = |what: &str| -> Result<(), String> {
        if lenient {
            Ok(())
        } else {
            Err(what.to_owned())
        }
    };
    while let Some((at, c)) = chars.next() {
        if c.is_whitespace() {
            if let Some(mut done) = word.take() {
                done.end = at;
                words.push(done);
            }
            continue;
        }
        if c == '#' && word.is_none() {
            break;
        }
        let current = word.get_or_insert_with(|| Word::open(at));
        match c {
            '\'' => loop {
                match chars.next() {
                    Some((_, '\'')) => break,
                    Some((_, c)) => current.quoted(c),
                    None => {
                        unterminated("unterminated ' quote")?;
                        break;
                    }
                }
            },
            '"' => loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c @ ('"' | '\\'))) => current.quoted(c),
                        Some((_, c)) => {
                            current.quoted('\\');
                            current.quoted(c);
                        }
                        None => {
                            unterminated("unterminated \" quote")?;
                            current.quoted('\\');
                            break;
                        }
                    },
                    Some((_, c)) => current.quoted(c),
                    None => {
                        unterminated("unterminated \" quote")?;
                        break;
                    }
                }
            },
            '\\' => match chars.next() {
                Some((_, c)) => current.quoted(c),
                None => unterminated("the line ends with a lone backslash")?,
            },
            c => current.bare(c),
        }
        current.end = chars.peek().map(|(at, _)| *at).unwrap_or(line.len());
    }
    if let Some(mut done) = word {
        if done.end < done.start {
            done.end = line.len();
        }
        words.push(done);
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
    fn patterns_keep_only_bare_wildcards() {
        let w = words(r#"rm *.log 'a*' "b?" c\* [x] 'it''s' d\\e"#).unwrap();
        let patterns: Vec<&str> = w.iter().map(|w| w.pattern.as_str()).collect();
        assert_eq!(
            patterns,
            ["rm", "*.log", r"a\*", r"b\?", r"c\*", "[x]", "its", r"d\\e"]
        );
        assert_eq!(w[2].text, "a*");
        assert_eq!((w[1].start, w[1].end), (3, 8));
        assert_eq!((w[2].start, w[2].end), (9, 13));
    }

    #[test]
    fn partial_lines() {
        let (done, current) = partial("ls /pho");
        assert_eq!(done.len(), 1);
        assert_eq!((current.text.as_str(), current.start), ("/pho", 3));
        let (done, current) = partial("ls ");
        assert_eq!(done.len(), 1);
        assert_eq!((current.text.as_str(), current.start), ("", 3));
        let (_, current) = partial("get 'my fi");
        assert_eq!((current.text.as_str(), current.start), ("my fi", 4));
        let (_, current) = partial(r"get my\ fi");
        assert_eq!((current.text.as_str(), current.start), ("my fi", 4));
        let (_, current) = partial(r"get a\");
        assert_eq!(current.text, "a");
        let (done, current) = partial("");
        assert!(done.is_empty() && current.text.is_empty());
    }

    #[test]
    fn errors() {
        assert_eq!(tokenize("ls 'abc").unwrap_err(), "unterminated ' quote");
        assert_eq!(tokenize("ls \"abc").unwrap_err(), "unterminated \" quote");
        assert_eq!(tokenize("ls \"abc\\").unwrap_err(), "unterminated \" quote");
        assert!(tokenize("ls abc\\").is_err());
    }
}
