//! The store alone, without a daemon: the folder layout and its upgrade, the start-up scan
//! and the folder syncs of deletes and quarantines.

use super::{data, names};
use crate::format::HEADER_LEN;
use crate::layout::{MARKER_FILE, SYNCED};
use crate::store::{Piece, Store};
use bytes::Bytes;
use dfs_common::checksum::{crc32c, BLOCK_SIZE};
use dfs_common::ChunkId;
use std::fs;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// Stores `bytes` as chunk `id`.
fn put(store: &Store, id: ChunkId, bytes: &[u8]) {
    let mut pieces = vec![Piece::Data(Bytes::copy_from_slice(bytes)), Piece::End].into_iter();
    store
        .write_chunk(id, bytes.len() as u64, crc32c(bytes), || pieces.next())
        .unwrap();
}

/// Reads chunk `id` back, checking every block.
fn read(store: &Store, id: ChunkId) -> Vec<u8> {
    let reader = store.open_chunk(id).unwrap();
    (0..reader.header().block_count())
        .flat_map(|i| reader.read_block(i).unwrap())
        .collect()
}

fn chunk_file(root: &Path, folder: &str, id: ChunkId) -> PathBuf {
    root.join("chunks").join(folder).join(id.to_string())
}

fn marker(root: &Path) -> String {
    fs::read_to_string(root.join(MARKER_FILE)).unwrap()
}

/// Chunks of several sizes; the high digits differ between some, the low ones between others.
const IDS: [u64; 6] = [
    1,
    2,
    0x100,
    0x1ff,
    0xab00_0000_0000_0003,
    0x1234_5678_9abc_def0,
];

/// A store holding [`IDS`] (closed again), with the data of each.
fn filled_folder() -> (TempDir, Vec<(ChunkId, Vec<u8>)>) {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let chunks: Vec<(ChunkId, Vec<u8>)> = IDS
        .iter()
        .enumerate()
        .map(|(i, &id)| (ChunkId(id), data(BLOCK_SIZE + 100 * i, i as u8)))
        .collect();
    for (id, bytes) in &chunks {
        put(&store, *id, bytes);
    }
    (dir, chunks)
}

/// Moves chunk files back where layout 1 kept them (`chunks/<first 2 hex>/`).
fn to_layout_1(root: &Path, ids: impl IntoIterator<Item = ChunkId>) {
    for id in ids {
        let name = id.to_string();
        let old_folder = root.join("chunks").join(&name[..2]);
        fs::create_dir_all(&old_folder).unwrap();
        fs::rename(chunk_file(root, &name[14..], id), old_folder.join(&name)).unwrap();
    }
    fs::write(
        root.join(MARKER_FILE),
        "dfs-chunkd data folder\nformat = 1\n",
    )
    .unwrap();
}

fn assert_all_served(root: &Path, chunks: &[(ChunkId, Vec<u8>)]) {
    let store = Store::open(root).unwrap();
    let mut ids: Vec<ChunkId> = chunks.iter().map(|(id, _)| *id).collect();
    ids.sort();
    assert_eq!(store.list(), ids);
    for (id, bytes) in chunks {
        assert_eq!(&read(&store, *id), bytes, "chunk {id}");
        let name = id.to_string();
        assert!(chunk_file(root, &name[14..], *id).is_file(), "chunk {id}");
    }
    assert!(marker(root).contains("format = 2"), "{}", marker(root));
}

#[test]
fn new_chunks_go_to_the_folder_of_their_last_two_hex_digits() {
    let (dir, chunks) = filled_folder();
    for (id, _) in &chunks {
        let name = id.to_string();
        assert!(
            chunk_file(dir.path(), &name[14..], *id).is_file(),
            "chunk {id}"
        );
    }
    let mut folders = names(&dir.path().join("chunks"));
    folders.sort();
    assert_eq!(folders, ["00", "01", "02", "03", "f0", "ff"]);
    assert!(marker(dir.path()).contains("format = 2"));
}

#[test]
fn a_layout_1_folder_is_upgraded_at_open() {
    let (dir, chunks) = filled_folder();
    to_layout_1(dir.path(), chunks.iter().map(|(id, _)| *id));
    // What layout 1 did not index stays where it is.
    let stray = dir.path().join("chunks").join("00").join("notes.txt");
    fs::write(&stray, "kept").unwrap();
    assert_all_served(dir.path(), &chunks);
    assert!(stray.exists());
    // Nothing of a layout-1 place is left but a chunk whose first and last digits agree.
    assert_eq!(
        names(&dir.path().join("chunks").join("00")),
        ["0000000000000100", "notes.txt"]
    );
    // A second start finds nothing to do.
    assert_all_served(dir.path(), &chunks);
}

#[test]
fn an_interrupted_upgrade_completes_at_the_next_open() {
    let (dir, chunks) = filled_folder();
    // A crash after half the moves: marker 1, some files at their old place, some at the new.
    to_layout_1(dir.path(), chunks.iter().step_by(2).map(|(id, _)| *id));
    assert!(marker(dir.path()).contains("format = 1"));
    assert_all_served(dir.path(), &chunks);
}

#[test]
fn one_bad_entry_does_not_stop_the_start() {
    let (dir, chunks) = filled_folder();
    let root = dir.path();
    let file = |id: u64| {
        let name = ChunkId(id).to_string();
        chunk_file(root, &name[14..], ChunkId(id))
    };
    // stat fails: a symlink to nothing (ENOENT) and one to itself (ELOOP).
    fs::remove_file(file(IDS[1])).unwrap();
    std::os::unix::fs::symlink(root.join("nowhere"), file(IDS[1])).unwrap();
    fs::remove_file(file(IDS[2])).unwrap();
    std::os::unix::fs::symlink(file(IDS[2]), file(IDS[2])).unwrap();
    // Not a file a read could serve.
    fs::remove_file(file(IDS[3])).unwrap();
    fs::create_dir(file(IDS[3])).unwrap();
    // Shorter than a header: indexed and left for the reads, scrub and inventory to report.
    fs::OpenOptions::new()
        .write(true)
        .open(file(IDS[4]))
        .and_then(|f| f.set_len(HEADER_LEN - 1))
        .unwrap();

    let store = Store::open(root).unwrap();
    assert_eq!(store.list(), [IDS[0], IDS[5], IDS[4]].map(ChunkId));
    assert_eq!(read(&store, ChunkId(IDS[0])), chunks[0].1);
    assert!(file(IDS[4]).is_file());
    let quarantined: Vec<String> = names(&root.join("quarantine"))
        .into_iter()
        .map(|name| name[..16].to_string())
        .collect();
    let expected: Vec<String> = IDS[1..4]
        .iter()
        .map(|&id| ChunkId(id).to_string())
        .collect();
    assert_eq!(quarantined, expected);
    for id in &IDS[1..4] {
        assert!(fs::symlink_metadata(file(*id)).is_err(), "chunk {id:x}");
    }
}

/// The folders synced on this thread since the last call.
fn synced() -> Vec<PathBuf> {
    SYNCED.with(|synced| std::mem::take(&mut *synced.borrow_mut()))
}

#[test]
fn deletes_and_quarantines_sync_their_folders() {
    let dir = TempDir::new().unwrap();
    let chunks = dir.path().join("chunks");
    let store = Store::open(dir.path()).unwrap();
    for id in [1, 0x101, 2, 3, 4] {
        put(&store, ChunkId(id), b"some bytes");
    }
    synced();

    assert!(store.delete(ChunkId(1)).unwrap());
    assert_eq!(synced(), [chunks.join("01")]);
    assert!(!store.delete(ChunkId(1)).unwrap());
    assert_eq!(synced(), Vec::<PathBuf>::new());

    // A batch syncs each folder once.
    let errors = store.delete_many(&[ChunkId(0x101), ChunkId(2), ChunkId(3), ChunkId(99)]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        synced(),
        [chunks.join("01"), chunks.join("02"), chunks.join("03")]
    );

    // The chunk's folder first, so that the corrupt file cannot come back into it.
    let moved = store.quarantine(ChunkId(4)).unwrap().unwrap();
    assert_eq!(synced(), [chunks.join("04"), dir.path().join("quarantine")]);
    assert!(moved.is_file());
    assert!(store.list().is_empty());
    assert_eq!(store.used(), 0);
}
