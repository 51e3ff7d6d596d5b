//! `dfs dev`: a whole local cluster in this process, metad (one, or a group of 3 or 5 members
//! with `--metads`), N chunkds and the S3 gateway, each started from its library, with data
//! under one folder:
//!
//! ```text
//! DIR/cluster.secret   the cluster secret (made on first start)
//! DIR/dev.json         the ports used last time, reused when free so the exports stay valid
//! DIR/s3-key.json      the access key `dev` and its secret (mode 0600), reused while metad knows it
//! DIR/metad/           metad's RocksDB (member 1's in a group)
//! DIR/metad-2..5/      the other members' RocksDBs (with --metads 3 or 5)
//! DIR/chunkd-1..N/     the chunkds' chunk files
//! ```
//!
//! It prints `export` lines for another shell on stdout, a line per daemon on stderr, and runs
//! until Ctrl-C or SIGTERM.

mod metads;
mod state;

use crate::args::DevArgs;
use crate::output::shell_quote;
use crate::CliError;
use dfs_client::DfsClient;
use dfs_common::auth::ClusterSecret;
use dfs_common::ErrorCode;
use state::{DevKey, Remembered, KEY_FILE, STATE_FILE};
use std::path::Path;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// The name of the access key `dfs dev` makes.
const DEV_KEY_NAME: &str = "dev";

/// The daemons of a running dev cluster.
struct Daemons {
    /// The metad members, member 1 first.
    metads: Vec<dfs_metad::Daemon>,
    chunkds: Vec<dfs_chunkd::Daemon>,
    gateway: Option<dfs_gateway::Daemon>,
}

impl Daemons {
    /// Stops the gateway, then the chunkds, then every metad member. Why this order: the gateway is the
    /// front door, so new S3 requests stop before anything behind it goes, and the requests it
    /// still finishes can reach metad and the chunkds. The chunkds depend on metad (they
    /// register and heartbeat to it), while metad only sends them orders it retries anyway.
    /// Stopped before metad, the chunkds finish any chunk write in flight with metad still
    /// there; metad stopped first would make every chunkd log failed heartbeats while it
    /// shuts down.
    async fn stop(self) {
        if let Some(gateway) = self.gateway {
            gateway.stop().await;
        }
        for daemon in self.chunkds.into_iter().rev() {
            daemon.stop().await;
        }
        metads::stop(self.metads).await;
    }

    /// The metad members' addresses, comma-separated, member 1 first: what `--metad` and
    /// `DFS_METAD` take.
    fn metad_list(&self) -> String {
        let addrs: Vec<String> = self.metads.iter().map(|m| m.addr().to_string()).collect();
        addrs.join(",")
    }
}

/// Runs the dev cluster until Ctrl-C or SIGTERM.
pub async fn run(args: DevArgs) -> Result<(), CliError> {
    let mut shutdown = Shutdown::watch();
    let replication = match args.replication {
        Some(replication) => replication,
        None => dfs_metad::Config::default()
            .replication
            .clamp(1, args.chunkds),
    };
    if replication > args.chunkds {
        return Err(CliError::Usage(format!(
            "--replication {replication} needs at least {replication} chunkds (--chunkds {})",
            args.chunkds
        )));
    }

    std::fs::create_dir_all(&args.data).map_err(CliError::io(format!(
        "cannot create {}",
        args.data.display()
    )))?;
    let data = std::fs::canonicalize(&args.data).map_err(CliError::io(format!(
        "cannot resolve {}",
        args.data.display()
    )))?;
    let secret_file = data.join("cluster.secret");
    let secret = ClusterSecret::load_or_create(&secret_file).map_err(CliError::Dev)?;
    let state_path = data.join(STATE_FILE);
    let remembered = state::load_state(&state_path);

    metads::check_count(&data, args.metads)?;
    let members = metads::start(&data, &secret_file, replication, args.metads, &remembered).await?;
    for (id, member) in (1..).zip(&members) {
        let name = match members.len() {
            1 => "metad    ".to_owned(),
            _ => format!("metad {id:<2} "),
        };
        eprintln!(
            "{name} {:<21}  data {}  replication {replication}",
            member.addr().to_string(),
            metads::folder(&data, id).display()
        );
    }
    if members.len() > 1 {
        // A group formed on these ports restarts only on them: remember them even if what
        // follows fails.
        let ports = Remembered {
            metad_port: members.first().map(|m| m.addr().port()),
            metad_ports: members.iter().skip(1).map(|m| m.addr().port()).collect(),
            ..remembered.clone()
        };
        if let Err(e) = state::save_state(&state_path, &ports) {
            eprintln!(
                "warning: cannot remember the metad ports in {}: {e}",
                state_path.display()
            );
        }
    }
    let mut daemons = Daemons {
        metads: members,
        chunkds: Vec::new(),
        gateway: None,
    };
    let metad_addr = daemons.metad_list();
    let started = start_rest(
        &args,
        &data,
        &secret_file,
        secret,
        &remembered,
        &mut daemons,
    )
    .await;
    let key = match started {
        Ok(key) => key,
        Err(err) => {
            daemons.stop().await;
            return Err(err);
        }
    };
    let state = Remembered {
        metad_port: daemons.metads.first().map(|m| m.addr().port()),
        metad_ports: daemons
            .metads
            .iter()
            .skip(1)
            .map(|m| m.addr().port())
            .collect(),
        chunkd_ports: daemons.chunkds.iter().map(|d| d.addr().port()).collect(),
        s3_port: daemons.gateway.as_ref().map(|g| g.addr().port()),
        s3_admin_port: daemons.gateway.as_ref().map(|g| g.admin_addr().port()),
    };
    if let Err(e) = state::save_state(&state_path, &state) {
        eprintln!(
            "warning: cannot remember the ports in {}: {e}",
            state_path.display()
        );
    }
    print_exports(&metad_addr, &secret_file, &daemons, &key);
    eprintln!(
        "dfs dev: running with {} metad(s) and {} chunkd(s); paste the export lines above into \
         another shell; Ctrl-C stops it",
        daemons.metads.len(),
        daemons.chunkds.len()
    );

    shutdown.wait().await;
    eprintln!("dfs dev: stopping");
    daemons.stop().await;
    eprintln!("dfs dev: stopped");
    Ok(())
}

/// Starts the chunkds and the gateway (into `daemons`, so that a failure stops what did
/// start) and finds or makes the dev access key.
async fn start_rest(
    args: &DevArgs,
    data: &Path,
    secret_file: &Path,
    secret: ClusterSecret,
    remembered: &Remembered,
    daemons: &mut Daemons,
) -> Result<DevKey, CliError> {
    let metad_addr = daemons.metad_list();
    let client = DfsClient::new(metad_addr.clone(), secret);
    // A group elects its leader after its members start: the chunkds' registrations and the
    // access key below are writes that need one.
    metads::wait_for_leader(&client).await?;
    for index in 1..=args.chunkds as usize {
        let port = remembered.chunkd_ports.get(index - 1).copied();
        let daemon = start_chunkd(data, secret_file, &metad_addr, index, port).await?;
        eprintln!(
            "chunkd {index:<2} {:<21}  data {}",
            daemon.addr().to_string(),
            data.join(format!("chunkd-{index}")).display()
        );
        daemons.chunkds.push(daemon);
    }
    // After the chunkds: the gateway needs metad, and S3 writes need live chunkds.
    let gateway = start_gateway(secret_file, &metad_addr, args.s3_port, remembered).await?;
    eprintln!(
        "gateway   {:<21}  S3 endpoint http://{}  admin {} (/health/ready, /metrics)",
        gateway.addr().to_string(),
        gateway.addr(),
        gateway.admin_addr()
    );
    daemons.gateway = Some(gateway);
    let key = dev_key(&client, &data.join(KEY_FILE)).await?;
    eprintln!(
        "access key {} ({DEV_KEY_NAME}), kept in {}; buckets made with `dfs mkdir` need \
         `dfs bucket allow BUCKET {}` before S3 clients may use them",
        key.key_id,
        data.join(KEY_FILE).display(),
        key.key_id
    );
    Ok(key)
}

/// Starts chunkd number `index` (1-based) on its remembered port when free, else a new one.
async fn start_chunkd(
    data: &Path,
    secret_file: &Path,
    metad_addr: &str,
    index: usize,
    port: Option<u16>,
) -> Result<dfs_chunkd::Daemon, CliError> {
    let config = |listen: String| dfs_chunkd::Config {
        listen,
        data_dir: data.join(format!("chunkd-{index}")),
        metad: metad_addr.to_owned(),
        secret_file: Some(secret_file.to_owned()),
        ..dfs_chunkd::Config::default()
    };
    if let Some(port) = port.filter(|p| port_is_free(*p)) {
        match dfs_chunkd::start(config(loopback(port))).await {
            Ok(daemon) => return Ok(daemon),
            Err(e) => {
                eprintln!("warning: chunkd {index} cannot reuse port {port} ({e}); picking another")
            }
        }
    }
    dfs_chunkd::start(config(loopback(0)))
        .await
        .map_err(|e| CliError::Dev(format!("cannot start chunkd {index}: {e}")))
}

/// Starts the gateway: on `--s3-port` when given (an error if it is taken), else on the ports
/// remembered from last time when free, else on any free ports.
async fn start_gateway(
    secret_file: &Path,
    metad_addr: &str,
    s3_port: Option<u16>,
    remembered: &Remembered,
) -> Result<dfs_gateway::Daemon, CliError> {
    let config = |port: u16, admin_port: u16| dfs_gateway::Config {
        listen: loopback(port),
        admin_listen: loopback(admin_port),
        metad: metad_addr.to_owned(),
        secret_file: Some(secret_file.to_owned()),
        ..dfs_gateway::Config::default()
    };
    let free = |port: Option<u16>| port.filter(|p| port_is_free(*p));
    let attempts = gateway_attempts(
        s3_port,
        free(remembered.s3_port),
        free(remembered.s3_admin_port),
    );
    let asked = s3_port.map(loopback);
    let mut last_error = None;
    for (port, admin_port) in attempts {
        if let Some(e) = last_error.take() {
            eprintln!(
                "warning: the gateway cannot use the ports of last time ({e}); picking others"
            );
        }
        match dfs_gateway::start(config(port, admin_port)).await {
            Ok(daemon) => return Ok(daemon),
            Err(e) => {
                // The port the person asked for is taken: no other attempt can help.
                let asked_is_taken = matches!(
                    &e,
                    dfs_gateway::Error::Listen { addr, .. } if Some(addr) == asked.as_ref()
                );
                last_error = Some(e);
                if asked_is_taken {
                    break;
                }
            }
        }
    }
    let reason = last_error.map_or_else(|| "no port to try".to_owned(), |e| e.to_string());
    Err(CliError::Dev(format!("cannot start the gateway: {reason}")))
}

/// The (S3 port, admin port) pairs to try in turn, 0 meaning any free port. An explicit S3
/// port is kept in every attempt: the person asked for it.
fn gateway_attempts(
    explicit: Option<u16>,
    remembered: Option<u16>,
    remembered_admin: Option<u16>,
) -> Vec<(u16, u16)> {
    let first = (
        explicit.or(remembered).unwrap_or(0),
        remembered_admin.unwrap_or(0),
    );
    let fallback = (explicit.unwrap_or(0), 0);
    if first == fallback {
        vec![first]
    } else {
        vec![first, fallback]
    }
}

/// The dev access key: the one kept in `path` while metad still knows it, else a new one
/// (kept there for the next start).
async fn dev_key(client: &DfsClient, path: &Path) -> Result<DevKey, CliError> {
    if let Some(kept) = state::load_key(path) {
        let known = client.keys().get(&kept.key_id).await;
        match known {
            Ok(found) if found.secret == kept.secret => return Ok(kept),
            Ok(_) => eprintln!(
                "warning: access key {} has another secret than {} says; making a new key",
                kept.key_id,
                path.display()
            ),
            Err(err) if err.code == ErrorCode::NotFound => eprintln!(
                "note: metad no longer knows access key {} (from {}); making a new key",
                kept.key_id,
                path.display()
            ),
            Err(err) => {
                return Err(CliError::Dev(format!(
                    "cannot check the dev access key {}: {err}",
                    kept.key_id
                )))
            }
        }
    }
    let created = client
        .keys()
        .create(DEV_KEY_NAME)
        .await
        .map_err(|err| CliError::Dev(format!("cannot create the dev access key: {err}")))?;
    let key = DevKey {
        key_id: created.key_id,
        secret: created.secret,
    };
    if let Err(e) = state::save_key(path, &key) {
        eprintln!(
            "warning: cannot keep the access key in {} ({e}): the next start makes a new one",
            path.display()
        );
    }
    Ok(key)
}

/// Prints the lines to paste into another shell.
fn print_exports(metad_addr: &str, secret_file: &Path, daemons: &Daemons, key: &DevKey) {
    let gateway = daemons.gateway.as_ref().map(|g| g.addr().to_string());
    print!(
        "{}",
        export_lines(metad_addr, secret_file, gateway.as_deref(), key)
    );
}

/// The `export` lines: the cluster for `dfs`, the S3 endpoint and key for S3 clients.
fn export_lines(
    metad_addr: &str,
    secret_file: &Path,
    gateway_addr: Option<&str>,
    key: &DevKey,
) -> String {
    let mut text = format!(
        "export DFS_METAD={metad_addr}\nexport DFS_SECRET_FILE={}\n",
        shell_quote(&secret_file.to_string_lossy())
    );
    if let Some(addr) = gateway_addr {
        text.push_str(&format!(
            "export AWS_ENDPOINT_URL=http://{addr}\n\
             export AWS_ACCESS_KEY_ID={}\n\
             export AWS_SECRET_ACCESS_KEY={}\n\
             export AWS_DEFAULT_REGION={}\n",
            shell_quote(&key.key_id),
            shell_quote(key.secret.expose()),
            dfs_gateway::Config::default().region
        ));
    }
    text
}

/// Ctrl-C and SIGTERM, watched from the start: a SIGTERM sent as soon as the export lines
/// appear must find its handler in place (or the process would die without stopping the
/// daemons in order).
struct Shutdown {
    term: Option<Signal>,
    int: Option<Signal>,
}

impl Shutdown {
    fn watch() -> Shutdown {
        Shutdown {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
        }
    }

    /// Waits for Ctrl-C or SIGTERM (also one that came before the call).
    async fn wait(&mut self) {
        tokio::select! {
            Some(()) = recv(&mut self.term) => {}
            Some(()) = recv(&mut self.int) => {}
            // Both streams ended (the runtime is going away): stop as well.
            else => {}
        }
    }
}

/// The next signal of `stream`; pending forever when it could not be installed.
async fn recv(stream: &mut Option<Signal>) -> Option<()> {
    match stream {
        Some(stream) => stream.recv().await,
        None => std::future::pending().await,
    }
}

fn loopback(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// Whether nothing listens on loopback `port` right now.
fn port_is_free(port: u16) -> bool {
    port != 0 && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_ports_are_not_free() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!port_is_free(port));
        drop(listener);
        assert!(!port_is_free(0));
    }

    #[test]
    fn gateway_port_attempts() {
        // Remembered ports first, then any.
        assert_eq!(
            gateway_attempts(None, Some(9000), Some(9001)),
            vec![(9000, 9001), (0, 0)]
        );
        assert_eq!(gateway_attempts(None, None, None), vec![(0, 0)]);
        // An explicit S3 port is never given up.
        assert_eq!(
            gateway_attempts(Some(9100), Some(9000), Some(9001)),
            vec![(9100, 9001), (9100, 0)]
        );
        assert_eq!(gateway_attempts(Some(9100), None, None), vec![(9100, 0)]);
    }

    #[test]
    fn exports() {
        let key = DevKey {
            key_id: "DFSAB12CD34EF56GH78J".into(),
            secret: "s3cr3t".into(),
        };
        let text = export_lines(
            "127.0.0.1:7700",
            Path::new("/data dir/cluster.secret"),
            Some("127.0.0.1:9000"),
            &key,
        );
        assert_eq!(
            text,
            "export DFS_METAD=127.0.0.1:7700\n\
             export DFS_SECRET_FILE='/data dir/cluster.secret'\n\
             export AWS_ENDPOINT_URL=http://127.0.0.1:9000\n\
             export AWS_ACCESS_KEY_ID=DFSAB12CD34EF56GH78J\n\
             export AWS_SECRET_ACCESS_KEY=s3cr3t\n\
             export AWS_DEFAULT_REGION=us-east-1\n"
        );
    }
}
