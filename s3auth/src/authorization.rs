//! Where a SigV4 request carries its credentials: the `Authorization` header, or the
//! `X-Amz-*` parameters of a presigned URL. Parsing is tolerant of spaces and strict on shape:
//! every component present once, a five-part credential ending in `aws4_request`, sorted
//! lower-case signed headers including `host`, and a 64-hex-digit signature.

use super::sigv4::{Scope, ALGORITHM, SCOPE_TERMINATOR};
use super::time::{parse_amz_date, parse_scope_date, MAX_PRESIGNED_EXPIRES_SECS};
use super::AuthError;

/// Query parameter naming the algorithm of a presigned URL.
pub const X_AMZ_ALGORITHM: &str = "X-Amz-Algorithm";
/// Query parameter with the credential of a presigned URL.
pub const X_AMZ_CREDENTIAL: &str = "X-Amz-Credential";
/// Query parameter with the signing time of a presigned URL.
pub const X_AMZ_DATE: &str = "X-Amz-Date";
/// Query parameter with the validity of a presigned URL, in seconds.
pub const X_AMZ_EXPIRES: &str = "X-Amz-Expires";
/// Query parameter with the signed headers of a presigned URL.
pub const X_AMZ_SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
/// Query parameter with the signature of a presigned URL (left out of the canonical query).
pub const X_AMZ_SIGNATURE: &str = "X-Amz-Signature";

/// An access key and the scope it signed for: `AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// The access key id.
    pub access_key_id: String,
    /// The day, region and service of the signature.
    pub scope: Scope,
}

impl Credential {
    /// Parses `<key>/<YYYYMMDD>/<region>/<service>/aws4_request`; the message says what is
    /// wrong, the caller picks the error code.
    pub fn parse(text: &str) -> Result<Credential, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let [key, date, region, service, terminator] = parts[..] else {
            return Err(format!(
                "the credential {text:?} must have the form \
                 <access key>/<YYYYMMDD>/<region>/<service>/aws4_request"
            ));
        };
        let token_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if !token_ok(key) || !token_ok(region) || !token_ok(service) {
            return Err(format!(
                "the credential {text:?} has an empty or non-printable access key, region or service"
            ));
        }
        if parse_scope_date(date).is_none() {
            return Err(format!(
                "the credential {text:?} has the date {date:?}, which is not a valid YYYYMMDD day"
            ));
        }
        if terminator != SCOPE_TERMINATOR {
            return Err(format!(
                "the credential {text:?} ends in {terminator:?}; it must end in {SCOPE_TERMINATOR}"
            ));
        }
        Ok(Credential {
            access_key_id: key.to_owned(),
            scope: Scope {
                date: date.to_owned(),
                region: region.to_owned(),
                service: service.to_owned(),
            },
        })
    }
}

/// Parses `host;range;x-amz-date`: non-empty lower-case header names, strictly increasing (as
/// the canonical request needs them) and including `host`.
fn parse_signed_headers(text: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = text.split(';').map(str::to_owned).collect();
    let valid_name = |n: &String| {
        !n.is_empty()
            && n.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
            })
    };
    if !names.iter().all(valid_name) {
        return Err(format!(
            "the signed headers {text:?} must be lower-case header names separated by ';'"
        ));
    }
    if !names.windows(2).all(|w| w[0] < w[1]) {
        return Err(format!(
            "the signed headers {text:?} must be sorted and without duplicates"
        ));
    }
    if !names.iter().any(|n| n == "host") {
        return Err(format!("the signed headers {text:?} must include host"));
    }
    Ok(names)
}

/// Checks a signature is 64 hex digits, and returns it in lower case.
fn parse_signature(text: &str) -> Result<String, String> {
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "the signature {text:?} is not 64 hexadecimal digits"
        ));
    }
    Ok(text.to_ascii_lowercase())
}

/// The `Authorization` header of a SigV4 request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// The access key and scope.
    pub credential: Credential,
    /// The signed header names, lower case and sorted.
    pub signed_headers: Vec<String>,
    /// The signature, 64 lower-case hex digits.
    pub signature: String,
}

impl AuthorizationHeader {
    /// Parses `AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..`. Spaces around
    /// the components and the commas are ignored, the three components may come in any order,
    /// each exactly once. Other schemes (SigV2's `AWS key:sig`, SigV4A) are refused with the
    /// error S3 gives for them.
    pub fn parse(value: &str) -> Result<AuthorizationHeader, AuthError> {
        let malformed = |why: String| {
            AuthError::AuthorizationHeaderMalformed(format!(
                "The authorization header is malformed; {why}"
            ))
        };
        let value = value.trim_matches([' ', '\t']);
        let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
        if scheme != ALGORITHM {
            return Err(if scheme == "AWS" {
                AuthError::InvalidRequest(
                    "The authorization mechanism you have provided is not supported. \
                     Please use AWS4-HMAC-SHA256."
                        .into(),
                )
            } else if scheme == "AWS4-ECDSA-P256-SHA256" {
                AuthError::NotImplemented("SigV4A (AWS4-ECDSA-P256-SHA256) is not supported".into())
            } else {
                malformed(format!("the scheme {scheme:?} is not {ALGORITHM}"))
            });
        }
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for component in rest.split(',') {
            let component = component.trim_matches([' ', '\t']);
            let Some((key, val)) = component.split_once('=') else {
                return Err(malformed(format!(
                    "the component {component:?} is not of the form Key=Value"
                )));
            };
            let slot = match key {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => {
                    return Err(malformed(format!("unknown component {key:?}")));
                }
            };
            if slot.replace(val).is_some() {
                return Err(malformed(format!("{key} is given twice")));
            }
        }
        let (Some(credential), Some(signed_headers), Some(signature)) =
            (credential, signed_headers, signature)
        else {
            return Err(malformed(
                "it must contain Credential, SignedHeaders and Signature".into(),
            ));
        };
        Ok(AuthorizationHeader {
            credential: Credential::parse(credential).map_err(malformed)?,
            signed_headers: parse_signed_headers(signed_headers).map_err(malformed)?,
            signature: parse_signature(signature).map_err(malformed)?,
        })
    }
}

/// The SigV4 parameters of a presigned URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedQuery {
    /// The access key and scope.
    pub credential: Credential,
    /// `X-Amz-Date` as sent (`YYYYMMDDTHHMMSSZ`), which the string to sign repeats.
    pub amz_date: String,
    /// `X-Amz-Date` in Unix seconds.
    pub signed_at: i64,
    /// `X-Amz-Expires`: seconds of validity after `signed_at`, 1..=604800.
    pub expires_secs: u32,
    /// The signed header names, lower case and sorted.
    pub signed_headers: Vec<String>,
    /// The signature, 64 lower-case hex digits.
    pub signature: String,
}

impl PresignedQuery {
    /// Reads the presigned parameters from decoded query pairs. `Ok(None)` when the query has
    /// none of them (the request is not presigned); an error when some are missing, repeated or
    /// malformed.
    pub fn parse(pairs: &[(String, String)]) -> Result<Option<PresignedQuery>, AuthError> {
        const NAMES: [&str; 6] = [
            X_AMZ_ALGORITHM,
            X_AMZ_CREDENTIAL,
            X_AMZ_DATE,
            X_AMZ_EXPIRES,
            X_AMZ_SIGNED_HEADERS,
            X_AMZ_SIGNATURE,
        ];
        let bad = AuthError::AuthorizationQueryParametersError;
        let mut values: [Option<&str>; 6] = [None; 6];
        for (name, value) in pairs {
            if let Some(i) = NAMES.iter().position(|n| n == name) {
                if values[i].replace(value).is_some() {
                    return Err(bad(format!("the query parameter {name} is given twice")));
                }
            }
        }
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        let [Some(algorithm), Some(credential), Some(date), Some(expires), Some(signed_headers), Some(signature)] =
            values
        else {
            return Err(bad(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, \
                 X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
                 X-Amz-Expires parameters."
                    .into(),
            ));
        };
        if algorithm != ALGORITHM {
            return Err(bad(format!(
                "X-Amz-Algorithm only supports \"{ALGORITHM}\", not {algorithm:?}"
            )));
        }
        let signed_at = parse_amz_date(date).map_err(|_| {
            bad(format!(
                "X-Amz-Date {date:?} must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
            ))
        })?;
        let expires_secs = expires
            .parse::<u32>()
            .ok()
            .filter(|s| (1..=MAX_PRESIGNED_EXPIRES_SECS).contains(s))
            .ok_or_else(|| {
                bad(format!(
                    "X-Amz-Expires {expires:?} must be a number of seconds from 1 to \
                     {MAX_PRESIGNED_EXPIRES_SECS} (7 days)"
                ))
            })?;
        Ok(Some(PresignedQuery {
            credential: Credential::parse(credential).map_err(bad)?,
            amz_date: date.to_owned(),
            signed_at,
            expires_secs,
            signed_headers: parse_signed_headers(signed_headers).map_err(bad)?,
            signature: parse_signature(signature).map_err(bad)?,
        }))
    }
}

/// The query pairs a presigned URL's signature covers: all but `X-Amz-Signature`.
pub fn presigned_query_pairs(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter(|(name, _)| name != X_AMZ_SIGNATURE)
        .cloned()
        .collect()
}

/// Checks that the credential's day is the day of the request time, as S3 requires.
pub fn check_scope_date(scope: &Scope, request_time: i64) -> Result<(), AuthError> {
    let day = super::time::format_scope_date(request_time);
    if scope.date != day {
        return Err(AuthError::AuthorizationHeaderMalformed(format!(
            "Invalid credential date {:?}: it is not the date of the request ({day})",
            scope.date
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::parse_query;

    const SIG: &str = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";

    #[test]
    fn parses_the_documented_header() {
        // The example header of "Authenticating Requests: Using the Authorization Header".
        let value = format!(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-date, Signature={SIG}"
        );
        let parsed = AuthorizationHeader::parse(&value).unwrap();
        assert_eq!(parsed.credential.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(
            parsed.credential.scope.to_string(),
            "20130524/us-east-1/s3/aws4_request"
        );
        assert_eq!(parsed.signed_headers, ["host", "range", "x-amz-date"]);
        assert_eq!(parsed.signature, SIG);
    }

    #[test]
    fn tolerates_spacing_and_order() {
        let expected = AuthorizationHeader::parse(&format!(
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature={SIG}"
        ))
        .unwrap();
        for value in [
            format!("  AWS4-HMAC-SHA256   Credential=AK/20130524/us-east-1/s3/aws4_request ,  SignedHeaders=host ,Signature={SIG}  "),
            format!("AWS4-HMAC-SHA256 Signature={}, SignedHeaders=host, Credential=AK/20130524/us-east-1/s3/aws4_request", SIG.to_uppercase()),
            format!("AWS4-HMAC-SHA256\tCredential=AK/20130524/us-east-1/s3/aws4_request,\tSignedHeaders=host, Signature={SIG}"),
        ] {
            assert_eq!(AuthorizationHeader::parse(&value).as_ref(), Ok(&expected), "{value}");
        }
    }

    #[test]
    fn refuses_bad_shapes() {
        let cred = "Credential=AK/20130524/us-east-1/s3/aws4_request";
        for value in [
            String::new(),
            "AWS4-HMAC-SHA256".into(),
            format!("AWS4-HMAC-SHA512 {cred}, SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host"),
            format!("AWS4-HMAC-SHA256 {cred}, {cred}, SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host, Signature={SIG}, Extra=1"),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host, Signature={SIG},"),
            format!("AWS4-HMAC-SHA256 {cred} SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host, Signature={}", &SIG[1..]),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host, Signature={}g", &SIG[1..]),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=x-amz-date;host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host;host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=Host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=range, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 {cred}, SignedHeaders=host;, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3, SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request/x, SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws5_request, SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential=AK/20130524//s3/aws4_request, SignedHeaders=host, Signature={SIG}"),
        ] {
            assert!(
                matches!(
                    AuthorizationHeader::parse(&value),
                    Err(AuthError::AuthorizationHeaderMalformed(_))
                ),
                "{value:?}"
            );
        }
        assert!(matches!(
            AuthorizationHeader::parse("AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="),
            Err(AuthError::InvalidRequest(_))
        ));
        assert!(matches!(
            AuthorizationHeader::parse(&format!(
                "AWS4-ECDSA-P256-SHA256 {cred}, SignedHeaders=host, Signature={SIG}"
            )),
            Err(AuthError::NotImplemented(_))
        ));
    }

    /// The query of the presigned URL example of "Authenticating Requests: Using Query
    /// Parameters (AWS Signature Version 4)".
    const PRESIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
        &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    #[test]
    fn parses_presigned_parameters() {
        let pairs = parse_query(PRESIGNED);
        let parsed = PresignedQuery::parse(&pairs).unwrap().unwrap();
        assert_eq!(parsed.credential.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(parsed.credential.scope.region, "us-east-1");
        assert_eq!(parsed.amz_date, "20130524T000000Z");
        assert_eq!(parsed.signed_at, 1_369_353_600);
        assert_eq!(parsed.expires_secs, 86_400);
        assert_eq!(parsed.signed_headers, ["host"]);
        assert_eq!(presigned_query_pairs(&pairs).len(), 5);
        assert_eq!(
            PresignedQuery::parse(&parse_query("prefix=a&list-type=2")),
            Ok(None)
        );
    }

    #[test]
    fn refuses_bad_presigned_parameters() {
        let replace = |from: &str, to: &str| parse_query(&PRESIGNED.replace(from, to));
        for pairs in [
            replace("X-Amz-Expires=86400", "X-Amz-Expires=0"),
            replace("X-Amz-Expires=86400", "X-Amz-Expires=604801"),
            replace("X-Amz-Expires=86400", "X-Amz-Expires=-1"),
            replace("X-Amz-Expires=86400", "X-Amz-Expires=1e3"),
            replace("X-Amz-Expires=86400&", ""),
            replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
            replace("20130524T000000Z", "2013-05-24T00:00:00Z"),
            replace("%2Faws4_request", ""),
            replace("SignedHeaders=host", "SignedHeaders=range"),
            replace("X-Amz-Signature=aeeed9bb", "X-Amz-Signature=aeeed9b"),
            parse_query(&format!("{PRESIGNED}&X-Amz-Date=20130524T000000Z")),
            parse_query("X-Amz-Signature=abc"),
        ] {
            assert!(
                matches!(
                    PresignedQuery::parse(&pairs),
                    Err(AuthError::AuthorizationQueryParametersError(_))
                ),
                "{pairs:?}"
            );
        }
        let week = replace("X-Amz-Expires=86400", "X-Amz-Expires=604800");
        assert_eq!(
            PresignedQuery::parse(&week).unwrap().unwrap().expires_secs,
            604_800
        );
    }

    #[test]
    fn scope_date_must_be_the_request_day() {
        let credential = Credential::parse("AK/20130524/us-east-1/s3/aws4_request").unwrap();
        assert_eq!(
            check_scope_date(&credential.scope, 1_369_353_600 + 86_399),
            Ok(())
        );
        assert!(check_scope_date(&credential.scope, 1_369_353_600 - 1).is_err());
        assert!(credential.scope.check_region("us-east-1").is_ok());
        assert!(matches!(
            credential.scope.check_region("eu-west-1"),
            Err(AuthError::AuthorizationHeaderMalformed(_))
        ));
    }
}
