//! The interactive shell, driven through piped standard input.

use dfs_testkit::{Cluster, ClusterOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shell_runs_a_scripted_session() {
    let cluster = Cluster::start(ClusterOptions {
        chunkds: 2,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let script = "help\nhelp mkdir\nshow mkdir /x\nmkdir sub\ncd /x\npwd\nls /nowhere\nmkdir sub\nls\ncd sub\npwd\nexit\nls /should-not-run\n";
    let out = cluster.run_dfs_with_input(&["shell"], Some(script));
    let stdout = out.stdout;
    for command in [
        "put", "get", "ls", "mkdir", "rm", "mv", "cp", "stat", "show", "status", "cd", "pwd",
    ] {
        assert!(stdout.contains(command), "help lists {command}:\n{stdout}");
    }
    assert!(
        stdout.contains("mkdir [-p]") || stdout.to_lowercase().contains("usage: mkdir"),
        "help mkdir:\n{stdout}"
    );
    assert!(
        stdout.contains("x/"),
        "show prints the tree with the new directory:\n{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.trim() == "/x"),
        "pwd after cd /x:\n{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.trim() == "/x/sub"),
        "pwd after cd sub:\n{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.trim_end() == "sub/"),
        "ls in /x:\n{stdout}"
    );
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    // `mkdir sub` at the root makes a bucket; the second `ls /nowhere` fails; nothing after exit runs.
    assert_eq!(errors.len(), 1, "exactly one error line:\n{}", out.stderr);
    assert!(
        errors[0].contains("no such file or directory"),
        "{}",
        errors[0]
    );
    assert!(
        !out.stderr.contains("should-not-run"),
        "commands after exit ran"
    );
    assert!(
        !out.success,
        "a failed command makes the exit status non-zero"
    );
}
