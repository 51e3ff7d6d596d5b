//! The interactive shell on a pseudo-terminal, typed at as a person would: Tab completion of
//! commands, subcommands, flags, remote directories and a remote name with a space; ftp
//! defaults (put and get without a destination, lcd, lpwd, cd -); wildcards in get and rm
//! (with the confirmation rm asks on a terminal); the mkdir hint; du and df; hints from
//! history and usage; a suggestion for an unknown command; and a Tab against a metad that
//! never answers.

mod tty;

use dfs_testkit::{test_bytes, Cluster, ClusterOptions};
use std::path::Path;
use tty::Terminal;

/// The shell on a terminal, in the local directory `local`, with a history of its own.
fn shell(cluster: &Cluster, local: &Path) -> Terminal {
    let mut command = cluster.dfs();
    command
        .arg("shell")
        .current_dir(local)
        .env("HOME", cluster.dir());
    Terminal::spawn(command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shell_completes_and_behaves_like_ftp_on_a_terminal() {
    let cluster = Cluster::start(ClusterOptions {
        chunkds: 2,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let client = cluster.client();
    let seed = cluster.dir().join("seed");
    let put = |size: usize, remote: &str| {
        std::fs::write(&seed, test_bytes(size, size as u64)).unwrap();
        cluster.dfs_ok(&["put", seed.to_str().unwrap(), remote]);
    };
    cluster.dfs_ok(&["mkdir", "-p", "/photos/2024"]);
    put(1000, "/photos/2024/holiday.jpg");
    put(10, "/photos/2024/a.log");
    put(20, "/photos/2024/b.log");
    put(30, "/photos/2024/keep.txt");
    put(700, "/photos/my trip.jpg");
    let local = cluster.dir().join("local");
    std::fs::create_dir_all(local.join("sub")).unwrap();
    std::fs::write(local.join("upload.bin"), test_bytes(300, 3)).unwrap();

    let mut term = shell(&cluster, &local);
    term.expect_prompt("dfs:/> ");

    // A command: `lpw` + Tab is `lpwd`, which prints the local directory.
    term.send("lpw\t\r");
    term.expect(&format!("{}\n", local.display()));
    term.expect_prompt("dfs:/> ");

    // Hints, in grey: the rest of an earlier line, and the arguments of a command.
    term.send("lp");
    term.expect_raw("\x1b[90mwd");
    term.send("\x15put ");
    term.expect_raw("\x1b[90m[--part-size SIZE] LOCAL [REMOTE]\x1b[0m");
    // Too few arguments: the usage, on one line.
    term.send("\r");
    term.expect("error: put: too few arguments (usage: put [--part-size SIZE] LOCAL [REMOTE])\n");
    term.expect_prompt("dfs:/> ");

    // A subcommand: `key cr` + Tab is `key create`.
    term.send("key cr\tci-key\r");
    term.expect("AWS_ACCESS_KEY_ID");
    term.expect_prompt("dfs:/> ");

    // A flag: `--pa` + Tab is `--parents`.
    term.send("mkdir --pa\t/photos/2025/x\r");
    term.expect_prompt("dfs:/> ");
    assert!(
        client.stat("/photos/2025/x").await.is_ok(),
        "{}",
        term.text()
    );

    // A remote directory: `/pho` + Tab is `/photos/`.
    term.send("cd /pho\t\r");
    term.expect_prompt("dfs:/photos> ");

    // A remote file whose name has a space, completed quoted; get without a destination
    // writes it into the local directory under its name.
    term.send("get my\t\r");
    term.expect_prompt("dfs:/photos> ");
    assert_eq!(
        std::fs::read(local.join("my trip.jpg")).unwrap(),
        test_bytes(700, 700),
        "{}",
        term.text()
    );

    // put without a destination, the local name completed: into the current directory.
    term.send("put upl\t\r");
    term.expect_prompt("dfs:/photos> ");
    let entry = client.stat("/photos/upload.bin").await.unwrap();
    assert_eq!(entry.size, 300);

    // lcd and lpwd; get writes into the new local directory.
    term.send("lcd sub\r");
    term.expect_prompt("dfs:/photos> ");
    term.send("lpwd\r");
    term.expect(&format!("{}\n", local.join("sub").display()));
    term.expect_prompt("dfs:/photos> ");

    // cd - goes back to the previous directory.
    term.send("cd 2024\r");
    term.expect_prompt("dfs:/photos/2024> ");
    term.send("cd -\r");
    term.expect_prompt("dfs:/photos> ");

    // A wildcard get: both logs, nothing else.
    term.send("get 2024/*.log\r");
    term.expect_prompt("dfs:/photos> ");
    assert_eq!(
        std::fs::read(local.join("sub/a.log")).unwrap(),
        test_bytes(10, 10)
    );
    assert_eq!(
        std::fs::read(local.join("sub/b.log")).unwrap(),
        test_bytes(20, 20)
    );
    assert!(!local.join("sub/keep.txt").exists());

    // A wildcard rm asks first on a terminal: "n" keeps them, "y" removes them.
    term.send("rm 2024/*.log\r");
    term.expect("rm: remove 2 entries (/photos/2024/a.log, /photos/2024/b.log)? [y/N]");
    term.send("n\r");
    term.expect("nothing removed");
    term.expect_prompt("dfs:/photos> ");
    assert_eq!(client.list_all("/photos/2024").await.unwrap().len(), 4);
    term.send("rm 2024/*.log\r");
    term.expect("[y/N]");
    term.send("y\r");
    term.expect_prompt("dfs:/photos> ");
    let left: Vec<String> = client
        .list_all("/photos/2024")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(left, ["holiday.jpg", "keep.txt"]);

    // mkdir without -p names the missing part and suggests -p, on one line.
    term.send("mkdir /albums/2024/summer\r");
    let said = term.expect("creates it too)");
    assert!(
        said.contains("error: cannot create /albums/2024/summer: /albums does not exist (mkdir -p /albums/2024/summer creates it too)"),
        "{said}"
    );
    term.expect_prompt("dfs:/photos> ");

    // du counts bytes and files below a path from metadata; df shows the cluster's space.
    term.send("du /photos\r");
    let total = 1000 + 30 + 700 + 300;
    term.expect(&format!("{total}\t4 objects\t/photos\n"));
    term.expect_prompt("dfs:/photos> ");
    term.send("du -h 2024\r");
    term.expect("1.0 KiB\t2 objects\t/photos/2024\n");
    term.expect_prompt("dfs:/photos> ");
    term.send("df\r");
    term.expect("SIZE");
    term.expect("USE%");
    term.expect("2 alive, 0 dead");
    term.expect_prompt("dfs:/photos> ");

    // An unknown command gets the command people mean.
    term.send("cat keep.txt\r");
    term.expect("unknown command: cat (did you mean `get FILE -`?");
    term.expect_prompt("dfs:/photos> ");

    term.send("exit\r");
    assert!(term.wait(), "the shell ends well on exit");
}

/// A metad that accepts connections and never answers: Tab on a remote path gives up and
/// the prompt takes the next command.
#[test]
fn tab_against_a_silent_metad_does_not_hang_the_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("cluster.secret");
    dfs_common::auth::ClusterSecret::load_or_create(&secret).unwrap();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    // Accept, keep and never answer.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dfs"));
    command
        .arg("shell")
        .env("DFS_METAD", addr.to_string())
        .env("DFS_SECRET_FILE", &secret)
        .env("HOME", dir.path())
        .current_dir(dir.path());
    let mut term = Terminal::spawn(command);
    term.expect_prompt("dfs:/> ");
    // Tab, then Ctrl-U drops the line, then a local command.
    term.send("cd /pho\t\x15lpwd\r");
    term.expect(&format!("{}\n", dir.path().display()));
    term.expect_prompt("dfs:/> ");
    term.send("exit\r");
    assert!(term.wait());
}
