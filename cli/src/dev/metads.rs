//! The metad members of `dfs dev`: one metad, or a group of 3 or 5 members in this process
//! that list each other as peers and form by themselves.
//!
//! Member 1 keeps `DIR/metad/` (the folder of a single metad), member K keeps `DIR/metad-K/`.
//! A group's members know each other by the addresses they formed with (openraft keeps them in
//! its membership), so a group restarts only on the ports it remembers; a single metad may
//! move to another port.

use super::state::Remembered;
use super::{loopback, port_is_free};
use crate::CliError;
use dfs_client::DfsClient;
use dfs_common::wire::MetadRole;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The largest group `dfs dev` runs (and the member folders it looks for).
pub(super) const MAX_MEMBERS: u32 = 5;

/// How long a new or restarted group may take to elect a leader.
const LEADER_WAIT: Duration = Duration::from_secs(30);

/// The data folder of member `id` (1-based).
pub(super) fn folder(data: &Path, id: u32) -> PathBuf {
    match id {
        1 => data.join("metad"),
        _ => data.join(format!("metad-{id}")),
    }
}

/// Whether `dir` exists and holds anything.
fn holds_data(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

/// How many metad members the data in `data` was made by: the highest member whose folder
/// holds data, 0 for none. A group member whose folder was wiped (it rejoins by snapshot)
/// does not change the count unless it is the last one.
fn members_in(data: &Path) -> u32 {
    (1..=MAX_MEMBERS)
        .rev()
        .find(|id| holds_data(&folder(data, *id)))
        .unwrap_or(0)
}

/// Refuses to run `wanted` members on data made by another number of members: a single
/// metad's data cannot become a group (a group forms only from empty members), and a group's
/// membership is fixed when it forms.
pub(super) fn check_count(data: &Path, wanted: u32) -> Result<(), CliError> {
    let found = members_in(data);
    if found == 0 || found == wanted {
        return Ok(());
    }
    let shown = data.display();
    Err(CliError::Dev(if found == 1 {
        single_metad_data(data, wanted)
    } else if wanted == 1 {
        format!(
            "{shown} holds the data of a group of {found} metads: start it with --metads {found}, \
             or use a fresh --data folder"
        )
    } else {
        format!(
            "{shown} holds the data of a group of {found} metads, not {wanted}: start it with \
             --metads {found}, or use a fresh --data folder for --metads {wanted}"
        )
    }))
}

/// The message for a single metad's data started as a group.
fn single_metad_data(data: &Path, wanted: u32) -> String {
    format!(
        "{} holds a single metad's data, and a group of {wanted} forms only from empty members: \
         use a fresh --data folder for --metads {wanted}, or run without --metads",
        data.display()
    )
}

/// The ports remembered for members 1..=count (`None` where none is).
fn remembered_ports(remembered: &Remembered, count: u32) -> Vec<Option<u16>> {
    (1..=count as usize)
        .map(|id| match id {
            1 => remembered.metad_port,
            _ => remembered.metad_ports.get(id - 2).copied(),
        })
        .collect()
}

/// The ports of a group's members, chosen before any starts (each lists all the others).
/// A fresh group reuses the remembered ports that are free and picks others; a group that
/// already formed needs exactly its remembered ports.
fn group_ports(data: &Path, remembered: &[Option<u16>], fresh: bool) -> Result<Vec<u16>, CliError> {
    if !fresh {
        return remembered
            .iter()
            .enumerate()
            .map(|(index, port)| {
                let id = index + 1;
                match port {
                    None => Err(CliError::Dev(format!(
                        "cannot restart the metad group in {}: {} does not remember member {id}'s \
                         port, and the members know each other by address; use a fresh --data folder",
                        data.display(),
                        data.join(super::state::STATE_FILE).display()
                    ))),
                    Some(port) if !port_is_free(*port) => Err(CliError::Dev(format!(
                        "cannot restart the metad group: port {port} of member {id} is taken, and \
                         the members know each other by the addresses they formed with; free it \
                         and start again"
                    ))),
                    Some(port) => Ok(*port),
                }
            })
            .collect();
    }
    // Listeners held until every port is picked, so no two members get the same one.
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for port in remembered {
        let reused = port.filter(|p| !ports.contains(p) && port_is_free(*p));
        let port = match reused {
            Some(port) => port,
            None => {
                let listener = std::net::TcpListener::bind("127.0.0.1:0")
                    .map_err(CliError::io("cannot find a free port for metad"))?;
                let port = listener
                    .local_addr()
                    .map_err(CliError::io("cannot find a free port for metad"))?
                    .port();
                held.push(listener);
                port
            }
        };
        ports.push(port);
    }
    drop(held);
    Ok(ports)
}

/// Starts the members (after [`check_count`]); returns them, member 1 first.
pub(super) async fn start(
    data: &Path,
    secret_file: &Path,
    replication: u32,
    count: u32,
    remembered: &Remembered,
) -> Result<Vec<dfs_metad::Daemon>, CliError> {
    let config = |id: u32, listen: String, peers: String| dfs_metad::Config {
        listen,
        data_dir: folder(data, id),
        secret_file: Some(secret_file.to_owned()),
        replication,
        id: u64::from(id),
        peers,
        ..dfs_metad::Config::default()
    };
    let ports = remembered_ports(remembered, count);
    if count == 1 {
        return start_alone(ports[0], |listen| config(1, listen, String::new()))
            .await
            .map(|daemon| vec![daemon]);
    }
    let ports = group_ports(data, &ports, members_in(data) == 0)?;
    let peers = ports
        .iter()
        .enumerate()
        .map(|(index, port)| format!("{}={}", index + 1, loopback(*port)))
        .collect::<Vec<_>>()
        .join(",");
    let mut members = Vec::new();
    for (id, port) in (1..=count).zip(&ports) {
        match dfs_metad::start(config(id, loopback(*port), peers.clone())).await {
            Ok(daemon) => members.push(daemon),
            Err(e) => {
                stop(members).await;
                let text = e.to_string();
                return Err(CliError::Dev(
                    if text.contains("holds data but is in no group") {
                        single_metad_data(data, count)
                    } else {
                        format!("cannot start metad member {id}: {text}")
                    },
                ));
            }
        }
    }
    Ok(members)
}

/// Starts a single metad on its remembered port when that port is free, else on a new one.
async fn start_alone(
    port: Option<u16>,
    config: impl Fn(String) -> dfs_metad::Config,
) -> Result<dfs_metad::Daemon, CliError> {
    if let Some(port) = port.filter(|p| port_is_free(*p)) {
        match dfs_metad::start(config(loopback(port))).await {
            Ok(daemon) => return Ok(daemon),
            // Taken in the instant since the check: a new port does as well.
            Err(e) => eprintln!("warning: metad cannot reuse port {port} ({e}); picking another"),
        }
    }
    dfs_metad::start(config(loopback(0)))
        .await
        .map_err(|e| CliError::Dev(format!("cannot start metad: {e}")))
}

/// Stops every member at once: one by one, each stop would make the others elect anew.
pub(super) async fn stop(members: Vec<dfs_metad::Daemon>) {
    futures_util::future::join_all(members.into_iter().map(|m| m.stop())).await;
}

/// Waits until a member reports a leader, so that the first writes (the dev access key, the
/// chunkds' registrations) find one; an error after [`LEADER_WAIT`].
pub(super) async fn wait_for_leader(client: &DfsClient) -> Result<(), CliError> {
    let deadline = Instant::now() + LEADER_WAIT;
    loop {
        let asked = tokio::time::timeout(Duration::from_secs(5), client.status()).await;
        let why = match asked {
            Ok(Ok(status)) if status.metad.iter().any(|m| m.role == MetadRole::Leader) => {
                return Ok(())
            }
            Ok(Ok(status)) => format!("{} member(s) answer, none leads", status.metad.len()),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "status took over 5 s".to_owned(),
        };
        if Instant::now() > deadline {
            return Err(CliError::Dev(format!(
                "the metad group has no leader after {} s ({why})",
                LEADER_WAIT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(data: &Path, id: u32) {
        let dir = folder(data, id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("CURRENT"), b"x").unwrap();
    }

    #[test]
    fn member_folders() {
        let data = Path::new("/d");
        assert_eq!(folder(data, 1), Path::new("/d/metad"));
        assert_eq!(folder(data, 3), Path::new("/d/metad-3"));
    }

    #[test]
    fn the_member_count_of_a_folder_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        // Fresh: any count; an empty folder is no data.
        std::fs::create_dir_all(folder(data, 2)).unwrap();
        assert!(check_count(data, 1).is_ok() && check_count(data, 3).is_ok());
        // A single metad's data.
        make(data, 1);
        assert!(check_count(data, 1).is_ok());
        let refused = check_count(data, 3).unwrap_err().to_string();
        assert!(refused.contains("single metad's data"), "{refused}");
        assert!(refused.contains("run without --metads"), "{refused}");
        assert!(!refused.contains('\n'), "{refused}");
        // A group of three, even with a wiped member 2.
        make(data, 3);
        assert!(check_count(data, 3).is_ok());
        let refused = check_count(data, 1).unwrap_err().to_string();
        assert!(refused.contains("start it with --metads 3"), "{refused}");
        let refused = check_count(data, 5).unwrap_err().to_string();
        assert!(refused.contains("not 5"), "{refused}");
    }

    #[test]
    fn ports_of_a_fresh_group_are_distinct_and_reused_when_free() {
        let dir = tempfile::tempdir().unwrap();
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy_port = busy.local_addr().unwrap().port();
        let free_port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let ports = group_ports(
            dir.path(),
            &[Some(free_port), Some(busy_port), Some(free_port)],
            true,
        )
        .unwrap();
        assert_eq!(ports[0], free_port);
        assert!(!ports.contains(&busy_port));
        assert!(ports[1] != ports[2] && ports[2] != ports[0], "{ports:?}");

        // A formed group needs exactly its ports.
        let refused = group_ports(dir.path(), &[Some(free_port), Some(busy_port)], false)
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains(&format!("port {busy_port} of member 2")),
            "{refused}"
        );
        let refused = group_ports(dir.path(), &[Some(free_port), None], false)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("member 2's port"), "{refused}");
    }
}
