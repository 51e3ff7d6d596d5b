//! The tables: one RocksDB column family each, with a name (RocksDB's) and a one-byte code
//! (the effects log's, see `group::effects`).

/// The tables, one RocksDB column family each (see DESIGN.md §3).
///
/// Every table but [`Cf::Local`] is replicated state: it changes only through the effects of
/// committed transactions (`group::apply`), so that a future Raft state machine can replay
/// them. [`Cf::Local`] belongs to this metad process alone and is never part of the effects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cf {
    /// Schema version, id counters and the sequence number of the last applied effects.
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
    /// Outcomes of committed write sessions, kept a few minutes to answer a repeated commit
    /// (`keys::closed_session`, values of version 9). Up to schema version 6 the table held
    /// the open sessions (keyed by the bare session id); since version 7 their mirror is
    /// node-local (in [`Cf::Local`]) and the opening of an older database moves those rows
    /// there.
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
    /// Chunk maps held by more than one file (a CopyObject of a large object shares its
    /// source's rows): inode → number of files holding them. No row: one file.
    MapShare,
    /// Node-local rows, never replicated and never part of a snapshot: the mirror of the open
    /// write sessions (soft state of the process that opened them) and the readiness probe's
    /// key. Keys are listed in `keys::local`.
    Local,
}

impl Cf {
    /// Every column family.
    pub const ALL: [Cf; 17] = [
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
        Cf::MapShare,
        Cf::Local,
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
            Cf::MapShare => "map_share",
            Cf::Local => "local",
        }
    }

    /// The table's code in effects. Stored in logs and snapshots that outlive this binary, so
    /// a code never changes and is never reused; it is written out here rather than derived
    /// from the variant's position, which reordering the enum would change. 0 is no table (a
    /// zeroed byte must not name one); node-local tables have codes from 128 up, and never
    /// appear in effects.
    pub fn code(self) -> u8 {
        match self {
            Cf::Meta => 1,
            Cf::Dentry => 2,
            Cf::Chunks => 3,
            Cf::ChunkLoc => 4,
            Cf::NodeChunk => 5,
            Cf::Node => 6,
            Cf::Session => 7,
            Cf::GcQueue => 8,
            Cf::RepairQueue => 9,
            Cf::AccessKey => 10,
            Cf::Upload => 11,
            Cf::UploadId => 12,
            Cf::Part => 13,
            Cf::Detached => 14,
            Cf::NodeSweep => 15,
            Cf::MapShare => 16,
            Cf::Local => 128,
        }
    }

    /// The table of `code`, if this build knows it (a newer metad may have added tables).
    pub fn from_code(code: u8) -> Option<Cf> {
        Cf::ALL.into_iter().find(|cf| cf.code() == code)
    }

    /// Whether the table belongs to this process alone: written directly, never through
    /// effects, never replicated.
    pub fn is_node_local(self) -> bool {
        matches!(self, Cf::Local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes as stored. A failure here means a stored code changed: existing logs and
    /// snapshots would then name the wrong table. Add new tables with new codes instead.
    /// The match has no wildcard, so a new table fails to compile until its code is pinned.
    fn pinned(cf: Cf) -> (u8, &'static str) {
        match cf {
            Cf::Meta => (1, "meta"),
            Cf::Dentry => (2, "dentry"),
            Cf::Chunks => (3, "chunks"),
            Cf::ChunkLoc => (4, "chunk_loc"),
            Cf::NodeChunk => (5, "node_chunk"),
            Cf::Node => (6, "node"),
            Cf::Session => (7, "session"),
            Cf::GcQueue => (8, "gc_queue"),
            Cf::RepairQueue => (9, "repair_queue"),
            Cf::AccessKey => (10, "access_key"),
            Cf::Upload => (11, "upload"),
            Cf::UploadId => (12, "upload_id"),
            Cf::Part => (13, "part"),
            Cf::Detached => (14, "detached"),
            Cf::NodeSweep => (15, "node_sweep"),
            Cf::MapShare => (16, "map_share"),
            Cf::Local => (128, "local"),
        }
    }

    #[test]
    fn codes_and_names_are_pinned() {
        for cf in Cf::ALL {
            assert_eq!((cf.code(), cf.name()), pinned(cf), "{cf:?}");
        }
    }

    #[test]
    fn every_code_decodes_to_its_table_and_nothing_else_decodes() {
        for code in 0..=u8::MAX {
            match Cf::from_code(code) {
                Some(cf) => assert_eq!(cf.code(), code),
                None => assert!(Cf::ALL.iter().all(|cf| cf.code() != code), "{code}"),
            }
        }
        assert_eq!(Cf::from_code(0), None);
        // Each table once, with distinct codes and names.
        let mut codes: Vec<u8> = Cf::ALL.iter().map(|cf| cf.code()).collect();
        let mut names: Vec<&str> = Cf::ALL.iter().map(|cf| cf.name()).collect();
        codes.sort_unstable();
        codes.dedup();
        names.sort_unstable();
        names.dedup();
        assert_eq!((codes.len(), names.len()), (Cf::ALL.len(), Cf::ALL.len()));
    }

    #[test]
    fn only_the_local_table_is_node_local_and_its_code_says_so() {
        for cf in Cf::ALL {
            assert_eq!(cf.is_node_local(), cf == Cf::Local, "{cf:?}");
            assert_eq!(cf.is_node_local(), cf.code() >= 128, "{cf:?}");
        }
    }
}
