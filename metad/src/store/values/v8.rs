//! Values of schema version 8. Frozen: never change these types, add to a later version
//! instead.
//!
//! Version 8 made the chunk map of a file addressable by byte offset: each row of the `chunks`
//! table records where its slice starts in the file ([`ChunkRow`]), so the rows covering a byte
//! range are found by a binary search over the row indices instead of a scan from the first
//! row. Rows written before version 8 carry no offset; they still decode (as rows of unknown
//! offset) and are located by summing lengths from the start of their file.

use super::v3::FileChunk;
use serde::{Deserialize, Serialize};

/// A row of the `chunks` table: one slice of a stored chunk and where it starts in its file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRow {
    /// Offset of the slice's first byte in the file.
    pub offset: u64,
    /// The slice.
    pub slice: FileChunk,
}
