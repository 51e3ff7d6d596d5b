use super::*;

fn shell_in(runtime: &Runtime) -> Shell<'_> {
    let settings = Settings {
        metad: "127.0.0.1:1".into(),
        secret_file: None,
    };
    Shell::new(runtime, Context::new(settings, false))
}

#[test]
fn builtins_need_no_cluster() {
    let runtime = Runtime::new().unwrap();
    let mut shell = shell_in(&runtime);
    assert_eq!(shell.execute("").unwrap(), Flow::Continue);
    assert_eq!(shell.execute("   # a comment").unwrap(), Flow::Continue);
    assert_eq!(shell.execute("help").unwrap(), Flow::Continue);
    assert_eq!(shell.execute("help ls").unwrap(), Flow::Continue);
    assert_eq!(shell.execute("help key create").unwrap(), Flow::Continue);
    assert_eq!(shell.execute("help uploads").unwrap(), Flow::Continue);
    assert_eq!(shell.execute("pwd").unwrap(), Flow::Continue);
    assert_eq!(shell.execute("cd").unwrap(), Flow::Continue);
    assert_eq!(shell.cwd(), "/");
    assert_eq!(shell.execute("cd /..").unwrap(), Flow::Continue);
    assert_eq!(shell.execute("exit").unwrap(), Flow::Exit);
    assert_eq!(shell.execute("quit").unwrap(), Flow::Exit);
}

#[test]
fn bad_lines_are_one_line_errors() {
    let runtime = Runtime::new().unwrap();
    let mut shell = shell_in(&runtime);
    for line in [
        "frobnicate",
        "help frobnicate",
        "help key frobnicate",
        "key",
        "key create",
        "bucket allow b1",
        "uploads",
        "uploads ls",
        "uploads abort b1 k",
        "ls 'unterminated",
        "mkdir",
        "ls -z",
        "pwd extra",
        "dev",
        "shell",
    ] {
        let err = shell.execute(line).unwrap_err();
        let text = err.line();
        assert!(!text.is_empty() && !text.contains('\n'), "{line}: {text}");
    }
    let err = shell.execute("mkdir").unwrap_err().line();
    assert_eq!(err, "mkdir: too few arguments (usage: mkdir [-p] PATH)");
    let err = shell.execute("key create").unwrap_err().line();
    assert!(err.ends_with("(usage: key create NAME)"), "{err}");
    let err = shell.execute("cat /b/x").unwrap_err().line();
    assert!(err.contains("did you mean `get FILE -`?"), "{err}");
    let err = shell.execute("cd -").unwrap_err().line();
    assert!(err.contains("no previous directory"), "{err}");
    let err = shell.execute("ls -z").unwrap_err().line();
    assert!(err.contains("help ls"), "{err}");
}

#[test]
fn scripts_stop_at_exit_and_report_failures() {
    let runtime = Runtime::new().unwrap();
    let mut shell = shell_in(&runtime);
    assert!(!shell.scripted("pwd\nhelp\n".as_bytes()));
    assert!(shell.scripted("pwd\nfrobnicate\npwd\n".as_bytes()));
    // Nothing after exit runs, so the bad line is never seen.
    assert!(!shell.scripted("exit\nfrobnicate\n".as_bytes()));
}

#[test]
fn show_distinguishes_commands_from_paths() {
    assert!(runs_before_show("mkdir"));
    assert!(runs_before_show("cd"));
    assert!(!runs_before_show("/b"));
    assert!(!runs_before_show("exit"));
}

#[test]
fn remote_words_of_globbing_commands_reach_clap_as_patterns() {
    let clap = |line: &str| clap_words(&words(line).unwrap());
    assert_eq!(clap("rm -f 'a*' b*"), ["rm", "-f", r"a\*", "b*"]);
    assert_eq!(clap("get 'x?' '[1].txt'"), ["get", r"x\?", "[1].txt"]);
    assert_eq!(clap("get 'x?' 'my?'"), ["get", r"x\?", "my?"]);
    assert_eq!(clap("ls -- -odd*"), ["ls", "--", "-odd*"]);
    assert_eq!(clap("put 'a*' /b/"), ["put", "a*", "/b/"]);
    assert_eq!(clap("mv 'a b' c"), ["mv", "a b", "c"]);
}
