//! The S3 gateway of a test cluster (with [`ClusterOptions::gateway`](crate::ClusterOptions)):
//! the real `gateway` binary on a loopback port, with its admin port beside it, and an access
//! key named `test` made through metad once it answers.

use crate::process::Daemon;
use crate::{path_arg, spawn_listening, Cluster};
use anyhow::{bail, Result};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The region the test gateway is configured with (and clients must sign for).
pub const REGION: &str = "us-east-1";

/// The name of the access key the harness creates.
pub const TEST_KEY_NAME: &str = "test";

/// The gateway process and where it listens.
pub(crate) struct Gateway {
    pub(crate) daemon: Daemon,
    /// `host:port` of the S3 endpoint.
    addr: String,
    /// `host:port` of the admin endpoint (health, metrics).
    admin_addr: String,
}

impl Cluster {
    /// Starts the gateway against the running metad, waits until it is ready, and creates the
    /// `test` access key.
    pub(crate) async fn start_gateway(&mut self) -> Result<()> {
        let binary = self.bin_dir.join("gateway");
        let log = self.dir.path().join("gateway.log");
        let (mut daemons, addrs) = spawn_listening("gateway", 2, "gateway listening", |addrs| {
            let args = vec![
                "--listen".into(),
                addrs[0].clone(),
                "--admin-listen".into(),
                addrs[1].clone(),
                "--metad".into(),
                self.metad_addr.clone(),
                "--secret-file".into(),
                path_arg(&self.secret_file),
                "--region".into(),
                REGION.into(),
                "--log-format".into(),
                self.options.log_format_arg().into(),
            ];
            let filter = &self.options.log_filter;
            Ok(vec![Daemon::spawn(&binary, args, log.clone(), filter)?])
        })
        .await?;
        let daemon = daemons.remove(0);
        let [addr, admin_addr] = <[String; 2]>::try_from(addrs)
            .map_err(|_| anyhow::anyhow!("spawn_listening gave other than two addresses"))?;
        self.gateway = Some(Gateway {
            daemon,
            addr,
            admin_addr,
        });
        self.wait_for_gateway().await?;
        let created = self
            .client()
            .keys()
            .create(TEST_KEY_NAME)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot create the test access key: {e}\n{}",
                    self.log_tails()
                )
            })?;
        self.access_key = Some((created.key_id, created.secret.into_exposed()));
        Ok(())
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`, when the cluster has a gateway.
    pub fn s3_endpoint(&self) -> Option<String> {
        self.gateway.as_ref().map(|g| format!("http://{}", g.addr))
    }

    /// `host:port` of the gateway's S3 endpoint, when the cluster has one.
    pub fn gateway_addr(&self) -> Option<&str> {
        self.gateway.as_ref().map(|g| g.addr.as_str())
    }

    /// `host:port` of the gateway's admin endpoint (`/health/ready`, `/metrics`).
    pub fn gateway_admin_addr(&self) -> Option<&str> {
        self.gateway.as_ref().map(|g| g.admin_addr.as_str())
    }

    /// The process id of the gateway, when the cluster has one and it was not killed: tools
    /// outside Rust read its `/proc/PID/status` (the S3 suite's memory test, for one).
    pub fn gateway_pid(&self) -> Option<u32> {
        self.gateway.as_ref().and_then(|g| g.daemon.pid())
    }

    /// The `test` access key as (key id, secret), when the cluster has a gateway.
    pub fn access_key(&self) -> Option<(String, String)> {
        self.access_key.clone()
    }

    /// Creates `bucket` through the gateway with the harness's access key; returns the
    /// gateway's address and that key, for [`crate::s3_request`]. Panics without a gateway or
    /// when the bucket cannot be created: tests start from it.
    pub fn create_s3_bucket(&self, bucket: &str) -> (String, (String, String)) {
        let addr = self
            .gateway_addr()
            .expect("a cluster with a gateway")
            .to_owned();
        let key = self.access_key().expect("the harness's access key");
        let path = format!("/{bucket}");
        let created = crate::s3_request(&addr, &key, crate::REGION, "PUT", &path, b"")
            .expect("the gateway answers");
        assert_eq!(created.status, 200, "{}", created.text);
        (addr, key)
    }

    /// Kills the gateway with SIGKILL (nothing happens without one).
    pub fn kill_gateway(&mut self) {
        if let Some(gateway) = &mut self.gateway {
            gateway.daemon.kill();
        }
    }

    /// Starts the gateway again on the same ports and waits until it is ready. The access key
    /// lives in metad, so it still works.
    pub async fn restart_gateway(&mut self) -> Result<()> {
        let Some(gateway) = &mut self.gateway else {
            bail!("this cluster has no gateway (ClusterOptions::gateway is false)");
        };
        gateway.daemon.respawn()?;
        self.wait_for_gateway().await
    }

    /// Waits until the gateway answers `GET /health/ready` on its admin port with 200; fails
    /// at once, with the logs' tail, if the process exits instead.
    async fn wait_for_gateway(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let Some(gateway) = &mut self.gateway else {
                bail!("this cluster has no gateway");
            };
            if http_status(&gateway.admin_addr, "/health/ready").await == Some(200) {
                return Ok(());
            }
            if let Some(status) = gateway.daemon.exit_status() {
                bail!(
                    "the gateway exited ({status}) before it was ready\n{}",
                    self.log_tails()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "timed out after 30 s waiting for the gateway to answer /health/ready\n{}",
                    self.log_tails()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The status of a plain `GET path` to `addr`; `None` when nothing answers sensibly in time.
/// Hand-rolled on a socket so that the harness needs no HTTP client for a health probe.
pub async fn http_status(addr: &str, path: &str) -> Option<u16> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        // The status line is all we need: read until its end, not the whole answer.
        let mut head = Vec::new();
        let mut buf = [0u8; 256];
        while !head.contains(&b'\n') && head.len() < 4096 {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        parse_status_line(&head)
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .ok()
        .flatten()
}

/// The body of a plain `GET path` to `addr` when it answers 200 (a daemon's unsigned
/// `/metrics`, say); `None` otherwise.
pub async fn http_get(addr: &str, path: &str) -> Option<String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        if parse_status_line(&answer)? != 200 {
            return None;
        }
        let text = String::from_utf8(answer).ok()?;
        let (_head, body) = text.split_once("\r\n\r\n")?;
        Some(body.to_owned())
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .ok()
        .flatten()
}

/// The code of an `HTTP/1.x CODE REASON` status line at the start of `head`.
fn parse_status_line(head: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(head).ok()?;
    let line = text.lines().next()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            parse_status_line(b"HTTP/1.1 503 Service Unavailable\r\nx: y"),
            Some(503)
        );
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status_line(b""), None);
    }

    #[tokio::test]
    async fn nothing_listening_has_no_status() {
        let port = crate::free_port().unwrap();
        assert_eq!(http_status(&format!("127.0.0.1:{port}"), "/").await, None);
    }
}
