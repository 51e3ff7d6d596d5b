//! Checksums of chunk data. CRC32C runs at several GiB/s with the SSE4.2 instruction, so
//! verifying every block on every read costs little next to the disk and the network.

/// Size of the blocks that chunk files checksum one by one, so that a ranged read verifies only
/// the blocks it touches.
pub const BLOCK_SIZE: usize = 64 * 1024;

/// CRC32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Continues a CRC32C over more data: `crc32c_append(crc32c(a), b) == crc32c(a ++ b)`.
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    crc32c::crc32c_append(crc, data)
}

/// Formats a CRC32C the way it travels in headers: 8 lower-case hex digits.
pub fn crc_to_hex(crc: u32) -> String {
    format!("{crc:08x}")
}

/// Parses 8 hex digits back into a CRC32C.
pub fn crc_from_hex(text: &str) -> Option<u32> {
    if text.len() != 8 {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_equals_whole() {
        let data = b"hello, distributed world";
        let (a, b) = data.split_at(7);
        assert_eq!(crc32c_append(crc32c(a), b), crc32c(data));
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(crc_from_hex(&crc_to_hex(0xdead_beef)), Some(0xdead_beef));
        assert_eq!(crc_from_hex("xyz"), None);
    }
}
