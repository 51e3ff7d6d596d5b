//! Space: `du` (bytes and objects below a path) and `df` (the cluster's capacity and use).
//!
//! `du` counts from metad's metadata only, no data is read: a bucket's objects come from the
//! flat, paged S3 listing (`list_objects` with a prefix and no delimiter, 1,000 keys a
//! call), so the cost is one call per 1,000 objects below the path. A top-level directory
//! whose name is no valid S3 bucket name (`dfs mkdir /b`) cannot be listed that way: its
//! tree is walked directory by directory with `list` instead. metad has no counter per
//! directory to ask.

use super::emit;
use super::ns::stat_prefer_dir;
use super::walk::TreeWalk;
use crate::output::{escape, format_size, format_table, Align};
use crate::paths;
use crate::{CliError, Context};
use dfs_client::{DfsClient, MAX_LIST_PAGE};
use dfs_common::names::BucketName;
use dfs_common::wire::{EntryKind, ListObjectsReq, NodeState, StatusResp, MAX_LIST_KEYS};

/// What `du` counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of data (files, and the payloads of directory objects `x/`).
    pub bytes: u64,
    /// Files (objects other than directory markers).
    pub objects: u64,
}

impl Usage {
    fn add(&mut self, other: Usage) {
        self.bytes += other.bytes;
        self.objects += other.objects;
    }
}

/// `du [-h] [PATH]`: one line, `SIZE  N objects  PATH`.
pub async fn du(ctx: &mut Context, path: Option<&str>, human: bool) -> Result<(), CliError> {
    let client = ctx.client()?;
    let path = ctx.resolve(path.unwrap_or("."))?;
    let usage = usage_below(&client, &path).await?;
    let size = if human {
        format_size(usage.bytes)
    } else {
        usage.bytes.to_string()
    };
    let noun = if usage.objects == 1 {
        "object"
    } else {
        "objects"
    };
    emit(&format!(
        "{size}\t{} {noun}\t{}\n",
        usage.objects,
        escape(paths::trim_slash(&path))
    ))
}

/// The usage of the file or directory at `path` (the directory when both exist).
pub async fn usage_below(client: &DfsClient, path: &str) -> Result<Usage, CliError> {
    let mut total = Usage::default();
    if path == "/" {
        // Every bucket in turn, a page of buckets at a time.
        let mut start_after = None;
        loop {
            let page = client
                .list("/", start_after.take(), MAX_LIST_PAGE)
                .await
                .map_err(CliError::at("/"))?;
            for entry in &page.entries {
                let name = entry.name.trim_end_matches('/');
                total.add(bucket_usage(client, name, "").await?);
            }
            match page.entries.last() {
                Some(last) if page.truncated => start_after = Some(last.name.clone()),
                _ => return Ok(total),
            }
        }
    }
    let entry = stat_prefer_dir(client, path)
        .await
        .map_err(CliError::at(path))?;
    if entry.kind == EntryKind::File {
        return Ok(Usage {
            bytes: entry.size,
            objects: 1,
        });
    }
    let inside = paths::trim_slash(path).trim_start_matches('/');
    let (bucket, key) = inside.split_once('/').unwrap_or((inside, ""));
    let prefix = if key.is_empty() {
        String::new()
    } else {
        format!("{key}/")
    };
    bucket_usage(client, bucket, &prefix).await
}

/// Sums the objects of `bucket` whose keys start with `prefix`, page by page.
async fn bucket_usage(client: &DfsClient, bucket: &str, prefix: &str) -> Result<Usage, CliError> {
    let Ok(name) = BucketName::new(bucket) else {
        return tree_usage(client, &format!("/{bucket}/{prefix}")).await;
    };
    let mut total = Usage::default();
    let mut start_after = None;
    loop {
        let page = client
            .buckets()
            .list_objects(&ListObjectsReq {
                bucket: name.clone(),
                prefix: prefix.to_owned(),
                delimiter: None,
                start_after: start_after.take(),
                max_keys: MAX_LIST_KEYS,
            })
            .await
            .map_err(|err| CliError::at(&format!("/{bucket}/{prefix}"))(err))?;
        for object in &page.objects {
            total.bytes += object.size;
            // `x/` is a directory (made by mkdir or S3): its bytes count, it is no object.
            if !object.key.ends_with('/') {
                total.objects += 1;
            }
        }
        match page.next_start_after {
            Some(next) if page.truncated => start_after = Some(next),
            _ => return Ok(total),
        }
    }
}

/// Sums the tree below the directory `dir` (ending in `/`), one `list` page at a time,
/// depth first.
async fn tree_usage(client: &DfsClient, dir: &str) -> Result<Usage, CliError> {
    let mut total = Usage::default();
    let mut walk = TreeWalk::new(dir);
    while let Some((_, entries)) = walk.next_page(client).await? {
        for entry in &entries {
            total.bytes += entry.size;
            if entry.kind == EntryKind::File {
                total.objects += 1;
            }
        }
    }
    Ok(total)
}

/// `df`: the cluster's capacity and use over its live chunkds, in one table row.
pub async fn df(ctx: &mut Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    let status = client.status().await?;
    emit(&format_df(&status))
}

/// The text of `df`.
pub fn format_df(status: &StatusResp) -> String {
    let alive: Vec<_> = status
        .nodes
        .iter()
        .filter(|n| n.state == NodeState::Active)
        .collect();
    let capacity: u64 = alive.iter().map(|n| n.capacity).sum();
    let used: u64 = alive.iter().map(|n| n.used).sum();
    let avail = capacity.saturating_sub(used);
    let percent = if capacity == 0 {
        0
    } else {
        (used.saturating_mul(100)).div_ceil(capacity)
    };
    let dead = status.nodes.len() - alive.len();
    let mut text = format_table(
        &["SIZE", "USED", "AVAIL", "USE%", "CHUNKDS"],
        &[
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Left,
        ],
        &[vec![
            format_size(capacity),
            format_size(used),
            format_size(avail),
            format!("{percent}%"),
            format!("{} alive, {dead} dead", alive.len()),
        ]],
    );
    let replication = u64::from(status.replication.max(1));
    text.push_str(&format!(
        "replication {replication}: room for about {} of new files\n",
        format_size(avail / replication)
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::wire::NodeInfo;
    use dfs_common::NodeId;

    #[test]
    fn df_sums_live_chunkds() {
        let node = |id, state, used| NodeInfo {
            id: NodeId(id),
            addr: format!("127.0.0.1:{id}"),
            capacity: 10 << 30,
            used,
            state,
            last_heartbeat_ms_ago: 0,
            chunks: 0,
        };
        let status = StatusResp {
            nodes: vec![
                node(1, NodeState::Active, 1 << 30),
                node(2, NodeState::Active, 1 << 30),
                node(3, NodeState::Dead, 5 << 30),
            ],
            replication: 2,
            chunks: 0,
            under_replicated: 0,
            lost: 0,
            repair_queue: 0,
            gc_queue: 0,
            detached_trees: 0,
            dead_node_sweeps: 0,
            metad: Vec::new(),
        };
        let text = format_df(&status);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0].split_whitespace().next(), Some("SIZE"), "{text}");
        assert!(lines[1].contains("20.0 GiB"), "{text}");
        assert!(lines[1].contains("2.0 GiB"), "{text}");
        assert!(lines[1].contains("18.0 GiB"), "{text}");
        assert!(lines[1].contains("10%"), "{text}");
        assert!(lines[1].contains("2 alive, 1 dead"), "{text}");
        assert!(text.contains("room for about 9.0 GiB"), "{text}");
    }
}
