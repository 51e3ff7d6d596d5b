//! A depth-first walk of a directory tree, one `list` page at a time: what `du` (for a
//! top-level directory that is no bucket) and `fsck` go through. Memory holds one page and
//! the directories still to visit.

use crate::paths;
use crate::CliError;
use dfs_client::{DfsClient, MAX_LIST_PAGE};
use dfs_common::wire::{Entry, EntryKind};

/// The walk's position.
pub struct TreeWalk {
    /// Directories still to list (each ending in `/`).
    pending: Vec<String>,
    /// The directory being listed, and the last name of its previous page.
    current: Option<(String, Option<String>)>,
}

impl TreeWalk {
    /// A walk of the tree below `dir` (ending in `/`).
    pub fn new(dir: &str) -> TreeWalk {
        TreeWalk {
            pending: vec![dir.to_owned()],
            current: None,
        }
    }

    /// The next page: its directory and entries. The directories among the entries are
    /// visited later. `None` once the whole tree was listed.
    pub async fn next_page(
        &mut self,
        client: &DfsClient,
    ) -> Result<Option<(String, Vec<Entry>)>, CliError> {
        let (dir, start_after) = match self.current.take() {
            Some(position) => position,
            None => match self.pending.pop() {
                Some(dir) => (dir, None),
                None => return Ok(None),
            },
        };
        let page = client
            .list(&dir, start_after, MAX_LIST_PAGE)
            .await
            .map_err(CliError::at(&dir))?;
        for entry in &page.entries {
            if entry.kind == EntryKind::Dir {
                self.pending
                    .push(paths::dir_form(&paths::join(&dir, &entry.name)));
            }
        }
        if let Some(last) = page.entries.last().filter(|_| page.truncated) {
            self.current = Some((dir.clone(), Some(last.name.clone())));
        }
        Ok(Some((dir, page.entries)))
    }
}
