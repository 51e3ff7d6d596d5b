//! The timed operations of `dfs-bench-meta`: metadata-only puts (empty objects: `begin_write`
//! then `commit`, no chunk), ListObjectsV2 pages, and the paged registration of a simulated
//! chunkd.

use anyhow::{Context, Result};
use dfs_client::{CreateOptions, DfsClient, FinishOptions};
use dfs_common::auth::ClusterSecret;
use dfs_common::http::InternalClient;
use dfs_common::names::BucketName;
use dfs_common::wire::{ListObjectsReq, ReconcileReq, RegisterReq, MAX_RECONCILE_PAGE};
use dfs_common::ChunkId;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The key of object `index`: fixed width, so that key order is index order.
pub fn key(index: u64) -> String {
    format!("o{index:012}")
}

/// Puts one empty object; returns its latency.
async fn put_empty(client: &DfsClient, bucket: &BucketName, index: u64) -> Result<Duration> {
    let started = Instant::now();
    let path = format!("/{bucket}/{}", key(index));
    let writer = client.create(&path, CreateOptions::default()).await?;
    writer.finish(FinishOptions::default()).await?;
    Ok(started.elapsed())
}

/// Puts objects `from..to` with `concurrency` in flight; returns every latency.
pub async fn put_range(
    client: &DfsClient,
    bucket: &BucketName,
    from: u64,
    to: u64,
    concurrency: usize,
) -> Result<Vec<Duration>> {
    let next = Arc::new(AtomicU64::new(from));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, bucket, next) = (client.clone(), bucket.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= to {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                latencies.push(put_empty(&client, &bucket, index).await?);
            }
        }));
    }
    let mut all = Vec::with_capacity((to - from) as usize);
    for task in tasks {
        all.extend(task.await.context("a put task panicked")??);
    }
    Ok(all)
}

/// Times `pages` ListObjectsV2 pages of 1000 keys, each starting at a key spread evenly over
/// the `objects` stored.
pub async fn list_pages(
    client: &DfsClient,
    bucket: &BucketName,
    objects: u64,
    pages: usize,
) -> Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(pages);
    for page in 0..pages as u64 {
        let start = objects * page / (pages as u64).max(1);
        let req = ListObjectsReq {
            bucket: bucket.clone(),
            prefix: String::new(),
            delimiter: None,
            start_after: (start > 0).then(|| key(start)),
            max_keys: 1000,
        };
        let started = Instant::now();
        client.buckets().list_objects(&req).await?;
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

/// What the registration of a simulated chunkd took.
pub struct Registration {
    /// From the registration request to the answer to the last page.
    pub elapsed: Duration,
    /// Latencies of the puts made meanwhile.
    pub puts_meanwhile: Vec<Duration>,
}

/// Registers a simulated chunkd holding `chunks` chunk ids metad does not know (all are to be
/// deleted: the cheapest case per id, so a lower bound), in pages as chunkd does, while puts
/// of new objects from index `first_put` go on with `concurrency` in flight.
pub async fn register_simulated(
    client: &DfsClient,
    secret: ClusterSecret,
    bucket: &BucketName,
    chunks: u64,
    first_put: u64,
    concurrency: usize,
) -> Result<Registration> {
    let http = InternalClient::new(secret);
    let metad = client.metad().current();
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..concurrency.max(1) as u64)
        .map(|lane| {
            let (client, bucket, done) = (client.clone(), bucket.clone(), done.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut index = first_put + lane;
                while !done.load(Ordering::Relaxed) {
                    latencies.push(put_empty(&client, &bucket, index).await?);
                    index += concurrency as u64;
                }
                Ok::<_, anyhow::Error>(latencies)
            })
        })
        .collect();
    let started = Instant::now();
    let registered = http
        .call(
            &metad,
            &RegisterReq {
                node_id: None,
                // Nobody listens there: metad only records it.
                addr: "127.0.0.1:9".into(),
                capacity: 1 << 40,
                used: 0,
                chunks: Vec::new(),
                paged: true,
            },
        )
        .await?;
    // Ids far above any metad hands out.
    let base = 1u64 << 48;
    let mut after = None;
    let mut sent = 0;
    loop {
        let count = (chunks - sent).min(MAX_RECONCILE_PAGE as u64);
        let page: Vec<ChunkId> = (sent..sent + count).map(|i| ChunkId(base + i)).collect();
        sent += count;
        let last = sent == chunks;
        let req = ReconcileReq {
            node_id: registered.node_id,
            after,
            chunks: page,
            last,
        };
        after = req.chunks.last().copied().or(after);
        http.call(&metad, &req).await?;
        if last {
            break;
        }
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let mut puts_meanwhile = Vec::new();
    for writer in writers {
        puts_meanwhile.extend(writer.await.context("a put task panicked")??);
    }
    Ok(Registration {
        elapsed,
        puts_meanwhile,
    })
}

/// metad's resident memory, from `/proc/PID/status`.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
