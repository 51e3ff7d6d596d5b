//! Cluster administration: status, metad snapshots.

use super::emit;
use crate::args::MetadCommand;
use crate::output::{escape, format_size, format_table, Align};
use crate::{CliError, Context};
use dfs_common::wire::{MetadMember, MetadRole, NodeState, StatusResp};

/// `status`: the chunkds as metad sees them, then replication and queue counts.
pub async fn status(ctx: &mut Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    let status = client.status().await?;
    emit(&format_status(&status))
}

/// `metad snapshot DIR`, `metad add ID ADDR`, `metad remove ID`.
pub async fn metad(ctx: &mut Context, command: MetadCommand) -> Result<(), CliError> {
    let dir = match command {
        MetadCommand::Snapshot { dir } => dir,
        MetadCommand::Add { id, addr } => {
            ctx.client()?.nodes().add_metad(id, &addr).await?;
            return emit(&format!(
                "member {id} ({}) joined the metad group and votes\n",
                escape(&addr)
            ));
        }
        MetadCommand::Remove { id } => {
            ctx.client()?.nodes().remove_metad(id).await?;
            return emit(&format!(
                "member {id} is no longer in the metad group; stop its process\n"
            ));
        }
    };
    if !dir.starts_with('/') {
        return Err(CliError::Usage(format!(
            "metad snapshot: {} must be an absolute path on metad's host",
            escape(&dir)
        )));
    }
    let client = ctx.client()?;
    let made = client.nodes().snapshot(&dir).await?;
    emit(&format!(
        "snapshot written to {} on metad's host: {} files, {}; restore by starting metad with \
         --data on it (or on a copy)\n",
        escape(&dir),
        made.files,
        format_size(made.bytes)
    ))
}

/// The metad members of `status`: one line each; LAG is how far a member is behind the
/// leader's log (for the leader itself, and without a leader, the entries it has not applied).
fn format_metad(members: &[MetadMember]) -> String {
    let mut members: Vec<&MetadMember> = members.iter().collect();
    members.sort_by_key(|m| m.id);
    let leader_log = members
        .iter()
        .find(|m| m.role == MetadRole::Leader)
        .map(|m| m.last_log_index);
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            let role = match m.role {
                MetadRole::Leader => "leader",
                MetadRole::Follower => "follower",
                MetadRole::Candidate => "candidate",
                MetadRole::Learner => "learner",
            };
            vec![
                m.id.to_string(),
                m.addr.clone(),
                role.to_owned(),
                m.term.to_string(),
                m.last_log_index.to_string(),
                m.applied_index.to_string(),
                match (leader_log, m.role) {
                    (Some(log), MetadRole::Follower | MetadRole::Learner) => {
                        log.saturating_sub(m.applied_index)
                    }
                    _ => m.last_log_index.saturating_sub(m.applied_index),
                }
                .to_string(),
            ]
        })
        .collect();
    format_table(
        &["METAD", "ADDRESS", "ROLE", "TERM", "LOG", "APPLIED", "LAG"],
        &[
            Align::Right,
            Align::Left,
            Align::Left,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
        ],
        &rows,
    )
}

/// The text of `status`.
pub fn format_status(status: &StatusResp) -> String {
    let mut nodes: Vec<_> = status.nodes.iter().collect();
    nodes.sort_by_key(|n| n.id);
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let state = match n.state {
                NodeState::Active => "alive",
                NodeState::Dead => "dead",
            };
            vec![
                n.id.to_string(),
                n.addr.clone(),
                state.to_owned(),
                format_size(n.capacity),
                format_size(n.used),
                n.chunks.to_string(),
                format_heartbeat(n.last_heartbeat_ms_ago),
            ]
        })
        .collect();
    let mut text = if rows.is_empty() {
        "no chunkd has registered\n".to_owned()
    } else {
        format_table(
            &[
                "NODE",
                "ADDRESS",
                "STATE",
                "CAPACITY",
                "USED",
                "CHUNKS",
                "LAST HEARTBEAT",
            ],
            &[
                Align::Right,
                Align::Left,
                Align::Left,
                Align::Right,
                Align::Right,
                Align::Right,
                Align::Right,
            ],
            &rows,
        )
    };
    if !status.metad.is_empty() {
        text.push('\n');
        text.push_str(&format_metad(&status.metad));
    }
    let alive = status
        .nodes
        .iter()
        .filter(|n| n.state == NodeState::Active)
        .count();
    text.push_str(&format!(
        "\nchunkds:            {alive} alive, {} dead\n",
        status.nodes.len() - alive
    ));
    text.push_str(&format!("replication factor: {}\n", status.replication));
    text.push_str(&format!(
        "chunks:             {} total, {} under-replicated",
        status.chunks, status.under_replicated
    ));
    if status.lost > 0 {
        text.push_str(&format!(
            " ({} of them with no live copy)\n\
             LOST DATA:          {} chunk(s) have no live copy: their files cannot be read \
             until a chunkd that held them returns; `dfs fsck` lists the files\n",
            status.lost, status.lost
        ));
    } else {
        text.push('\n');
    }
    text.push_str(&format!(
        "queues:             repair {}, gc {}\n",
        status.repair_queue, status.gc_queue
    ));
    if status.detached_trees > 0 || status.dead_node_sweeps > 0 {
        text.push_str(&format!(
            "background:         {} directory tree(s) being deleted (rm -r), {} dead chunkd(s) being queued for repair\n",
            status.detached_trees, status.dead_node_sweeps
        ));
    }
    text
}

/// `0.2 s ago`, `3 min ago`, `2.0 h ago`.
fn format_heartbeat(ms: u64) -> String {
    if ms < 60_000 {
        format!("{:.1} s ago", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{} min ago", ms / 60_000)
    } else {
        format!("{:.1} h ago", ms as f64 / 3_600_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::wire::NodeInfo;
    use dfs_common::NodeId;

    fn node(id: u64, state: NodeState) -> NodeInfo {
        NodeInfo {
            id: NodeId(id),
            addr: format!("127.0.0.1:{}", 7800 + id),
            capacity: 64 << 30,
            used: 3 << 20,
            state,
            last_heartbeat_ms_ago: 250,
            chunks: 12,
        }
    }

    #[test]
    fn status_table() {
        let status = StatusResp {
            nodes: vec![node(2, NodeState::Dead), node(1, NodeState::Active)],
            replication: 2,
            chunks: 12,
            under_replicated: 3,
            lost: 1,
            repair_queue: 3,
            gc_queue: 0,
            detached_trees: 2,
            dead_node_sweeps: 1,
            metad: vec![
                MetadMember {
                    id: 2,
                    addr: "10.0.0.2:7700".into(),
                    role: MetadRole::Follower,
                    term: 4,
                    last_log_index: 120,
                    applied_index: 117,
                },
                MetadMember {
                    id: 1,
                    addr: "10.0.0.1:7700".into(),
                    role: MetadRole::Leader,
                    term: 4,
                    last_log_index: 120,
                    applied_index: 120,
                },
            ],
        };
        let text = format_status(&status);
        let metad: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("METAD"))
            .take(3)
            .collect();
        assert_eq!(
            metad,
            [
                "METAD  ADDRESS        ROLE      TERM  LOG  APPLIED  LAG",
                "    1  10.0.0.1:7700  leader       4  120      120    0",
                "    2  10.0.0.2:7700  follower     4  120      117    3",
            ],
            "{text}"
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NODE  ADDRESS"), "{text}");
        assert!(lines[1].contains("127.0.0.1:7801  alive"), "{text}");
        assert!(lines[2].contains("127.0.0.1:7802  dead"), "{text}");
        assert!(
            lines[1].contains("64.0 GiB") && lines[1].contains("3.0 MiB"),
            "{text}"
        );
        assert!(text.contains("1 alive, 1 dead"), "{text}");
        assert!(text.contains("replication factor: 2"), "{text}");
        assert!(
            text.contains("12 total, 3 under-replicated (1 of them with no live copy)\n"),
            "{text}"
        );
        assert!(text.contains("LOST DATA:          1 chunk(s)"), "{text}");
        assert!(text.contains("repair 3, gc 0"), "{text}");
        assert!(
            text.contains("background:         2 directory tree(s) being deleted (rm -r), 1 dead"),
            "{text}"
        );
    }

    #[test]
    fn heartbeats() {
        assert_eq!(format_heartbeat(200), "0.2 s ago");
        assert_eq!(format_heartbeat(125_000), "2 min ago");
        assert_eq!(format_heartbeat(7_200_000), "2.0 h ago");
    }
}
