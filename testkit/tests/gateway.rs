//! The harness runs the real gateway: it answers on its ports, the `test` access key opens it,
//! and it can be killed and restarted; and the request id of an S3 request shows in the logs of
//! every daemon it reached.

use dfs_testkit::{http_status, Cluster, ClusterOptions, LogFormat, Role, REGION};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Now as SigV4's `YYYYMMDD` and `YYYYMMDDTHHMMSSZ` (UTC).
fn amz_dates() -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Days since the epoch to a civil date (H. Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let rest = secs % 86_400;
    let date = format!("{year:04}{month:02}{day:02}");
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    (date, stamp)
}

/// `GET /` (ListBuckets) to `addr`, signed with SigV4 when a key is given; the status code and
/// the answer.
fn list_buckets(addr: &str, key: Option<&(String, String)>) -> (u16, String) {
    s3_request(addr, "GET", "/", b"", key)
}

/// `METHOD path` with `body` to `addr`, signed with SigV4 (payload hash included) when a key
/// is given; the status code and the whole answer, head and body.
fn s3_request(
    addr: &str,
    method: &str,
    path: &str,
    body: &[u8],
    key: Option<&(String, String)>,
) -> (u16, String) {
    s3_request_with(addr, method, path, "", body, key)
}

/// As [`s3_request`], with `extra` header lines (each ending in CRLF), which are not signed.
fn s3_request_with(
    addr: &str,
    method: &str,
    path: &str,
    extra: &str,
    body: &[u8],
    key: Option<&(String, String)>,
) -> (u16, String) {
    let mut headers = format!(
        "Host: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{extra}",
        body.len()
    );
    if let Some((key_id, secret)) = key {
        let (date, stamp) = amz_dates();
        let payload = hex::encode(Sha256::digest(body));
        let signed = "host;x-amz-content-sha256;x-amz-date";
        let canonical = format!(
            "{method}\n{path}\n\nhost:{addr}\nx-amz-content-sha256:{payload}\nx-amz-date:{stamp}\n\n{signed}\n{payload}"
        );
        let scope = format!("{date}/{REGION}/s3/aws4_request");
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut signing_key = hmac(format!("AWS4{secret}").as_bytes(), &date);
        for part in [REGION, "s3", "aws4_request"] {
            signing_key = hmac(&signing_key, part);
        }
        let signature = hex::encode(hmac(&signing_key, &to_sign));
        headers.push_str(&format!(
            "x-amz-content-sha256: {payload}\r\nx-amz-date: {stamp}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={signed}, Signature={signature}\r\n"
        ));
    }
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(format!("{method} {path} HTTP/1.1\r\n{headers}\r\n").as_bytes())
        .unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_runs_with_a_working_access_key() {
    let mut cluster = Cluster::start(ClusterOptions {
        chunkds: 2,
        gateway: true,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let endpoint = cluster.s3_endpoint().unwrap();
    let addr = cluster.gateway_addr().unwrap().to_owned();
    let admin = cluster.gateway_admin_addr().unwrap().to_owned();
    assert_eq!(endpoint, format!("http://{addr}"));
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let key = cluster.access_key().unwrap();
    assert!(key.0.starts_with("DFS"), "{}", key.0);
    assert_eq!(http_status(&admin, "/health/ready").await, Some(200));
    assert!(cluster.log_tails().contains("gateway.log"));

    let (status, answer) = list_buckets(&addr, Some(&key));
    assert_eq!(status, 200, "{answer}\n{}", cluster.log_tails());
    assert!(answer.contains("ListAllMyBucketsResult"), "{answer}");
    let (status, answer) = list_buckets(&addr, None);
    assert_eq!(status, 403, "an unsigned request is refused: {answer}");
    let wrong = (key.0.clone(), "not-the-secret".to_owned());
    let (status, answer) = list_buckets(&addr, Some(&wrong));
    assert_eq!(status, 403, "a wrong secret is refused: {answer}");

    cluster.kill_gateway();
    assert_eq!(http_status(&admin, "/health/ready").await, None);
    cluster.restart_gateway().await.unwrap();
    // The key lives in metad: it still opens the restarted gateway.
    let (status, answer) = list_buckets(&addr, Some(&key));
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_without_gateway_have_no_endpoint() {
    let mut cluster = Cluster::start(ClusterOptions {
        chunkds: 1,
        replication: 1,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(cluster.s3_endpoint(), None);
    assert_eq!(cluster.access_key(), None);
    cluster.kill_gateway();
    assert!(cluster.restart_gateway().await.is_err());
}

/// The value of header `name` in an HTTP answer's head.
fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

/// A cluster with debug logs in `format`, a bucket, and one object of `size` bytes PUT through
/// the gateway; the cluster and the PUT's `x-amz-request-id`.
async fn put_one_object(format: LogFormat, size: usize) -> (Cluster, String) {
    let cluster = Cluster::start(ClusterOptions {
        chunkds: 3,
        chunk_size: 1 << 20,
        gateway: true,
        log_filter: "info,dfs_metad=debug,dfs_chunkd=debug,dfs_gateway=debug".into(),
        log_format: format,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let addr = cluster.gateway_addr().unwrap().to_owned();
    let key = cluster.access_key().unwrap();
    let (status, answer) = s3_request(&addr, "PUT", "/logs", b"", Some(&key));
    assert_eq!(status, 200, "{answer}\n{}", cluster.log_tails());
    let body = dfs_testkit::test_bytes(size, 7);
    let (status, answer) = s3_request(&addr, "PUT", "/logs/object", &body, Some(&key));
    assert_eq!(status, 200, "{answer}\n{}", cluster.log_tails());
    let id = header(&answer, "x-amz-request-id")
        .expect("x-amz-request-id")
        .to_owned();
    (cluster, id)
}

/// Waits (the gateway logs a request once its answer is sent) until `which`'s log has a line
/// that `wanted` accepts; fails with the log otherwise.
async fn wait_for_line(cluster: &Cluster, which: Role, wanted: impl Fn(&str) -> bool) {
    for _ in 0..50 {
        if cluster.log(which).lines().any(&wanted) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "no such line in the log of {which:?}:\n{}",
        cluster.log(which)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_shows_in_the_logs_of_every_daemon_it_reached() {
    let (cluster, id) = put_one_object(LogFormat::Text, 5 << 20).await;
    let field = format!("request_id={id}");
    // The gateway's one line for the request, with fields.
    wait_for_line(&cluster, Role::Gateway, |l| {
        l.contains(&field) && l.contains("endpoint=PutObject") && l.contains("status=200")
    })
    .await;
    // metad's debug line for each RPC it served, the commit among them.
    wait_for_line(&cluster, Role::Metad, |l| {
        l.contains(&field) && l.contains("method=commit") && l.contains("rpc served")
    })
    .await;
    let stat = cluster
        .client()
        .stat_chunks("/logs/object", 0, u64::MAX)
        .await
        .unwrap();
    assert_eq!(stat.chunks.len(), 5);
    let mut holders: Vec<usize> = stat
        .chunks
        .iter()
        .flat_map(|c| &c.replicas)
        .map(|r| {
            (0..3)
                .find(|&i| cluster.chunkd_addr(i) == r.addr)
                .expect("a replica on a chunkd of the cluster")
        })
        .collect();
    holders.sort_unstable();
    holders.dedup();
    assert!(!holders.is_empty());
    for index in holders {
        wait_for_line(&cluster, Role::Chunkd(index), |l| {
            l.contains(&field) && l.contains("op=put") && l.contains("chunk request served")
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let (cluster, id) = put_one_object(LogFormat::Json, 4096).await;
    let in_span = |line: &serde_json::Value| line["span"]["request_id"] == id.as_str();
    for (which, message) in [(Role::Gateway, "request"), (Role::Metad, "rpc served")] {
        wait_for_line(&cluster, which, |l| {
            serde_json::from_str::<serde_json::Value>(l)
                .is_ok_and(|v| in_span(&v) && v["message"] == message)
        })
        .await;
        for line in cluster.log(which).lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!("{which:?} wrote a line that is not JSON ({e}): {line}")
            });
            assert!(
                value["level"].is_string() && value["timestamp"].is_string(),
                "{line}"
            );
        }
    }
    let log = cluster.log(Role::Gateway);
    let request = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| in_span(v) && v["message"] == "request")
        .unwrap();
    // The request line's own fields are at the top level.
    assert_eq!(request["endpoint"], "PutObject", "{request}");
    assert_eq!(request["status"], 200, "{request}");
    assert_eq!(request["received"], 4096, "{request}");
}

/// An object of more chunk slices than one page of the chunk list (the gateway and the client
/// read the list a page at a time): read whole, in ranges that cross page boundaries, far into
/// the object, and by suffix, every answer is the object's own bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_of_more_slices_than_a_chunk_map_page_read_whole_and_in_ranges() {
    const CHUNK: usize = 64;
    let slices = 2 * dfs_common::wire::MAX_CHUNK_PAGE + 100;
    let cluster = Cluster::start(ClusterOptions {
        chunkds: 3,
        chunk_size: CHUNK as u64,
        gateway: true,
        ..ClusterOptions::default()
    })
    .await
    .unwrap();
    let addr = cluster.gateway_addr().unwrap().to_owned();
    let key = cluster.access_key().unwrap();
    let (status, answer) = s3_request(&addr, "PUT", "/maps", b"", Some(&key));
    assert_eq!(status, 200, "{answer}\n{}", cluster.log_tails());
    // Text, so that the answer reads back as it was sent; no two slices alike.
    let size = slices * CHUNK - 17;
    let body: Vec<u8> = (0..size)
        .map(|i| b'a' + ((i * 7 + i / CHUNK) % 26) as u8)
        .collect();
    let (status, answer) = s3_request(&addr, "PUT", "/maps/big", &body, Some(&key));
    assert_eq!(status, 200, "{answer}\n{}", cluster.log_tails());
    let stat = cluster
        .client()
        .stat_chunks("/maps/big", 0, u64::MAX)
        .await
        .unwrap();
    assert_eq!(stat.entry.chunk_count, slices as u64);
    assert_eq!(stat.chunks.len(), dfs_common::wire::MAX_CHUNK_PAGE);
    assert!(stat.chunks_next.is_some());

    let get = |range: Option<String>| {
        let extra = range.map_or(String::new(), |r| format!("Range: bytes={r}\r\n"));
        let (status, answer) = s3_request_with(&addr, "GET", "/maps/big", &extra, b"", Some(&key));
        let (_, data) = answer
            .split_once("\r\n\r\n")
            .expect("an answer with a body");
        (status, data.as_bytes().to_vec())
    };
    let (status, data) = get(None);
    assert_eq!(status, 200);
    assert!(
        data == body,
        "the whole object differs ({} of {size} bytes)",
        data.len()
    );
    let page_bytes = dfs_common::wire::MAX_CHUNK_PAGE * CHUNK;
    for (from, to) in [
        (page_bytes - 10, page_bytes + 10),
        (page_bytes - CHUNK, 2 * page_bytes + CHUNK),
        (1, size - 2),
        (size - 3 * CHUNK - 5, size - 1),
        (2 * page_bytes + 3, 2 * page_bytes + 3),
    ] {
        let (status, data) = get(Some(format!("{from}-{to}")));
        assert_eq!(status, 206, "range {from}-{to}");
        assert!(data == body[from..=to], "range {from}-{to} differs");
    }
    let (status, data) = get(Some("-100".into()));
    assert_eq!(status, 206);
    assert!(data == body[size - 100..], "the last 100 bytes differ");
}
