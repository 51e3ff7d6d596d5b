//! The Raft state machine: today's state database. Applying entries writes their effects, the
//! fence and the applied log id in one unsynced batch (durable because the log is; replayed
//! after a crash from the applied log id, so replay is idempotent). Snapshots are RocksDB
//! checkpoints of the state database.

// openraft's storage traits return its `StorageError` (over 200 bytes); the helpers here
// return the same type so that `?` carries it to the traits unchanged. Errors are rare.
#![allow(clippy::result_large_err)]

use super::fence::Fence;
use super::types::{Applied, Epoch, Proposal, SnapshotDir, TypeConfig, PROPOSAL_VERSION};
use crate::group::apply::{handle, stage};
use crate::group::LocalWrite;
use crate::store::keys::meta;
use crate::store::{Cf, StoreError};
use bincode::Options;
use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, Snapshot,
    SnapshotMeta, StorageError, StorageIOError, StoredMembership,
};
use rocksdb::{WriteBatch, WriteOptions, DB};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

type StorageResult<T> = Result<T, StorageError<u64>>;
type Membership = StoredMembership<u64, openraft::BasicNode>;

fn sm_read_err(e: impl ToString) -> StorageError<u64> {
    StorageIOError::read_state_machine(AnyError::error(e)).into()
}

fn sm_write_err(e: impl ToString) -> StorageError<u64> {
    StorageIOError::write_state_machine(AnyError::error(e)).into()
}

fn snapshot_err(e: impl ToString) -> StorageError<u64> {
    StorageIOError::write_snapshot(None, AnyError::error(e)).into()
}

fn codec() -> impl Options {
    bincode::DefaultOptions::new()
}

/// The node-local rows of this member's own proposals, by epoch and batch number, waiting to
/// be written in the same batch as the proposal's effects (so a crash never separates a
/// commit from the removal of its session's mirror).
pub type LocalRows = Arc<Mutex<HashMap<(Epoch, u64), Vec<LocalWrite>>>>;

/// The state machine over the state database.
pub struct StateMachine {
    db: Arc<DB>,
    locals: LocalRows,
    /// `<data>/group`: snapshots are built in its `snapshots/`.
    dir: PathBuf,
    snapshots: PathBuf,
}

/// What the state database says about the log.
pub fn applied_state(db: &DB) -> Result<(Option<LogId<u64>>, Membership), StoreError> {
    let table = handle(db, Cf::Meta)?;
    let applied = match db.get_cf(table, meta::RAFT_APPLIED)? {
        None => None,
        Some(bytes) => codec()
            .deserialize(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("the applied log id: {e}")))?,
    };
    let membership = match db.get_cf(table, meta::RAFT_MEMBERSHIP)? {
        None => Membership::default(),
        Some(bytes) => codec()
            .deserialize(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("the membership: {e}")))?,
    };
    Ok((applied, membership))
}

/// The fence as last applied.
pub fn read_fence(db: &DB) -> Result<Fence, StoreError> {
    match db.get_cf(handle(db, Cf::Meta)?, meta::RAFT_FENCE)? {
        None => Ok(Fence::default()),
        Some(bytes) => Fence::decode(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("the proposal fence: {e}"))),
    }
}

impl StateMachine {
    /// The state machine of `db`; snapshots are built in `dir/snapshots` (on the data
    /// filesystem: checkpoints are hard links).
    pub fn new(db: Arc<DB>, locals: LocalRows, dir: PathBuf) -> StateMachine {
        StateMachine {
            db,
            locals,
            snapshots: dir.join("snapshots"),
            dir,
        }
    }

    /// Applies `entries` as one batch (blocking).
    fn apply_blocking(&self, entries: Vec<Entry<TypeConfig>>) -> StorageResult<Vec<Applied>> {
        let db = &self.db;
        let mut fence = read_fence(db).map_err(sm_read_err)?;
        let mut membership = None;
        let mut batch = WriteBatch::default();
        let mut answers = Vec::with_capacity(entries.len());
        let mut last = None;
        for entry in entries {
            last = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => answers.push(Applied { accepted: true }),
                EntryPayload::Membership(m) => {
                    membership = Some(Membership::new(Some(entry.log_id), m));
                    answers.push(Applied { accepted: true });
                }
                EntryPayload::Normal(proposal) => {
                    let accepted =
                        self.stage_proposal(&mut batch, &mut fence, &proposal, entry.log_id.index)?;
                    answers.push(Applied { accepted });
                }
            }
        }
        let table = handle(db, Cf::Meta).map_err(sm_write_err)?;
        batch.put_cf(table, meta::RAFT_APPLIED, encode(&last)?);
        batch.put_cf(table, meta::RAFT_FENCE, encode(&fence)?);
        if let Some(membership) = &membership {
            batch.put_cf(table, meta::RAFT_MEMBERSHIP, encode(membership)?);
        }
        db.write_opt(batch, &WriteOptions::default())
            .map_err(sm_write_err)?;
        Ok(answers)
    }

    /// Stages a proposal's effects if the fence lets it apply; returns whether it did.
    fn stage_proposal(
        &self,
        batch: &mut WriteBatch,
        fence: &mut Fence,
        proposal: &Proposal,
        index: u64,
    ) -> StorageResult<bool> {
        if proposal.version != PROPOSAL_VERSION {
            return Err(sm_write_err(format!(
                "log entry {index} is a proposal of version {}, unknown to this metad \
                 (written by a newer one?)",
                proposal.version
            )));
        }
        let locals = self
            .locals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(proposal.epoch, proposal.seq));
        if !fence.admits(proposal) {
            tracing::info!(
                index,
                term = proposal.epoch.term,
                leader = proposal.epoch.leader,
                seq = proposal.seq,
                "proposal refused by the fence (evaluated on a state that was never committed)"
            );
            return Ok(false);
        }
        crate::clock::observe(proposal.stamp_ms);
        for write in proposal.txns.iter().flat_map(|txn| &txn.writes) {
            stage(&self.db, batch, write).map_err(sm_write_err)?;
        }
        if let Some(rows) = locals {
            let table = handle(&self.db, Cf::Local).map_err(sm_write_err)?;
            for row in rows {
                match &row.value {
                    Some(value) => batch.put_cf(table, &row.key, value),
                    None => batch.delete_cf(table, &row.key),
                }
            }
        }
        fence.advance(proposal, index);
        Ok(true)
    }

    /// Builds a snapshot: a checkpoint of the state database (blocking).
    fn build_blocking(&self) -> StorageResult<Snapshot<TypeConfig>> {
        std::fs::create_dir_all(&self.snapshots).map_err(snapshot_err)?;
        let tmp = self.snapshots.join(format!("tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        // A checkpoint flushes the memtables first: the state it holds is on disk, which is
        // what lets openraft purge the log behind it.
        rocksdb::checkpoint::Checkpoint::new(&self.db)
            .and_then(|c| c.create_checkpoint(&tmp))
            .map_err(snapshot_err)?;
        // Applies may run while the checkpoint is taken: read what it holds from itself.
        let (last_log_id, last_membership) = read_checkpoint_state(&tmp)?;
        let name = match last_log_id {
            Some(id) => format!("{}-{}", id.leader_id.term, id.index),
            None => "empty".to_owned(),
        };
        let path = self.snapshots.join(&name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::rename(&tmp, &path).map_err(snapshot_err)?;
        remove_other_snapshots(&self.snapshots, &name);
        tracing::info!(snapshot = %name, "state snapshot built");
        Ok(Snapshot {
            meta: SnapshotMeta {
                last_log_id,
                last_membership,
                snapshot_id: name,
            },
            snapshot: Box::new(SnapshotDir { path }),
        })
    }

    /// Makes the state what the received snapshot in `from` holds, then keeps the snapshot as
    /// this member's current one (blocking).
    fn install_blocking(
        &self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        from: &Path,
    ) -> StorageResult<()> {
        super::snapshot::install_state(&self.db, &self.dir, from).map_err(snapshot_err)?;
        let (applied, _) = applied_state(&self.db).map_err(snapshot_err)?;
        if applied != meta.last_log_id {
            return Err(snapshot_err(format!(
                "the installed snapshot {} holds state up to {applied:?}, not {:?}",
                meta.snapshot_id, meta.last_log_id
            )));
        }
        std::fs::create_dir_all(&self.snapshots).map_err(snapshot_err)?;
        let kept = self.snapshots.join(&meta.snapshot_id);
        let _ = std::fs::remove_dir_all(&kept);
        std::fs::rename(from, &kept).map_err(snapshot_err)?;
        remove_other_snapshots(&self.snapshots, &meta.snapshot_id);
        tracing::info!(snapshot = %meta.snapshot_id, "state snapshot installed");
        Ok(())
    }

    /// The newest snapshot built, if any (blocking).
    fn current_blocking(&self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let Ok(dir) = std::fs::read_dir(&self.snapshots) else {
            return Ok(None);
        };
        for item in dir.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            if name.starts_with("tmp-") {
                continue;
            }
            let path = item.path();
            let (last_log_id, last_membership) = read_checkpoint_state(&path)?;
            return Ok(Some(Snapshot {
                meta: SnapshotMeta {
                    last_log_id,
                    last_membership,
                    snapshot_id: name,
                },
                snapshot: Box::new(SnapshotDir { path }),
            }));
        }
        Ok(None)
    }
}

/// The applied log id and membership recorded in a checkpoint.
fn read_checkpoint_state(path: &Path) -> StorageResult<(Option<LogId<u64>>, Membership)> {
    let names = Cf::ALL.iter().map(|cf| cf.name());
    let db = DB::open_cf_for_read_only(&rocksdb::Options::default(), path, names, false)
        .map_err(snapshot_err)?;
    applied_state(&db).map_err(snapshot_err)
}

fn remove_other_snapshots(dir: &Path, keep: &str) {
    let Ok(items) = std::fs::read_dir(dir) else {
        return;
    };
    for item in items.flatten() {
        if item.file_name() != keep {
            let _ = std::fs::remove_dir_all(item.path());
        }
    }
}

/// The bincode encoding of one of the state machine's own rows.
fn encode<T: serde::Serialize>(value: &T) -> StorageResult<Vec<u8>> {
    codec().serialize(value).map_err(sm_write_err)
}

/// Runs blocking RocksDB work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> StorageResult<T> + Send + 'static,
) -> StorageResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| sm_write_err(format!("state machine task failed: {e}")))?
}

impl StateMachine {
    fn handle(&self) -> StateMachine {
        StateMachine {
            db: self.db.clone(),
            locals: self.locals.clone(),
            dir: self.dir.clone(),
            snapshots: self.snapshots.clone(),
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        let this = self.handle();
        blocking(move || this.build_blocking()).await
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> StorageResult<(Option<LogId<u64>>, Membership)> {
        let db = self.db.clone();
        blocking(move || applied_state(&db).map_err(sm_read_err)).await
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<Applied>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let this = self.handle();
        blocking(move || this.apply_blocking(entries)).await
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.handle()
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<SnapshotDir>> {
        Err(snapshot_err(
            "this metad cannot receive a snapshot yet: a member that fell behind the purged \
             log must be re-added from a backup (metad/REPLICATION.md, stage 4)",
        ))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, openraft::BasicNode>,
        snapshot: Box<SnapshotDir>,
    ) -> StorageResult<()> {
        let this = self.handle();
        let meta = meta.clone();
        blocking(move || this.install_blocking(&meta, &snapshot.path)).await
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let this = self.handle();
        blocking(move || this.current_blocking()).await
    }
}
