//! The group's clock for the times metad writes into its state (mtimes, upload ids, key
//! creation): the wall clock, but never earlier than the stamp of any proposal this process
//! has applied or seen in the state. Every proposal carries its leader's stamp and the fence
//! records the newest, so when leadership moves to a member whose clock is behind, the times
//! it writes still never go back: an object's mtime never precedes one written before it, and
//! upload ids (which begin with their creation time, and which the expiry scans in that order)
//! stay in order. Clocks of members must still roughly agree (the signatures' 300 s window
//! requires it anyway); this only keeps a lagging one from writing the past.

use std::sync::atomic::{AtomicU64, Ordering};

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

#[cfg(test)]
mod tests {
    use super::*;

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
