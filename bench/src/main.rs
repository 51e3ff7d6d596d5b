//! `dfs-bench`: drives an S3 endpoint (the dfs gateway, or any S3 server) and prints figures:
//! throughput, operations per second and latency percentiles per workload. It never passes or
//! fails a run; it measures.
//!
//! Without `--endpoint` it starts a local cluster with the test harness (metad, chunkds and
//! the gateway as processes, data in a temporary folder) and measures that. It works in a
//! bucket of its own, `bench-<random>`, and deletes what it wrote at the end.

mod client;
mod report;
mod runner;
mod sign;
mod workloads;

use anyhow::{bail, Context, Result};
use clap::Parser;
use client::S3Client;
use dfs_bench::machine::Machine;
use dfs_bench::stats;
use dfs_common::Secret;
use report::ClusterShape;
use sign::{Credentials, Signer};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use workloads::{Bench, Plan, Workload};

/// Benchmark of an S3 endpoint: PUT, GET, LIST and DELETE of small and large objects, with
/// throughput (MiB/s, ops/s) and latency (p50/p90/p99/max) per workload.
///
/// Without --endpoint, starts a local dfs cluster (metad, chunkds, gateway) from the binaries
/// in DFS_BIN_DIR or beside this executable; build them first with
/// `cargo build --release --workspace --bins`, or use scripts/bench.
#[derive(Debug, Parser)]
#[command(name = "dfs-bench", version)]
struct Args {
    /// The S3 endpoint, http://host:port. Without it, a local cluster is started.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Access key id for --endpoint.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", value_name = "ID")]
    access_key: Option<String>,
    /// Secret access key for --endpoint.
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true,
        value_name = "SECRET",
        value_parser = parse_secret
    )]
    secret_key: Option<Secret>,
    /// Region the requests are signed for (with --endpoint).
    #[arg(long, env = "AWS_DEFAULT_REGION", default_value = "us-east-1")]
    region: String,

    /// Workloads to run, comma-separated; they always run in this order:
    /// put-small, get-small, put-large, get-large, list, delete.
    #[arg(long = "workload", value_delimiter = ',', value_parser = Workload::parse,
          default_value = "put-small,get-small,put-large,get-large,list,delete")]
    workloads: Vec<Workload>,
    /// Requests in flight, for every workload [default: 16 for small objects, list and
    /// delete; 4 for large objects].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: Option<u32>,
    /// Size of a small object (4096, 4KiB, 1MiB...).
    #[arg(long, default_value = "4KiB", value_parser = stats::parse_size, value_name = "SIZE")]
    small_size: u64,
    /// Number of small objects.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    small_count: u32,
    /// Size of a large object.
    #[arg(long, default_value = "64MiB", value_parser = stats::parse_size, value_name = "SIZE")]
    large_size: u64,
    /// Number of large objects.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    large_count: u32,
    /// Full listings of the bucket in the list workload (each page of up to 1000 keys is one
    /// request).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    list_passes: u32,
    /// Start no request of a workload after this many seconds (requests in flight finish).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    duration_secs: Option<u64>,
    /// Sign each PUT body's SHA-256 (x-amz-content-sha256) instead of UNSIGNED-PAYLOAD. This
    /// costs the client one SHA-256 pass over every byte sent, on the timed path: CPU the
    /// client takes from a server on the same machine.
    #[arg(long)]
    signed_payload: bool,
    /// A request without an answer after this many seconds fails.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    request_timeout_secs: u64,
    /// Also write the figures as JSON to FILE, for comparisons between runs.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Local cluster only: number of chunkds.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    chunkds: u32,
    /// Local cluster only: replication factor.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    replication: u32,
    /// Local cluster only: chunk size [default: the harness's, 8 MiB].
    #[arg(long, value_parser = stats::parse_size, value_name = "SIZE")]
    chunk_size: Option<u64>,
}

/// Objects up to this size fit the shared buffer comfortably; larger ones need a buffer as
/// large, which is memory the server may be short of.
const MAX_OBJECT_SIZE: u64 = 4 << 30;

impl Args {
    fn plan(&self) -> Result<Plan> {
        for (name, size) in [
            ("--small-size", self.small_size),
            ("--large-size", self.large_size),
        ] {
            if size > MAX_OBJECT_SIZE {
                bail!("{name} {size} is above the 4 GiB this benchmark handles");
            }
        }
        let to_usize = |v: u64| usize::try_from(v).context("size does not fit this machine");
        let concurrency = |default: usize| self.concurrency.map_or(default, |c| c as usize);
        Ok(Plan {
            small_size: to_usize(self.small_size)?,
            small_count: self.small_count as usize,
            large_size: to_usize(self.large_size)?,
            large_count: self.large_count as usize,
            small_concurrency: concurrency(16),
            large_concurrency: concurrency(4),
            list_passes: self.list_passes as usize,
            duration_cap: self.duration_secs.map(Duration::from_secs),
        })
    }

    fn options_json(&self, plan: &Plan) -> serde_json::Value {
        serde_json::json!({
            "workloads": self.selected().iter().map(|w| w.name()).collect::<Vec<_>>(),
            "small_size": plan.small_size,
            "small_count": plan.small_count,
            "large_size": plan.large_size,
            "large_count": plan.large_count,
            "small_concurrency": plan.small_concurrency,
            "large_concurrency": plan.large_concurrency,
            "list_passes": plan.list_passes,
            "duration_secs": self.duration_secs,
            "signed_payload": self.signed_payload,
        })
    }

    /// The selected workloads, each once, in running order.
    fn selected(&self) -> Vec<Workload> {
        let mut selected = self.workloads.clone();
        selected.sort_unstable();
        selected.dedup();
        selected
    }
}

/// Where the requests go: a remote endpoint, or the local cluster kept alive while measured.
struct Target {
    endpoint: String,
    credentials: Credentials,
    cluster: Option<(dfs_testkit::Cluster, ClusterShape)>,
}

/// `--secret-key` as a [`Secret`], so that `Args`' `Debug` cannot print it.
fn parse_secret(text: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(text))
}

async fn target(args: &Args) -> Result<Target> {
    if let Some(endpoint) = &args.endpoint {
        let (Some(access_key_id), Some(secret_access_key)) =
            (args.access_key.clone(), args.secret_key.clone())
        else {
            bail!(
                "--endpoint needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                 (or pass --access-key and --secret-key)"
            );
        };
        return Ok(Target {
            endpoint: endpoint.clone(),
            credentials: Credentials {
                access_key_id,
                secret_access_key,
                region: args.region.clone(),
            },
            cluster: None,
        });
    }
    if args.replication > args.chunkds {
        bail!(
            "--replication {} needs at least as many chunkds (--chunkds {})",
            args.replication,
            args.chunkds
        );
    }
    let mut options = dfs_testkit::ClusterOptions {
        chunkds: args.chunkds as usize,
        replication: args.replication,
        gateway: true,
        ..Default::default()
    };
    if let Some(chunk_size) = args.chunk_size {
        options.chunk_size = chunk_size;
    }
    println!("starting a local cluster (no --endpoint given)...");
    let cluster = dfs_testkit::Cluster::start(options.clone())
        .await
        .context("cannot start the local cluster")?;
    let endpoint = cluster
        .s3_endpoint()
        .context("the local cluster has no gateway")?;
    let (access_key_id, secret_access_key) = cluster
        .access_key()
        .context("the local cluster made no access key")?;
    let shape = ClusterShape {
        chunkds: options.chunkds,
        replication: options.replication,
        chunk_size: options.chunk_size,
        data_dir: cluster.dir().display().to_string(),
    };
    Ok(Target {
        endpoint,
        credentials: Credentials {
            access_key_id,
            secret_access_key: secret_access_key.into(),
            region: dfs_testkit::REGION.to_owned(),
        },
        cluster: Some((cluster, shape)),
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let plan = args.plan()?;
    let selected = args.selected();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let machine = Machine::probe();
    println!("machine:  {}", machine.describe());

    let target = target(&args).await?;
    let shape = target.cluster.as_ref().map(|(_, shape)| shape.clone());
    match &shape {
        Some(shape) => println!("measured: {}", shape.describe()),
        None => println!("measured: {}", target.endpoint),
    }
    println!("endpoint: {}", target.endpoint);
    println!(
        "payload:  {}",
        if args.signed_payload {
            "signed (client hashes every PUT body with SHA-256)"
        } else {
            "UNSIGNED-PAYLOAD (client does not hash)"
        }
    );

    let signer = Signer::new(target.credentials.clone()).map_err(anyhow::Error::msg)?;
    let client = Arc::new(
        S3Client::new(
            &target.endpoint,
            signer,
            args.signed_payload,
            Duration::from_secs(args.request_timeout_secs.max(1)),
        )
        .context("bad --endpoint")?,
    );
    let bucket = format!("bench-{:08x}", rand::random::<u32>());
    client
        .create_bucket(&bucket)
        .await
        .with_context(|| format!("cannot create the bucket {bucket} at {}", target.endpoint))?;
    println!("bucket:   {bucket}\n");

    let mut bench = Bench::new(client, &bucket, plan.clone());
    let mut outcomes = Vec::new();
    for workload in selected {
        println!("running {workload}...");
        let outcome = bench.run(workload).await;
        println!("{}", report::table(&outcome));
        outcomes.push(outcome);
    }
    match bench.cleanup().await {
        Ok(()) => println!("cleanup:  deleted the objects left and the bucket {bucket}\n"),
        Err(e) => eprintln!("warning: the bucket {bucket} could not be emptied and deleted: {e}\n"),
    }

    println!("summary ({}):", machine.describe());
    if let Some(shape) = &shape {
        println!("  {}", shape.describe());
    }
    for outcome in &outcomes {
        println!("  {}", report::summary_line(outcome));
    }
    if let Some(path) = &args.json {
        let json = report::run_json(
            started_unix,
            &target.endpoint,
            &machine,
            shape.as_ref(),
            args.options_json(&plan),
            &outcomes,
        );
        let text = serde_json::to_string_pretty(&json).context("cannot serialise the figures")?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("figures written to {}", path.display());
    }
    // The local cluster's processes end here, when the target is dropped.
    drop(target);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_brief() {
        let args = Args::try_parse_from(["dfs-bench"]).unwrap();
        let plan = args.plan().unwrap();
        assert_eq!(plan.small_size, 4096);
        assert_eq!(plan.small_count, 2000);
        assert_eq!(plan.large_size, 64 << 20);
        assert_eq!(plan.large_count, 8);
        assert_eq!((plan.small_concurrency, plan.large_concurrency), (16, 4));
        assert_eq!(args.selected(), Workload::ALL);
    }

    #[test]
    fn workloads_are_deduplicated_and_ordered() {
        let args = Args::try_parse_from([
            "dfs-bench",
            "--workload",
            "delete,get-large,delete",
            "--concurrency",
            "2",
            "--large-size",
            "1MiB",
        ])
        .unwrap();
        assert_eq!(args.selected(), [Workload::GetLarge, Workload::Delete]);
        let plan = args.plan().unwrap();
        assert_eq!((plan.small_concurrency, plan.large_concurrency), (2, 2));
        assert_eq!(plan.large_size, 1 << 20);
        assert!(Args::try_parse_from(["dfs-bench", "--workload", "get-medium"]).is_err());
        assert!(Args::try_parse_from(["dfs-bench", "--concurrency", "0"]).is_err());
        let huge = Args::try_parse_from(["dfs-bench", "--large-size", "5G"]).unwrap();
        assert!(huge.plan().is_err());
    }
}
