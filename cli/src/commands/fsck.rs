//! `fsck [PATH]`: the files below a path whose data is damaged, from metad's view of where
//! each chunk's copies are. No data is read: a file is "lost" when one of its chunks has no
//! copy on a live chunkd (reads of it fail until a chunkd that held the chunk returns), and
//! "under-replicated" when one has fewer live copies than the replication factor (repair is
//! bringing it back; reads work).
//!
//! The tree is walked directory by directory with `list`, and each file's chunk list is read
//! page by page with `stat`, [`CONCURRENT_FILES`] files at a time: one call per file, so
//! checking a million files takes minutes. metad keeps no index from chunks to files to ask
//! instead; what is damaged at all, `status` counts in one scan.

use super::emit;
use super::ns::stat_prefer_dir;
use super::walk::TreeWalk;
use crate::output::escape;
use crate::paths;
use crate::{CliError, Context};
use dfs_client::DfsClient;
use dfs_common::wire::{ChunkInfo, Entry, EntryKind};
use futures_util::{stream, StreamExt, TryStreamExt};

/// Files whose chunk lists are read at the same time.
const CONCURRENT_FILES: usize = 16;

/// The chunks of one file, by health.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FileHealth {
    /// Its chunk slices.
    pub chunks: u64,
    /// Of those, the ones with no live copy.
    pub lost: u64,
    /// Of those, the ones with at least one live copy but fewer than the replication factor.
    pub under_replicated: u64,
}

impl FileHealth {
    fn count(&mut self, chunk: &ChunkInfo, replication: u32) {
        let live = chunk.replicas.iter().filter(|r| r.live).count();
        self.chunks += 1;
        if live == 0 {
            self.lost += 1;
        } else if live < replication as usize {
            self.under_replicated += 1;
        }
    }
}

/// What a whole check found.
#[derive(Debug, Default)]
struct Totals {
    files: u64,
    chunks: u64,
    lost_files: u64,
    under_replicated_files: u64,
}

/// `fsck [PATH]`: one line per damaged file, then a summary. Fails (exit status 1) when a
/// file has lost data; under-replicated files alone are being repaired and do not fail it.
pub async fn fsck(ctx: &mut Context, path: Option<&str>) -> Result<(), CliError> {
    let client = ctx.client()?;
    let path = ctx.resolve(path.unwrap_or("."))?;
    let replication = client.status().await?.replication;
    let mut totals = Totals::default();
    let root = match path.as_str() {
        "/" => None,
        _ => Some(
            stat_prefer_dir(&client, &path)
                .await
                .map_err(CliError::at(&path))?,
        ),
    };
    match root {
        Some(entry) if entry.kind == EntryKind::File => {
            let health = file_health(&client, &path, replication).await?;
            report(&mut totals, &path, health)?;
        }
        _ => walk(&client, &paths::dir_form(&path), replication, &mut totals).await?,
    }
    let summary = format!(
        "checked {} file(s), {} chunk(s): {} with lost data, {} under-replicated\n",
        totals.files, totals.chunks, totals.lost_files, totals.under_replicated_files
    );
    emit(&summary)?;
    match totals.lost_files {
        0 => Ok(()),
        n => Err(CliError::Damaged(format!(
            "{n} file(s) below {} have lost data",
            escape(paths::trim_slash(&path))
        ))),
    }
}

/// Checks every file below `dir` (ending in `/`), depth first, a `list` page at a time.
async fn walk(
    client: &DfsClient,
    dir: &str,
    replication: u32,
    totals: &mut Totals,
) -> Result<(), CliError> {
    let mut walk = TreeWalk::new(dir);
    while let Some((dir, entries)) = walk.next_page(client).await? {
        // A directory object `x/` can hold data too.
        let with_data: Vec<String> = entries
            .iter()
            .filter(|entry| has_data(entry))
            .map(|entry| paths::join(&dir, &entry.name))
            .collect();
        let checked: Vec<(String, FileHealth)> = stream::iter(with_data)
            .map(|path| async move {
                let health = file_health(client, &path, replication).await?;
                Ok::<_, CliError>((path, health))
            })
            .buffered(CONCURRENT_FILES)
            .try_collect()
            .await?;
        for (path, health) in checked {
            report(totals, &path, health)?;
        }
    }
    Ok(())
}

fn has_data(entry: &Entry) -> bool {
    entry.kind == EntryKind::File || entry.size > 0
}

/// Reads the chunk list of the file at `path`, page by page. A file deleted meanwhile counts
/// as healthy: it no longer holds data to lose.
async fn file_health(
    client: &DfsClient,
    path: &str,
    replication: u32,
) -> Result<FileHealth, CliError> {
    let mut health = FileHealth::default();
    let mut from = 0;
    loop {
        let page = match client.stat_chunks(path, from, u64::MAX).await {
            Ok(page) => page,
            Err(err) if err.code == dfs_common::ErrorCode::NotFound => return Ok(health),
            Err(err) => return Err(CliError::at(path)(err)),
        };
        for chunk in &page.chunks {
            health.count(chunk, replication);
        }
        match page.chunks_next {
            Some(next) if next > from => from = next,
            _ => return Ok(health),
        }
    }
}

/// Prints the line of a damaged file and adds the file to the totals.
fn report(totals: &mut Totals, path: &str, health: FileHealth) -> Result<(), CliError> {
    totals.files += 1;
    totals.chunks += health.chunks;
    match line(path, health) {
        Some(line) => {
            if health.lost > 0 {
                totals.lost_files += 1;
            } else {
                totals.under_replicated_files += 1;
            }
            emit(&line)
        }
        None => Ok(()),
    }
}

/// `LOST   PATH  2 of 5 chunk(s) have no live copy` or `UNDER  PATH  1 of 5 chunk(s) ...`;
/// nothing for a healthy file.
pub fn line(path: &str, health: FileHealth) -> Option<String> {
    let path = escape(path);
    let total = health.chunks;
    if health.lost > 0 {
        let mut line = format!(
            "LOST   {path}  {} of {total} chunk(s) have no live copy",
            health.lost
        );
        if health.under_replicated > 0 {
            line.push_str(&format!(
                ", {} more under-replicated",
                health.under_replicated
            ));
        }
        Some(line + "\n")
    } else if health.under_replicated > 0 {
        Some(format!(
            "UNDER  {path}  {} of {total} chunk(s) under-replicated (being repaired)\n",
            health.under_replicated
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::wire::Replica;
    use dfs_common::{ChunkId, NodeId};

    fn chunk(live: &[bool]) -> ChunkInfo {
        ChunkInfo {
            id: ChunkId(1),
            offset: 0,
            len: 1,
            crc32c: 0,
            replicas: live
                .iter()
                .enumerate()
                .map(|(i, live)| Replica {
                    node: NodeId(i as u64 + 1),
                    addr: String::new(),
                    live: *live,
                })
                .collect(),
            chunk_offset: 0,
            chunk_len: 0,
        }
    }

    #[test]
    fn chunks_are_counted_by_their_live_copies() {
        let mut health = FileHealth::default();
        for live in [&[true, true][..], &[true, false], &[false, false], &[]] {
            health.count(&chunk(live), 2);
        }
        assert_eq!(
            health,
            FileHealth {
                chunks: 4,
                lost: 2,
                under_replicated: 1,
            }
        );
        assert_eq!(
            line("/b/k", health).unwrap(),
            "LOST   /b/k  2 of 4 chunk(s) have no live copy, 1 more under-replicated\n"
        );
        let under = FileHealth { lost: 0, ..health };
        assert_eq!(
            line("/b/k", under).unwrap(),
            "UNDER  /b/k  1 of 4 chunk(s) under-replicated (being repaired)\n"
        );
        let healthy = FileHealth {
            chunks: 3,
            ..FileHealth::default()
        };
        assert_eq!(line("/b/k", healthy), None);
    }
}
