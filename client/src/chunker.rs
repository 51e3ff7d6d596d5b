//! Cutting a stream of writes of any size into chunks of exactly `chunk_size` bytes (the last
//! one may be shorter).

use bytes::{Bytes, BytesMut};

/// Accumulates written data and hands out whole chunks.
///
/// A write that starts on a chunk boundary and covers whole chunks is sliced without copying
/// (the chunks share the caller's buffer); only the pieces that straddle a boundary are copied
/// into the pending buffer, which never holds more than one chunk.
#[derive(Debug)]
pub(crate) struct Chunker {
    chunk_size: usize,
    pending: BytesMut,
}

impl Chunker {
    /// A chunker for `chunk_size`-byte chunks; `chunk_size` must be at least 1.
    pub(crate) fn new(chunk_size: usize) -> Self {
        Chunker {
            chunk_size: chunk_size.max(1),
            pending: BytesMut::new(),
        }
    }

    /// Adds `data` and returns the chunks it completed, in order.
    pub(crate) fn push(&mut self, mut data: Bytes) -> Vec<Bytes> {
        let mut full = Vec::new();
        if !self.pending.is_empty() {
            let missing = self.chunk_size - self.pending.len();
            let take = missing.min(data.len());
            if self.pending.capacity() < self.chunk_size {
                self.pending.reserve(self.chunk_size - self.pending.len());
            }
            self.pending.extend_from_slice(&data[..take]);
            data = data.slice(take..);
            if self.pending.len() < self.chunk_size {
                return full;
            }
            full.push(self.pending.split().freeze());
        }
        while data.len() >= self.chunk_size {
            full.push(data.split_to(self.chunk_size));
        }
        if !data.is_empty() {
            // Reserve the whole chunk once rather than growing it write by write.
            self.pending.reserve(self.chunk_size);
            self.pending.extend_from_slice(&data);
        }
        full
    }

    /// The last, partial chunk, if any bytes are pending.
    pub(crate) fn finish(&mut self) -> Option<Bytes> {
        if self.pending.is_empty() {
            None
        } else {
            Some(self.pending.split().freeze())
        }
    }
}

/// How many chunks a file of `size` bytes has: a 0-byte file has none.
pub fn chunk_count(size: u64, chunk_size: u64) -> u64 {
    if chunk_size == 0 {
        return 0;
    }
    size.div_ceil(chunk_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(chunk_size: usize, writes: &[usize]) -> Vec<usize> {
        let mut chunker = Chunker::new(chunk_size);
        let mut out = Vec::new();
        let mut next = 0u8;
        let mut all = Vec::new();
        let mut back = Vec::new();
        for &len in writes {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    next = next.wrapping_add(1);
                    next
                })
                .collect();
            all.extend_from_slice(&data);
            for chunk in chunker.push(Bytes::from(data)) {
                out.push(chunk.len());
                back.extend_from_slice(&chunk);
            }
        }
        if let Some(last) = chunker.finish() {
            out.push(last.len());
            back.extend_from_slice(&last);
        }
        assert_eq!(back, all, "chunks concatenate back to the data");
        out
    }

    #[test]
    fn empty_stream_has_no_chunks() {
        assert_eq!(cut(4, &[]), Vec::<usize>::new());
        assert_eq!(cut(4, &[0, 0]), Vec::<usize>::new());
    }

    #[test]
    fn boundary_sizes() {
        assert_eq!(cut(4, &[1]), [1]);
        assert_eq!(cut(4, &[3]), [3]);
        assert_eq!(cut(4, &[4]), [4]);
        assert_eq!(cut(4, &[5]), [4, 1]);
        assert_eq!(cut(4, &[8]), [4, 4]);
        assert_eq!(cut(4, &[9]), [4, 4, 1]);
    }

    #[test]
    fn small_writes_are_gathered() {
        assert_eq!(cut(4, &[1, 1, 1, 1, 1]), [4, 1]);
        assert_eq!(cut(4, &[3, 3, 3]), [4, 4, 1]);
        assert_eq!(cut(4, &[2, 10, 0, 1]), [4, 4, 4, 1]);
        assert_eq!(cut(1, &[3, 2]), [1, 1, 1, 1, 1]);
    }

    #[test]
    fn aligned_writes_are_not_copied() {
        let mut chunker = Chunker::new(4);
        let data = Bytes::from_static(b"abcdefgh");
        let chunks = chunker.push(data.clone());
        assert_eq!(chunks.len(), 2);
        // The chunk points into the caller's buffer: no copy was made.
        assert_eq!(chunks[0].as_ptr(), data.as_ptr());
        assert!(chunker.finish().is_none());
    }

    #[test]
    fn counts() {
        assert_eq!(chunk_count(0, 8), 0);
        assert_eq!(chunk_count(1, 8), 1);
        assert_eq!(chunk_count(8, 8), 1);
        assert_eq!(chunk_count(9, 8), 2);
        assert_eq!(chunk_count(5, 0), 0);
    }
}
