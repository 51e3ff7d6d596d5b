use super::*;

fn m(pattern: &str, name: &str) -> bool {
    Pattern::new(pattern).matches(name)
}

#[test]
fn stars_and_question_marks() {
    assert!(m("*", "anything"));
    assert!(m("*.log", "a.log"));
    assert!(!m("*.log", ".log.log"), "a leading dot needs a literal dot");
    assert!(m(".*", ".hidden"));
    assert!(!m("*.log", "a.log.gz"));
    assert!(m("a*b*c", "aXXbYYc"));
    assert!(m("a*b*c", "abc"));
    assert!(!m("a*b*c", "acb"));
    assert!(m("*a*", "banana"));
    assert!(m("?.txt", "1.txt"));
    assert!(!m("?.txt", "12.txt"));
    assert!(m("**", ""));
    assert!(m("photo ?.jpg", "photo 1.jpg"));
    assert!(m("é*", "été"), "characters, not bytes");
}

#[test]
fn sets() {
    assert!(m("[abc].txt", "b.txt"));
    assert!(!m("[abc].txt", "d.txt"));
    assert!(m("f[0-9][0-9]", "f42"));
    assert!(!m("f[0-9]", "fx"));
    assert!(m("[!0-9]x", "ax"));
    assert!(m("[^0-9]x", "ax"));
    assert!(!m("[!0-9]x", "1x"));
    assert!(m("[]]", "]"), "] first is a member");
    assert!(m("[a-]", "-"), "- last is a member");
    // An unclosed [ is literal.
    assert!(m("a[b", "a[b"));
    assert!(!has_wildcards("a[b"));
}

#[test]
fn escapes_make_wildcards_literal() {
    assert!(m(r"a\*", "a*"));
    assert!(!m(r"a\*", "ab"));
    assert!(m(r"\[x\]", "[x]"));
    assert!(!has_wildcards(r"a\*b\?"));
    assert!(has_wildcards(r"a\*b?"));
    assert!(has_wildcards("[ab]"));
    assert!(!has_wildcards("plain name.txt"));
    assert_eq!(unescape(r"a\*b\\c\d"), r"a*b\c\d");
    for name in ["a*b", r"back\slash", "[1]", "q?", "plain"] {
        let pattern = escape(name);
        assert!(!has_wildcards(&pattern), "{pattern}");
        assert_eq!(unescape(&pattern), name);
        assert!(m(&pattern, name), "{pattern}");
    }
}
