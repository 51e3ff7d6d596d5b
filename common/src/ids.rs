//! Numeric identifiers. All are `u64` so that they encode as 8 big-endian bytes in RocksDB keys
//! and sort numerically there.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl $name {
            /// The id as 8 big-endian bytes, the form used inside RocksDB keys.
            pub fn to_be_bytes(self) -> [u8; 8] {
                self.0.to_be_bytes()
            }

            /// Reads an id from the first 8 bytes of `bytes`; `None` when there are fewer.
            pub fn from_be_slice(bytes: &[u8]) -> Option<Self> {
                let head: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
                Some(Self(u64::from_be_bytes(head)))
            }
        }
    };
}

id_type!(
    /// A file or directory of the namespace. The root directory is [`InodeId::ROOT`].
    InodeId
);
id_type!(
    /// An immutable chunk of file data, stored on several chunkds.
    ChunkId
);
id_type!(
    /// A chunkd, assigned by metad at its first registration and kept in its data folder.
    NodeId
);
id_type!(
    /// An open write session at metad (a file being written, not yet committed).
    SessionId
);

impl InodeId {
    /// The namespace root `/`.
    pub const ROOT: InodeId = InodeId(1);
}

impl fmt::Display for ChunkId {
    /// Chunks are named by 16 lower-case hex digits on the wire and on disk: a fixed shape that
    /// can be parsed strictly, so no chunk name can ever carry a path separator or `..`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl ChunkId {
    /// Parses the 16-hex-digit form made by `Display`; anything else is refused.
    pub fn parse_hex(text: &str) -> Option<ChunkId> {
        if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(text, 16).ok().map(ChunkId)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for InodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_id_hex_round_trip() {
        let id = ChunkId(0xab_cdef);
        assert_eq!(id.to_string(), "0000000000abcdef");
        assert_eq!(ChunkId::parse_hex(&id.to_string()), Some(id));
    }

    #[test]
    fn chunk_id_refuses_anything_but_16_hex_digits() {
        for bad in [
            "",
            "../../etc/passwd",
            "000000000000000g",
            "0000000000000000/",
            "1",
            "+000000000000001",
        ] {
            assert_eq!(ChunkId::parse_hex(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn be_bytes_round_trip() {
        let id = InodeId(0x0102_0304_0506_0708);
        assert_eq!(InodeId::from_be_slice(&id.to_be_bytes()), Some(id));
        assert_eq!(InodeId::from_be_slice(&[1, 2]), None);
    }
}
