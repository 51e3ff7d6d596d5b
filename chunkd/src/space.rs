//! What this node can still take, as told to metad: the smaller of what the configured capacity
//! leaves after the chunks held and what the filesystem really has free beyond a reserve, and
//! nothing for a while after a write failed with ENOSPC (a filesystem can be full while
//! `statvfs` shows room: quotas, inodes, reserved blocks). metad places chunks by this free
//! space, so a full node stops being chosen at its next heartbeat instead of refusing every
//! write sent to it.
//!
//! On the wire this is `used = capacity - free`: the bytes the cluster can no longer count on,
//! whoever holds them (a filesystem shared with other data shows that data as used too).

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a node reports itself full after a write failed with ENOSPC.
pub const FULL_AFTER_ENOSPC: Duration = Duration::from_secs(60);

/// Largest reserve kept free on the filesystem, whatever its size.
const MAX_RESERVE: u64 = 10 << 30;

/// The node's free space, and whether it recently ran out.
#[derive(Debug, Default)]
pub struct Space {
    full_since: Mutex<Option<Instant>>,
}

impl Space {
    /// A write failed with ENOSPC: report no free space for [`FULL_AFTER_ENOSPC`].
    pub fn mark_full(&self) {
        let mut full = self.full_since.lock().unwrap_or_else(|e| e.into_inner());
        if full.is_none() {
            tracing::warn!("the disk is full: this node takes no new chunks for a while");
        }
        *full = Some(Instant::now());
    }

    /// Bytes this node can still take: see the module documentation.
    pub fn free(&self, dir: &Path, capacity: u64, stored: u64) -> u64 {
        {
            let mut full = self.full_since.lock().unwrap_or_else(|e| e.into_inner());
            match *full {
                Some(since) if since.elapsed() < FULL_AFTER_ENOSPC => return 0,
                Some(_) => *full = None,
                None => {}
            }
        }
        let filesystem = filesystem_free(dir);
        effective_free(capacity, stored, filesystem)
    }
}

/// The filesystem's space available to this process and its total size, if it tells.
fn filesystem_free(dir: &Path) -> Option<(u64, u64)> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some((
        stat.f_bavail.saturating_mul(stat.f_frsize),
        stat.f_blocks.saturating_mul(stat.f_frsize),
    ))
}

/// What the capacity leaves after `stored`, and no more than the filesystem's `available`
/// bytes minus a reserve of 1 % of its `size` (at most [`MAX_RESERVE`]).
fn effective_free(capacity: u64, stored: u64, filesystem: Option<(u64, u64)>) -> u64 {
    let by_capacity = capacity.saturating_sub(stored);
    match filesystem {
        Some((available, size)) => {
            let reserve = (size / 100).min(MAX_RESERVE);
            by_capacity.min(available.saturating_sub(reserve))
        }
        None => by_capacity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn free_space_is_the_smaller_of_capacity_left_and_filesystem_free() {
        // A capacity above what the disk has: the disk decides, minus 1 % of it.
        assert_eq!(
            effective_free(1000 * GIB, 0, Some((50 * GIB, 100 * GIB))),
            49 * GIB
        );
        // Chunks held count against the capacity.
        assert_eq!(
            effective_free(10 * GIB, 9 * GIB, Some((50 * GIB, 100 * GIB))),
            GIB
        );
        // The reserve is at most 10 GiB, and a disk below it has nothing to offer.
        assert_eq!(
            effective_free(u64::MAX, 0, Some((30 * GIB, 4000 * GIB))),
            20 * GIB
        );
        assert_eq!(effective_free(u64::MAX, 0, Some((GIB / 2, 100 * GIB))), 0);
        // No filesystem figures: the capacity alone.
        assert_eq!(effective_free(10 * GIB, GIB, None), 9 * GIB);
    }

    #[test]
    fn a_node_is_full_for_a_while_after_enospc() {
        let dir = tempfile::tempdir().unwrap();
        let space = Space::default();
        assert!(space.free(dir.path(), 1 << 20, 0) > 0);
        space.mark_full();
        assert_eq!(space.free(dir.path(), 1 << 20, 0), 0);
        // Once the while is over, the filesystem decides again.
        *space.full_since.lock().unwrap() = Some(Instant::now() - FULL_AFTER_ENOSPC);
        assert!(space.free(dir.path(), 1 << 20, 0) > 0);
    }
}
