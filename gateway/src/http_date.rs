//! HTTP dates for `Last-Modified`, `If-Modified-Since` and `If-Unmodified-Since`.
//!
//! Formatting writes IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); parsing also accepts the two
//! obsolete forms (RFC 850 and asctime), as RFC 9110 §5.6.7 asks of recipients. Both come from
//! the small `httpdate` crate, which hyper already depends on. HTTP dates have whole seconds, so
//! comparisons with dfs's millisecond mtimes truncate those to the second, as `Last-Modified`
//! does: an object written at 10.7 s is not "modified since" a date of 10 s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The last second `httpdate` can represent (9999-12-31T23:59:59Z); later times are clamped to
/// it rather than panicking.
const MAX_UNIX_SECS: u64 = 253_402_300_799;

/// Formats a time given in Unix milliseconds as an HTTP date (IMF-fixdate).
pub fn format_http_date(unix_ms: u64) -> String {
    let secs = (unix_ms / 1000).min(MAX_UNIX_SECS);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Parses an HTTP date in any of its three forms to Unix seconds. `None` for anything else or
/// for a date before 1970; a conditional header whose date does not parse is ignored, as
/// RFC 9110 §13.1.3 and §13.1.4 require.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let time = httpdate::parse_http_date(text.trim()).ok()?;
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// Whether an object last modified at `mtime_ms` (Unix milliseconds) counts as modified after
/// the HTTP date `since_secs` (Unix seconds), at the one-second precision of HTTP dates.
pub fn modified_since(mtime_ms: u64, since_secs: u64) -> bool {
    mtime_ms / 1000 > since_secs
}

/// Unix milliseconds of a `SystemTime` (0 before 1970, saturating far in the future).
pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_imf_fixdate() {
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            format_http_date(784_111_777_999),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(format_http_date(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn parses_all_three_forms() {
        for text in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            " Sun, 06 Nov 1994 08:49:37 GMT ",
        ] {
            assert_eq!(parse_http_date(text), Some(784_111_777), "{text}");
        }
        for bad in [
            "",
            "yesterday",
            "2009-10-12T17:50:30Z",
            "Sun, 06 Nov 1994 25:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips() {
        for ms in [0, 1_000, 1_255_369_830_000, 4_102_444_800_000] {
            assert_eq!(parse_http_date(&format_http_date(ms)), Some(ms / 1000));
        }
    }

    #[test]
    fn modification_is_judged_to_the_second() {
        assert!(!modified_since(10_700, 10));
        assert!(modified_since(11_000, 10));
        assert!(!modified_since(9_000, 10));
        assert_eq!(unix_ms(UNIX_EPOCH + Duration::from_millis(1_234)), 1_234);
        assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
