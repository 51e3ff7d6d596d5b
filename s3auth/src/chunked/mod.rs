//! An incremental decoder of aws-chunked bodies (`Content-Encoding: aws-chunked`).
//!
//! The body is a series of chunks, `<hex size>[;chunk-signature=<64 hex>]\r\n<data>\r\n`, ending
//! with a chunk of size 0, then either `\r\n` or, in the trailer modes, trailing header lines
//! (`x-amz-checksum-crc32c:<base64>\r\n`, and `x-amz-trailer-signature:<64 hex>\r\n` when signed)
//! and a blank line. Signed chunks chain: each signature covers the previous one (the request's
//! seed signature for the first chunk) and the SHA-256 of the chunk's data; the trailer
//! signature chains to the final chunk's.
//!
//! The decoder is fed byte slices as they arrive from the network, split anywhere (inside a
//! size line, a signature, a CRLF), and reports which byte ranges of each slice are payload, so
//! the caller can pass them on without copying. Memory is bounded: chunk data is hashed as it
//! streams and never buffered, a header or trailer line may not exceed [`MAX_LINE`] bytes and
//! the trailer [`MAX_TRAILER_BYTES`].
//!
//! Payload ranges are handed out before the signature of their chunk can be checked (it covers
//! the whole chunk): the data is provisional until [`ChunkedDecoder::finish`] succeeds, which
//! is when a PUT may commit.

use super::content_sha256::ContentSha256;
use super::sigv4::{
    chunk_string_to_sign, signature, signatures_match, trailer_string_to_sign, SigningKey,
};
use super::AuthError;
use sha2::{Digest, Sha256};
use std::ops::Range;

/// Longest chunk-size or trailer line accepted, CRLF included.
pub const MAX_LINE: usize = 4096;
/// Most hex digits accepted in a chunk size (a `u64` needs 16; leading zeros are tolerated).
pub const MAX_SIZE_DIGITS: usize = 20;
/// Most bytes of trailer lines accepted.
pub const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// The trailer line carrying the trailer's signature.
pub const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";
const SIGNATURE_EXTENSION: &str = "chunk-signature=";

/// Checks a chain of chunk signatures (and the trailer's) for one request.
#[derive(Clone, Debug)]
pub struct ChunkSigner {
    key: SigningKey,
    datetime: String,
    scope: String,
    previous: String,
}

impl ChunkSigner {
    /// A chain starting at the request's seed signature (the signature of its `Authorization`
    /// header). `datetime` is the request's `YYYYMMDDTHHMMSSZ` and `scope` its credential scope.
    pub fn new(key: SigningKey, datetime: &str, scope: &str, seed_signature: &str) -> ChunkSigner {
        ChunkSigner {
            key,
            datetime: datetime.to_owned(),
            scope: scope.to_owned(),
            previous: seed_signature.to_ascii_lowercase(),
        }
    }

    /// Checks the signature of the next chunk, given the SHA-256 of its data, and advances.
    fn check_chunk(&mut self, data_hash: &[u8], given: &str, index: u64) -> Result<(), AuthError> {
        let to_sign = chunk_string_to_sign(
            &self.datetime,
            &self.scope,
            &self.previous,
            &hex::encode(data_hash),
        );
        self.advance(&to_sign, given, &format!("chunk {index}"))
    }

    /// Checks the trailer signature, given the SHA-256 of the canonical trailer lines.
    fn check_trailer(&mut self, trailer_hash: &[u8], given: &str) -> Result<(), AuthError> {
        let to_sign = trailer_string_to_sign(
            &self.datetime,
            &self.scope,
            &self.previous,
            &hex::encode(trailer_hash),
        );
        self.advance(&to_sign, given, "the trailer")
    }

    fn advance(&mut self, to_sign: &str, given: &str, what: &str) -> Result<(), AuthError> {
        let computed = signature(&self.key, to_sign);
        if !signatures_match(&computed, given) {
            return Err(AuthError::SignatureDoesNotMatch(format!(
                "The signature of {what} of the aws-chunked body does not match."
            )));
        }
        self.previous = computed;
        Ok(())
    }
}

/// What a completely decoded body carried besides its payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChunkedSummary {
    /// Payload bytes, to compare with `x-amz-decoded-content-length`.
    pub decoded_length: u64,
    /// Number of chunks, the final empty one included.
    pub chunks: u64,
    /// Trailing headers as `(lower-case name, trimmed value)`, the signature line excluded.
    pub trailers: Vec<(String, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading a chunk-size line into `line`.
    ChunkHeader,
    /// Inside the data of a chunk.
    ChunkData { remaining: u64 },
    /// Expecting the CRLF after a chunk's data (`seen_cr` once its `\r` arrived).
    DataEnd { seen_cr: bool },
    /// Expecting the CRLF that ends a body without trailer.
    FinalCrlf { seen_cr: bool },
    /// Reading a trailer line into `line`.
    TrailerLine,
    /// A blank line came right after the final chunk: the body may end here, but some clients
    /// put a blank line before their trailers, so trailer lines may still follow.
    MaybeEnd,
    /// The body is complete.
    Done,
    /// An error was reported; every later call fails.
    Failed,
}

/// The incremental aws-chunked decoder. See the module documentation.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
    signer: Option<ChunkSigner>,
    with_trailer: bool,
    expected_length: Option<u64>,
    line: Vec<u8>,
    chunk_hasher: Sha256,
    chunk_signature: String,
    summary: ChunkedSummary,
    trailer_bytes: usize,
    trailer_signed: bool,
    leading_blank_seen: bool,
}

impl ChunkedDecoder {
    /// A decoder. With a `signer`, every chunk must carry a valid chained signature (and the
    /// trailer too, `with_trailer`); without, chunks have no extension. When `expected_length`
    /// (`x-amz-decoded-content-length`) is known, a body carrying more is refused as soon as a
    /// chunk header announces it, and one carrying less at the end.
    pub fn new(
        signer: Option<ChunkSigner>,
        with_trailer: bool,
        expected_length: Option<u64>,
    ) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::ChunkHeader,
            signer,
            with_trailer,
            expected_length,
            line: Vec::new(),
            chunk_hasher: Sha256::new(),
            chunk_signature: String::new(),
            summary: ChunkedSummary::default(),
            trailer_bytes: 0,
            trailer_signed: false,
            leading_blank_seen: false,
        }
    }

    /// The decoder for a streaming `x-amz-content-sha256` mode: a signer is required exactly
    /// when the mode signs its chunks.
    pub fn for_mode(
        mode: ContentSha256,
        signer: Option<ChunkSigner>,
        expected_length: Option<u64>,
    ) -> Result<ChunkedDecoder, AuthError> {
        if !mode.is_streaming() {
            return Err(AuthError::InvalidRequest(format!(
                "x-amz-content-sha256 {} is not an aws-chunked mode",
                mode.canonical_value()
            )));
        }
        let signer = match (mode.has_chunk_signatures(), signer) {
            (true, Some(signer)) => Some(signer),
            (false, _) => None,
            (true, None) => {
                return Err(AuthError::InvalidRequest(
                    "signed aws-chunked bodies need the request's seed signature".into(),
                ))
            }
        };
        Ok(ChunkedDecoder::new(
            signer,
            mode.has_trailer(),
            expected_length,
        ))
    }

    /// Payload bytes decoded so far.
    pub fn decoded_length(&self) -> u64 {
        self.summary.decoded_length
    }

    /// Whether the whole body (final chunk and trailer) has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes the next slice of the body, appending to `out` the ranges of `input` that are
    /// payload, in order. On error nothing is appended and the decoder is unusable.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<Range<usize>>) -> Result<(), AuthError> {
        let mark = out.len();
        let result = self.feed_inner(input, out);
        if result.is_err() {
            out.truncate(mark);
            self.state = State::Failed;
        }
        result
    }

    /// Ends the body: checks it was complete and returns what it carried. The payload may be
    /// committed only once this returns `Ok`.
    pub fn finish(&mut self) -> Result<ChunkedSummary, AuthError> {
        let result = self.finish_inner();
        self.state = if result.is_ok() {
            State::Done
        } else {
            State::Failed
        };
        result
    }

    fn feed_inner(&mut self, input: &[u8], out: &mut Vec<Range<usize>>) -> Result<(), AuthError> {
        let mut pos = 0;
        while pos < input.len() {
            match self.state {
                State::ChunkHeader | State::TrailerLine => {
                    let rest = &input[pos..];
                    // Look for the end of the line only as far as the limit allows.
                    let room = MAX_LINE - self.line.len();
                    let window = &rest[..rest.len().min(room)];
                    let (take, complete) = match window.iter().position(|&b| b == b'\n') {
                        Some(i) => (i + 1, true),
                        None if rest.len() > room => {
                            return Err(AuthError::InvalidRequest(format!(
                                "a line of the aws-chunked body is longer than {MAX_LINE} bytes"
                            )))
                        }
                        None => (rest.len(), false),
                    };
                    self.line.extend_from_slice(&rest[..take]);
                    pos += take;
                    if complete {
                        let line = std::mem::take(&mut self.line);
                        if self.state == State::ChunkHeader {
                            self.chunk_header(&line)?;
                        } else {
                            self.trailer_line(&line)?;
                        }
                    }
                }
                State::ChunkData { remaining } => {
                    let available = input.len() - pos;
                    let n = usize::try_from(remaining).map_or(available, |r| r.min(available));
                    let data = &input[pos..pos + n];
                    if self.signer.is_some() {
                        self.chunk_hasher.update(data);
                    }
                    out.push(pos..pos + n);
                    pos += n;
                    self.summary.decoded_length += n as u64;
                    let remaining = remaining - n as u64;
                    if remaining == 0 {
                        self.end_of_chunk_data()?;
                        self.state = State::DataEnd { seen_cr: false };
                    } else {
                        self.state = State::ChunkData { remaining };
                    }
                }
                State::DataEnd { seen_cr } => {
                    self.expect_crlf_byte(input[pos], seen_cr)?;
                    pos += 1;
                    self.state = if seen_cr {
                        State::ChunkHeader
                    } else {
                        State::DataEnd { seen_cr: true }
                    };
                }
                State::FinalCrlf { seen_cr } => {
                    self.expect_crlf_byte(input[pos], seen_cr)?;
                    pos += 1;
                    self.state = if seen_cr {
                        State::Done
                    } else {
                        State::FinalCrlf { seen_cr: true }
                    };
                }
                State::MaybeEnd => self.state = State::TrailerLine,
                State::Done => {
                    return Err(AuthError::InvalidRequest(
                        "data follows the end of the aws-chunked body".into(),
                    ))
                }
                State::Failed => {
                    return Err(AuthError::InvalidRequest(
                        "the aws-chunked body was already refused".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Parses `<hex size>[;chunk-signature=<sig>]\r\n` and enters the chunk.
    fn chunk_header(&mut self, line: &[u8]) -> Result<(), AuthError> {
        let index = self.summary.chunks + 1;
        let malformed = |why: &str| {
            AuthError::InvalidRequest(format!(
                "the header of chunk {index} of the aws-chunked body is malformed: {why}"
            ))
        };
        let content = line
            .strip_suffix(b"\r\n")
            .ok_or_else(|| malformed("it does not end with CRLF"))?;
        let (size_text, extension) = match content.iter().position(|&b| b == b';') {
            Some(i) => (&content[..i], Some(&content[i + 1..])),
            None => (content, None),
        };
        if size_text.is_empty() || size_text.len() > MAX_SIZE_DIGITS {
            return Err(malformed("the size must be 1 to 20 hex digits"));
        }
        let mut size: u64 = 0;
        for &b in size_text {
            let digit = char::from(b)
                .to_digit(16)
                .ok_or_else(|| malformed("the size is not hexadecimal"))?;
            size = size
                .checked_mul(16)
                .and_then(|s| s.checked_add(u64::from(digit)))
                .ok_or_else(|| malformed("the size is too large"))?;
        }
        match (&self.signer, extension) {
            (Some(_), Some(ext)) => {
                let sig = ext
                    .strip_prefix(SIGNATURE_EXTENSION.as_bytes())
                    .filter(|s| s.len() == 64 && s.iter().all(u8::is_ascii_hexdigit))
                    .ok_or_else(|| malformed("expected ;chunk-signature=<64 hex digits>"))?;
                self.chunk_signature = String::from_utf8_lossy(sig).into_owned();
            }
            (Some(_), None) => return Err(malformed("the chunk signature is missing")),
            (None, Some(_)) => return Err(malformed("an unsigned chunk has an extension")),
            (None, None) => {}
        }
        if let Some(expected) = self.expected_length {
            if self.summary.decoded_length.saturating_add(size) > expected {
                return Err(AuthError::InvalidRequest(format!(
                    "the aws-chunked body carries more than the {expected} bytes announced by \
                     x-amz-decoded-content-length"
                )));
            }
        }
        self.summary.chunks = index;
        if size > 0 {
            self.chunk_hasher = Sha256::new();
            self.state = State::ChunkData { remaining: size };
            return Ok(());
        }
        // The final chunk: its signature covers no data.
        if let Some(signer) = &mut self.signer {
            signer.check_chunk(&Sha256::digest(b""), &self.chunk_signature, index)?;
        }
        self.state = if self.with_trailer {
            State::TrailerLine
        } else {
            State::FinalCrlf { seen_cr: false }
        };
        Ok(())
    }

    fn end_of_chunk_data(&mut self) -> Result<(), AuthError> {
        if let Some(signer) = &mut self.signer {
            let hash = std::mem::take(&mut self.chunk_hasher).finalize();
            signer.check_chunk(&hash, &self.chunk_signature, self.summary.chunks)?;
        }
        Ok(())
    }

    /// One line of the trailer, with its line ending (CRLF, or a bare LF from lax clients).
    fn trailer_line(&mut self, line: &[u8]) -> Result<(), AuthError> {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            let started = !self.summary.trailers.is_empty() || self.trailer_signed;
            if started || self.leading_blank_seen {
                self.end_of_trailer()?;
                self.state = State::Done;
            } else {
                self.leading_blank_seen = true;
                self.state = State::MaybeEnd;
            }
            return Ok(());
        }
        let malformed = |why: String| {
            AuthError::MalformedTrailer(format!(
                "The request contained trailing data that was not well-formed: {why}"
            ))
        };
        if self.trailer_signed {
            return Err(malformed("a line follows x-amz-trailer-signature".into()));
        }
        self.trailer_bytes += line.len();
        if self.trailer_bytes > MAX_TRAILER_BYTES {
            return Err(malformed(format!(
                "the trailer is longer than {MAX_TRAILER_BYTES} bytes"
            )));
        }
        let text =
            std::str::from_utf8(content).map_err(|_| malformed("a line is not UTF-8".into()))?;
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| malformed(format!("{text:?} is not name:value")))?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(malformed(format!("{text:?} has no valid header name")));
        }
        if name != TRAILER_SIGNATURE {
            self.summary.trailers.push((name, value.to_owned()));
            return Ok(());
        }
        let Some(signer) = &mut self.signer else {
            return Err(malformed("an unsigned body has a trailer signature".into()));
        };
        if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed(
                "the trailer signature is not 64 hex digits".into(),
            ));
        }
        let mut canonical = Sha256::new();
        for (name, value) in &self.summary.trailers {
            canonical.update(name.as_bytes());
            canonical.update(b":");
            canonical.update(value.as_bytes());
            canonical.update(b"\n");
        }
        signer.check_trailer(&canonical.finalize(), value)?;
        self.trailer_signed = true;
        Ok(())
    }

    fn expect_crlf_byte(&self, byte: u8, seen_cr: bool) -> Result<(), AuthError> {
        let expected = if seen_cr { b'\n' } else { b'\r' };
        if byte != expected {
            return Err(AuthError::InvalidRequest(format!(
                "chunk {} of the aws-chunked body is not followed by CRLF",
                self.summary.chunks
            )));
        }
        Ok(())
    }

    /// The trailer is complete: a signed body must have had its trailer signature.
    fn end_of_trailer(&self) -> Result<(), AuthError> {
        if self.signer.is_some() && !self.trailer_signed {
            return Err(AuthError::MalformedTrailer(format!(
                "The request contained trailing data that was not well-formed: \
                 {TRAILER_SIGNATURE} is missing"
            )));
        }
        Ok(())
    }

    fn finish_inner(&mut self) -> Result<ChunkedSummary, AuthError> {
        let incomplete = |what: String| {
            AuthError::IncompleteBody(format!("The request body terminated unexpectedly: {what}"))
        };
        match self.state {
            State::Done => {}
            // Lax clients end the body without the last CRLF (after the final chunk, or after
            // the last trailer line): nothing is lost, the signatures were all checked.
            State::FinalCrlf { .. } | State::MaybeEnd => self.end_of_trailer_if_any()?,
            State::TrailerLine => {
                if !self.line.is_empty() {
                    let line = std::mem::take(&mut self.line);
                    self.trailer_line(&line)?;
                }
                if self.state != State::Done {
                    self.end_of_trailer()?;
                }
            }
            State::ChunkHeader => {
                return Err(incomplete(format!(
                    "it ended before the final chunk (after {} chunks)",
                    self.summary.chunks
                )))
            }
            State::ChunkData { remaining } => {
                return Err(incomplete(format!(
                    "chunk {} lacks {remaining} bytes",
                    self.summary.chunks
                )))
            }
            State::DataEnd { .. } => {
                return Err(incomplete(format!(
                    "chunk {} is not followed by CRLF",
                    self.summary.chunks
                )))
            }
            State::Failed => {
                return Err(AuthError::InvalidRequest(
                    "the aws-chunked body was already refused".into(),
                ))
            }
        }
        if let Some(expected) = self.expected_length {
            if self.summary.decoded_length != expected {
                return Err(incomplete(format!(
                    "it carried {} bytes, x-amz-decoded-content-length announced {expected}",
                    self.summary.decoded_length
                )));
            }
        }
        Ok(self.summary.clone())
    }

    fn end_of_trailer_if_any(&self) -> Result<(), AuthError> {
        if self.with_trailer {
            self.end_of_trailer()
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
