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
