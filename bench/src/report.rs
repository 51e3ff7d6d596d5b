//! What the benchmark prints and writes: the machine and cluster measured, a table per
//! workload, a one-line summary per workload, and the same figures as JSON.

use crate::workloads::{Outcome, Workload};
use dfs_bench::machine::Machine;
use dfs_bench::stats::{fmt_duration, fmt_size, mib_per_sec, per_sec, Latency};
use serde_json::{json, Value};
use std::time::Duration;

/// The shape of the local cluster the benchmark started.
#[derive(Debug, Clone)]
pub struct ClusterShape {
    /// Number of chunkds.
    pub chunkds: usize,
    /// Replication factor.
    pub replication: u32,
    /// Chunk size, bytes.
    pub chunk_size: u64,
    /// Where the daemons keep their data (the disk measured).
    pub data_dir: String,
}

impl ClusterShape {
    /// `3 chunkds, replication 2, 8 MiB chunks, data in /tmp/dfs-test-x`.
    pub fn describe(&self) -> String {
        format!(
            "local cluster: 1 metad, {} chunkds, replication {}, {} chunks, 1 gateway; data in {}",
            self.chunkds,
            self.replication,
            fmt_size(self.chunk_size),
            self.data_dir
        )
    }
}

fn what(outcome: &Outcome) -> String {
    match outcome.workload {
        Workload::List => format!("{} passes", outcome.planned),
        Workload::Delete => format!("{} objects", outcome.planned),
        _ => format!("{} x {}", outcome.planned, fmt_size(outcome.object_size)),
    }
}

fn ops_name(workload: Workload) -> &'static str {
    match workload {
        Workload::List => "pages",
        _ => "ops",
    }
}

fn latency_line(l: &Latency) -> String {
    format!(
        "min {}  p50 {}  p90 {}  p99 {}  max {}  mean {}",
        fmt_duration(l.min),
        fmt_duration(l.p50),
        fmt_duration(l.p90),
        fmt_duration(l.p99),
        fmt_duration(l.max),
        fmt_duration(l.mean)
    )
}

/// The table of one workload, as printed when it ends.
pub fn table(o: &Outcome) -> String {
    let mut rows: Vec<(&str, String)> = Vec::new();
    let unit = ops_name(o.workload);
    let requests = match o.workload {
        Workload::List => format!("{} pages ok ({} keys), {} failed", o.ok, o.keys, o.failed),
        _ => format!("{} ok, {} failed", o.ok, o.failed),
    };
    rows.push(("requests", requests));
    let mut elapsed = format!("{:.3} s", o.elapsed.as_secs_f64());
    if o.cut_short {
        elapsed.push_str(" (stopped by --duration-secs)");
    }
    rows.push(("elapsed", elapsed));
    let mut rate = format!("{:.1} {unit}/s", per_sec(o.ok as f64, o.elapsed));
    if o.bytes > 0 {
        rate = format!("{:.1} MiB/s, {rate}", mib_per_sec(o.bytes, o.elapsed));
    }
    if o.workload == Workload::List {
        rate.push_str(&format!(
            ", {:.0} keys/s",
            per_sec(o.keys as f64, o.elapsed)
        ));
    }
    rows.push(("throughput", rate));
    if o.ok > 0 {
        rows.push(("latency", latency_line(&o.latency)));
    }
    for check in &o.checks {
        rows.push(("checked", check.clone()));
    }
    for error in &o.errors {
        rows.push(("error", error.clone()));
    }
    let mut out = format!(
        "{}  {}, concurrency {}\n",
        o.workload,
        what(o),
        o.concurrency
    );
    for (name, value) in rows {
        out.push_str(&format!("  {name:<11} {value}\n"));
    }
    out
}

/// The one-line summary of a workload:
/// `put-large  8 x 64 MiB  c=4  412.3 MiB/s  6.4 ops/s  p50 580 ms  p99 700 ms`.
pub fn summary_line(o: &Outcome) -> String {
    let mut line = format!(
        "{:<10} {:<14} c={:<3}",
        o.workload.name(),
        what(o),
        o.concurrency
    );
    if o.bytes > 0 {
        line.push_str(&format!(" {:>8.1} MiB/s", mib_per_sec(o.bytes, o.elapsed)));
    } else {
        // Keeps the ops/s column aligned with the lines that have MiB/s.
        line.push_str(&" ".repeat(15));
    }
    let rate = format!("{}/s", ops_name(o.workload));
    line.push_str(&format!(
        " {:>8.1} {rate:<7}  p50 {}  p99 {}",
        per_sec(o.ok as f64, o.elapsed),
        fmt_duration(o.latency.p50),
        fmt_duration(o.latency.p99)
    ));
    if o.workload == Workload::List {
        line.push_str(&format!(
            "  {:.0} keys/s",
            per_sec(o.keys as f64, o.elapsed)
        ));
    }
    if o.failed > 0 || o.check_failures > 0 {
        line.push_str(&format!(
            "  ({} failed, {} bad answers)",
            o.failed, o.check_failures
        ));
    }
    if o.cut_short {
        line.push_str("  (cut short)");
    }
    line
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One workload's figures as JSON.
pub fn outcome_json(o: &Outcome) -> Value {
    json!({
        "workload": o.workload.name(),
        "planned": o.planned,
        "object_size": o.object_size,
        "concurrency": o.concurrency,
        "ok": o.ok,
        "failed": o.failed,
        "check_failures": o.check_failures,
        "cut_short": o.cut_short,
        "bytes": o.bytes,
        "elapsed_s": o.elapsed.as_secs_f64(),
        "mib_per_s": mib_per_sec(o.bytes, o.elapsed),
        "ops_per_s": per_sec(o.ok as f64, o.elapsed),
        "keys": o.keys,
        "keys_per_s": per_sec(o.keys as f64, o.elapsed),
        "latency_ms": {
            "min": millis(o.latency.min),
            "p50": millis(o.latency.p50),
            "p90": millis(o.latency.p90),
            "p99": millis(o.latency.p99),
            "max": millis(o.latency.max),
            "mean": millis(o.latency.mean),
        },
        "checks": o.checks,
        "errors": o.errors,
    })
}

/// The whole run as JSON: when, against what, with which options, and every workload.
pub fn run_json(
    started_unix: u64,
    endpoint: &str,
    machine: &Machine,
    cluster: Option<&ClusterShape>,
    options: Value,
    outcomes: &[Outcome],
) -> Value {
    json!({
        "format": "dfs-bench/1",
        "started_unix": started_unix,
        "endpoint": endpoint,
        "machine": {
            "cpus": machine.cpus,
            "cpu_model": machine.cpu_model,
            "memory_bytes": machine.memory_bytes,
            "kernel": machine.kernel,
        },
        "cluster": cluster.map(|c| json!({
            "chunkds": c.chunkds,
            "replication": c.replication,
            "chunk_size": c.chunk_size,
            "data_dir": c.data_dir,
        })),
        "options": options,
        "workloads": outcomes.iter().map(outcome_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_large() -> Outcome {
        Outcome {
            workload: Workload::PutLarge,
            planned: 8,
            object_size: 64 << 20,
            concurrency: 4,
            ok: 8,
            failed: 0,
            bytes: 8 * (64 << 20),
            elapsed: Duration::from_secs(2),
            latency: Latency {
                min: Duration::from_millis(500),
                p50: Duration::from_millis(580),
                p90: Duration::from_millis(650),
                p99: Duration::from_millis(700),
                max: Duration::from_millis(700),
                mean: Duration::from_millis(590),
            },
            errors: Vec::new(),
            cut_short: false,
            checks: vec!["8/8 sampled ETags = MD5 of the data sent".into()],
            check_failures: 0,
            keys: 0,
        }
    }

    #[test]
    fn summary_and_table() {
        let o = put_large();
        let line = summary_line(&o);
        assert!(line.starts_with("put-large  8 x 64 MiB"), "{line}");
        for part in [
            "c=4",
            "256.0 MiB/s",
            "4.0 ops/s",
            "p50 580 ms",
            "p99 700 ms",
        ] {
            assert!(line.contains(part), "{part} missing in {line}");
        }
        let table = table(&o);
        assert!(table.contains("concurrency 4"), "{table}");
        assert!(table.contains("8/8 sampled ETags"), "{table}");
        let json = outcome_json(&o);
        assert_eq!(json["mib_per_s"], 256.0);
        assert_eq!(json["latency_ms"]["p50"], 580.0);
    }
}
