//! Runs `count` operations with `concurrency` workers and measures each one.
//!
//! Workers take the next index from a shared counter, so a slow request holds up one worker,
//! not a whole batch, and the concurrency stays constant until the work runs out. A deadline
//! stops new operations from starting; those in flight finish and are counted.

use crate::client::RequestError;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one operation reports on success: bytes moved (payload only) and a value to keep.
pub type OpOutput<T> = (u64, T);

/// The measurements of one run.
#[derive(Debug)]
pub struct RunStats<T> {
    /// Wall time from the first start to the last end.
    pub elapsed: Duration,
    /// The latency of every successful operation, unordered.
    pub latencies: Vec<Duration>,
    /// The index and value of every successful operation, unordered.
    pub done: Vec<(usize, T)>,
    /// Payload bytes of the successful operations.
    pub bytes: u64,
    /// Failed operations.
    pub failed: u64,
    /// The first few failures, for the report.
    pub errors: Vec<String>,
    /// Whether the deadline stopped the run before every index was started.
    pub cut_short: bool,
}

/// How many error messages a run keeps.
const ERRORS_KEPT: usize = 3;

struct Worker<T> {
    latencies: Vec<Duration>,
    done: Vec<(usize, T)>,
    bytes: u64,
    failed: u64,
    errors: Vec<String>,
}

/// Runs `op(0..count)` with `concurrency` workers (at least one), starting no operation after
/// `deadline`.
pub async fn run<T, F, Fut>(
    count: usize,
    concurrency: usize,
    deadline: Option<Instant>,
    op: F,
) -> RunStats<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<OpOutput<T>, RequestError>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let workers = concurrency.clamp(1, count.max(1));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(workers);
    for _ in 0..workers {
        let op = op.clone();
        let next = next.clone();
        handles.push(tokio::spawn(async move {
            let mut worker = Worker {
                latencies: Vec::new(),
                done: Vec::new(),
                bytes: 0,
                failed: 0,
                errors: Vec::new(),
            };
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    break;
                }
                let began = Instant::now();
                match op(index).await {
                    Ok((bytes, value)) => {
                        worker.latencies.push(began.elapsed());
                        worker.bytes += bytes;
                        worker.done.push((index, value));
                    }
                    Err(e) => {
                        worker.failed += 1;
                        if worker.errors.len() < ERRORS_KEPT {
                            worker.errors.push(e.to_string());
                        }
                    }
                }
            }
            worker
        }));
    }
    let mut stats = RunStats {
        elapsed: Duration::ZERO,
        latencies: Vec::with_capacity(count),
        done: Vec::with_capacity(count),
        bytes: 0,
        failed: 0,
        errors: Vec::new(),
        cut_short: false,
    };
    for handle in handles {
        match handle.await {
            Ok(mut worker) => {
                stats.latencies.append(&mut worker.latencies);
                stats.done.append(&mut worker.done);
                stats.bytes += worker.bytes;
                stats.failed += worker.failed;
                for error in worker.errors {
                    if stats.errors.len() < ERRORS_KEPT {
                        stats.errors.push(error);
                    }
                }
            }
            // A worker panicked: its operations are lost, say so rather than hide it.
            Err(e) => {
                stats.failed += 1;
                stats.errors.push(format!("a worker stopped: {e}"));
            }
        }
    }
    stats.elapsed = start.elapsed();
    stats.cut_short = next.load(Ordering::Relaxed) < count;
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_index_runs_once() {
        let stats = run(100, 7, None, |i| async move {
            if i % 10 == 3 {
                Err(RequestError::BadAnswer(format!("op {i} failed")))
            } else {
                Ok((2, i))
            }
        })
        .await;
        let mut indices: Vec<usize> = stats
            .done
            .iter()
            .map(|(i, v)| {
                assert_eq!(i, v);
                *i
            })
            .collect();
        indices.sort_unstable();
        let expected: Vec<usize> = (0..100).filter(|i| i % 10 != 3).collect();
        assert_eq!(indices, expected);
        assert_eq!(stats.latencies.len(), 90);
        assert_eq!(stats.bytes, 180);
        assert_eq!(stats.failed, 10);
        assert_eq!(stats.errors.len(), ERRORS_KEPT);
        assert!(!stats.cut_short);
    }

    #[tokio::test]
    async fn a_past_deadline_starts_nothing() {
        let stats = run(5, 2, Some(Instant::now()), |i| async move { Ok((0, i)) }).await;
        assert!(stats.done.is_empty());
        assert!(stats.cut_short);
        let empty = run(0, 4, None, |i| async move { Ok((0, i)) }).await;
        assert!(empty.done.is_empty() && !empty.cut_short);
    }
}
