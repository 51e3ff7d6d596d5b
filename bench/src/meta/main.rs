//! `dfs-bench-meta`: measures metad's own work as the namespace grows. It fills one bucket
//! with metadata-only objects (empty files: a `begin_write` and a `commit`, no chunk) and, at
//! chosen object counts, times puts, ListObjectsV2 pages and metad's memory; at the end it
//! times the paged registration of a simulated chunkd while puts go on. It prints figures and
//! never passes or fails.
//!
//! Without `--metad` it starts a local metad (and one chunkd) with the test harness, from the
//! binaries in DFS_BIN_DIR or beside this executable.

mod work;

use anyhow::{bail, Context, Result};
use clap::Parser;
use dfs_bench::machine::Machine;
use dfs_bench::stats::{fmt_duration, fmt_size, per_sec, Latency};
use dfs_client::DfsClient;
use dfs_common::auth::ClusterSecret;
use dfs_common::names::BucketName;
use dfs_testkit::{Cluster, ClusterOptions};
use std::path::PathBuf;
use std::time::Instant;

/// Benchmark of metad at millions of objects: put and list latency at given object counts,
/// metad's memory, and the registration time of a chunkd holding millions of chunks.
#[derive(Debug, Parser)]
#[command(name = "dfs-bench-meta", version)]
struct Args {
    /// Objects to fill the bucket with, in all.
    #[arg(long, default_value_t = 1_000_000)]
    objects: u64,
    /// Object counts at which to measure, comma-separated [default: 0, a tenth, all].
    #[arg(long, value_delimiter = ',')]
    at: Vec<u64>,
    /// Puts in flight while filling and while timing.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,
    /// Puts timed at each measuring point (they count toward the objects).
    #[arg(long, default_value_t = 2000)]
    probe: u64,
    /// ListObjectsV2 pages of 1000 keys timed at each measuring point.
    #[arg(long, default_value_t = 20)]
    list_pages: usize,
    /// Chunk ids of the simulated chunkd registered at the end (0: none).
    #[arg(long, default_value_t = 2_000_000)]
    register_chunks: u64,
    /// A running metad (or metad group) to measure instead of a local one.
    #[arg(long, value_name = "HOST:PORT[,...]")]
    metad: Option<String>,
    /// The cluster secret's file, with --metad.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Measure again a bucket an earlier run filled (with --metad), at the one point
    /// --filled, without filling: after a restart or a compaction, or with a profiler.
    #[arg(long, requires = "filled", requires = "metad")]
    bucket: Option<String>,
    /// Objects already in --bucket (an earlier run prints how many it put).
    #[arg(long)]
    filled: Option<u64>,
}

impl Args {
    /// The measuring points, ascending, within the fill.
    fn points(&self) -> Vec<u64> {
        let mut points = if self.at.is_empty() {
            vec![0, self.objects / 10, self.objects]
        } else {
            self.at.clone()
        };
        points.retain(|p| *p <= self.objects);
        points.sort_unstable();
        points.dedup();
        points
    }
}

/// One measuring point's figures.
struct Point {
    objects: u64,
    put: Latency,
    list: Latency,
    rss: Option<u64>,
    fill_rate: Option<f64>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let (cluster, client, secret) = match &args.metad {
        Some(metad) => {
            let Some(file) = &args.secret_file else {
                bail!("--metad needs --secret-file");
            };
            let secret = ClusterSecret::from_file(file).map_err(anyhow::Error::msg)?;
            (None, DfsClient::new(metad.clone(), secret.clone()), secret)
        }
        None => {
            let cluster = Cluster::start(ClusterOptions {
                chunkds: 1,
                replication: 1,
                ..ClusterOptions::default()
            })
            .await
            .context("starting a local metad")?;
            let secret =
                ClusterSecret::from_file(cluster.secret_file()).map_err(anyhow::Error::msg)?;
            let client = cluster.client();
            (Some(cluster), client, secret)
        }
    };
    let pid = cluster.as_ref().and_then(Cluster::metad_pid);
    let (bucket, mut filled, points) = match (&args.bucket, args.filled) {
        (Some(name), Some(filled)) => (BucketName::new(name.clone())?, filled, vec![filled]),
        _ => {
            let name = format!("bench-meta-{:08x}", rand::random::<u32>());
            let bucket = BucketName::new(name)?;
            client.mkdir(&format!("/{bucket}"), false).await?;
            (bucket, 0, args.points())
        }
    };
    println!("dfs-bench-meta on {}", Machine::probe().describe());
    println!(
        "metad at {} ({}); bucket {bucket}; {} puts in flight",
        client.metad(),
        if cluster.is_some() {
            "local, one process"
        } else {
            "given"
        },
        args.concurrency
    );
    println!(
        "{:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "objects", "put p50", "put p99", "list p50", "list p99", "metad RSS", "fill rate"
    );
    let concurrency = args.concurrency as usize;
    for target in points {
        let fill_rate = if target > filled {
            let started = Instant::now();
            let count = target - filled;
            work::put_range(&client, &bucket, filled, target, concurrency).await?;
            filled = target;
            Some(per_sec(count as f64, started.elapsed()))
        } else {
            None
        };
        let mut puts =
            work::put_range(&client, &bucket, filled, filled + args.probe, concurrency).await?;
        let mut pages = work::list_pages(&client, &bucket, filled, args.list_pages).await?;
        let point = Point {
            objects: filled,
            put: Latency::from_samples(&mut puts),
            list: Latency::from_samples(&mut pages),
            rss: pid.and_then(work::rss_bytes),
            fill_rate,
        };
        filled += args.probe;
        print_point(&point);
    }
    if args.register_chunks > 0 {
        let reg = work::register_simulated(
            &client,
            secret,
            &bucket,
            args.register_chunks,
            filled,
            concurrency,
        )
        .await?;
        let mut meanwhile = reg.puts_meanwhile;
        let count = meanwhile.len();
        let latency = Latency::from_samples(&mut meanwhile);
        println!(
            "registration of a chunkd with {} chunk ids metad does not know (pages of 10,000): \
             {}; {count} puts meanwhile, p50 {} p99 {}",
            args.register_chunks,
            fmt_duration(reg.elapsed),
            fmt_duration(latency.p50),
            fmt_duration(latency.p99),
        );
    }
    if cluster.is_none() {
        // Deleting millions of objects would take as long as writing them: a scratch
        // cluster is the place for this benchmark.
        println!("the objects stay in bucket {bucket} (remove it with `dfs rm -r /{bucket}`)");
    }
    Ok(())
}

fn print_point(point: &Point) {
    let rss = point.rss.map_or("-".into(), fmt_size);
    let rate = point.fill_rate.map_or("-".into(), |r| format!("{r:.0}/s"));
    println!(
        "{:>12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12}",
        point.objects,
        fmt_duration(point.put.p50),
        fmt_duration(point.put.p99),
        fmt_duration(point.list.p50),
        fmt_duration(point.list.p99),
        rss,
        rate
    );
}
