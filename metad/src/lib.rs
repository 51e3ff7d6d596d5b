//! metad, the dfs metadata daemon: the namespace (buckets, directories, files), S3 access keys
//! and listings, chunk placement, the chunkd registry, and the background repair and garbage
//! collection, all on one RocksDB.
//!
//! [`start`] runs it inside the caller's tokio runtime (the `metad` binary, `dfs dev` and the
//! tests all use it); [`Daemon::stop`] shuts it down cleanly.

mod access;
mod clock;
mod group;
mod metrics;
mod nodes;
mod ns;
mod placement;
mod registration;
mod server;
mod store;
mod workers;

pub use group::raft::RaftSettings;

use dfs_common::auth::ClusterSecret;
use dfs_common::RpcError;
use dfs_common::Secret;
use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// metad's configuration: a TOML file, overridden by command-line flags. Every field has a
/// default.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the RPC server, `host:port` (port 0 picks a free port).
    pub listen: String,
    /// Folder of the RocksDB database (created if missing).
    pub data_dir: PathBuf,
    /// File holding the cluster secret shared by every daemon (at least 16 characters).
    pub secret_file: Option<PathBuf>,
    /// The cluster secret itself; takes precedence over `secret_file`. Prefer a file or the
    /// `DFS_SECRET` environment variable over writing it into a config file. Never printed.
    pub secret: Option<Secret>,
    /// Replicas of each chunk, on distinct chunkds.
    pub replication: u32,
    /// Bytes per chunk that writers cut files into; an integer or a size such as `"8M"`. A
    /// multipart object holds at most `MAX_OBJECT_SLICES` (2^20) chunk slices, so below about
    /// 5 MiB the largest one that can be completed is smaller than S3's 5 TiB. A write session
    /// holds at most `MAX_SESSION_CHUNKS` (10,000) chunks: below 512 KiB a 5 GiB PUT or part
    /// is refused as too large.
    #[serde(deserialize_with = "size_from_int_or_text")]
    pub chunk_size: u64,
    /// How often chunkds send a heartbeat, in milliseconds (told to them at registration).
    pub heartbeat_interval_ms: u64,
    /// A chunkd silent for this long (milliseconds) is declared dead and its chunks are
    /// re-replicated.
    pub dead_timeout_ms: u64,
    /// Open write sessions idle this long (seconds: no chunk allocated, no commit tried) are
    /// abandoned: they are removed and their chunks collected. An upload that makes progress
    /// is never cut off, whatever its size.
    pub session_timeout_secs: u64,
    /// Chunks of writes that were never committed (aborted, expired, or left over by a failed
    /// replica) are deleted this many seconds after the write ended, so that a chunk write still
    /// in flight cannot recreate a chunk after its deletion.
    pub orphan_grace_secs: u64,
    /// Chunks an object no longer uses (deleted, overwritten) are deleted from the chunkds at
    /// least this many seconds later, so that a read that started before sees the old object
    /// whole instead of failing mid-stream.
    pub release_grace_secs: u64,
    /// Multipart uploads neither completed nor aborted this many seconds after their creation
    /// are aborted and their parts' chunks collected (S3 clients that crashed mid-upload).
    pub upload_expiry_secs: u64,
    /// How log lines are written: `text` (the default) or `json`, one object per line. Read by
    /// the binary, which sets up logging; the library only carries it.
    pub log_format: dfs_common::daemon::LogFormat,
    /// This member's id in the metad group (1 or more).
    pub id: u64,
    /// Every member of the metad group, this one included: `1=host:port,2=host:port,...`.
    /// Empty: a group of one, this metad alone.
    pub peers: String,
    /// Timings of the group's elections and heartbeats.
    pub raft: RaftSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:7700".into(),
            data_dir: PathBuf::from("metad-data"),
            secret_file: None,
            secret: None,
            replication: 2,
            chunk_size: 8 << 20,
            heartbeat_interval_ms: 1000,
            dead_timeout_ms: 10_000,
            session_timeout_secs: 3_600,
            orphan_grace_secs: 3600,
            release_grace_secs: 600,
            upload_expiry_secs: 7 * 86_400,
            log_format: dfs_common::daemon::LogFormat::Text,
            id: 1,
            peers: String::new(),
            raft: RaftSettings::default(),
        }
    }
}

fn size_from_int_or_text<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Int(u64),
        Text(String),
    }
    match Size::deserialize(d)? {
        Size::Int(n) => Ok(n),
        Size::Text(text) => dfs_common::config::parse_size(&text).map_err(serde::de::Error::custom),
    }
}

/// Largest chunk size accepted: chunks are held in memory by writers and copied whole. No
/// chunkd stores a longer chunk either, so a commit naming one is refused.
pub(crate) const MAX_CHUNK_SIZE: u64 = 1 << 30;

impl Config {
    /// Checks the values and loads the cluster secret.
    fn check(&self) -> Result<ClusterSecret, Error> {
        let bad = |m: String| Err(Error::Config(m));
        if self.replication == 0 {
            return bad("replication must be at least 1".into());
        }
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return bad(format!(
                "chunk_size must be between 1 byte and 1G, not {}",
                self.chunk_size
            ));
        }
        if self.heartbeat_interval_ms == 0 {
            return bad("heartbeat_interval_ms must be positive".into());
        }
        if self.dead_timeout_ms <= self.heartbeat_interval_ms {
            return bad(format!(
                "dead_timeout_ms ({}) must be longer than heartbeat_interval_ms ({})",
                self.dead_timeout_ms, self.heartbeat_interval_ms
            ));
        }
        if self.session_timeout_secs == 0 {
            return bad("session_timeout_secs must be positive".into());
        }
        if self.upload_expiry_secs == 0 {
            return bad("upload_expiry_secs must be positive".into());
        }
        if self.raft.heartbeat_ms == 0 || self.raft.election_min_ms <= self.raft.heartbeat_ms {
            return bad(format!(
                "raft.election_min_ms ({}) must be longer than raft.heartbeat_ms ({}), which \
                 must be positive",
                self.raft.election_min_ms, self.raft.heartbeat_ms
            ));
        }
        if self.raft.snapshot_every == 0 {
            return bad("raft.snapshot_every must be positive".into());
        }
        if self.raft.election_max_ms <= self.raft.election_min_ms {
            return bad(format!(
                "raft.election_max_ms ({}) must be longer than raft.election_min_ms ({})",
                self.raft.election_max_ms, self.raft.election_min_ms
            ));
        }
        self.members(&self.listen).map_err(Error::Config)?;
        ClusterSecret::resolve(self.secret.as_ref(), self.secret_file.as_deref())
            .map_err(Error::Secret)
    }

    /// The members of the group: `peers`, or this metad alone at `own_addr`.
    fn members(&self, own_addr: &str) -> Result<group::raft::Members, String> {
        if self.id == 0 {
            return Err("id must be 1 or more".into());
        }
        if self.peers.trim().is_empty() {
            return Ok([(self.id, own_addr.to_owned())].into());
        }
        let mut members = group::raft::Members::new();
        for item in self
            .peers
            .split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            let parsed = item
                .split_once('=')
                .and_then(|(id, addr)| Some((id.trim().parse::<u64>().ok()?, addr.trim())));
            let Some((id, addr)) = parsed.filter(|(id, addr)| *id > 0 && addr.contains(':')) else {
                return Err(format!(
                    "peers: {item:?} is not ID=HOST:PORT (for example 1=10.0.0.1:7700)"
                ));
            };
            if members.insert(id, addr.to_owned()).is_some() {
                return Err(format!("peers: member {id} is listed twice"));
            }
        }
        if !members.contains_key(&self.id) {
            return Err(format!(
                "peers must list this metad's own id {} (peers: {})",
                self.id, self.peers
            ));
        }
        Ok(members)
    }
}

/// Why metad could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The cluster secret is missing or unusable (the message says which).
    #[error("{0}")]
    Secret(String),
    /// The database could not be opened or loaded.
    #[error("cannot open the database in {path}: {message}")]
    Store {
        /// The data folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address from the configuration.
        addr: String,
        /// The system's reason.
        source: std::io::Error,
    },
}

/// A running metad.
pub struct Daemon {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    workers: Vec<JoinHandle<()>>,
    app: Arc<server::App>,
    group: Arc<group::raft::RaftGroup>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").field("addr", &self.addr).finish()
    }
}

/// Opens the database, binds the RPC server and starts the background workers.
pub async fn start(config: Config) -> Result<Daemon, Error> {
    let secret = config.check()?;
    let data_dir = config.data_dir.clone();
    let store_error = |message: String| Error::Store {
        path: config.data_dir.clone(),
        message,
    };
    let (store, nodes, sessions) = blocking(move || {
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| RpcError::internal(format!("cannot create the folder: {e}")))?;
        let store = store::Store::open(&data_dir)?;
        let nodes = nodes::Nodes::load(&store)?;
        let sessions = ns::Sessions::load(&store)?;
        Ok((Arc::new(store), Arc::new(nodes), Arc::new(sessions)))
    })
    .await
    .map_err(|e| store_error(e.message))?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| Error::Listen {
            addr: config.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        addr: config.listen.clone(),
        source,
    })?;
    let members = config.members(&addr.to_string()).map_err(Error::Config)?;
    let alone = members.len() == 1;
    let settings = ns::NsSettings {
        replication: config.replication,
        chunk_size: config.chunk_size,
        orphan_grace_ms: config.orphan_grace_secs.saturating_mul(1000),
        slice_caps: ns::SliceCaps::default(),
    };
    let ns = Arc::new(ns::Namespace::new(
        store.clone(),
        nodes.clone(),
        sessions.clone(),
        settings,
    ));
    let access = Arc::new(access::AccessKeys::new(store.clone(), secret.clone()));
    let client = dfs_common::http::InternalClient::new(secret.clone());
    let on_lead = leader_reload(store.clone(), nodes.clone(), sessions.clone());
    let raft = group::raft::RaftGroup::start(
        config.id,
        members,
        config.raft.clone(),
        &config.data_dir.join("group"),
        store.shared_db(),
        client.clone(),
        on_lead,
    )
    .await
    .map_err(store_error)?;
    let raft = Arc::new(raft);
    store.use_group(raft.clone());
    if alone && !raft.wait_leading(Duration::from_secs(10)).await {
        tracing::warn!("a metad alone did not become the leader of its group within 10 s");
    }
    if raft.adopted_a_state() {
        let ids = store.clone();
        let first = blocking(move || Ok(ids.raise_ids_after_adoption()?))
            .await
            .map_err(|e| store_error(e.message))?;
        tracing::info!(
            first = %dfs_common::ChunkId(first),
            "this state began outside the group's log (a restored backup, or an earlier release): new chunk ids start above any the original metad may have handed out"
        );
    }
    let app = Arc::new(server::App {
        group: raft.clone(),
        secret: secret.clone(),
        access,
        store: store.clone(),
        nodes: nodes.clone(),
        registrations: Default::default(),
        ns: ns.clone(),
        replication: config.replication,
        heartbeat_interval_ms: config.heartbeat_interval_ms,
        metrics: metrics::Metrics::new(&store, raft.leadership_rounds()),
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let weak = Arc::downgrade(&app);
    let mut server_rx = shutdown_rx.clone();
    let server = tokio::spawn(dfs_common::http::serve(
        listener,
        dfs_common::http::ServeLimits::default(),
        move |req| server::handle(weak.clone(), req),
        async move {
            let _ = server_rx.wait_for(|stop| *stop).await;
        },
    ));
    let ctx = workers::Ctx {
        store,
        nodes,
        sessions,
        ns,
        client,
        replication: config.replication,
        heartbeat_interval: Duration::from_millis(config.heartbeat_interval_ms),
        dead_timeout: Duration::from_millis(config.dead_timeout_ms),
        session_timeout: Duration::from_secs(config.session_timeout_secs),
        release_grace: Duration::from_secs(config.release_grace_secs),
        upload_expiry: Duration::from_secs(config.upload_expiry_secs),
        leading: {
            let group = raft.clone();
            Arc::new(move || group.check_leader().is_ok())
        },
    };
    let workers = workers::spawn_all(&ctx, &shutdown_rx);
    tracing::info!(%addr, id = config.id, "metad listening");
    Ok(Daemon {
        addr,
        shutdown,
        server,
        workers,
        app,
        group: raft,
    })
}

/// What a member reloads when it begins leading: chunkd liveness restarts from the stored
/// registry (each node gets a full dead timeout to heartbeat), id ranges restart from the
/// stored bounds, and write sessions are forgotten unless the member is alone (another
/// leader may have run meanwhile; their writers get "no such session" and write again).
fn leader_reload(
    store: Arc<store::Store>,
    nodes: Arc<nodes::Nodes>,
    sessions: Arc<ns::Sessions>,
) -> group::raft::OnLead {
    Arc::new(move |alone| {
        store.reload_ids()?;
        nodes.reload(&store)?;
        if !alone {
            sessions.forget_all(&store)?;
        }
        Ok(())
    })
}

impl Daemon {
    /// The address the RPC server is bound to.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Stops accepting requests, stops the workers, waits briefly for requests in progress,
    /// then flushes and closes the database.
    pub async fn stop(self) {
        let Daemon {
            shutdown,
            server,
            workers,
            app,
            group,
            ..
        } = self;
        let _ = shutdown.send(true);
        let _ = server.await;
        for worker in workers {
            let _ = worker.await;
        }
        group.shutdown().await;
        drop(group);
        let store = app.store.clone();
        drop(app);
        // Requests and cancelled worker steps still running hold the store; give them a moment
        // so that the database is closed (its lock released) when this returns.
        for _ in 0..500 {
            if Arc::strong_count(&store) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if Arc::strong_count(&store) > 1 {
            tracing::warn!("work still running at shutdown; the database closes when it ends");
        }
        let _ = blocking(move || {
            if let Err(e) = store.flush() {
                tracing::warn!("flushing the database at shutdown: {e}");
            }
            drop(store);
            Ok(())
        })
        .await;
        tracing::info!("metad stopped");
    }
}

/// Runs blocking work (RocksDB calls) off the async runtime, inside the caller's tracing span
/// (an RPC's, with its request id), which does not follow work to another thread by itself.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RpcError> + Send + 'static,
) -> Result<T, RpcError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|e| RpcError::internal(format!("blocking task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let config = Config {
            secret: Some("metad-very-secret-secret".into()),
            ..Config::default()
        };
        let text = format!("{config:?} {config:#?}");
        assert!(!text.contains("metad-very-secret-secret"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
        // The TOML shape is a plain string.
        let parsed: Config = toml::from_str("secret = \"metad-very-secret-secret\"").unwrap();
        assert_eq!(parsed.secret.unwrap().expose(), "metad-very-secret-secret");
    }
}
