//! metad's RocksDB: one column family per table, versioned values, atomic batches.
//!
//! Reads go through [`Reader`], implemented by a [`View`] (a consistent snapshot, no lock) and
//! by a [`Txn`]. A `Txn` holds the store's write lock for its whole life, so a
//! read-check-write sequence is atomic with respect to every other mutation, and it sees its
//! own pending writes. Its writes reach RocksDB as one `WriteBatch`, synced to the WAL when the
//! change was acknowledged to a client (a crash never loses an acknowledged change, and never
//! leaves half of one).

mod ids;
pub mod keys;
pub mod queue;
mod snapshot;
mod txn;
mod upgrade;
pub mod values;

pub use ids::IdKind;
pub use txn::Txn;

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, DBRawIterator, Options, WriteOptions, DB};
use std::path::Path;
use std::sync::Mutex;
use values::{Schema, Value};

/// The schema version this build writes. Version 2 changed the directory entry and added the
/// `access_key` table; version 3 made file chunk rows slices, gave files their part sizes and
/// sessions their part, and added the multipart tables (`upload`, `upload_id`, `part`);
/// version 4 gave the payload of a directory object data (size, chunk rows, part sizes);
/// version 5 typed the S3 flexible checksums of entries, uploads and parts; version 6 added the
/// persistent items of the bounded background jobs (the `detached` and `node_sweep` tables).
/// An older database is upgraded in place: new column families are created at open, old values
/// decode forward when read, the few that cannot (parts before version 5) are rewritten by
/// [`upgrade`], then the marker is rewritten.
pub(crate) const SCHEMA_VERSION: u32 = 6;

/// The tables, one RocksDB column family each (see DESIGN.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cf {
    /// Schema version and id counters.
    Meta,
    /// Directory entries: parent inode ‖ key-form name.
    Dentry,
    /// Chunk lists of files and directory payloads: file (or directory) inode ‖ index.
    Chunks,
    /// Chunk replicas, length, checksum, reference count.
    ChunkLoc,
    /// Reverse index node ‖ chunk.
    NodeChunk,
    /// Registered chunkds.
    Node,
    /// Open write sessions.
    Session,
    /// Chunks to delete: due ‖ chunk.
    GcQueue,
    /// Chunks to re-replicate: due ‖ chunk.
    RepairQueue,
    /// S3 access keys: key id.
    AccessKey,
    /// Multipart uploads: bucket inode ‖ key ‖ 0 ‖ upload id.
    Upload,
    /// Index of uploads by id: upload id → bucket inode and key.
    UploadId,
    /// Parts of uploads: upload id ‖ part number.
    Part,
    /// Directory subtrees cut from the namespace by a recursive delete, waiting for the
    /// background deleter: directory inode.
    Detached,
    /// Dead chunkds whose chunks are being queued for repair: node id.
    NodeSweep,
}

impl Cf {
    /// Every column family.
    pub const ALL: [Cf; 15] = [
        Cf::Meta,
        Cf::Dentry,
        Cf::Chunks,
        Cf::ChunkLoc,
        Cf::NodeChunk,
        Cf::Node,
        Cf::Session,
        Cf::GcQueue,
        Cf::RepairQueue,
        Cf::AccessKey,
        Cf::Upload,
        Cf::UploadId,
        Cf::Part,
        Cf::Detached,
        Cf::NodeSweep,
    ];

    /// The column family's name in RocksDB.
    pub fn name(self) -> &'static str {
        match self {
            Cf::Meta => "meta",
            Cf::Dentry => "dentry",
            Cf::Chunks => "chunks",
            Cf::ChunkLoc => "chunk_loc",
            Cf::NodeChunk => "node_chunk",
            Cf::Node => "node",
            Cf::Session => "session",
            Cf::GcQueue => "gc_queue",
            Cf::RepairQueue => "repair_queue",
            Cf::AccessKey => "access_key",
            Cf::Upload => "upload",
            Cf::UploadId => "upload_id",
            Cf::Part => "part",
            Cf::Detached => "detached",
            Cf::NodeSweep => "node_sweep",
        }
    }
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB refused an operation.
    #[error("database error: {0}")]
    Db(#[from] rocksdb::Error),
    /// Stored bytes do not decode.
    #[error("corrupt database: {0}")]
    Corrupt(String),
}

impl From<StoreError> for dfs_common::RpcError {
    fn from(err: StoreError) -> Self {
        dfs_common::RpcError::internal(err.to_string())
    }
}

/// The open database.
pub struct Store {
    db: DB,
    /// Serializes every read-check-write (see [`Txn`]).
    write_lock: Mutex<()>,
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
        let ids = ids::IdAlloc::load(&db)?;
        let store = Store {
            db,
            write_lock: Mutex::new(()),
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
        let guard = self
            .write_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Txn::new(self, guard)
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

    /// Writes bookkeeping that may be lost in a crash (open sessions): no WAL sync, no lock.
    pub fn put_unsynced<V: Value>(&self, cf: Cf, key: &[u8], value: &V) -> Result<(), StoreError> {
        let mut opts = WriteOptions::default();
        opts.set_sync(false);
        self.db
            .put_cf_opt(self.cf(cf)?, key, value.encode()?, &opts)?;
        Ok(())
    }

    /// Syncs the WAL and flushes memtables, so the next start replays nothing.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_wal(true)?;
        for cf in Cf::ALL {
            self.db.flush_cf(self.cf(cf)?)?;
        }
        Ok(())
    }

    /// Applies a batch without waiting for the disk (see [`Txn::commit`] for the sync).
    fn write_batch(&self, batch: rocksdb::WriteBatch) -> Result<(), StoreError> {
        self.db.write_opt(batch, &WriteOptions::default())?;
        Ok(())
    }

    /// Waits until everything written so far is in the WAL on disk.
    fn sync_wal(&self) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let synced = self.db.flush_wal(true);
        dfs_common::metrics::observe_since(&self.commit_seconds, started);
        synced?;
        Ok(())
    }

    /// The histogram of WAL sync waits, for the metrics registry.
    pub fn commit_histogram(&self) -> dfs_common::metrics::Histogram {
        self.commit_seconds.clone()
    }

    /// Whether the database accepts writes: one small unsynced write of `meta/health`, so a
    /// probe costs no fsync (RocksDB refuses writes after a background error, such as a
    /// full disk, which is what this catches).
    pub fn check_writable(&self) -> Result<(), StoreError> {
        let now = dfs_common::auth::unix_now().to_be_bytes();
        self.db.put_cf_opt(
            self.cf(Cf::Meta)?,
            keys::meta::HEALTH,
            now,
            &WriteOptions::default(),
        )?;
        Ok(())
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

    /// A store in a fresh temporary folder (kept alive by the returned guard).
    pub fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        (dir, store)
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::temp_store;
    use super::values::Counter;
    use super::*;

    fn keys_of(r: &impl Reader, prefix: &[u8], after: Option<&[u8]>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        r.scan_raw(Cf::Meta, prefix, after, &mut |k, _| {
            out.push(k.to_vec());
            Ok(true)
        })
        .unwrap();
        out
    }

    #[test]
    fn txn_sees_its_own_writes_and_commits_atomically() {
        let (_dir, store) = temp_store();
        let c = Counter { next: 1 };
        let mut txn = store.begin();
        for key in [b"p1".as_slice(), b"p3", b"p5", b"q1"] {
            txn.put(Cf::Meta, key, &c).unwrap();
        }
        txn.commit(true).unwrap();

        let mut txn = store.begin();
        txn.delete(Cf::Meta, b"p3");
        txn.put(Cf::Meta, b"p2", &c).unwrap();
        txn.put(Cf::Meta, b"p6", &c).unwrap();
        assert_eq!(keys_of(&txn, b"p", None), [b"p1", b"p2", b"p5", b"p6"]);
        assert_eq!(keys_of(&txn, b"p", Some(b"p2")), [b"p5", b"p6"]);
        // Strictly after a stored key, whether or not it is being deleted.
        assert_eq!(keys_of(&txn, b"p", Some(b"p1")), [b"p2", b"p5", b"p6"]);
        assert_eq!(keys_of(&txn, b"p", Some(b"p3")), [b"p5", b"p6"]);
        assert!(store.view().get_raw(Cf::Meta, b"p2").unwrap().is_none());
        drop(txn); // never committed: nothing happened
        assert_eq!(keys_of(&store.view(), b"p", None), [b"p1", b"p3", b"p5"]);
        assert_eq!(keys_of(&store.view(), b"p", Some(b"p3")), [b"p5"]);
    }

    #[test]
    fn older_databases_are_upgraded_and_newer_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        for old in [1, 2, 3, 4, 5] {
            {
                let store = Store::open(dir.path()).unwrap();
                let mut txn = store.begin();
                txn.put(Cf::Meta, keys::meta::SCHEMA, &Schema { version: old })
                    .unwrap();
                txn.commit(true).unwrap();
            }
            let store = Store::open(dir.path()).unwrap();
            let schema: Schema = store
                .view()
                .get(Cf::Meta, keys::meta::SCHEMA)
                .unwrap()
                .unwrap();
            assert_eq!(schema.version, SCHEMA_VERSION, "from {old}");
        }
        {
            let store = Store::open(dir.path()).unwrap();
            let schema: Schema = store
                .view()
                .get(Cf::Meta, keys::meta::SCHEMA)
                .unwrap()
                .unwrap();
            assert_eq!(schema.version, SCHEMA_VERSION);
            let mut txn = store.begin();
            txn.put(Cf::Meta, keys::meta::SCHEMA, &Schema { version: 99 })
                .unwrap();
            txn.commit(true).unwrap();
        }
        let err = Store::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("schema version 99"), "{err}");
    }

    #[test]
    fn ids_are_unique_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let first: Vec<u64> = {
            let store = Store::open(dir.path()).unwrap();
            (0..5)
                .map(|_| store.next_id(IdKind::Chunk).unwrap())
                .collect()
        };
        let store = Store::open(dir.path()).unwrap();
        let next = store.next_id(IdKind::Chunk).unwrap();
        assert!(first.iter().all(|id| *id < next), "{first:?} then {next}");
        assert!(store.next_id(IdKind::Inode).unwrap() > dfs_common::InodeId::ROOT.0);
        store.reserve_id(IdKind::Node, 5000).unwrap();
        assert!(store.next_id(IdKind::Node).unwrap() > 5000);
    }
}
