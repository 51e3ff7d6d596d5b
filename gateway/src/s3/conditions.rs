//! Pure request logic of reads: the `If-*` preconditions (and their `x-amz-copy-source-if-*`
//! twins) and the `Range` header.

use crate::http_date::{modified_since, parse_http_date};
use http::HeaderMap;

/// What the preconditions of a read say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Serve the object.
    Proceed,
    /// 304 Not Modified (GET and HEAD only; a copy answers 412 instead).
    NotModified,
    /// 412 Precondition Failed.
    PreconditionFailed,
}

/// The four conditional headers of a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Preconditions {
    /// `If-Match`: a list of ETags, or `*`.
    pub if_match: Option<String>,
    /// `If-None-Match`: a list of ETags, or `*`.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since`, Unix seconds (ignored when it does not parse, as RFC 9110 asks).
    pub if_modified_since: Option<u64>,
    /// `If-Unmodified-Since`, Unix seconds (same).
    pub if_unmodified_since: Option<u64>,
}

impl Preconditions {
    /// Reads the conditions of a GET or HEAD (`prefix` empty) or of a copy source
    /// (`prefix` = `x-amz-copy-source-`). Values that are not text are ignored.
    pub(crate) fn from_headers(headers: &HeaderMap, prefix: &str) -> Preconditions {
        let get = |name: &str| {
            headers
                .get(format!("{prefix}{name}"))
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        Preconditions {
            if_match: get("if-match").map(str::to_owned),
            if_none_match: get("if-none-match").map(str::to_owned),
            if_modified_since: get("if-modified-since").and_then(parse_http_date),
            if_unmodified_since: get("if-unmodified-since").and_then(parse_http_date),
        }
    }

    /// Evaluates the conditions against an object's ETag and modification time, in the order
    /// of RFC 9110 §13.2.2, which is how S3 combines them:
    /// - `If-Match` false → 412; when it is true, `If-Unmodified-Since` is not looked at;
    /// - otherwise `If-Unmodified-Since` false (modified since) → 412;
    /// - `If-None-Match` matching → 304; when it does not match, `If-Modified-Since` is not
    ///   looked at;
    /// - otherwise `If-Modified-Since` false (not modified since) → 304.
    pub(crate) fn evaluate(&self, etag: &str, mtime_ms: u64) -> Verdict {
        match &self.if_match {
            Some(list) => {
                if !etag_list_matches(list, etag) {
                    return Verdict::PreconditionFailed;
                }
            }
            None => {
                if let Some(since) = self.if_unmodified_since {
                    if modified_since(mtime_ms, since) {
                        return Verdict::PreconditionFailed;
                    }
                }
            }
        }
        match &self.if_none_match {
            Some(list) => {
                if etag_list_matches(list, etag) {
                    return Verdict::NotModified;
                }
            }
            None => {
                if let Some(since) = self.if_modified_since {
                    if !modified_since(mtime_ms, since) {
                        return Verdict::NotModified;
                    }
                }
            }
        }
        Verdict::Proceed
    }
}

/// An ETag without its weakness marker and quotes, for comparison.
fn bare_etag(tag: &str) -> &str {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.trim_matches('"')
}

/// Whether a conditional header's list (`"a", "b"`, or `*`) matches an existing object's ETag.
pub(crate) fn etag_list_matches(list: &str, etag: &str) -> bool {
    let want = bare_etag(etag);
    list.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || (!candidate.is_empty() && bare_etag(candidate) == want)
    })
}

/// The part of an object a GET serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RangeSpec {
    /// The whole object (no `Range`, or one S3 ignores).
    Full,
    /// Bytes `start..=end` (inclusive, already clamped to the object), answered with 206.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// No byte of the object is in the range: 416 with `Content-Range: bytes */SIZE`.
    Unsatisfiable,
}

fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // More digits than a u64 holds is still a valid, very large position.
    Some(text.parse::<u64>().unwrap_or(u64::MAX))
}

/// Interprets a `Range` header for an object of `size` bytes, as S3 does: one range of
/// `bytes=N-M`, `bytes=N-` or `bytes=-N`; an end past the object is clamped; a start at or
/// past the end, or an empty suffix, is unsatisfiable. A header that is not one well-formed
/// byte range (several ranges, another unit, `M < N`, garbage) is ignored: the whole object
/// is served, as RFC 9110 §14.2 allows.
pub(crate) fn parse_range(header: Option<&str>, size: u64) -> RangeSpec {
    let Some(header) = header else {
        return RangeSpec::Full;
    };
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeSpec::Full;
    };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeSpec::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // A suffix: the last N bytes.
        let Some(n) = digits(last) else {
            return RangeSpec::Full;
        };
        if n == 0 || size == 0 {
            return RangeSpec::Unsatisfiable;
        }
        return RangeSpec::Partial {
            start: size - n.min(size),
            end: size - 1,
        };
    }
    let Some(start) = digits(first) else {
        return RangeSpec::Full;
    };
    let end = if last.is_empty() {
        None
    } else {
        match digits(last) {
            Some(end) if end >= start => Some(end),
            _ => return RangeSpec::Full,
        }
    };
    if start >= size {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Partial {
        start,
        end: end.map_or(size - 1, |e| e.min(size - 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"9e107d9d372bb6826bd81d3542a419d6\"";
    /// mtime 1000 s (in ms); dates before, at and after it.
    const MTIME_MS: u64 = 1_000_500;
    const BEFORE: u64 = 900;
    const AT: u64 = 1_000;
    const AFTER: u64 = 1_100;

    fn cond(
        if_match: Option<&str>,
        if_none_match: Option<&str>,
        modified_since: Option<u64>,
        unmodified_since: Option<u64>,
    ) -> Verdict {
        Preconditions {
            if_match: if_match.map(str::to_owned),
            if_none_match: if_none_match.map(str::to_owned),
            if_modified_since: modified_since,
            if_unmodified_since: unmodified_since,
        }
        .evaluate(ETAG, MTIME_MS)
    }

    use Verdict::{NotModified as Nm, PreconditionFailed as Pf, Proceed as Ok_};

    #[test]
    fn single_conditions() {
        assert_eq!(cond(None, None, None, None), Ok_);
        assert_eq!(cond(Some(ETAG), None, None, None), Ok_);
        assert_eq!(
            cond(Some("9e107d9d372bb6826bd81d3542a419d6"), None, None, None),
            Ok_
        );
        assert_eq!(cond(Some("*"), None, None, None), Ok_);
        assert_eq!(cond(Some("\"other\""), None, None, None), Pf);
        let list = "\"x\", \"9e107d9d372bb6826bd81d3542a419d6\"";
        assert_eq!(cond(Some(list), None, None, None), Ok_);
        assert_eq!(cond(None, Some(ETAG), None, None), Nm);
        assert_eq!(cond(None, Some("*"), None, None), Nm);
        assert_eq!(
            cond(
                None,
                Some("W/\"9e107d9d372bb6826bd81d3542a419d6\""),
                None,
                None
            ),
            Nm
        );
        assert_eq!(cond(None, Some("\"other\""), None, None), Ok_);
        assert_eq!(cond(None, None, Some(BEFORE), None), Ok_);
        assert_eq!(
            cond(None, None, Some(AT), None),
            Nm,
            "same second is not modified"
        );
        assert_eq!(cond(None, None, Some(AFTER), None), Nm);
        assert_eq!(cond(None, None, None, Some(BEFORE)), Pf);
        assert_eq!(cond(None, None, None, Some(AT)), Ok_);
        assert_eq!(cond(None, None, None, Some(AFTER)), Ok_);
    }

    #[test]
    fn s3_combinations() {
        // If-Match true wins over a failing If-Unmodified-Since (S3's documented case).
        assert_eq!(cond(Some(ETAG), None, None, Some(BEFORE)), Ok_);
        // If-Match false fails whatever the date says.
        assert_eq!(cond(Some("\"x\""), None, None, Some(AFTER)), Pf);
        // If-None-Match false (the ETag matches) with If-Modified-Since true: 304.
        assert_eq!(cond(None, Some(ETAG), Some(BEFORE), None), Nm);
        // If-None-Match true (no match) wins over a failing If-Modified-Since.
        assert_eq!(cond(None, Some("\"x\""), Some(AFTER), None), Ok_);
        // 412 takes precedence over 304.
        assert_eq!(cond(Some("\"x\""), Some(ETAG), None, None), Pf);
        assert_eq!(cond(None, Some(ETAG), None, Some(BEFORE)), Pf);
        assert_eq!(cond(Some(ETAG), Some(ETAG), None, None), Nm);
        assert_eq!(
            cond(Some(ETAG), Some("\"x\""), Some(AFTER), Some(BEFORE)),
            Ok_
        );
        assert_eq!(cond(None, None, Some(AFTER), Some(BEFORE)), Pf);
        assert_eq!(cond(None, None, Some(BEFORE), Some(AFTER)), Ok_);
    }

    #[test]
    fn reads_headers_with_a_prefix_and_ignores_bad_dates() {
        let mut headers = HeaderMap::new();
        headers.insert("if-match", ETAG.parse().unwrap());
        headers.insert("if-modified-since", "yesterday".parse().unwrap());
        headers.insert(
            "x-amz-copy-source-if-unmodified-since",
            "Thu, 01 Jan 1970 00:16:40 GMT".parse().unwrap(),
        );
        let plain = Preconditions::from_headers(&headers, "");
        assert_eq!(plain.if_match.as_deref(), Some(ETAG));
        assert_eq!(plain.if_modified_since, None);
        let copy = Preconditions::from_headers(&headers, "x-amz-copy-source-");
        assert_eq!(copy.if_match, None);
        assert_eq!(copy.if_unmodified_since, Some(1000));
        assert_eq!(
            Preconditions::from_headers(&HeaderMap::new(), ""),
            Preconditions::default()
        );
    }

    fn range(header: &str, size: u64) -> RangeSpec {
        parse_range(Some(header), size)
    }

    fn part(start: u64, end: u64) -> RangeSpec {
        RangeSpec::Partial { start, end }
    }

    #[test]
    fn ranges_within_the_object() {
        assert_eq!(parse_range(None, 10), RangeSpec::Full);
        assert_eq!(range("bytes=0-4", 10), part(0, 4));
        assert_eq!(range("bytes=3-3", 10), part(3, 3));
        assert_eq!(range("bytes=4-", 10), part(4, 9));
        assert_eq!(range("bytes=-3", 10), part(7, 9));
        assert_eq!(range(" bytes= 2 - 5 ", 10), part(2, 5));
    }

    #[test]
    fn ranges_are_clamped_past_the_end() {
        assert_eq!(range("bytes=5-100", 10), part(5, 9));
        assert_eq!(range("bytes=-100", 10), part(0, 9));
        assert_eq!(range("bytes=0-99999999999999999999999", 10), part(0, 9));
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(range("bytes=10-", 10), RangeSpec::Unsatisfiable);
        assert_eq!(range("bytes=10-20", 10), RangeSpec::Unsatisfiable);
        assert_eq!(range("bytes=-0", 10), RangeSpec::Unsatisfiable);
        assert_eq!(range("bytes=0-", 0), RangeSpec::Unsatisfiable);
        assert_eq!(range("bytes=-5", 0), RangeSpec::Unsatisfiable);
    }

    #[test]
    fn malformed_ranges_are_ignored() {
        for bad in [
            "bytes=5-3",
            "bytes=a-b",
            "bytes=",
            "bytes=-",
            "bytes=1",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=--1",
        ] {
            assert_eq!(range(bad, 10), RangeSpec::Full, "{bad}");
        }
    }
}
