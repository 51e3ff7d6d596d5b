//! metad's RocksDB: one column family per table, versioned values, atomic batches.
//!
//! Reads go through [`Reader`], implemented by a [`View`] (a consistent snapshot, no lock) and
//! by a [`Txn`]. A `Txn` holds the store's write lock for its whole life, so a
//! read-check-write sequence is atomic with respect to every other mutation, and it sees its
//! own pending writes. At commit its writes become effects (`group::effects`) that the store's
//! group applies as one `WriteBatch`, synced to the WAL when the change was acknowledged to a
//! client (a crash never loses an acknowledged change, and never leaves half of one).
//!
//! Every write to the replicated tables goes through that path (`group::apply`), id-block
//! reservations included. The only writes outside it go to the node-local `local` table
//! ([`Cf::Local`]: the session mirror, the readiness probe), which no replica will ever see.

mod cf;
mod ids;
pub mod keys;
mod pending;
pub mod queue;
mod snapshot;
mod txn;
mod upgrade;
pub mod values;

pub use cf::Cf;
pub use ids::IdKind;
pub use txn::Txn;

use crate::group::{Group, LocalGroup, TxnEffects};
use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DBRawIterator, Options, WriteOptions, DB};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use values::{Schema, Value};

/// The schema version this build writes. Version 2 changed the directory entry and added the
/// `access_key` table; version 3 made file chunk rows slices, gave files their part sizes and
/// sessions their part, and added the multipart tables (`upload`, `upload_id`, `part`);
/// version 4 gave the payload of a directory object data (size, chunk rows, part sizes);
/// version 5 typed the S3 flexible checksums of entries, uploads and parts; version 6 added the
/// persistent items of the bounded background jobs (the `detached` and `node_sweep` tables);
/// version 7 moved the rows of this process alone (the open session mirror, the readiness
/// probe's key) out of the replicated tables into the node-local `local` table; version 8 gave
/// each chunk map row its offset in the file (older rows keep none and are located by summing
/// lengths; nothing is rewritten, but an older metad cannot read the new rows).
/// An older database is upgraded in place: new column families are created at open, old values
/// decode forward when read, the few that cannot (parts before version 5) are rewritten by
/// [`upgrade`], then the marker is rewritten.
pub(crate) const SCHEMA_VERSION: u32 = 8;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB refused an operation.
    #[error("database error: {0}")]
    Db(#[from] rocksdb::Error),
    /// Stored bytes do not decode.
    #[error("corrupt database: {0}")]
    Corrupt(String),
    /// The group did not take or apply a write (not the leader, no quorum, unknown fate):
    /// the answer to give, as the group said it.
    #[error("{0}")]
    Group(dfs_common::RpcError),
}

impl From<StoreError> for dfs_common::RpcError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Group(answer) => answer,
            other => dfs_common::RpcError::internal(other.to_string()),
        }
    }
}

/// The open database.
pub struct Store {
    /// Shared with the group, which applies the effects.
    db: Arc<DB>,
    /// Applies committed effects: the only writer of the replicated tables. The group of one
    /// until [`use_group`](Store::use_group) hands the store to a Raft group.
    group: RwLock<Arc<dyn Group>>,
    /// Serializes every read-check-write (see [`Txn`]), and holds the effects committed but
    /// not applied yet, which transactions read.
    write_lock: Mutex<pending::Pending>,
    /// The newest batch that holds pending effects (see [`settle_point`](Store::settle_point)).
    pending_high: AtomicU64,
    ids: ids::IdAlloc,
    /// Seconds each synced commit waited for its WAL fsync (shared by a group commit).
    commit_seconds: dfs_common::metrics::Histogram,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.db.path())
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database in `dir`, with every column family.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, |group| Box::new(group))
    }

    /// Opens the database with the group `wrap` makes of the group of one (tests record what
    /// the group is given).
    pub(crate) fn open_with(
        dir: &Path,
        wrap: impl FnOnce(LocalGroup) -> Box<dyn Group>,
    ) -> Result<Store, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.increase_parallelism(2);
        opts.set_keep_log_file_num(10);
        let cfs = Cf::ALL
            .iter()
            .map(|cf| ColumnFamilyDescriptor::new(cf.name(), Options::default()));
        let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
        for cf in Cf::ALL {
            if db.cf_handle(cf.name()).is_none() {
                return Err(StoreError::Corrupt(format!(
                    "column family {} is missing after open",
                    cf.name()
                )));
            }
        }
        let db = Arc::new(db);
        let ids = ids::IdAlloc::load(&db)?;
        let group = wrap(LocalGroup::open(db.clone())?);
        let store = Store {
            db,
            group: RwLock::new(Arc::from(group)),
            write_lock: Mutex::new(pending::Pending::default()),
            pending_high: AtomicU64::new(0),
            ids,
            commit_seconds: dfs_common::metrics::latency_histogram(),
        };
        store.check_schema()?;
        Ok(store)
    }

    /// Writes the schema marker on first start; refuses a database of an unknown schema.
    fn check_schema(&self) -> Result<(), StoreError> {
        match self.view().get::<Schema>(Cf::Meta, keys::meta::SCHEMA)? {
            Some(schema) if schema.version == SCHEMA_VERSION => Ok(()),
            Some(schema) if (1..SCHEMA_VERSION).contains(&schema.version) => {
                tracing::info!(
                    "upgrading the database from schema version {} to {SCHEMA_VERSION}",
                    schema.version
                );
                if schema.version < 5 {
                    let parts = upgrade::typed_part_checksums(self)?;
                    tracing::info!("typed the checksums of {parts} stored parts");
                }
                if schema.version < 7 {
                    let sessions = upgrade::node_local_rows(self)?;
                    tracing::info!("moved {sessions} open sessions to the node-local table");
                }
                self.write_schema()
            }
            Some(schema) => Err(StoreError::Corrupt(format!(
                "database schema version {} is not supported by this metad (it knows {SCHEMA_VERSION})",
                schema.version
            ))),
            None => self.write_schema(),
        }
    }

    fn write_schema(&self) -> Result<(), StoreError> {
        let mut txn = self.begin();
        txn.put(
            Cf::Meta,
            keys::meta::SCHEMA,
            &Schema {
                version: SCHEMA_VERSION,
            },
        )?;
        txn.commit(true)
    }

    fn cf(&self, cf: Cf) -> Result<&ColumnFamily, StoreError> {
        self.db
            .cf_handle(cf.name())
            .ok_or_else(|| StoreError::Corrupt(format!("column family {} is missing", cf.name())))
    }

    /// A consistent read-only snapshot of the whole database.
    pub fn view(&self) -> View<'_> {
        View {
            store: self,
            snapshot: self.db.snapshot(),
        }
    }

    /// Starts a read-check-write transaction; blocks while another one is running.
    pub fn begin(&self) -> Txn<'_> {
        // A panic while holding the lock cannot leave a half-written batch behind (batches are
        // written whole), so a poisoned lock is safe to take over.
        let mut guard = self
            .write_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let group = self.group();
        guard.settle(group.unsettled_from(), group.generation());
        Txn::new(self, guard)
    }

    /// The group that applies this store's effects.
    pub(crate) fn group(&self) -> Arc<dyn Group> {
        self.group.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Hands the store to `group` (a Raft group, once it runs): from now on it applies
    /// every committed transaction. Called before the store serves any request.
    pub(crate) fn use_group(&self, group: Arc<dyn Group>) {
        *self.group.write().unwrap_or_else(|p| p.into_inner()) = group;
    }

    /// The state database, shared with the Raft state machine that applies to it.
    pub(crate) fn shared_db(&self) -> Arc<DB> {
        self.db.clone()
    }

    /// Records that batch `seq` holds pending effects.
    fn note_pending(&self, seq: u64) {
        self.pending_high.fetch_max(seq, Ordering::AcqRel);
    }

    /// The newest batch whose pending effects an operation finishing now could have read:
    /// its answer may be given once every batch up to it is settled.
    pub(crate) fn settle_point(&self) -> u64 {
        self.pending_high.load(Ordering::Acquire)
    }

    /// The leader-run generation in which the current operation (on this thread) last made a
    /// synced commit, if it did, and clears the mark. A synced commit that succeeded proves
    /// that everything its transaction read was committed, in that run: an operation whose
    /// answer rests on such a commit may answer at once.
    pub(crate) fn take_commit_mark(&self) -> Option<u64> {
        txn::take_commit_mark()
    }

    /// Moves the chunk id counter to at least [`ids::restore_floor`] of now. A state restored
    /// from a backup has the counter of the backup's time, while the metad it was taken from
    /// went on handing out chunk ids whose files may still be on chunkds: a new chunk under
    /// one of them would meet a stale copy. Returns the first id it will hand out.
    pub(crate) fn raise_ids_after_adoption(&self) -> Result<u64, StoreError> {
        let floor = ids::restore_floor(dfs_common::auth::unix_now());
        self.ids
            .reserve_up_to(self, IdKind::Chunk, floor.saturating_sub(1))?;
        Ok(floor)
    }

    /// Forgets the id ranges held in memory and starts again from the stored bounds: a new
    /// leader must not continue ranges from before another leader's reservations.
    pub(crate) fn reload_ids(&self) -> Result<(), StoreError> {
        self.ids.reload(&self.db)
    }

    /// Hands out a fresh id of `kind`. Ids are reserved in blocks persisted with a synced
    /// write, so most calls cost no I/O and no id is ever handed out twice, even after a crash.
    pub fn next_id(&self, kind: IdKind) -> Result<u64, StoreError> {
        self.ids.next(self, kind)
    }

    /// Makes sure ids of `kind` are never handed out at or below `id` (an id learnt from
    /// elsewhere, such as a node that registers with an id this database forgot).
    pub fn reserve_id(&self, kind: IdKind, id: u64) -> Result<(), StoreError> {
        self.ids.reserve_up_to(self, kind, id)
    }

    /// Writes a node-local row (the `local` table, keys in [`keys::local`]): bookkeeping of
    /// this process that may be lost in a crash (open sessions). No WAL sync, no lock, and no
    /// effects: the row is never replicated.
    pub fn put_local<V: Value>(&self, key: &[u8], value: &V) -> Result<(), StoreError> {
        self.put_local_raw(key, &value.encode()?)
    }

    /// Deletes a node-local row (unsynced, like [`put_local`](Store::put_local)).
    pub fn delete_local(&self, key: &[u8]) -> Result<(), StoreError> {
        self.db
            .delete_cf_opt(self.cf(Cf::Local)?, key, &WriteOptions::default())?;
        Ok(())
    }

    fn put_local_raw(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.db
            .put_cf_opt(self.cf(Cf::Local)?, key, value, &WriteOptions::default())?;
        Ok(())
    }

    /// Reserves an id block: one write of a counter, applied and synced through the group.
    fn reserve_ids(&self, effects: TxnEffects) -> Result<(), StoreError> {
        self.group().reserve(effects)
    }

    /// The state database, for tests that look under the store.
    #[cfg(test)]
    pub(crate) fn db(&self) -> &DB {
        &self.db
    }

    /// Syncs the WAL and flushes memtables, so the next start replays nothing.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_wal(true)?;
        for cf in Cf::ALL {
            self.db.flush_cf(self.cf(cf)?)?;
        }
        Ok(())
    }

    /// Waits until a committed batch is durable (see [`Txn::commit`]), timing the wait.
    fn wait_durable(&self, ticket: crate::group::Ticket) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let synced = self.group().wait(ticket);
        dfs_common::metrics::observe_since(&self.commit_seconds, started);
        synced
    }

    /// The histogram of WAL sync waits, for the metrics registry.
    pub fn commit_histogram(&self) -> dfs_common::metrics::Histogram {
        self.commit_seconds.clone()
    }

    /// Whether the database accepts writes: one small unsynced write of the node-local
    /// `health` key, so a probe costs no fsync and changes no replicated state (RocksDB
    /// refuses writes after a background error, such as a full disk, which is what this
    /// catches; the `local` table shares the database's WAL, so it catches it there too).
    pub fn check_writable(&self) -> Result<(), StoreError> {
        let now = dfs_common::auth::unix_now().to_be_bytes();
        self.put_local_raw(keys::local::HEALTH, &now)
    }
}

/// A scan callback: gets each key and value, returns whether to go on.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool, StoreError> + 'a;

/// Whether `key` is past the exclusive scan start `after`.
fn is_after(key: &[u8], after: Option<&[u8]>) -> bool {
    match after {
        Some(after) => key > after,
        None => true,
    }
}

/// Read access to the tables.
pub trait Reader {
    /// The raw value at `key`.
    fn get_raw(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Visits, in key order, the entries whose key starts with `prefix` and sorts strictly
    /// after `after` (a whole key) when given. `visit` returns `false` to stop.
    fn scan_raw(
        &self,
        cf: Cf,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut Visitor<'_>,
    ) -> Result<(), StoreError>;

    /// The decoded value at `key`.
    fn get<V: Value>(&self, cf: Cf, key: &[u8]) -> Result<Option<V>, StoreError> {
        self.get_raw(cf, key)?.map(|b| V::decode(&b)).transpose()
    }

    /// Whether any entry starts with `prefix`.
    fn any_with_prefix(&self, cf: Cf, prefix: &[u8]) -> Result<bool, StoreError> {
        let mut found = false;
        self.scan_raw(cf, prefix, None, &mut |_, _| {
            found = true;
            Ok(false)
        })?;
        Ok(found)
    }
}

/// A consistent snapshot of the database.
pub struct View<'a> {
    store: &'a Store,
    snapshot: rocksdb::Snapshot<'a>,
}

impl Reader for View<'_> {
    fn get_raw(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.snapshot.get_cf(self.store.cf(cf)?, key)?)
    }

    fn scan_raw(
        &self,
        cf: Cf,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut Visitor<'_>,
    ) -> Result<(), StoreError> {
        let iter = self.snapshot.raw_iterator_cf(self.store.cf(cf)?);
        scan_iter(iter, prefix, after, visit)
    }
}

/// Walks a raw iterator over `prefix`, strictly after `after`.
fn scan_iter(
    mut iter: DBRawIterator<'_>,
    prefix: &[u8],
    after: Option<&[u8]>,
    visit: &mut Visitor<'_>,
) -> Result<(), StoreError> {
    iter.seek(scan_start(prefix, after));
    while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
        if !key.starts_with(prefix) {
            break;
        }
        if is_after(key, after) && !visit(key, value)? {
            return Ok(());
        }
        iter.next();
    }
    iter.status()?;
    Ok(())
}

/// Where a scan seeks to: `after` when it is past the prefix's start, else the prefix.
fn scan_start<'k>(prefix: &'k [u8], after: Option<&'k [u8]>) -> &'k [u8] {
    match after {
        Some(a) if a > prefix => a,
        _ => prefix,
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::group::{LocalWrite, Ticket};
    use std::sync::Arc;

    /// A store in a fresh temporary folder (kept alive by the returned guard).
    pub fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        (dir, store)
    }

    /// What a [`Recording`] group was given.
    #[derive(Default)]
    pub struct Seen {
        /// The effects and node-local rows of each committed transaction.
        pub commits: Vec<(TxnEffects, Vec<LocalWrite>)>,
        /// Each id-block reservation.
        pub reservations: Vec<TxnEffects>,
    }

    /// The group of one, recording everything it is handed.
    pub struct Recording {
        inner: LocalGroup,
        seen: Arc<Mutex<Seen>>,
    }

    impl Group for Recording {
        fn enqueue(
            &self,
            generation: u64,
            fx: TxnEffects,
            local: Vec<LocalWrite>,
        ) -> Result<Ticket, StoreError> {
            let seen = (fx.clone(), local.clone());
            self.seen.lock().unwrap().commits.push(seen);
            self.inner.enqueue(generation, fx, local)
        }

        fn wait(&self, ticket: Ticket) -> Result<(), StoreError> {
            self.inner.wait(ticket)
        }

        fn reserve(&self, fx: TxnEffects) -> Result<(), StoreError> {
            self.seen.lock().unwrap().reservations.push(fx.clone());
            self.inner.reserve(fx)
        }
    }

    /// A store whose group records what it is handed, from after the store opened.
    pub fn recording_store() -> (tempfile::TempDir, Store, Arc<Mutex<Seen>>) {
        let dir = tempfile::tempdir().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let inner_seen = seen.clone();
        let store = Store::open_with(&dir.path().join("db"), |inner| {
            Box::new(Recording {
                inner,
                seen: inner_seen,
            })
        })
        .unwrap();
        *seen.lock().unwrap() = Seen::default();
        (dir, store, seen)
    }
}

#[cfg(test)]
mod tests;
