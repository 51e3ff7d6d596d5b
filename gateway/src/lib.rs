//! The dfs S3 gateway: an S3-compatible HTTP front end over a dfs cluster.
//!
//! A request is routed to an [`router::Endpoint`], authenticated (SigV4 in the `Authorization`
//! header or a presigned URL, secrets fetched from metad and cached briefly), checked against
//! the access key's bucket grants, and handled by one of the operation families in `s3/`, which
//! talk only to the [`dfs_client::DfsClient`]. Object data streams through: a PUT body goes to
//! the cluster's chunk pipeline as it arrives (hashed on a thread of its own and committed only
//! once every digest holds), a GET streams chunks back from the chunkds.
//!
//! [`start`] runs the gateway inside the caller's tokio runtime (the `gateway` binary, `dfs
//! dev` and the tests all use it); [`Daemon::stop`] shuts it down. Health probes and metrics
//! are served on a separate admin port, never on the S3 port (so no bucket name is taken).

/// S3 request authentication, in its own crate so that clients (the bench) sign with the same
/// functions without linking the gateway.
pub use dfs_s3auth as auth;
mod aborts;
mod body;
mod ctx;
pub mod error;
pub mod http_date;
mod keys;
mod metrics;
pub mod router;
mod s3;
mod server;
pub mod xml;

use dfs_client::DfsClient;
use dfs_common::auth::ClusterSecret;
use dfs_common::Secret;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The gateway's configuration: a TOML file, overridden by command-line flags. Every field has
/// a default.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the S3 endpoint, `host:port` (port 0 picks a free port).
    pub listen: String,
    /// Address of the admin endpoint (`/health/live`, `/health/ready`, `/metrics`),
    /// `host:port` (port 0 picks a free port).
    pub admin_listen: String,
    /// metad's `host:port`, or the metad group's members separated by commas.
    pub metad: String,
    /// File holding the cluster secret shared by every daemon (at least 16 characters).
    pub secret_file: Option<PathBuf>,
    /// The cluster secret itself; takes precedence over `secret_file`. Prefer a file or the
    /// `DFS_SECRET` environment variable over writing it into a config file. Never printed.
    pub secret: Option<Secret>,
    /// The S3 region this gateway serves: clients must sign for it, and GetBucketLocation
    /// reports it.
    pub region: String,
    /// Root domain for virtual-hosted-style requests: with `s3.example.com`, a request to
    /// `BUCKET.s3.example.com/key` names the bucket by its host. Path-style requests work
    /// whether or not it is set.
    pub root_domain: Option<String>,
    /// How log lines are written: `text` (the default) or `json`, one object per line. Read by
    /// the binary, which sets up logging; the library only carries it.
    pub log_format: dfs_common::daemon::LogFormat,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:9000".into(),
            admin_listen: "127.0.0.1:9001".into(),
            metad: "127.0.0.1:7700".into(),
            secret_file: None,
            secret: None,
            region: "us-east-1".into(),
            root_domain: None,
            log_format: dfs_common::daemon::LogFormat::Text,
        }
    }
}

impl Config {
    /// Checks the values and loads the cluster secret.
    fn check(&self) -> Result<ClusterSecret, Error> {
        if self.region.is_empty() || !self.region.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::Config(format!(
                "region {:?} must be a non-empty name without spaces, like us-east-1",
                self.region
            )));
        }
        dfs_common::metad_group::MetadGroup::parse(&self.metad)
            .map_err(|e| Error::Config(format!("metad: {e}")))?;
        if let Some(domain) = &self.root_domain {
            if domain.trim_matches('.').is_empty() {
                return Err(Error::Config(format!(
                    "root_domain {domain:?} must be a domain name, like s3.example.com"
                )));
            }
        }
        ClusterSecret::resolve(self.secret.as_ref(), self.secret_file.as_deref())
            .map_err(Error::Secret)
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The cluster secret is missing or unusable (the message says which).
    #[error("{0}")]
    Secret(String),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address from the configuration.
        addr: String,
        /// The system's reason.
        source: std::io::Error,
    },
}

/// A running gateway.
pub struct Daemon {
    addr: SocketAddr,
    admin_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    app: Arc<server::App>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("addr", &self.addr)
            .field("admin_addr", &self.admin_addr)
            .finish()
    }
}

/// How long [`Daemon::stop`] waits for requests in progress to end.
const STOP_GRACE: Duration = Duration::from_secs(10);

async fn bind(addr: &str) -> Result<(tokio::net::TcpListener, SocketAddr), Error> {
    let listen_error = |source| Error::Listen {
        addr: addr.to_owned(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(listen_error)?;
    let local = listener.local_addr().map_err(listen_error)?;
    Ok((listener, local))
}

/// The limits of the S3 port: a connection over the limit is answered as S3 answers an
/// overload, 503 SlowDown, which SDKs retry with backoff.
fn s3_limits() -> dfs_common::http::ServeLimits {
    let refusal = error::S3Error::new(
        error::S3ErrorCode::SlowDown,
        "Too many connections to this gateway; please reduce your request rate.",
    );
    // Refused before any request is read: there is no request id to name.
    let body = refusal.to_xml("");
    dfs_common::http::ServeLimits::with_busy_body("application/xml", body.as_bytes())
}

/// Binds the S3 and admin ports and starts serving. Nothing is sent to metad before the first
/// request: the gateway starts even while metad is down (`/health/ready` says so).
pub async fn start(config: Config) -> Result<Daemon, Error> {
    let secret = config.check()?;
    let (listener, addr) = bind(&config.listen).await?;
    let (admin_listener, admin_addr) = bind(&config.admin_listen).await?;
    let client = DfsClient::new(config.metad.clone(), secret);
    let app = Arc::new(server::App::new(client, &config));
    let (shutdown, shutdown_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let s3_app = app.clone();
    let s3 = tokio::spawn(dfs_common::http::serve(
        listener,
        s3_limits(),
        move |req| server::handle(s3_app.clone(), req),
        stopped(shutdown_rx.clone()),
    ));
    let admin_app = app.clone();
    let admin = tokio::spawn(dfs_common::http::serve(
        admin_listener,
        dfs_common::http::ServeLimits::default(),
        move |req| server::handle_admin(admin_app.clone(), req),
        stopped(shutdown_rx),
    ));
    tracing::info!(%addr, %admin_addr, "gateway listening");
    Ok(Daemon {
        addr,
        admin_addr,
        shutdown,
        servers: vec![s3, admin],
        app,
    })
}

impl Daemon {
    /// The address the S3 endpoint is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the admin endpoint (health probes, metrics) is bound to.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Stops accepting connections, then waits (up to a few seconds) for the requests in
    /// progress to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for server in self.servers {
            let _ = server.await;
        }
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while self.app.metrics.in_flight() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = self.app.metrics.in_flight();
        if left > 0 {
            tracing::warn!("gateway stopped with {left} request(s) still in progress");
        }
        tracing::info!("gateway stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_toml() {
        let config = Config::default();
        assert_eq!(config.listen, "127.0.0.1:9000");
        assert_eq!(config.admin_listen, "127.0.0.1:9001");
        assert_eq!(config.region, "us-east-1");
        let parsed: Config =
            toml::from_str("listen = \"0.0.0.0:80\"\nroot_domain = \"s3.example.com\"").unwrap();
        assert_eq!(parsed.listen, "0.0.0.0:80");
        assert_eq!(parsed.metad, "127.0.0.1:7700");
        assert_eq!(parsed.root_domain.as_deref(), Some("s3.example.com"));
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let config = Config {
            secret: Some("a-very-secret-secret".into()),
            ..Config::default()
        };
        let text = format!("{config:?} {config:#?}");
        assert!(!text.contains("a-very-secret-secret"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
        // The TOML shape is a plain string.
        let parsed: Config = toml::from_str("secret = \"a-very-secret-secret\"").unwrap();
        assert_eq!(parsed.secret.unwrap().expose(), "a-very-secret-secret");
    }

    #[test]
    fn check_refuses_bad_values() {
        let no_secret = Config::default();
        assert!(matches!(no_secret.check(), Err(Error::Secret(_))));
        let bad_region = Config {
            region: "us east".into(),
            secret: Some("0123456789abcdef0123".into()),
            ..Config::default()
        };
        assert!(matches!(bad_region.check(), Err(Error::Config(_))));
        let good = Config {
            secret: Some("0123456789abcdef0123".into()),
            ..Config::default()
        };
        assert!(good.check().is_ok());
    }
}
