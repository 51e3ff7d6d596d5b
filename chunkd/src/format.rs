//! The on-disk format of one chunk file.
//!
//! ```text
//! header (32 bytes, little-endian):
//!   magic "DFSCHNK1" | format version u32 | data length u64 | block size u32 |
//!   CRC32C of the whole data u32 | CRC32C of the 28 header bytes before it u32
//! data (data length bytes)
//! block table: one CRC32C (u32) per block of `block size` bytes (the last block may be short)
//! ```
//!
//! The header is written last (after the data and the table), so a file whose header checks out
//! was completely written; the per-block CRCs let a ranged read verify only the blocks it touches.

use dfs_common::checksum::crc32c;

/// First bytes of every chunk file.
pub const MAGIC: &[u8; 8] = b"DFSCHNK1";
/// Version of the layout described above.
pub const FORMAT_VERSION: u32 = 1;
/// Size of the fixed header.
pub const HEADER_LEN: u64 = 32;
/// Largest chunk accepted. Far above metad's chunk sizes (8-64 MiB); it bounds the block table
/// kept in memory (64 KiB for 1 GiB) and refuses absurd lengths from a damaged header.
pub const MAX_CHUNK_LEN: u64 = 1 << 30;

/// The decoded header of a chunk file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Bytes of chunk data.
    pub data_len: u64,
    /// Bytes per checksummed block.
    pub block_size: u32,
    /// CRC32C of all the data.
    pub crc32c: u32,
}

impl Header {
    /// The 32 header bytes, with their own CRC at the end.
    pub fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut out = [0u8; HEADER_LEN as usize];
        out[0..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[12..20].copy_from_slice(&self.data_len.to_le_bytes());
        out[20..24].copy_from_slice(&self.block_size.to_le_bytes());
        out[24..28].copy_from_slice(&self.crc32c.to_le_bytes());
        let own = crc32c(&out[0..28]);
        out[28..32].copy_from_slice(&own.to_le_bytes());
        out
    }

    /// Decodes and checks a header; the error says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<Header, String> {
        let bytes: &[u8; HEADER_LEN as usize] = bytes
            .get(..HEADER_LEN as usize)
            .and_then(|b| b.try_into().ok())
            .ok_or("file is shorter than the chunk header")?;
        if &bytes[0..8] != MAGIC {
            return Err("not a chunk file (bad magic)".into());
        }
        let own = u32_at(bytes, 28);
        if own != crc32c(&bytes[0..28]) {
            return Err("chunk header fails its checksum".into());
        }
        let version = u32_at(bytes, 8);
        if version != FORMAT_VERSION {
            return Err(format!(
                "chunk format version {version} is not supported (this chunkd reads version {FORMAT_VERSION})"
            ));
        }
        let header = Header {
            data_len: u64::from_le_bytes([
                bytes[12], bytes[13], bytes[14], bytes[15], bytes[16], bytes[17], bytes[18],
                bytes[19],
            ]),
            block_size: u32_at(bytes, 20),
            crc32c: u32_at(bytes, 24),
        };
        if header.block_size == 0 {
            return Err("chunk header has a block size of 0".into());
        }
        if header.data_len > MAX_CHUNK_LEN {
            return Err(format!(
                "chunk header claims {} bytes, more than the maximum {MAX_CHUNK_LEN}",
                header.data_len
            ));
        }
        Ok(header)
    }

    /// Number of blocks (and of entries in the block table).
    pub fn block_count(&self) -> u64 {
        self.data_len.div_ceil(u64::from(self.block_size))
    }

    /// Size the whole file must have.
    pub fn file_len(&self) -> u64 {
        HEADER_LEN + self.data_len + 4 * self.block_count()
    }

    /// Offset and length of block `index` in the file.
    pub fn block_span(&self, index: u64) -> (u64, usize) {
        let block = u64::from(self.block_size);
        let start = index * block;
        let len = block.min(self.data_len.saturating_sub(start));
        // `len` is at most `block_size`, a u32, so it fits a usize.
        (HEADER_LEN + start, len as usize)
    }
}

/// Reads a little-endian u32 at `at` of a 32-byte header.
fn u32_at(bytes: &[u8; HEADER_LEN as usize], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Encodes the block table.
pub fn encode_table(crcs: &[u32]) -> Vec<u8> {
    crcs.iter().flat_map(|c| c.to_le_bytes()).collect()
}

/// Decodes the block table.
pub fn decode_table(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let header = Header {
            data_len: 3 * 65536 + 1,
            block_size: 65536,
            crc32c: 0xdead_beef,
        };
        let bytes = header.encode();
        assert_eq!(Header::decode(&bytes), Ok(header));
        assert_eq!(header.block_count(), 4);
        assert_eq!(header.file_len(), 32 + 3 * 65536 + 1 + 16);
        assert_eq!(header.block_span(3), (32 + 3 * 65536, 1));
    }

    #[test]
    fn damaged_headers_are_refused() {
        let header = Header {
            data_len: 10,
            block_size: 65536,
            crc32c: 1,
        };
        let good = header.encode();
        for i in 0..good.len() {
            let mut bad = good;
            bad[i] ^= 0x10;
            assert!(Header::decode(&bad).is_err(), "flip at byte {i}");
        }
        assert!(Header::decode(&good[..31]).is_err());
    }

    #[test]
    fn empty_chunk_has_no_blocks() {
        let header = Header {
            data_len: 0,
            block_size: 65536,
            crc32c: 0,
        };
        assert_eq!(header.block_count(), 0);
        assert_eq!(header.file_len(), 32);
    }

    #[test]
    fn table_round_trip() {
        let crcs = vec![1, 2, 0xffff_ffff];
        assert_eq!(decode_table(&encode_table(&crcs)), crcs);
    }
}
