//! The harness runs the real gateway: it answers on its ports, the `test` access key opens it,
//! and it can be killed and restarted.

use dfs_testkit::{http_status, Cluster, ClusterOptions, REGION};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// SHA-256 of the empty payload, as SigV4 wants it.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

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
/// the body.
fn list_buckets(addr: &str, key: Option<&(String, String)>) -> (u16, String) {
    let mut headers = format!("Host: {addr}\r\nConnection: close\r\n");
    if let Some((key_id, secret)) = key {
        let (date, stamp) = amz_dates();
        let signed = "host;x-amz-content-sha256;x-amz-date";
        let canonical = format!(
            "GET\n/\n\nhost:{addr}\nx-amz-content-sha256:{EMPTY_SHA256}\nx-amz-date:{stamp}\n\n{signed}\n{EMPTY_SHA256}"
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
            "x-amz-content-sha256: {EMPTY_SHA256}\r\nx-amz-date: {stamp}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={signed}, Signature={signature}\r\n"
        ));
    }
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(format!("GET / HTTP/1.1\r\n{headers}\r\n").as_bytes())
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
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
