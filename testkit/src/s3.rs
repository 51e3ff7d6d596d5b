//! A tiny blocking S3 client for the Rust integration tests: one signed request (SigV4 with an
//! unsigned payload, signed by `dfs-s3auth`, the gateway's own functions) on a fresh
//! connection. Real S3 clients are driven by the Python suite; this covers what Rust tests
//! need without an SDK.

use dfs_s3auth::sigv4;
use dfs_s3auth::time::{format_amz_date, format_scope_date};
use std::io::{Read, Write};

/// An S3 answer: status, headers and body as text (the tests look at small answers only).
#[derive(Debug)]
pub struct S3Answer {
    /// The HTTP status code (0 if the answer could not be read).
    pub status: u16,
    /// The raw head and body.
    pub text: String,
}

impl S3Answer {
    /// The body: everything after the head.
    pub fn body(&self) -> &str {
        self.text
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body)
    }

    /// The value of the header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        let head = self.text.split("\r\n\r\n").next()?;
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends `method path` with `body` to the gateway at `addr`, signed with `key` (id, secret)
/// for `region`. `path` is already URI-encoded; a query after `?` must be in canonical form
/// (parameters sorted, each `name=value`, encoded).
pub fn s3_request(
    addr: &str,
    key: &(String, String),
    region: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> std::io::Result<S3Answer> {
    let now = dfs_common::auth::unix_now() as i64;
    let stamp = format_amz_date(now);
    let date = format_scope_date(now);
    let payload = "UNSIGNED-PAYLOAD";
    let signed = "host;x-amz-content-sha256;x-amz-date";
    let (uri, query) = path.split_once('?').unwrap_or((path, ""));
    let canonical = format!(
        "{method}\n{uri}\n{query}\nhost:{addr}\nx-amz-content-sha256:{payload}\nx-amz-date:{stamp}\n\n{signed}\n{payload}"
    );
    let scope = format!("{date}/{region}/s3/aws4_request");
    let to_sign = sigv4::string_to_sign(&stamp, &scope, &sigv4::sha256_hex(&canonical));
    let signing_key = sigv4::signing_key(&key.1, &date, region, "s3");
    let signature = sigv4::signature(&signing_key, &to_sign);
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\
         x-amz-content-sha256: {payload}\r\nx-amz-date: {stamp}\r\n\
         Authorization: {} Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}\r\n\r\n",
        body.len(),
        sigv4::ALGORITHM,
        key.0
    );
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Ok(S3Answer { status, text })
}
