//! chunkd, the dfs chunk daemon: stores immutable, checksummed chunks on local disk and serves
//! them over signed HTTP (`PUT/GET/DELETE /chunk/<id>`, `GET /chunks`, `POST /replicate/<id>`).
//!
//! [`start`] binds the listener, opens the data folder and returns at once; registration with
//! metad, heartbeats and the background scrub run as tasks until [`Daemon::stop`]. metad does not
//! need to be up: chunks are served immediately and registration keeps retrying.

mod error;
mod format;
mod heartbeat;
mod inventory;
mod layout;
mod metrics;
mod replicate;
mod scan;
mod scrub;
mod server;
mod space;
mod store;
mod stream;
#[cfg(test)]
mod tests;

pub use store::StoreError;

use dfs_common::auth::ClusterSecret;
use dfs_common::http::InternalClient;
use dfs_common::metad_group::{call_group, MetadGroup};
use dfs_common::NodeId;
use dfs_common::Secret;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// chunkd's configuration: a TOML file, overridden by command-line flags.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on, `host:port`; port 0 picks a free port.
    pub listen: String,
    /// Address given to metad, where other nodes and clients reach this chunkd. Defaults to the
    /// bound address, which is wrong when listening on `0.0.0.0`.
    pub advertise: Option<String>,
    /// Data folder: chunk files, node id, marker. Created if missing; must be empty or a chunkd
    /// folder.
    pub data_dir: PathBuf,
    /// metad's `host:port`, or the members of the metad group separated by commas (any one
    /// is a first contact; requests follow the leader).
    pub metad: String,
    /// File holding the cluster secret.
    pub secret_file: Option<PathBuf>,
    /// The cluster secret itself (wins over `secret_file`); better given by `DFS_SECRET`.
    /// Never printed.
    pub secret: Option<Secret>,
    /// Bytes this node offers to the cluster; defaults to the size of the data folder's
    /// filesystem.
    pub capacity: Option<u64>,
    /// Seconds over which the scrub re-reads and verifies every chunk once; 0 disables it.
    pub scrub_interval_secs: u64,
    /// Seconds between two inventory passes, which check that every chunk file is there with
    /// its size (no read); 0 disables them.
    pub inventory_interval_secs: u64,
    /// Heartbeat period until metad answers the registration with its own.
    pub heartbeat_interval_ms: u64,
    /// How log lines are written: `text` (the default) or `json`, one object per line. Read by
    /// the binary, which sets up logging; the library only carries it.
    pub log_format: dfs_common::daemon::LogFormat,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:7800".into(),
            advertise: None,
            data_dir: PathBuf::from("chunkd-data"),
            metad: "127.0.0.1:7700".into(),
            secret_file: None,
            secret: None,
            capacity: None,
            scrub_interval_secs: 24 * 3600,
            inventory_interval_secs: 300,
            heartbeat_interval_ms: 1000,
            log_format: dfs_common::daemon::LogFormat::Text,
        }
    }
}

/// Why chunkd could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is missing or malformed.
    #[error("{0}")]
    Config(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The data folder cannot be used.
    #[error(transparent)]
    Data(#[from] StoreError),
}

/// State shared by the request handlers and the background tasks.
pub(crate) struct Node {
    /// The chunk files.
    pub store: Store,
    /// Checks incoming signatures.
    pub secret: ClusterSecret,
    /// Signed client for metad and peers.
    pub client: InternalClient,
    /// The metad group.
    pub metad: MetadGroup,
    /// Our address as given to metad.
    pub advertise: String,
    /// Bytes offered to the cluster.
    pub capacity: u64,
    /// The data folder, whose filesystem's free space bounds what the node takes.
    pub data_dir: PathBuf,
    /// Free space, and whether a write recently found the disk full.
    pub space: space::Space,
    /// The id metad gave us; `None` until the first registration of a new node.
    pub node_id: Mutex<Option<NodeId>>,
    /// Lets blocking threads (readers, scrub) start async work such as reports to metad.
    pub runtime: tokio::runtime::Handle,
    /// Whether metad accepted our registration and still knows us (readiness).
    pub registered: std::sync::atomic::AtomicBool,
    /// Latencies, space and scrub figures.
    pub metrics: metrics::Metrics,
}

impl Node {
    /// Bytes this node can still take (see `space`): what metad places chunks by.
    pub fn free_space(&self) -> u64 {
        self.space
            .free(&self.data_dir, self.capacity, self.store.used())
    }

    /// The `used` told to metad: the capacity minus [`free_space`](Self::free_space).
    pub fn reported_used(&self) -> u64 {
        self.capacity.saturating_sub(self.free_space())
    }

    /// The node id, once known.
    pub fn node_id(&self) -> Option<NodeId> {
        *self.node_id.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Handles a chunk that failed a check (checksum, size, missing or unreadable file):
    /// quarantines it (blocking I/O; call from a blocking thread) and reports it to metad in the
    /// background so metad repairs it from a good copy.
    pub fn corrupt_chunk(self: &Arc<Self>, id: dfs_common::ChunkId, err: &StoreError) {
        match self.store.quarantine(id) {
            Ok(Some(path)) => {
                tracing::error!(%id, error = %err, quarantine = %path.display(), "corrupt chunk quarantined")
            }
            Ok(None) => tracing::error!(%id, error = %err, "lost chunk forgotten"),
            Err(e) => {
                tracing::error!(%id, error = %err, quarantine_error = %e, "corrupt chunk cannot be quarantined")
            }
        }
        let node = Arc::clone(self);
        // The report keeps the span of the request that found the damage, if any.
        let span = tracing::Span::current();
        self.runtime.spawn(tracing::Instrument::instrument(async move {
            let Some(node_id) = node.node_id() else {
                // metad learns at registration: the chunk is no longer in our list.
                tracing::warn!("not registered yet: metad will see chunk {id} missing from this node at registration");
                return;
            };
            let req = dfs_common::wire::ReportBadChunkReq {
                node_id,
                chunk_id: id,
            };
            if let Err(e) = call_group(&node.client, &node.metad, &req).await {
                tracing::warn!(%id, metad = %node.metad, error = %e, "cannot report corrupt chunk");
            }
        }, span));
    }
}

/// A running chunkd. Dropping it stops the background tasks too; [`Daemon::stop`] also waits
/// for them.
pub struct Daemon {
    addr: SocketAddr,
    node: Arc<Node>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Daemon {
    /// The bound address (useful when `listen` used port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The id metad gave this node, once registered.
    pub fn node_id(&self) -> Option<NodeId> {
        self.node.node_id()
    }

    /// Stops accepting connections and the background tasks, and waits for them to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        tracing::info!("chunkd on {} stopped", self.addr);
    }
}

/// Starts chunkd: opens the data folder, binds the listener, and spawns the server,
/// registration/heartbeat and scrub tasks. Does not wait for metad.
pub async fn start(config: Config) -> Result<Daemon, Error> {
    let secret = load_secret(&config)?;
    let metad = MetadGroup::parse(&config.metad)
        .map_err(|e| Error::Config(format!("metad address {:?}: {e}", config.metad)))?;
    for member in metad.members() {
        check_host_port(member)
            .map_err(|e| Error::Config(format!("metad address {member:?}: {e}")))?;
    }
    if let Some(advertise) = &config.advertise {
        check_host_port(advertise)
            .map_err(|e| Error::Config(format!("advertise address {advertise:?}: {e}")))?;
    }
    let data_dir = config.data_dir.clone();
    let (store, node_id) = tokio::task::spawn_blocking(move || {
        let store = Store::open(&data_dir)?;
        let node_id = store.node_id()?;
        Ok::<_, StoreError>((store, node_id))
    })
    .await
    .map_err(|e| Error::Config(format!("opening the data folder failed: {e}")))??;
    let capacity = match config.capacity {
        Some(capacity) => capacity,
        None => filesystem_size(&config.data_dir)?,
    };
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: config.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: config.listen.clone(),
        source,
    })?;
    let advertise = config.advertise.clone().unwrap_or_else(|| addr.to_string());
    if config.advertise.is_none() && addr.ip().is_unspecified() {
        tracing::warn!("listening on {addr} without `advertise`: metad will be given {advertise}, which other nodes cannot reach; set --advertise");
    }
    let metrics = metrics::Metrics::new(store.fsync_histogram());
    let node = Arc::new(Node {
        store,
        secret: secret.clone(),
        client: InternalClient::new(secret),
        metad,
        advertise,
        capacity,
        data_dir: config.data_dir.clone(),
        space: space::Space::default(),
        node_id: Mutex::new(node_id),
        runtime: tokio::runtime::Handle::current(),
        registered: std::sync::atomic::AtomicBool::new(false),
        metrics,
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let handler_node = Arc::clone(&node);
    let mut server_stop = shutdown_rx.clone();
    tasks.push(tokio::spawn(dfs_common::http::serve(
        listener,
        dfs_common::http::ServeLimits::default(),
        move |req| server::handle(Arc::clone(&handler_node), req),
        async move { wait_for_stop(&mut server_stop).await },
    )));
    tasks.push(tokio::spawn(heartbeat::run(
        Arc::clone(&node),
        Duration::from_millis(config.heartbeat_interval_ms.max(1)),
        shutdown_rx.clone(),
    )));
    tasks.push(tokio::spawn(scrub::run(
        Arc::clone(&node),
        Duration::from_secs(config.scrub_interval_secs),
        shutdown_rx.clone(),
    )));
    tasks.push(tokio::spawn(inventory::run(
        Arc::clone(&node),
        Duration::from_secs(config.inventory_interval_secs),
        shutdown_rx,
    )));
    tracing::info!(
        "chunkd listening on {addr} (data {}, {} chunks, capacity {} bytes, metad {})",
        config.data_dir.display(),
        node.store.list().len(),
        capacity,
        config.metad
    );
    Ok(Daemon {
        addr,
        node,
        shutdown,
        tasks,
    })
}

/// The cluster secret from `secret` or `secret_file`.
fn load_secret(config: &Config) -> Result<ClusterSecret, Error> {
    ClusterSecret::resolve(config.secret.as_ref(), config.secret_file.as_deref())
        .map_err(Error::Config)
}

/// Size in bytes of the filesystem holding `dir`.
fn filesystem_size(dir: &Path) -> Result<u64, Error> {
    let stat = rustix::fs::statvfs(dir).map_err(|e| {
        Error::Config(format!(
            "cannot read the size of the filesystem of {}: {e}; set `capacity` (--capacity)",
            dir.display()
        ))
    })?;
    Ok(stat.f_blocks.saturating_mul(stat.f_frsize))
}

/// Checks that `text` is a plain `host:port` (name, IPv4 or bracketed IPv6), so that it can be
/// put into a URL without changing its meaning.
pub(crate) fn check_host_port(text: &str) -> Result<(), String> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or("expected host:port (example: 10.0.0.5:7800)")?;
    match port.parse::<u16>() {
        Ok(p) if p != 0 => {}
        _ => return Err(format!("{port:?} is not a port number")),
    }
    let ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{host:?} is not a host name or IP address"))
    }
}

/// Resolves when the daemon is told to stop (or the [`Daemon`] was dropped).
pub(crate) async fn wait_for_stop(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Sleeps for `duration`; `true` if the daemon was told to stop meanwhile.
pub(crate) async fn sleep_or_stop(duration: Duration, rx: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(duration) => false,
        _ = wait_for_stop(rx) => true,
    }
}
