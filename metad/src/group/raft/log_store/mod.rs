//! The Raft log and vote, in a RocksDB of their own (`<data>/group/log`): a checkpoint of the
//! state database then holds no log, and nothing that rewrites the state touches the vote.
//!
//! Appends are one synced write batch per call; openraft 0.9 waits for each append before it
//! does anything else, so the batching of transactions into entries (the proposer) is what
//! shares an fsync between many commits.

// openraft's storage traits return its `StorageError` (over 200 bytes); the helpers here
// return the same type so that `?` carries it to the traits unchanged. Errors are rare.
#![allow(clippy::result_large_err)]

use super::types::TypeConfig;
use bincode::Options;
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    AnyError, Entry, LogId, LogState, OptionalSend, RaftLogReader, StorageError, StorageIOError,
    Vote,
};
use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, Options as DbOptions, WriteBatch};
use rocksdb::{WriteOptions, DB};
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

const LOG: &str = "log";
const STATE: &str = "state";
const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const PURGED: &[u8] = b"purged";

/// The first byte of every stored entry: the format of what follows.
const ENTRY_FORMAT: u8 = 1;

type StorageResult<T> = Result<T, StorageError<u64>>;

/// The log database. Clones share it (openraft reads entries from several tasks).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    cache: Arc<std::sync::Mutex<cache::EntryCache>>,
    /// Its folder (tests make appends under it fail).
    #[cfg(test)]
    dir: std::path::PathBuf,
}

/// Tests of the fail-stop make the appends of the log stores under a folder fail, as a failed
/// fsync does, while the other tests of the process go on.
#[cfg(test)]
pub(crate) mod faults {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    static FAILING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    static STALLED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    /// Appends to the log stores under `dir` wait (`true`), as on a disk whose fsync stalls,
    /// until released (`false`).
    pub(crate) fn stall_appends_under(dir: &Path, stall: bool) {
        let mut stalled = STALLED.lock().unwrap_or_else(|p| p.into_inner());
        stalled.retain(|d| d != dir);
        if stall {
            stalled.push(dir.to_owned());
        }
    }

    /// Waits while appends under `dir` are stalled.
    pub(super) fn wait_while_stalled(dir: &Path) {
        let stalled = || {
            let stalled = STALLED.lock().unwrap_or_else(|p| p.into_inner());
            stalled.iter().any(|d| dir.starts_with(d))
        };
        while stalled() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Appends to the log stores under `dir` fail (`true`) or work again (`false`).
    pub(crate) fn fail_appends_under(dir: &Path, fail: bool) {
        let mut failing = FAILING.lock().unwrap_or_else(|p| p.into_inner());
        failing.retain(|d| d != dir);
        if fail {
            failing.push(dir.to_owned());
        }
    }

    pub(super) fn fails(dir: &Path) -> bool {
        let failing = FAILING.lock().unwrap_or_else(|p| p.into_inner());
        failing.iter().any(|d| dir.starts_with(d))
    }
}

mod cache;

fn codec() -> impl Options {
    bincode::DefaultOptions::new()
}

fn read_err(e: impl ToString) -> StorageError<u64> {
    StorageIOError::read_logs(AnyError::error(e)).into()
}

fn write_err(e: impl ToString) -> StorageError<u64> {
    StorageIOError::write_logs(AnyError::error(e)).into()
}

impl LogStore {
    /// Opens (creating if needed) the log database in `dir`.
    pub fn open(dir: &Path) -> Result<LogStore, rocksdb::Error> {
        let mut opts = DbOptions::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_keep_log_file_num(5);
        let cfs = [LOG, STATE].map(|name| ColumnFamilyDescriptor::new(name, DbOptions::default()));
        let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
        Ok(LogStore {
            db: Arc::new(db),
            cache: Arc::default(),
            #[cfg(test)]
            dir: dir.to_owned(),
        })
    }

    /// The database (to watch its handles at shutdown).
    pub fn database(&self) -> Arc<DB> {
        self.db.clone()
    }

    fn cf(&self, name: &str) -> StorageResult<&rocksdb::ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| read_err(format!("the log database has no {name} table")))
    }

    fn get_state<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> StorageResult<Option<T>> {
        match self.db.get_cf(self.cf(STATE)?, key).map_err(read_err)? {
            None => Ok(None),
            Some(bytes) => codec().deserialize(&bytes).map(Some).map_err(read_err),
        }
    }

    fn put_state<T: serde::Serialize>(
        &self,
        key: &[u8],
        value: &T,
        sync: bool,
    ) -> StorageResult<()> {
        let bytes = codec().serialize(value).map_err(write_err)?;
        let mut opts = WriteOptions::default();
        opts.set_sync(sync);
        self.db
            .put_cf_opt(self.cf(STATE)?, key, bytes, &opts)
            .map_err(write_err)
    }

    fn last_entry(&self) -> StorageResult<Option<Entry<TypeConfig>>> {
        let mut iter = self.db.iterator_cf(self.cf(LOG)?, IteratorMode::End);
        match iter.next() {
            None => Ok(None),
            Some(item) => {
                let (_, value) = item.map_err(read_err)?;
                decode_entry(&value).map(Some)
            }
        }
    }

    /// Whether the log was never written: no vote, no entry (a member that can join a new
    /// group without breaking a promise it made to another).
    pub fn is_pristine(&self) -> StorageResult<bool> {
        Ok(self.get_state::<Vote<u64>>(VOTE)?.is_none() && self.last_entry()?.is_none())
    }

    /// Deletes the entries at and after `index` (blocking).
    fn cache(&self) -> std::sync::MutexGuard<'_, cache::EntryCache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn truncate_from(&self, index: u64) -> StorageResult<()> {
        self.cache().truncate_from(index);
        let table = self.cf(LOG)?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(table, index.to_be_bytes(), u64::MAX.to_be_bytes());
        batch.delete_cf(table, u64::MAX.to_be_bytes());
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts).map_err(write_err)
    }

    /// Writes `entries` in one synced batch (blocking).
    fn write_entries(&self, entries: &[Entry<TypeConfig>]) -> StorageResult<()> {
        let table = self.cf(LOG)?;
        let mut batch = WriteBatch::default();
        let mut sizes = Vec::with_capacity(entries.len());
        for entry in entries {
            let bytes = encode_entry(entry)?;
            sizes.push(bytes.len());
            batch.put_cf(table, entry.log_id.index.to_be_bytes(), bytes);
        }
        #[cfg(test)]
        faults::wait_while_stalled(&self.dir);
        #[cfg(test)]
        if faults::fails(&self.dir) {
            return Err(write_err("fsync failed (injected by a test)"));
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts).map_err(write_err)?;
        self.cache().appended(entries, &sizes);
        Ok(())
    }

    /// Blocking part of reading entries in `range`.
    fn entries_in(&self, range: (Bound<u64>, Bound<u64>)) -> StorageResult<Vec<Entry<TypeConfig>>> {
        let start = match range.0 {
            Bound::Included(i) => i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let from = start.to_be_bytes();
        let iter = self
            .db
            .iterator_cf(self.cf(LOG)?, IteratorMode::From(&from, Direction::Forward));
        let mut entries = Vec::new();
        for item in iter {
            let (key, value) = item.map_err(read_err)?;
            let index = index_of(&key)?;
            if !range.contains(&index) {
                break;
            }
            entries.push(decode_entry(&value)?);
        }
        Ok(entries)
    }
}

fn index_of(key: &[u8]) -> StorageResult<u64> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| read_err(format!("a log key is {} bytes long, not 8", key.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

fn decode_entry(value: &[u8]) -> StorageResult<Entry<TypeConfig>> {
    match value.split_first() {
        Some((&ENTRY_FORMAT, rest)) => codec().deserialize(rest).map_err(read_err),
        Some((format, _)) => Err(read_err(format!(
            "a log entry has format {format}, unknown to this metad (written by a newer one?)"
        ))),
        None => Err(read_err("an empty log entry")),
    }
}

fn encode_entry(entry: &Entry<TypeConfig>) -> StorageResult<Vec<u8>> {
    let mut bytes = vec![ENTRY_FORMAT];
    codec()
        .serialize_into(&mut bytes, entry)
        .map_err(write_err)?;
    Ok(bytes)
}

/// Runs blocking RocksDB work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> StorageResult<T> + Send + 'static,
) -> StorageResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| read_err(format!("log task failed: {e}")))?
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        let range = (range.start_bound().cloned(), range.end_bound().cloned());
        if let Some(entries) = self.cache().get(&range) {
            return Ok(entries);
        }
        let this = self.clone();
        blocking(move || this.entries_in(range)).await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let this = self.clone();
        blocking(move || {
            let last_purged_log_id: Option<LogId<u64>> = this.get_state(PURGED)?;
            let last_log_id = match this.last_entry()? {
                Some(entry) => Some(entry.log_id),
                None => last_purged_log_id,
            };
            Ok(LogState {
                last_purged_log_id,
                last_log_id,
            })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> StorageResult<()> {
        let this = self.clone();
        let vote = *vote;
        blocking(move || this.put_state(VOTE, &vote, true)).await
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<u64>>> {
        let this = self.clone();
        blocking(move || this.get_state(VOTE)).await
    }

    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> StorageResult<()> {
        // Unsynced: it only saves a restarted member from waiting for a leader to learn what
        // it may apply; losing it loses nothing.
        let this = self.clone();
        blocking(move || this.put_state(COMMITTED, &committed, false)).await
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<u64>>> {
        let this = self.clone();
        blocking(move || Ok(this.get_state::<Option<LogId<u64>>>(COMMITTED)?.flatten())).await
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let this = self.clone();
        let written = blocking(move || this.write_entries(&entries)).await;
        let io = match &written {
            Ok(()) => Ok(()),
            Err(e) => Err(std::io::Error::other(e.to_string())),
        };
        callback.log_io_completed(io);
        written
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> StorageResult<()> {
        let this = self.clone();
        blocking(move || this.truncate_from(log_id.index)).await
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> StorageResult<()> {
        let this = self.clone();
        blocking(move || {
            // The purge mark first: a crash between the two leaves entries the mark already
            // covers, which are ignored, never a gap.
            this.put_state(PURGED, &log_id, true)?;
            this.cache().purge_to(log_id.index);
            let end = log_id.index.saturating_add(1);
            this.db
                .delete_range_cf(this.cf(LOG)?, 0u64.to_be_bytes(), end.to_be_bytes())
                .map_err(write_err)
        })
        .await
    }
}

#[cfg(test)]
mod tests;
