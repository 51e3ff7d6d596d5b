//! S3 administration through the real `dfs` binary: access keys and bucket grants.

use dfs_common::names::BucketName;
use dfs_common::wire::CreateBucketReq;
use dfs_testkit::{Cluster, ClusterOptions};

/// The value of `export NAME=VALUE` in `text`.
fn export_value(text: &str, name: &str) -> String {
    let prefix = format!("export {name}=");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
        .to_owned()
}

/// The line of `table` that mentions `needle`.
fn line_with<'a>(table: &'a str, needle: &str) -> &'a str {
    table
        .lines()
        .find(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle} in:\n{table}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_grants_through_the_cli() {
    let cluster = Cluster::start(ClusterOptions {
        chunkds: 1,
        replication: 1,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();

    assert!(cluster
        .dfs_ok(&["key", "list"])
        .starts_with("no access keys"));

    // create: export lines on stdout, the warning about the secret on stderr.
    let out = cluster.run_dfs(&["key", "create", "alice"]);
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);
    let alice = export_value(&out.stdout, "AWS_ACCESS_KEY_ID");
    let secret = export_value(&out.stdout, "AWS_SECRET_ACCESS_KEY");
    assert!(
        out.stderr.contains("only this once") && out.stderr.contains(&alice),
        "{}",
        out.stderr
    );
    let stored = cluster.client().keys().get(&alice).await.unwrap();
    assert_eq!(stored.secret.expose(), secret);
    let bob = export_value(
        &cluster.dfs_ok(&["key", "create", "bob"]),
        "AWS_ACCESS_KEY_ID",
    );

    let listed = cluster.dfs_ok(&["key", "list"]);
    assert!(listed.starts_with("KEY ID"), "{listed}");
    assert!(line_with(&listed, &alice).contains("alice"), "{listed}");
    assert!(
        line_with(&listed, &bob).trim_end().ends_with(" -"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "list never shows secrets");

    // Buckets: top-level directories, and one owned by a key.
    cluster.dfs_ok(&["mkdir", "/bk1"]);
    cluster.dfs_ok(&["mkdir", "/bk2"]);
    cluster
        .client()
        .buckets()
        .create(&CreateBucketReq {
            name: BucketName::new("bb3").unwrap(),
            owner_key: Some(bob.clone()),
        })
        .await
        .unwrap();
    let buckets = cluster.dfs_ok(&["bucket", "ls"]);
    assert!(buckets.starts_with("BUCKET"), "{buckets}");
    assert!(
        line_with(&buckets, "bk1 ").trim_end().ends_with(" -"),
        "{buckets}"
    );
    assert!(line_with(&buckets, "bb3 ").contains(&bob), "{buckets}");

    // allow / deny, with and without flags.
    assert_eq!(
        cluster.dfs_ok(&["bucket", "allow", "bk1", &alice]),
        format!("{alice}: bk1:rwo\n")
    );
    assert_eq!(
        cluster.dfs_ok(&["bucket", "allow", "--read", "bk2", &alice]),
        format!("{alice}: bk1:rwo bk2:r\n")
    );
    let listed = cluster.dfs_ok(&["key", "list"]);
    assert!(
        line_with(&listed, &alice).contains("bk1:rwo bk2:r"),
        "{listed}"
    );
    assert!(line_with(&listed, &bob).contains("bb3:rwo"), "{listed}");
    assert_eq!(
        cluster.dfs_ok(&["bucket", "deny", "--write", "bk1", &alice]),
        format!("{alice}: bk1:ro bk2:r\n")
    );
    assert_eq!(
        cluster.dfs_ok(&["bucket", "deny", "bk2", &alice]),
        format!("{alice}: bk1:ro\n")
    );

    // One clear line for what does not exist.
    assert_eq!(
        cluster.dfs_err(&["bucket", "allow", "nob", &alice]),
        "error: no such bucket: nob\n"
    );
    assert_eq!(
        cluster.dfs_err(&["bucket", "allow", "bk1", "DFSNOPE"]),
        "error: no such access key: DFSNOPE\n"
    );
    assert_eq!(
        cluster.dfs_err(&["bucket", "deny", "bk1", "DFSNOPE"]),
        "error: no such access key: DFSNOPE\n"
    );
    // Grants exist only on S3 buckets: a name S3 refuses is refused before metad is asked.
    assert_eq!(
        cluster.dfs_err(&["bucket", "allow", "b", &alice]),
        "error: not a bucket name: b (must be 3 to 63 characters long)\n"
    );
    assert_eq!(
        cluster.dfs_err(&["key", "delete", "DFSNOPE"]),
        "error: no such access key: DFSNOPE\n"
    );

    cluster.dfs_ok(&["key", "delete", &bob]);
    let listed = cluster.dfs_ok(&["key", "list"]);
    assert!(!listed.contains(&bob), "{listed}");
    assert!(listed.contains(&alice), "{listed}");
    // The bucket keeps its recorded owner.
    assert!(line_with(&cluster.dfs_ok(&["bucket", "ls"]), "bb3 ").contains(&bob));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shell_knows_the_key_and_bucket_commands() {
    let cluster = Cluster::start(ClusterOptions {
        chunkds: 1,
        replication: 1,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let script =
        "help\nhelp bucket allow\nkey create carol\nkey list\nmkdir /b\nbucket ls\nkey delete DFSNOPE\n";
    let out = cluster.run_dfs_with_input(&["shell"], Some(script));
    assert!(!out.success, "a command failed, so the script does");
    for text in [
        "key create NAME",
        "usage: bucket allow [FLAGS] BUCKET KEY_ID",
        "example: bucket allow --read",
        "export AWS_ACCESS_KEY_ID=DFS",
        "carol",
        "BUCKET",
    ] {
        assert!(out.stdout.contains(text), "{text}:\n{}", out.stdout);
    }
    assert!(
        out.stderr.contains("error: no such access key: DFSNOPE"),
        "{}",
        out.stderr
    );
}
