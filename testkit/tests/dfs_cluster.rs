//! The `dfs-cluster` binary keeps its contract with the S3 conformance suite: the export
//! lines, then `ready`; it stops when its standard input closes or on SIGTERM, and leaves no
//! daemon listening or running behind.

use dfs_client::DfsClient;
use dfs_common::auth::ClusterSecret;
use dfs_common::wire::MetadRole;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The names `dfs-cluster` exports, in order.
const CONTRACT: [&str; 9] = [
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "DFS_METAD",
    "DFS_SECRET_FILE",
    "DFS_GATEWAY_PID",
    "DFS_GATEWAY_ADMIN",
    "DFS_CHUNKDS",
];

/// A started `dfs-cluster` and what it printed up to `ready`.
struct Started {
    child: Child,
    /// Closing it stops the cluster.
    stdin: Option<ChildStdin>,
    exports: Vec<(String, String)>,
    stderr_file: tempfile::NamedTempFile,
}

impl Started {
    fn get(&self, name: &str) -> &str {
        &self
            .exports
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .1
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_file.path()).unwrap_or_default()
    }
}

/// Starts `dfs-cluster` with two chunkds and reads its standard output up to `ready`.
fn start() -> Started {
    start_with(&["--chunkds", "2", "--replication", "1"])
}

/// Starts `dfs-cluster ARGS...` and reads its standard output up to `ready`.
fn start_with(args: &[&str]) -> Started {
    let stderr_file = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dfs-cluster"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr_file.reopen().unwrap())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    // dfs-cluster gives up by itself if the cluster does not come up, so this ends.
    for line in stdout.lines() {
        let line = line.unwrap();
        if line == "ready" {
            break;
        }
        lines.push(line);
    }
    let stderr = std::fs::read_to_string(stderr_file.path()).unwrap_or_default();
    let exports: Vec<(String, String)> = lines
        .iter()
        .map(|line| {
            let (name, value) = line
                .strip_prefix("export ")
                .and_then(|rest| rest.split_once('='))
                .unwrap_or_else(|| panic!("not an export line: {line:?}\n{stderr}"));
            (name.to_owned(), value.to_owned())
        })
        .collect();
    let names: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        CONTRACT,
        "stdout:\n{}\nstderr:\n{stderr}",
        lines.join("\n")
    );
    Started {
        child,
        stdin: Some(stdin),
        exports,
        stderr_file,
    }
}

/// Waits for the process to end; kills it and fails after a minute.
fn wait_exit(child: &mut Child, stderr: impl Fn() -> String) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("dfs-cluster did not stop:\n{}", stderr());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn listening(addr: &str) -> bool {
    TcpStream::connect(addr).is_ok()
}

/// The command name of process `pid` (`/proc/PID/comm`), `None` when no such process runs.
fn process_name(pid: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|name| name.trim_end().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_the_contract_and_stops_when_stdin_closes() {
    let mut started = start();
    let endpoint = started.get("AWS_ENDPOINT_URL").to_owned();
    let gateway = endpoint
        .strip_prefix("http://127.0.0.1:")
        .map(|port| format!("127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("endpoint {endpoint}"));
    assert_eq!(started.get("AWS_DEFAULT_REGION"), "us-east-1");
    assert!(started.get("AWS_ACCESS_KEY_ID").starts_with("DFS"));
    assert!(!started.get("AWS_SECRET_ACCESS_KEY").is_empty());
    let metad = started.get("DFS_METAD").to_owned();
    let secret_file = Path::new(started.get("DFS_SECRET_FILE")).to_owned();
    assert!(secret_file.is_absolute() && secret_file.exists());
    // The exported PID is the gateway's, a child of dfs-cluster, with a readable peak RSS.
    let gateway_pid = started.get("DFS_GATEWAY_PID").to_owned();
    assert!(gateway_pid.parse::<u32>().is_ok(), "pid {gateway_pid:?}");
    assert_eq!(process_name(&gateway_pid).as_deref(), Some("gateway"));
    let status_file = std::fs::read_to_string(format!("/proc/{gateway_pid}/status")).unwrap();
    assert!(status_file.contains(&format!("PPid:\t{}\n", started.child.id())));
    assert!(status_file.contains("VmHWM:"), "{status_file}");

    // Every daemon listens, and the exported secret opens metad.
    let secret = ClusterSecret::from_file(&secret_file).unwrap();
    let status = DfsClient::new(metad.clone(), secret)
        .status()
        .await
        .unwrap();
    let mut addrs: Vec<String> = status.nodes.iter().map(|n| n.addr.clone()).collect();
    assert_eq!(addrs.len(), 2);
    addrs.push(metad);
    addrs.push(gateway);
    for addr in &addrs {
        assert!(listening(addr), "{addr} should listen");
    }

    drop(started.stdin.take());
    let status = wait_exit(&mut started.child, || {
        std::fs::read_to_string(started.stderr_file.path()).unwrap_or_default()
    });
    assert!(status.success(), "{status}: {}", started.stderr());
    for addr in &addrs {
        assert!(!listening(addr), "{addr} still listens after the stop");
    }
    assert_ne!(
        process_name(&gateway_pid).as_deref(),
        Some("gateway"),
        "the gateway ({gateway_pid}) still runs after the stop"
    );
    assert!(
        !secret_file.exists(),
        "the cluster's folder is removed: {}",
        secret_file.display()
    );
    assert!(started.stderr().contains("standard input closed"));
}

#[test]
fn stops_on_sigterm() {
    let mut started = start();
    let metad = started.get("DFS_METAD").to_owned();
    assert!(listening(&metad));
    // `kill` on the PID of the process this test started, nothing else.
    let sent = Command::new("kill")
        .args(["-TERM", &started.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = wait_exit(&mut started.child, || {
        std::fs::read_to_string(started.stderr_file.path()).unwrap_or_default()
    });
    assert!(status.success(), "{status}: {}", started.stderr());
    assert!(!listening(&metad));
    assert!(started.stderr().contains("SIGTERM"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metads_3_exports_every_member() {
    let mut started = start_with(&["--chunkds", "1", "--replication", "1", "--metads", "3"]);
    let list = started.get("DFS_METAD").to_owned();
    let members: Vec<&str> = list.split(',').collect();
    assert_eq!(members.len(), 3, "DFS_METAD={list}");
    for addr in &members {
        assert!(
            addr.starts_with("127.0.0.1:") && listening(addr),
            "{addr} should listen"
        );
    }
    // The list, as exported, reaches the group; it reports those three members, one leading.
    let secret = ClusterSecret::from_file(Path::new(started.get("DFS_SECRET_FILE"))).unwrap();
    let status = DfsClient::new(list.clone(), secret).status().await.unwrap();
    let mut reported: Vec<&str> = status.metad.iter().map(|m| m.addr.as_str()).collect();
    reported.sort_unstable();
    let mut exported = members.clone();
    exported.sort_unstable();
    assert_eq!(reported, exported, "{:?}", status.metad);
    let leaders = status
        .metad
        .iter()
        .filter(|m| m.role == MetadRole::Leader)
        .count();
    assert_eq!(leaders, 1, "{:?}", status.metad);

    drop(started.stdin.take());
    let status = wait_exit(&mut started.child, || {
        std::fs::read_to_string(started.stderr_file.path()).unwrap_or_default()
    });
    assert!(status.success(), "{status}: {}", started.stderr());
    for addr in &members {
        assert!(!listening(addr), "{addr} still listens after the stop");
    }
}
