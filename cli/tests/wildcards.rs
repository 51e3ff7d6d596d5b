//! Wildcards in remote arguments, from the one-shot command line and from a scripted shell:
//! expanded against directory listings, quoted names literal in the shell, several sources
//! for cp and mv, rm -f of a pattern matching nothing; one-shot du; the one-shot unknown
//! command suggestion.

use dfs_testkit::{Cluster, ClusterOptions};

fn names(listing: &str) -> Vec<&str> {
    listing.lines().map(str::trim_end).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcards_expand_in_one_shot_commands_and_the_shell() {
    let cluster = Cluster::start(ClusterOptions {
        chunkds: 2,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let seed = cluster.dir().join("seed");
    std::fs::write(&seed, b"12345").unwrap();
    let seed = seed.to_str().unwrap();
    cluster.dfs_ok(&["mkdir", "-p", "/b/logs/old"]);
    for name in ["a.log", "b.log", "c.txt", "star*", "starlight", "[1].txt"] {
        cluster.dfs_ok(&["put", seed, &format!("/b/logs/{name}")]);
    }

    // One-shot: the pattern reaches dfs unexpanded (no local shell here) and dfs expands it.
    assert_eq!(
        names(&cluster.dfs_ok(&["ls", "/b/logs/*.log"])),
        ["a.log", "b.log"]
    );
    assert_eq!(names(&cluster.dfs_ok(&["ls", "/b/logs/?.txt"])), ["c.txt"]);
    assert_eq!(
        names(&cluster.dfs_ok(&["ls", "/b/*/[a-b].log"])),
        ["a.log", "b.log"]
    );
    // A plain name below a wildcard: only where it exists.
    assert_eq!(names(&cluster.dfs_ok(&["ls", "/b/*/c.txt"])), ["c.txt"]);
    let err = cluster.dfs_err(&["ls", "/b/*/nope.txt"]);
    assert_eq!(err.trim(), "error: nothing matches /b/*/nope.txt");
    // One directory matched: its entries, as `ls` of it would list them.
    assert_eq!(
        names(&cluster.dfs_ok(&["ls", "/b/*"])),
        [
            "[1].txt",
            "a.log",
            "b.log",
            "c.txt",
            "old/",
            "star*",
            "starlight"
        ]
    );
    // A name with brackets that matches nothing as a pattern is taken literally.
    assert_eq!(
        names(&cluster.dfs_ok(&["ls", "/b/logs/[1].txt"])),
        ["[1].txt"]
    );
    let err = cluster.dfs_err(&["ls", "/b/logs/*.gz"]);
    assert_eq!(err.trim(), "error: nothing matches /b/logs/*.gz");

    // cp and mv take several sources into a directory.
    cluster.dfs_ok(&["cp", "/b/logs/*.log", "/b/logs/old"]);
    assert_eq!(
        names(&cluster.dfs_ok(&["ls", "/b/logs/old"])),
        ["a.log", "b.log"]
    );
    let err = cluster.dfs_err(&["cp", "/b/logs/*.log", "/b/logs/c.txt"]);
    assert!(err.contains("must be a directory"), "{err}");
    cluster.dfs_ok(&["mkdir", "/b/moved"]);
    cluster.dfs_ok(&["mv", "/b/logs/old/*", "/b/moved/"]);
    assert_eq!(
        names(&cluster.dfs_ok(&["ls", "/b/moved"])),
        ["a.log", "b.log"]
    );
    assert!(cluster.dfs_ok(&["ls", "/b/logs/old"]).is_empty());

    // du counts what is below, from the one-shot command line too.
    assert_eq!(
        cluster.dfs_ok(&["du", "/b/moved"]),
        "10\t2 objects\t/b/moved\n"
    );

    // The shell: a quoted wildcard is literal, a bare one matches; rm -f of a pattern
    // matching nothing is no error. Standard input is no terminal, so rm does not ask.
    let out = cluster.run_dfs_with_input(
        &["shell"],
        Some("cd /b/logs\nrm 'star*'\nls star*\nrm -f *.gz\nrm *.log\nls\n"),
    );
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        names(&out.stdout),
        ["starlight", "[1].txt", "c.txt", "old/", "starlight"]
    );

    // put without a destination from the one-shot command line (always at /) says what to do.
    let err = cluster.dfs_err(&["put", seed]);
    assert!(err.contains("name where to put it"), "{err}");

    // An unknown one-shot command gets the same suggestion as in the shell, on one line.
    let err = cluster.dfs_err(&["cat", "/b/logs/c.txt"]);
    assert_eq!(
        err.trim(),
        "error: unknown command: cat (did you mean `get FILE -`? help lists the commands)"
    );
}
