//! Wildcards in remote paths: `*`, `?` and `[...]`, as a POSIX shell matches them against a
//! directory's entries, for `ls`, `rm`, `get`, `cp` and `mv` (in the shell and the one-shot
//! command line alike; [`expand`] does the listing).
//!
//! A pattern is text where `*` matches any run of characters, `?` one character, and
//! `[abc]`, `[a-z]`, `[!a-z]` (or `[^a-z]`) one character of a set. A backslash before one of
//! `*?[]\` makes it literal; before anything else it is itself, so that a name with a
//! backslash needs no escaping from the one-shot command line. The shell turns quoted
//! wildcards into escaped ones ([`crate::tokenize::Word::pattern`]): `rm 'a*'` removes the
//! file named `a*`. As in POSIX, `*` and `?` do not match a leading `.`, and a component
//! without wildcards is taken as it is.

pub mod expand;

pub use expand::{expand, expand_all, Expansion};

/// Characters a backslash makes literal.
const SPECIAL: &[char] = &['*', '?', '[', ']', '\\'];

/// One element of a parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// This character.
    Char(char),
    /// `?`.
    One,
    /// `*`.
    Any,
    /// `[...]`: ranges (a single character is a range of one), negated or not.
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A parsed pattern for one path component (no `/` in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
}

impl Pattern {
    /// Parses `text`. A `[` without its `]` is a literal `[`, as in POSIX shells.
    pub fn new(text: &str) -> Pattern {
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' if chars.get(i + 1).is_some_and(|c| SPECIAL.contains(c)) => {
                    tokens.push(Token::Char(chars[i + 1]));
                    i += 2;
                    continue;
                }
                '*' => tokens.push(Token::Any),
                '?' => tokens.push(Token::One),
                '[' => match parse_set(&chars[i + 1..]) {
                    Some((set, used)) => {
                        tokens.push(set);
                        i += 1 + used;
                        continue;
                    }
                    None => tokens.push(Token::Char('[')),
                },
                c => tokens.push(Token::Char(c)),
            }
            i += 1;
        }
        Pattern { tokens }
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        // A leading dot is matched only by a literal dot (POSIX "hidden" files).
        if name.first() == Some(&'.') && !matches!(self.tokens.first(), Some(Token::Char('.'))) {
            return false;
        }
        match_from(&self.tokens, &name)
    }
}

/// Parses the inside of `[...]` (`chars` starts after the `[`): the set and how many
/// characters it used, `]` included; `None` when there is no closing `]`.
fn parse_set(chars: &[char]) -> Option<(Token, usize)> {
    let mut i = 0;
    let negated = matches!(chars.first(), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let mut c = *chars.get(i)?;
        // `]` right after `[` or `[!` is a member, not the end.
        if c == ']' && !first {
            return Some((Token::Set { negated, ranges }, i + 1));
        }
        first = false;
        if c == '\\' {
            i += 1;
            c = *chars.get(i)?;
        }
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&e| e != ']') {
            let mut end = chars[i + 2];
            i += 2;
            if end == '\\' {
                i += 1;
                end = *chars.get(i)?;
            }
            ranges.push((c, end));
        } else {
            ranges.push((c, c));
        }
        i += 1;
    }
}

/// Matches `tokens` against all of `name`. Backtracks only to the last `*`, which keeps
/// the work linear in practice (the classic wildcard algorithm).
fn match_from(tokens: &[Token], name: &[char]) -> bool {
    let (mut t, mut n) = (0, 0);
    // The last `*` seen and the name position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match tokens.get(t) {
            Some(Token::Any) => {
                star = Some((t, n));
                t += 1;
                continue;
            }
            Some(Token::One) => true,
            Some(Token::Char(c)) => *c == name[n],
            Some(Token::Set { negated, ranges }) => {
                ranges
                    .iter()
                    .any(|&(lo, hi)| lo <= name[n] && name[n] <= hi)
                    != *negated
            }
            None => false,
        };
        if step {
            t += 1;
            n += 1;
        } else if let Some((star_t, star_n)) = star {
            // Let the last `*` eat one more character and retry from there.
            t = star_t + 1;
            n = star_n + 1;
            star = Some((star_t, star_n + 1));
        } else {
            return false;
        }
    }
    tokens[t..].iter().all(|token| *token == Token::Any)
}

/// Whether `text` has a wildcard that is not escaped (a `[` only with its `]`).
pub fn has_wildcards(text: &str) -> bool {
    Pattern::new(text)
        .tokens
        .iter()
        .any(|token| !matches!(token, Token::Char(_)))
}

/// The literal name a pattern without wildcards stands for: escapes removed.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(next) if c == '\\' && SPECIAL.contains(next) => {
                out.push(*next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// `name` as a pattern that matches only itself.
pub fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
