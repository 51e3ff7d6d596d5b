//! The group's clock for the times metad writes into its state (mtimes, upload ids, key
//! creation): the wall clock, but never earlier than the stamp of any proposal this process
//! has applied or seen in the state. Every proposal carries its leader's stamp and the fence
//! records the newest, so when leadership moves to a member whose clock is behind, the times
//! it writes still never go back: an object's mtime never precedes one written before it, and
//! upload ids (which begin with their creation time, and which the expiry scans in that order)
//! stay in order. Clocks of members must still roughly agree (the signatures' 300 s window
//! requires it anyway); this only keeps a lagging one from writing the past.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The newest stamp seen. Process-wide: members run in one process (`dfs dev --metads 3`)
/// share one wall clock, so sharing the floor changes nothing for them.
static FLOOR_MS: AtomicU64 = AtomicU64::new(0);

/// Now, Unix milliseconds: the wall clock, or the newest stamp seen when that is later.
pub fn now_ms() -> u64 {
    dfs_common::auth::unix_now_ms().max(FLOOR_MS.load(Ordering::Relaxed))
}

/// Records a stamp of the group's (an applied proposal's, or the fence's at start).
pub fn observe(stamp_ms: u64) {
    FLOOR_MS.fetch_max(stamp_ms, Ordering::Relaxed);
}

/// The steady clock's last reading: (when, Unix milliseconds).
static STEADY: Mutex<Option<(Instant, u64)>> = Mutex::new(None);

/// How far the steady clock may run faster or slower than real time to follow the wall clock:
/// 1 %. A step of the wall clock is absorbed at that rate (an hour back: about 100 hours of a
/// clock running at 99 %), its slow drift at once.
const SLEW_PERCENT: u64 = 1;

/// Now for the deadlines of background work (queued repairs and deletions, the release grace,
/// expiries), Unix milliseconds: the wall clock, followed as `slew` says, so that a step of
/// the wall clock (a bad NTP server, a manual `date -s`) neither stalls the workers for the
/// length of a backward step nor cuts a grace short by a forward one.
pub fn steady_ms() -> u64 {
    let mut last = STEADY.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    let wall = dfs_common::auth::unix_now_ms();
    let next = match *last {
        None => wall,
        Some((at, ms)) => slew(ms, now.duration_since(at).as_millis() as u64, wall),
    };
    *last = Some((now, next));
    next
}

/// The steady clock's next reading: `prev_ms` advanced by `elapsed_ms` of real time, moved
/// toward `wall_ms` by at most [`SLEW_PERCENT`] of `elapsed_ms`, never backwards.
fn slew(prev_ms: u64, elapsed_ms: u64, wall_ms: u64) -> u64 {
    let ticked = prev_ms.saturating_add(elapsed_ms);
    let slack = elapsed_ms * SLEW_PERCENT / 100;
    wall_ms
        .clamp(ticked.saturating_sub(slack), ticked.saturating_add(slack))
        .max(prev_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steps of the wall clock move the steady clock by 1 % of the time that passed at most;
    /// it follows a wall clock that agrees, and never goes back.
    #[test]
    fn the_steady_clock_slews_toward_the_wall_clock_and_ignores_its_steps() {
        let t = 1_800_000_000_000;
        assert_eq!(slew(t, 1_000, t + 1_000), t + 1_000);
        // A small drift is followed.
        assert_eq!(slew(t, 1_000, t + 1_005), t + 1_005);
        // The wall clock jumps an hour ahead, then an hour back: a second passes as 1.01 s,
        // then as 0.99 s.
        assert_eq!(slew(t, 1_000, t + 3_601_000), t + 1_010);
        assert_eq!(slew(t, 1_000, t - 3_599_000), t + 990);
        // Never backwards, even with no time passed.
        assert_eq!(slew(t, 0, t - 5_000), t);
        let first = steady_ms();
        assert!(steady_ms() >= first);
    }

    #[test]
    fn the_clock_never_goes_back_behind_an_observed_stamp() {
        let wall = dfs_common::auth::unix_now_ms();
        assert!(now_ms() >= wall);
        // A leader an hour ahead wrote before this member leads.
        let ahead = wall + 3_600_000;
        observe(ahead);
        assert!(now_ms() >= ahead);
        // An older stamp lowers nothing.
        observe(wall);
        assert!(now_ms() >= ahead);
    }
}
