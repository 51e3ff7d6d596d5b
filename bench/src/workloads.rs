//! The workloads: what each one sends, what it measures and how it checks the answers.
//!
//! Objects are `small/NNNNNNNN` and `large/NNNNNNNN` in the benchmark's own bucket. Their data
//! are slices of one random buffer at an offset that depends on the index, so that objects
//! differ without a buffer per object. A workload that reads objects writes the missing ones
//! first, untimed, so each can run alone.

use crate::client::{RequestError, S3Client};
use crate::runner::{self, RunStats};
use bytes::Bytes;
use dfs_bench::stats::Latency;
use md5::{Digest, Md5};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Offsets of objects in the shared buffer wrap at this span. 4099 is prime to 2^20 + 1, so
/// the offsets `index * 4099 mod SPAN` of the first million objects all differ.
const SPAN: usize = (1 << 20) + 1;
const OFFSET_STEP: usize = 4099;
/// How many ETags per PUT workload are checked against the MD5 of what was sent.
const ETAG_SAMPLES: usize = 8;
/// Concurrency of the untimed preparation and cleanup.
const UNTIMED_CONCURRENCY: usize = 16;

/// One workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Workload {
    /// PutObject of the small objects.
    PutSmall,
    /// GetObject of the small objects.
    GetSmall,
    /// PutObject of the large objects.
    PutLarge,
    /// GetObject of the large objects.
    GetLarge,
    /// Full ListObjectsV2 passes over the bucket.
    List,
    /// DeleteObject of every object written.
    Delete,
}

impl Workload {
    /// Every workload, in the order they run.
    pub const ALL: [Workload; 6] = [
        Workload::PutSmall,
        Workload::GetSmall,
        Workload::PutLarge,
        Workload::GetLarge,
        Workload::List,
        Workload::Delete,
    ];

    /// The name used on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Workload::PutSmall => "put-small",
            Workload::GetSmall => "get-small",
            Workload::PutLarge => "put-large",
            Workload::GetLarge => "get-large",
            Workload::List => "list",
            Workload::Delete => "delete",
        }
    }

    /// Parses a name as [`Workload::name`] writes it.
    pub fn parse(text: &str) -> Result<Workload, String> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name() == text.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
                format!(
                    "unknown workload {text:?}; choose among {}",
                    names.join(", ")
                )
            })
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The sizes, counts and concurrencies of a run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Size of a small object, bytes.
    pub small_size: usize,
    /// Number of small objects.
    pub small_count: usize,
    /// Size of a large object, bytes.
    pub large_size: usize,
    /// Number of large objects.
    pub large_count: usize,
    /// Requests in flight for the small-object workloads, list and delete.
    pub small_concurrency: usize,
    /// Requests in flight for the large-object workloads.
    pub large_concurrency: usize,
    /// Full listing passes of the list workload.
    pub list_passes: usize,
    /// No request of a workload starts after this long.
    pub duration_cap: Option<Duration>,
}

/// The figures of one workload.
#[derive(Debug)]
pub struct Outcome {
    /// Which workload.
    pub workload: Workload,
    /// Objects the workload meant to handle (listing passes for `list`).
    pub planned: usize,
    /// Size of each object (0 for list and delete).
    pub object_size: u64,
    /// Requests in flight.
    pub concurrency: usize,
    /// Successful requests (listing pages for `list`).
    pub ok: u64,
    /// Failed requests.
    pub failed: u64,
    /// Payload bytes moved.
    pub bytes: u64,
    /// Wall time of the timed phase.
    pub elapsed: Duration,
    /// Latency of the successful requests.
    pub latency: Latency,
    /// The first errors.
    pub errors: Vec<String>,
    /// Whether `--duration-secs` stopped it early.
    pub cut_short: bool,
    /// What was checked, for the report ("8/8 ETags = MD5 of the data sent").
    pub checks: Vec<String>,
    /// Answers that failed a check (counted in `failed` when the request itself is refused).
    pub check_failures: u64,
    /// Keys listed (for `list`).
    pub keys: u64,
}

/// A benchmark in progress on one bucket.
pub struct Bench {
    client: Arc<S3Client>,
    bucket: Arc<str>,
    data: Bytes,
    plan: Plan,
    /// Which small and large objects exist now.
    small: Vec<bool>,
    large: Vec<bool>,
}

/// Small or large objects.
#[derive(Clone, Copy)]
enum Class {
    Small,
    Large,
}

impl Bench {
    /// A benchmark of `plan` on `bucket` (which must exist). Generates the random buffer all
    /// object data are sliced from.
    pub fn new(client: Arc<S3Client>, bucket: &str, plan: Plan) -> Bench {
        let largest = plan.small_size.max(plan.large_size);
        let mut buffer = vec![0u8; largest + SPAN];
        rand::Rng::fill(&mut rand::thread_rng(), &mut buffer[..]);
        Bench {
            client,
            bucket: Arc::from(bucket),
            data: Bytes::from(buffer),
            small: vec![false; plan.small_count],
            large: vec![false; plan.large_count],
            plan,
        }
    }

    fn class_of(&self, class: Class) -> (&'static str, usize, usize, usize) {
        match class {
            Class::Small => (
                "small",
                self.plan.small_size,
                self.plan.small_count,
                self.plan.small_concurrency,
            ),
            Class::Large => (
                "large",
                self.plan.large_size,
                self.plan.large_count,
                self.plan.large_concurrency,
            ),
        }
    }

    fn written(&mut self, class: Class) -> &mut Vec<bool> {
        match class {
            Class::Small => &mut self.small,
            Class::Large => &mut self.large,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.plan.duration_cap.map(|cap| Instant::now() + cap)
    }

    /// Runs one workload and returns its figures.
    pub async fn run(&mut self, workload: Workload) -> Outcome {
        match workload {
            Workload::PutSmall => self.put(workload, Class::Small).await,
            Workload::GetSmall => self.get(workload, Class::Small).await,
            Workload::PutLarge => self.put(workload, Class::Large).await,
            Workload::GetLarge => self.get(workload, Class::Large).await,
            Workload::List => self.list().await,
            Workload::Delete => self.delete().await,
        }
    }

    /// PUTs objects `indices` of `class`; returns the run with each ETag.
    async fn put_objects(
        &self,
        class: Class,
        indices: Arc<Vec<usize>>,
        concurrency: usize,
        deadline: Option<Instant>,
    ) -> RunStats<String> {
        let (prefix, size, _, _) = self.class_of(class);
        let (client, bucket, data) = (self.client.clone(), self.bucket.clone(), self.data.clone());
        runner::run(indices.len(), concurrency, deadline, move |n| {
            let (client, bucket) = (client.clone(), bucket.clone());
            let index = indices[n];
            let body = object_data(&data, index, size);
            async move {
                let etag = client
                    .put_object(&bucket, &object_key(prefix, index), body)
                    .await?;
                Ok((size as u64, etag))
            }
        })
        .await
    }

    async fn put(&mut self, workload: Workload, class: Class) -> Outcome {
        let (_, size, count, concurrency) = self.class_of(class);
        let indices = Arc::new((0..count).collect::<Vec<_>>());
        let deadline = self.deadline();
        let mut stats = self
            .put_objects(class, indices, concurrency, deadline)
            .await;
        // `done` holds indices into `indices`, which is 0..count.
        for (index, _) in &stats.done {
            self.written(class)[*index] = true;
        }
        let (checks, check_failures) = self.check_etags(&mut stats, size).await;
        outcome(
            workload,
            count,
            size as u64,
            concurrency,
            stats,
            checks,
            check_failures,
        )
    }

    /// Compares the ETags of a few evenly spaced objects with the MD5 of their data, off the
    /// timed path and on blocking threads (64 MiB of MD5 is ~0.1 s of CPU).
    async fn check_etags(&self, stats: &mut RunStats<String>, size: usize) -> (Vec<String>, u64) {
        if stats.done.is_empty() {
            return (Vec::new(), 0);
        }
        stats.done.sort_unstable_by_key(|(index, _)| *index);
        let stride = stats.done.len().div_ceil(ETAG_SAMPLES);
        let mut failures = 0;
        let mut first_mismatch = None;
        let mut sampled = 0;
        for (index, etag) in stats.done.iter().step_by(stride) {
            let body = object_data(&self.data, *index, size);
            let md5 = tokio::task::spawn_blocking(move || hex::encode(Md5::digest(&body)))
                .await
                .unwrap_or_default();
            sampled += 1;
            if !etag.eq_ignore_ascii_case(&md5) {
                failures += 1;
                first_mismatch.get_or_insert(format!(
                    "object {index}: ETag {etag:?} but the MD5 of the data sent is {md5}"
                ));
            }
        }
        let mut checks = vec![format!(
            "{}/{sampled} sampled ETags = MD5 of the data sent",
            sampled - failures
        )];
        checks.extend(first_mismatch);
        (checks, failures)
    }

    /// The indices of the objects of `class` that exist now.
    fn written_indices(&self, class: Class) -> Vec<usize> {
        let written = match class {
            Class::Small => &self.small,
            Class::Large => &self.large,
        };
        (0..written.len()).filter(|i| written[*i]).collect()
    }

    /// Writes, untimed, the objects of `class` a read workload needs and that are missing.
    async fn prepare(&mut self, class: Class) -> Result<(), String> {
        let (prefix, _, count, _) = self.class_of(class);
        let present = self.written_indices(class);
        if present.len() == count {
            return Ok(());
        }
        let missing: Vec<usize> = (0..count)
            .filter(|i| present.binary_search(i).is_err())
            .collect();
        println!(
            "  (preparing: writing {} {prefix} objects, not timed)",
            missing.len()
        );
        let missing = Arc::new(missing);
        let stats = self
            .put_objects(class, missing.clone(), UNTIMED_CONCURRENCY, None)
            .await;
        for (n, _) in &stats.done {
            self.written(class)[missing[*n]] = true;
        }
        match stats.errors.first() {
            Some(e) => Err(format!(
                "{} of {} {prefix} objects could not be written beforehand: {e}",
                stats.failed,
                missing.len()
            )),
            None => Ok(()),
        }
    }

    async fn get(&mut self, workload: Workload, class: Class) -> Outcome {
        let (prefix, size, count, concurrency) = self.class_of(class);
        let prepared = self.prepare(class).await;
        let indices = Arc::new(self.written_indices(class));
        let (client, bucket) = (self.client.clone(), self.bucket.clone());
        let stats = runner::run(indices.len(), concurrency, self.deadline(), move |n| {
            let (client, bucket) = (client.clone(), bucket.clone());
            let index = indices[n];
            async move {
                let key = object_key(prefix, index);
                let received = client.get_object(&bucket, &key).await?;
                // A short or long answer is a failed request, not a slow one.
                if received != size as u64 {
                    return Err(RequestError::BadAnswer(format!(
                        "GET {key} answered {received} bytes, {size} were written"
                    )));
                }
                Ok((received, ()))
            }
        })
        .await;
        let mut checks = vec![format!(
            "{} GET answers had the length written",
            stats.done.len()
        )];
        checks.extend(prepared.err());
        outcome(workload, count, size as u64, concurrency, stats, checks, 0)
    }

    /// Full listing passes over the bucket; each request is one page (up to 1000 keys). Every
    /// pass must find every object written.
    async fn list(&mut self) -> Outcome {
        let mut checks = Vec::new();
        if self.existing_keys().is_empty() {
            if let Err(e) = self.prepare(Class::Small).await {
                checks.push(e);
            }
        }
        let expected = self.existing_keys().len();
        let passes = self.plan.list_passes;
        let concurrency = self.plan.small_concurrency;
        let (client, bucket) = (self.client.clone(), self.bucket.clone());
        let mut stats = runner::run(passes, concurrency, self.deadline(), move |_| {
            let (client, bucket) = (client.clone(), bucket.clone());
            async move {
                let mut pages = Vec::new();
                let mut keys = 0usize;
                let mut token: Option<String> = None;
                loop {
                    let began = Instant::now();
                    let page = client.list_page(&bucket, "", token.as_deref()).await?;
                    pages.push(began.elapsed());
                    keys += page.keys.len();
                    match page.next_token {
                        Some(next) => token = Some(next),
                        None => break,
                    }
                }
                Ok((0, (pages, keys)))
            }
        })
        .await;
        let mismatched: Vec<usize> = stats
            .done
            .iter()
            .map(|(_, (_, keys))| *keys)
            .filter(|k| *k != expected)
            .collect();
        checks.insert(
            0,
            format!(
                "{}/{} passes listed the {expected} objects written",
                stats.done.len() - mismatched.len(),
                stats.done.len()
            ),
        );
        if let Some(first) = mismatched.first() {
            checks.push(format!("a pass listed {first} keys instead of {expected}"));
        }
        // The requests are the pages: their latencies replace the per-pass ones.
        let keys: u64 = stats.done.iter().map(|(_, (_, k))| *k as u64).sum();
        let pages: Vec<Duration> = stats
            .done
            .iter()
            .flat_map(|(_, (p, _))| p.iter().copied())
            .collect();
        stats.latencies = pages;
        let mut out = outcome(
            Workload::List,
            passes,
            0,
            concurrency,
            stats,
            checks,
            mismatched.len() as u64,
        );
        out.keys = keys;
        out
    }

    /// Every key written, small then large.
    fn existing_keys(&self) -> Vec<String> {
        let small = self.written_indices(Class::Small).into_iter();
        let large = self.written_indices(Class::Large).into_iter();
        small
            .map(|i| object_key("small", i))
            .chain(large.map(|i| object_key("large", i)))
            .collect()
    }

    /// DELETEs every object written, small and large interleaved as they come.
    async fn delete(&mut self) -> Outcome {
        let keys = Arc::new(self.existing_keys());
        let concurrency = self.plan.small_concurrency;
        let (client, bucket) = (self.client.clone(), self.bucket.clone());
        let shared = keys.clone();
        let stats = runner::run(keys.len(), concurrency, self.deadline(), move |n| {
            let (client, bucket, keys) = (client.clone(), bucket.clone(), shared.clone());
            async move {
                client.delete_object(&bucket, &keys[n]).await?;
                Ok((0, ()))
            }
        })
        .await;
        for (n, _) in &stats.done {
            self.forget(&keys[*n]);
        }
        let checks = vec![format!("{} objects deleted", stats.done.len())];
        outcome(
            Workload::Delete,
            keys.len(),
            0,
            concurrency,
            stats,
            checks,
            0,
        )
    }

    fn forget(&mut self, key: &str) {
        let parsed = key
            .split_once('/')
            .and_then(|(p, n)| Some((p, n.parse::<usize>().ok()?)));
        let slot = match parsed {
            Some(("small", i)) => self.small.get_mut(i),
            Some(("large", i)) => self.large.get_mut(i),
            _ => None,
        };
        if let Some(slot) = slot {
            *slot = false;
        }
    }

    /// Deletes everything left in the bucket (listed, not remembered, so that objects whose
    /// PUT failed after storing are caught too), then the bucket. Untimed.
    pub async fn cleanup(&mut self) -> Result<(), RequestError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_page(&self.bucket, "", token.as_deref())
                .await?;
            keys.extend(page.keys);
            match page.next_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        let keys = Arc::new(keys);
        let (client, bucket, shared) = (self.client.clone(), self.bucket.clone(), keys.clone());
        let stats = runner::run(keys.len(), UNTIMED_CONCURRENCY, None, move |n| {
            let (client, bucket, keys) = (client.clone(), bucket.clone(), shared.clone());
            async move {
                client.delete_object(&bucket, &keys[n]).await?;
                Ok((0, ()))
            }
        })
        .await;
        if let Some(e) = stats.errors.into_iter().next() {
            return Err(RequestError::BadAnswer(format!(
                "{} of {} objects could not be deleted: {e}",
                stats.failed,
                keys.len()
            )));
        }
        self.small.fill(false);
        self.large.fill(false);
        self.client.delete_bucket(&self.bucket).await
    }
}

/// The key of object `index` of a class.
fn object_key(prefix: &str, index: usize) -> String {
    format!("{prefix}/{index:08}")
}

/// The data of object `index`: `size` bytes of the shared buffer (which holds at least
/// `size + SPAN` bytes) at an offset that depends on the index. A view, not a copy.
fn object_data(data: &Bytes, index: usize, size: usize) -> Bytes {
    let offset = index.wrapping_mul(OFFSET_STEP) % SPAN;
    data.slice(offset..offset + size)
}

fn outcome<T>(
    workload: Workload,
    planned: usize,
    object_size: u64,
    concurrency: usize,
    mut stats: RunStats<T>,
    checks: Vec<String>,
    check_failures: u64,
) -> Outcome {
    Outcome {
        workload,
        planned,
        object_size,
        concurrency: concurrency.clamp(1, planned.max(1)),
        ok: stats.latencies.len() as u64,
        failed: stats.failed,
        bytes: stats.bytes,
        elapsed: stats.elapsed,
        latency: Latency::from_samples(&mut stats.latencies),
        errors: stats.errors,
        cut_short: stats.cut_short,
        checks,
        check_failures,
        keys: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_names_round_trip() {
        for w in Workload::ALL {
            assert_eq!(Workload::parse(w.name()), Ok(w));
        }
        assert!(Workload::parse("get-medium")
            .unwrap_err()
            .contains("put-small"));
    }

    #[test]
    fn objects_are_distinct_views_of_the_buffer() {
        let data = Bytes::from(
            (0..SPAN + 100)
                .map(|i| (i * 7 % 251) as u8)
                .collect::<Vec<u8>>(),
        );
        let a = object_data(&data, 0, 100);
        let b = object_data(&data, 1, 100);
        assert_eq!(a.len(), 100);
        assert_ne!(a, b);
        assert!(data.as_ptr_range().contains(&b.as_ptr()));
        // The largest offset still leaves room for the object.
        let last = object_data(&data, SPAN - 1, 100);
        assert_eq!(last.len(), 100);
        assert_eq!(object_key("small", 42), "small/00000042");
    }
}
