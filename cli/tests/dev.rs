//! `dfs dev`: the whole cluster with the S3 gateway in one process, its export lines, and what
//! it remembers between starts (ports, the `dev` access key).
#![cfg(feature = "dev")]

use dfs_testkit::http_status;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The names `dfs dev` exports, in order.
const EXPORTS: [&str; 6] = [
    "DFS_METAD",
    "DFS_SECRET_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
];

/// Starts `dfs dev --data DATA ARGS...` and returns it with its export lines (NAME, VALUE),
/// read once it has printed them all (it is then serving).
fn start_dev(data: &Path, args: &[&str]) -> (Child, Vec<(String, String)>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dfs"))
        .arg("dev")
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("DFS_METAD")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let exports: Vec<(String, String)> = stdout
        .lines()
        .take(EXPORTS.len())
        .map(|line| {
            let line = line.unwrap();
            let (name, value) = line
                .strip_prefix("export ")
                .and_then(|rest| rest.split_once('='))
                .unwrap_or_else(|| panic!("not an export line: {line:?}"));
            (name.to_owned(), value.to_owned())
        })
        .collect();
    let names: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, EXPORTS);
    (child, exports)
}

fn value<'a>(exports: &'a [(String, String)], name: &str) -> &'a str {
    &exports.iter().find(|(n, _)| n == name).unwrap().1
}

/// Sends SIGTERM to the `dfs dev` this test started and waits (at most a minute) for it.
fn stop(mut child: Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "dfs dev ended with {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dfs dev did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_runs_the_gateway_and_keeps_its_key_and_ports() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (child, first) = start_dev(&data, &["--chunkds", "1"]);
    let endpoint = value(&first, "AWS_ENDPOINT_URL").to_owned();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    assert_eq!(value(&first, "AWS_DEFAULT_REGION"), "us-east-1");
    assert!(value(&first, "AWS_ACCESS_KEY_ID").starts_with("DFS"));
    let secret_file = Path::new(value(&first, "DFS_SECRET_FILE"));
    assert!(secret_file.is_absolute() && secret_file.exists());

    // The key is kept privately; the admin port is remembered and serves health probes.
    let key_file = data.join("s3-key.json");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("dev.json")).unwrap()).unwrap();
    let admin_port = state["s3_admin_port"].as_u64().unwrap();
    assert_eq!(
        http_status(&format!("127.0.0.1:{admin_port}"), "/health/ready").await,
        Some(200)
    );
    assert_eq!(
        state["s3_port"]
            .as_u64()
            .map(|p| format!("http://127.0.0.1:{p}")),
        Some(endpoint)
    );
    stop(child);

    // A second start reuses the ports and the key: the exports stay valid.
    let (child, second) = start_dev(&data, &["--chunkds", "1"]);
    assert_eq!(first, second);
    stop(child);

    // A cluster that lost its metadata no longer knows the key: a new one is made.
    std::fs::remove_dir_all(data.join("metad")).unwrap();
    let (child, third) = start_dev(&data, &["--chunkds", "1"]);
    assert_ne!(
        value(&third, "AWS_ACCESS_KEY_ID"),
        value(&first, "AWS_ACCESS_KEY_ID")
    );
    stop(child);
}

/// Runs `dfs` against the cluster that `exports` describe; its standard output, or a panic
/// with its standard error.
fn dfs(exports: &[(String, String)], args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dfs"))
        .args(args)
        .env("DFS_METAD", value(exports, "DFS_METAD"))
        .env("DFS_SECRET_FILE", value(exports, "DFS_SECRET_FILE"))
        .env_remove("DFS_SECRET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dfs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `dfs dev --data DATA ARGS...` expecting it to refuse; its standard error. Killed (it
/// is this test's child) and failed if it is still running after a minute.
fn dev_refused(data: &Path, args: &[&str]) -> String {
    let stderr_file = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dfs"))
        .arg("dev")
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("DFS_METAD")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr_file.reopen().unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dfs dev {args:?} ran instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(stderr_file.path()).unwrap();
    assert!(!status.success(), "dfs dev {args:?} succeeded: {stderr}");
    stderr
}

/// The rows of the METAD table of `dfs status`.
fn metad_rows(status: &str) -> Vec<String> {
    status
        .lines()
        .skip_while(|l| !l.starts_with("METAD"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_runs_a_group_of_three_metads_and_restarts_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--chunkds", "1", "--metads", "3"];
    let (child, first) = start_dev(&data, &args);
    let list = value(&first, "DFS_METAD").to_owned();
    let members: Vec<&str> = list.split(',').collect();
    assert_eq!(members.len(), 3, "DFS_METAD={list}");
    for name in ["metad", "metad-2", "metad-3"] {
        assert!(data.join(name).is_dir(), "no {name} folder");
    }

    // A file written and read through the exported list.
    let local = dir.path().join("hello.txt");
    std::fs::write(&local, b"three members, one namespace").unwrap();
    dfs(&first, &["mkdir", "/grp"]);
    dfs(&first, &["put", local.to_str().unwrap(), "/grp/hello.txt"]);
    assert_eq!(
        dfs(&first, &["get", "/grp/hello.txt", "-"]),
        "three members, one namespace"
    );

    // `dfs status` shows the three members, exactly one leading.
    let status = dfs(&first, &["status"]);
    let rows = metad_rows(&status);
    assert_eq!(rows.len(), 3, "{status}");
    for addr in &members {
        assert!(rows.iter().any(|r| r.contains(addr)), "{addr}: {status}");
    }
    let leaders = rows.iter().filter(|r| r.contains(" leader ")).count();
    assert_eq!(leaders, 1, "{status}");
    stop(child);

    // A group of three is not run as a single metad.
    let refused = dev_refused(&data, &["--chunkds", "1"]);
    assert!(refused.contains("start it with --metads 3"), "{refused}");

    // The group restarts on its ports, so the exports stay valid, and the file is there.
    let (child, second) = start_dev(&data, &args);
    assert_eq!(first, second);
    assert_eq!(
        dfs(&second, &["get", "/grp/hello.txt", "-"]),
        "three members, one namespace"
    );
    stop(child);
}

#[test]
fn dev_refuses_a_single_metads_folder_as_a_group() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (child, _) = start_dev(&data, &["--chunkds", "1"]);
    stop(child);
    let refused = dev_refused(&data, &["--chunkds", "1", "--metads", "3"]);
    let lines: Vec<&str> = refused.lines().collect();
    assert_eq!(lines.len(), 1, "{refused}");
    assert!(
        lines[0].contains("holds a single metad's data"),
        "{refused}"
    );
    assert!(
        lines[0].contains("use a fresh --data folder") && lines[0].contains("without --metads"),
        "{refused}"
    );
    // Nothing of a group was made beside it.
    assert!(!data.join("metad-2").exists());
}
