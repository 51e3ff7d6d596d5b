//! The dates of SigV4: `x-amz-date` / `X-Amz-Date` (`20130524T000000Z`), the HTTP `Date`
//! header (`Fri, 24 May 2013 00:00:00 GMT`), the clock-skew and presigned-expiry checks.
//!
//! Times are `i64` seconds since the Unix epoch, UTC. A full date crate would be one more
//! dependency for two fixed formats; the conversion between days and civil dates is the
//! classic proleptic-Gregorian one (eras of 400 years, years starting in March so that the
//! leap day is the last day of the year), tested over a wide range below.

use super::AuthError;

/// How far a header-signed request's time may be from the server's clock (S3 uses 15 minutes).
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// The longest validity of a presigned URL: 7 days.
pub const MAX_PRESIGNED_EXPIRES_SECS: u32 = 7 * 24 * 3600;

const SECS_PER_DAY: i64 = 86_400;
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]; // from 1970-01-01

/// Days since 1970-01-01 of a proleptic-Gregorian date. `month` is 1..=12, `day` 1..=31.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Count years from March so that February (and its leap day) ends the year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400); // 0..=399
    let month_from_march = i64::from((month + 9) % 12); // March = 0
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1; // 0..=365
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719_468 days separate 0000-03-01 (start of era 0) from 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic-Gregorian `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // 0..=146_096
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // 0..=11
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both values are small by construction (1..=12 and 1..=31).
    (year, month as u32, day as u32)
}

/// Whether `year` has a 29th of February.
pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days of a month (1..=12) in a year.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Unix seconds of a UTC date and time, or `None` when a field is out of range.
fn unix_from_fields(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<i64> {
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let secs = i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    Some(days_from_civil(year, month, day) * SECS_PER_DAY + secs)
}

/// Parses a fixed-width run of ASCII digits.
fn digits(text: &[u8]) -> Option<u32> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    text.iter().try_fold(0u32, |acc, d| {
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

/// Parses the ISO 8601 basic form of `x-amz-date` and `X-Amz-Date`: `YYYYMMDDTHHMMSSZ`.
pub fn parse_amz_date(text: &str) -> Result<i64, AuthError> {
    let b = text.as_bytes();
    let parsed = (|| {
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        unix_from_fields(
            i64::from(digits(&b[0..4])?),
            digits(&b[4..6])?,
            digits(&b[6..8])?,
            digits(&b[9..11])?,
            digits(&b[11..13])?,
            digits(&b[13..15])?,
        )
    })();
    parsed.ok_or_else(|| {
        AuthError::AccessDenied(format!(
            "the date {text:?} is not of the form YYYYMMDDTHHMMSSZ (ISO 8601 basic, UTC)"
        ))
    })
}

/// Parses the 8-digit date of a credential scope (`20130524`) to the Unix seconds of its midnight.
pub fn parse_scope_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 8 {
        return None;
    }
    unix_from_fields(
        i64::from(digits(&b[0..4])?),
        digits(&b[4..6])?,
        digits(&b[6..8])?,
        0,
        0,
        0,
    )
}

/// Parses the HTTP `Date` header in its only current form, IMF-fixdate
/// (`Fri, 24 May 2013 00:00:00 GMT`, RFC 9110). The weekday name must be one of the seven but
/// is not checked against the date: it carries no information and some clients get it wrong.
pub fn parse_http_date(text: &str) -> Result<i64, AuthError> {
    let b = text.as_bytes();
    let parsed = (|| {
        // "Fri, 24 May 2013 00:00:00 GMT": fixed positions.
        if b.len() != 29
            || &b[3..5] != b", "
            || b[7] != b' '
            || b[11] != b' '
            || b[16] != b' '
            || b[19] != b':'
            || b[22] != b':'
            || &b[25..] != b" GMT"
        {
            return None;
        }
        WEEKDAYS.iter().position(|w| w.as_bytes() == &b[0..3])?;
        let month = MONTHS.iter().position(|m| m.as_bytes() == &b[8..11])?;
        unix_from_fields(
            i64::from(digits(&b[12..16])?),
            month as u32 + 1,
            digits(&b[5..7])?,
            digits(&b[17..19])?,
            digits(&b[20..22])?,
            digits(&b[23..25])?,
        )
    })();
    parsed.ok_or_else(|| {
        AuthError::AccessDenied(format!(
            "the Date header {text:?} is not of the form \"Fri, 24 May 2013 00:00:00 GMT\""
        ))
    })
}

/// Splits Unix seconds into a civil date and the seconds of that day.
fn split(unix: i64) -> ((i64, u32, u32), i64) {
    (
        civil_from_days(unix.div_euclid(SECS_PER_DAY)),
        unix.rem_euclid(SECS_PER_DAY),
    )
}

/// Formats Unix seconds as `x-amz-date` does: `20130524T000000Z`.
pub fn format_amz_date(unix: i64) -> String {
    let ((year, month, day), secs) = split(unix);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Formats Unix seconds as the date of a credential scope: `20130524`.
pub fn format_scope_date(unix: i64) -> String {
    let ((year, month, day), _) = split(unix);
    format!("{year:04}{month:02}{day:02}")
}

/// Formats Unix seconds as an HTTP date (IMF-fixdate): `Fri, 24 May 2013 00:00:00 GMT`.
pub fn format_http_date(unix: i64) -> String {
    let ((year, month, day), secs) = split(unix);
    let weekday = WEEKDAYS[unix.div_euclid(SECS_PER_DAY).rem_euclid(7) as usize];
    let month_name = MONTHS[(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {month_name} {year:04} {:02}:{:02}:{:02} GMT",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Refuses a header-signed request whose time is more than [`MAX_SKEW_SECS`] from `now`
/// (S3's `RequestTimeTooSkewed`), so that a captured request soon becomes useless.
pub fn check_skew(request_time: i64, now: i64) -> Result<(), AuthError> {
    if request_time.abs_diff(now) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(AuthError::RequestTimeTooSkewed {
            request_time,
            server_time: now,
        });
    }
    Ok(())
}

/// Refuses a presigned URL that has expired (`now` past `signed_at + expires_secs`), or whose
/// date is further in the future than the allowed clock skew (S3 answers "Request is not valid
/// yet").
pub fn check_presigned_expiry(
    signed_at: i64,
    expires_secs: u32,
    now: i64,
) -> Result<(), AuthError> {
    if signed_at.saturating_sub(now) > MAX_SKEW_SECS {
        return Err(AuthError::AccessDenied("Request is not valid yet".into()));
    }
    if now > signed_at.saturating_add(i64::from(expires_secs)) {
        return Err(AuthError::AccessDenied("Request has expired".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2013, 5, 24) * SECS_PER_DAY, 1_369_353_600);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
        // 2100 is not a leap year, 2000 was.
        assert_eq!(
            civil_from_days(days_from_civil(2100, 2, 28) + 1),
            (2100, 3, 1)
        );
        assert_eq!(
            civil_from_days(days_from_civil(2000, 2, 28) + 1),
            (2000, 2, 29)
        );
    }

    #[test]
    fn civil_round_trip_over_six_millennia() {
        // From 0000-03-01 to about 6000, every day: each date maps back to its day count and
        // consecutive days are consecutive dates.
        let mut previous = civil_from_days(-719_469);
        for days in -719_468..1_500_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            let (py, pm, pd) = previous;
            let next_of_previous = if pd < days_in_month(py, pm) {
                (py, pm, pd + 1)
            } else if pm < 12 {
                (py, pm + 1, 1)
            } else {
                (py + 1, 1, 1)
            };
            assert_eq!((y, m, d), next_of_previous);
            previous = (y, m, d);
        }
    }

    #[test]
    fn amz_date_parses_strictly() {
        // The timestamp of every S3 SigV4 example in AWS's documentation.
        assert_eq!(parse_amz_date("20130524T000000Z"), Ok(1_369_353_600));
        // The timestamp of the SigV4 test suite (AWS General Reference).
        assert_eq!(parse_amz_date("20150830T123600Z"), Ok(1_440_938_160));
        for bad in [
            "",
            "20130524T000000",
            "20130524 000000Z",
            "2013-05-24T00:00:00Z",
            "20130230T000000Z",
            "20130524T240000Z",
            "20130524T006000Z",
            "20131324T000000Z",
            "2013052aT000000Z",
            "+0130524T000000Z",
            "20130524T000000Zx",
            "２0130524T000000Z",
        ] {
            assert!(
                matches!(parse_amz_date(bad), Err(AuthError::AccessDenied(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn http_date_parses_and_formats() {
        assert_eq!(
            parse_http_date("Fri, 24 May 2013 00:00:00 GMT"),
            Ok(1_369_353_600)
        );
        assert_eq!(
            format_http_date(1_369_353_600),
            "Fri, 24 May 2013 00:00:00 GMT"
        );
        assert_eq!(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            format_http_date(1_440_938_160),
            "Sun, 30 Aug 2015 12:36:00 GMT"
        );
        for bad in [
            "Fri, 24 May 2013 00:00:00 UTC",
            "Fri 24 May 2013 00:00:00 GMT",
            "Fri, 24 Foo 2013 00:00:00 GMT",
            "Xyz, 24 May 2013 00:00:00 GMT",
            "Fri, 31 Jun 2013 00:00:00 GMT",
            "Friday, 24-May-13 00:00:00 GMT",
            "",
        ] {
            assert!(parse_http_date(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn amz_formats_round_trip() {
        for unix in [0, 1_369_353_600, 1_440_938_160, 4_102_444_799, 951_782_400] {
            assert_eq!(parse_amz_date(&format_amz_date(unix)), Ok(unix));
            assert_eq!(parse_http_date(&format_http_date(unix)), Ok(unix));
        }
        assert_eq!(format_amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(format_scope_date(1_440_938_160), "20150830");
        assert_eq!(parse_scope_date("20150830"), Some(1_440_892_800));
        assert_eq!(parse_scope_date("20150832"), None);
        assert_eq!(parse_scope_date("2015083"), None);
    }

    #[test]
    fn skew_is_fifteen_minutes_either_way() {
        let now = 1_369_353_600;
        assert_eq!(check_skew(now + MAX_SKEW_SECS, now), Ok(()));
        assert_eq!(check_skew(now - MAX_SKEW_SECS, now), Ok(()));
        assert_eq!(
            check_skew(now - MAX_SKEW_SECS - 1, now),
            Err(AuthError::RequestTimeTooSkewed {
                request_time: now - MAX_SKEW_SECS - 1,
                server_time: now
            })
        );
        assert!(check_skew(now + MAX_SKEW_SECS + 1, now).is_err());
        assert!(check_skew(i64::MIN, i64::MAX).is_err());
    }

    #[test]
    fn presigned_expiry() {
        let signed = 1_369_353_600;
        assert_eq!(
            check_presigned_expiry(signed, 86_400, signed + 86_400),
            Ok(())
        );
        assert_eq!(
            check_presigned_expiry(signed, 86_400, signed + 86_401),
            Err(AuthError::AccessDenied("Request has expired".into()))
        );
        assert_eq!(
            check_presigned_expiry(signed, 1, signed - MAX_SKEW_SECS),
            Ok(())
        );
        assert_eq!(
            check_presigned_expiry(signed, 1, signed - MAX_SKEW_SECS - 1),
            Err(AuthError::AccessDenied("Request is not valid yet".into()))
        );
    }
}
