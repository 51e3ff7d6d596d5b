//! The short forms of the benchmarks, so that CI notices when one stops running: each starts
//! its local cluster, does a little of every workload and prints its figures. What the figures
//! are is not checked (they measure, they do not pass or fail); that they are printed is.

use std::process::Command;

fn run(binary: &str, args: &[&str]) -> String {
    let out = Command::new(binary).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{binary} {args:?} failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_metadata_benchmark_runs() {
    let out = run(
        env!("CARGO_BIN_EXE_dfs-bench-meta"),
        &[
            "--objects",
            "300",
            "--at",
            "0,300",
            "--probe",
            "20",
            "--list-pages",
            "2",
            "--register-chunks",
            "25000",
        ],
    );
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with(char::is_numeric))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows[1].trim_start().starts_with("300 "), "{out}");
    assert!(
        out.contains("registration of a chunkd with 25000 chunk ids"),
        "{out}"
    );
}

#[test]
fn the_s3_benchmark_runs() {
    let out = run(
        env!("CARGO_BIN_EXE_dfs-bench"),
        &[
            "--small-count",
            "20",
            "--large-count",
            "1",
            "--large-size",
            "1MiB",
            "--list-passes",
            "1",
        ],
    );
    for workload in [
        "put-small",
        "get-small",
        "put-large",
        "get-large",
        "list",
        "delete",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(workload)),
            "{workload} missing:\n{out}"
        );
    }
}
