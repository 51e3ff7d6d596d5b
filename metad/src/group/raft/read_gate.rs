//! The read barrier of a group of several, shared by concurrent requests: an answer may be
//! given once a round of heartbeats that began after the request arrived found a majority
//! still following this leader (openraft's `ensure_linearizable`). One round serves every
//! request that arrived before it began, so a burst of reads costs one round, not one each.

use dfs_common::metrics::Counter;
use dfs_common::RpcError;
use std::future::Future;
use std::sync::{Condvar, Mutex};
use tokio::runtime::Handle;

/// Rounds of leadership confirmation, one at a time.
#[derive(Default)]
pub struct ReadGate {
    state: Mutex<Rounds>,
    finished: Condvar,
    /// Rounds begun since start, for the metrics.
    rounds: Counter,
}

#[derive(Default)]
struct Rounds {
    /// Rounds begun (the last one may still run).
    begun: u64,
    /// Whether round `begun` runs now.
    running: bool,
    /// The last round finished and its outcome.
    last: Option<(u64, Result<(), RpcError>)>,
}

impl ReadGate {
    /// Waits for a round begun after this call (blocking), running it on `runtime` when none
    /// is running; `round` confirms the leadership once.
    pub fn confirm<F, Fut>(&self, runtime: &Handle, round: F) -> Result<(), RpcError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), RpcError>>,
    {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        // A round running now may have begun before this request: the next one is needed.
        let needed = state.begun + 1;
        loop {
            if let Some((finished, outcome)) = &state.last {
                if *finished >= needed {
                    return outcome.clone();
                }
            }
            if !state.running {
                state.begun += 1;
                state.running = true;
                self.rounds.inc();
                let this_round = state.begun;
                drop(state);
                let outcome = runtime.block_on(round());
                state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                state.running = false;
                state.last = Some((this_round, outcome));
                self.finished.notify_all();
                continue;
            }
            state = self.finished.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The count of rounds begun, shared with the metrics registry.
    pub fn rounds(&self) -> Counter {
        self.rounds.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_readers_share_rounds_and_each_waits_for_one_begun_after_it() {
        let gate = Arc::new(ReadGate::default());
        let rounds = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..32)
            .map(|_| {
                let (gate, rounds) = (gate.clone(), rounds.clone());
                let runtime = Handle::current();
                tokio::task::spawn_blocking(move || {
                    gate.confirm(&runtime, || {
                        let rounds = rounds.clone();
                        async move {
                            rounds.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok(())
                        }
                    })
                })
            })
            .collect();
        for reader in readers {
            reader.await.unwrap().unwrap();
        }
        let used = rounds.load(Ordering::SeqCst);
        assert!((1..32).contains(&used), "32 readers used {used} rounds");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_round_fails_its_readers_and_the_next_one_runs_again() {
        let gate = Arc::new(ReadGate::default());
        let (failing, runtime) = (gate.clone(), Handle::current());
        let err = tokio::task::spawn_blocking(move || {
            failing.confirm(&runtime, || async {
                Err(RpcError::unavailable("no majority"))
            })
        })
        .await
        .unwrap()
        .unwrap_err();
        assert!(err.message.contains("no majority"));
        let (ok, runtime) = (gate.clone(), Handle::current());
        tokio::task::spawn_blocking(move || ok.confirm(&runtime, || async { Ok(()) }))
            .await
            .unwrap()
            .unwrap();
    }
}
