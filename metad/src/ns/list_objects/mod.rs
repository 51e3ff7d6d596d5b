//! S3 ListObjects, one page per call, from one snapshot.
//!
//! Inside one directory, entries sort exactly as the full keys below them (a directory's name
//! ends in `/`), so a depth-first walk emits keys in S3 order. The walk starts at the deepest
//! directory named by the complete components of the prefix, scans only the entries starting
//! with its partial last component, and seeks rather than scans wherever it can:
//! - a resume point (`start_after`) is reached by descending along its components;
//! - a common prefix is reported once, and everything under it is skipped by one seek (a whole
//!   subdirectory for delimiter `/`; for other delimiters, the entries of the directory whose
//!   names start with the grouped part).
//!
//! So a page costs about (page size + 1) × depth RocksDB seeks, whatever the bucket holds.

use super::{bucket_by_name, dir_object, get_dentry, Namespace};
use crate::store::values::{Dentry, Dir, File, Value};
use crate::store::{keys, Cf, Reader, StoreError, View};
use dfs_common::wire::{ListObjectsReq, ListObjectsResp, ObjectEntry, MAX_LIST_KEYS};
use dfs_common::{InodeId, RpcError};

/// One item of a page.
#[derive(Debug)]
enum Item {
    Object(ObjectEntry),
    Prefix(String),
}

impl Item {
    fn key(&self) -> &str {
        match self {
            Item::Object(o) => &o.key,
            Item::Prefix(p) => p,
        }
    }
}

/// Where the listing resumes: after `key` and, with `past_prefix`, after every key starting
/// with `key` (a common prefix already reported). Always starts with the listing's prefix.
struct Lower {
    key: String,
    past_prefix: bool,
}

/// Whether the walk goes on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

/// What the scan of a directory does after one entry.
enum Step {
    Next,
    Stop,
    /// Skip the entries whose names start with this (a common prefix ending inside the name).
    SkipPast(String),
}

struct Lister<'a> {
    prefix: &'a str,
    delimiter: Option<&'a str>,
    /// One more item than the page holds, to know whether it is truncated.
    want: usize,
    items: Vec<Item>,
    /// Directory entries looked at.
    visited: usize,
}

impl Namespace {
    /// One page of S3 ListObjects in `req.bucket`.
    pub fn list_objects(&self, req: &ListObjectsReq) -> Result<ListObjectsResp, RpcError> {
        self.list_objects_counted(req).map(|(resp, _)| resp)
    }

    /// A page and the number of directory entries the walk looked at (for tests of its cost).
    pub(super) fn list_objects_counted(
        &self,
        req: &ListObjectsReq,
    ) -> Result<(ListObjectsResp, usize), RpcError> {
        let view = self.store.view();
        let bucket = bucket_by_name(&view, &req.bucket)?;
        let max = req.max_keys.min(MAX_LIST_KEYS) as usize;
        let delimiter = req.delimiter.as_deref().filter(|d| !d.is_empty());
        let mut lister = Lister {
            prefix: &req.prefix,
            delimiter,
            want: max + 1,
            items: Vec::new(),
            visited: 0,
        };
        if max > 0 {
            lister.run(&view, &bucket, req.start_after.as_deref())?;
        }
        let truncated = lister.items.len() > max;
        lister.items.truncate(max);
        let next_start_after = if truncated {
            lister.items.last().map(|i| i.key().to_owned())
        } else {
            None
        };
        let mut resp = ListObjectsResp {
            objects: Vec::new(),
            common_prefixes: Vec::new(),
            truncated,
            next_start_after,
        };
        for item in lister.items {
            match item {
                Item::Object(o) => resp.objects.push(o),
                Item::Prefix(p) => resp.common_prefixes.push(p),
            }
        }
        Ok((resp, lister.visited))
    }
}

impl Lister<'_> {
    fn run(
        &mut self,
        view: &View<'_>,
        bucket: &Dir,
        start_after: Option<&str>,
    ) -> Result<(), StoreError> {
        let lower = match start_after {
            None => None,
            Some(after) if after.starts_with(self.prefix) => Some(self.lower_bound(after)),
            // Before every key with the prefix: no effect.
            Some(after) if after < self.prefix => None,
            // After every key with the prefix: nothing to list.
            Some(_) => return Ok(()),
        };
        // Walk down the complete components of the prefix.
        let (complete, partial) = match self.prefix.rfind('/') {
            Some(i) => self.prefix.split_at(i + 1),
            None => ("", self.prefix),
        };
        let mut dir = bucket.inode;
        let mut start: Option<(InodeId, Dir)> = None;
        if let Some(components) = complete.strip_suffix('/') {
            for name in components.split('/') {
                match get_dentry(view, dir, &keys::entry_name(name, true))? {
                    Some(Dentry::Dir(sub)) => {
                        let parent = dir;
                        dir = sub.inode;
                        start = Some((parent, sub));
                    }
                    // No such directory: no key has this prefix.
                    _ => return Ok(()),
                }
            }
        }
        // The prefix may be a directory's key itself (`a/`): its object comes first.
        if let (Some((parent, sub)), "", None) = (&start, partial, &lower) {
            if let Some(object) = dir_object(*parent, sub) {
                if self.push(Item::Object(dir_entry(complete, sub, &object))) == Flow::Stop {
                    return Ok(());
                }
            }
        }
        self.walk(view, dir, complete, partial, lower.as_ref())?;
        Ok(())
    }

    /// The resume point for `after` (which starts with the prefix): with a delimiter after the
    /// prefix, the whole common prefix it falls in is done.
    fn lower_bound(&self, after: &str) -> Lower {
        match self.common_prefix(after) {
            Some(cp) => Lower {
                key: cp.to_owned(),
                past_prefix: true,
            },
            None => Lower {
                key: after.to_owned(),
                past_prefix: false,
            },
        }
    }

    /// The common prefix `key` (which starts with the prefix) rolls up into, if any.
    fn common_prefix<'k>(&self, key: &'k str) -> Option<&'k str> {
        let delimiter = self.delimiter?;
        let plen = self.prefix.len();
        let i = key.get(plen..)?.find(delimiter)?;
        key.get(..plen + i + delimiter.len())
    }

    fn push(&mut self, item: Item) -> Flow {
        let repeated = matches!((&item, self.items.last()),
            (Item::Prefix(p), Some(Item::Prefix(last))) if p == last);
        if !repeated {
            self.items.push(item);
        }
        if self.items.len() >= self.want {
            Flow::Stop
        } else {
            Flow::Go
        }
    }

    /// Lists the entries of directory `dir` (whose children's keys start with `base`) whose
    /// names start with `partial`, from `lower` on (`lower` starts with `base`).
    fn walk(
        &mut self,
        view: &View<'_>,
        dir: InodeId,
        base: &str,
        partial: &str,
        lower: Option<&Lower>,
    ) -> Result<Flow, StoreError> {
        let mut after = None;
        if let Some(lower) = lower {
            let rest = lower.key.get(base.len()..).unwrap_or_default();
            match rest.find('/') {
                Some(i) => {
                    // The resume point is inside subdirectory `child`: finish that first (unless
                    // the whole subdirectory is a reported prefix), then go on after it.
                    let (child, inside) = rest.split_at(i + 1);
                    if !(lower.past_prefix && inside.is_empty()) {
                        if let Some(Dentry::Dir(sub)) = get_dentry(view, dir, child)? {
                            let sub_base = format!("{base}{child}");
                            if self.walk(view, sub.inode, &sub_base, "", Some(lower))? == Flow::Stop
                            {
                                return Ok(Flow::Stop);
                            }
                        }
                    }
                    after = Some(keys::dentry(dir, child));
                }
                None => {
                    let mut key = keys::dentry(dir, rest);
                    if lower.past_prefix {
                        key.push(0xff);
                    }
                    after = Some(key);
                }
            }
        }
        let scan_prefix = keys::dentry(dir, partial);
        loop {
            let mut flow = Flow::Go;
            let mut resume = None;
            view.scan_raw(
                Cf::Dentry,
                &scan_prefix,
                after.as_deref(),
                &mut |key, value| {
                    let Some((_, name)) = keys::parse_dentry(key) else {
                        tracing::error!("list_objects: skipping malformed key {key:02x?}");
                        return Ok(true);
                    };
                    match self.entry(view, dir, base, &name, &Dentry::decode(value)?)? {
                        Step::Next => Ok(true),
                        Step::Stop => {
                            flow = Flow::Stop;
                            Ok(false)
                        }
                        Step::SkipPast(part) => {
                            let mut key = keys::dentry(dir, &part);
                            // No UTF-8 name contains the byte 0xff: this sorts after every name
                            // starting with `part` and before every other name after it.
                            key.push(0xff);
                            resume = Some(key);
                            Ok(false)
                        }
                    }
                },
            )?;
            match resume {
                Some(key) if flow == Flow::Go => after = Some(key),
                _ => return Ok(flow),
            }
        }
    }

    /// Handles one entry `name` of directory `dir`.
    fn entry(
        &mut self,
        view: &View<'_>,
        dir: InodeId,
        base: &str,
        name: &str,
        dentry: &Dentry,
    ) -> Result<Step, StoreError> {
        self.visited += 1;
        let key = format!("{base}{name}");
        if let Some(cp) = self.common_prefix(&key) {
            // The delimiter ends inside this entry's name (deeper occurrences were rolled up
            // by an ancestor, which then never descended here).
            let part = cp.get(base.len()..).unwrap_or_default().to_owned();
            let whole_dir = part == name && name.ends_with('/');
            if self.push(Item::Prefix(cp.to_owned())) == Flow::Stop {
                return Ok(Step::Stop);
            }
            return Ok(if whole_dir || part.is_empty() {
                Step::Next
            } else {
                Step::SkipPast(part)
            });
        }
        let flow = match dentry {
            Dentry::File(file) => self.push(Item::Object(file_entry(key, file))),
            Dentry::Dir(sub) => {
                let mut flow = Flow::Go;
                if let Some(object) = dir_object(dir, sub) {
                    flow = self.push(Item::Object(dir_entry(&key, sub, &object)));
                }
                if flow == Flow::Go {
                    flow = self.walk(view, sub.inode, &key, "", None)?;
                }
                flow
            }
        };
        Ok(match flow {
            Flow::Go => Step::Next,
            Flow::Stop => Step::Stop,
        })
    }
}

fn file_entry(key: String, file: &File) -> ObjectEntry {
    ObjectEntry {
        key,
        size: file.size,
        etag: file.etag.clone(),
        mtime_ms: file.mtime_ms,
        content_type: file.content_type.clone(),
    }
}

fn dir_entry(key: &str, dir: &Dir, object: &crate::store::values::DirObject) -> ObjectEntry {
    ObjectEntry {
        key: key.to_owned(),
        size: object.size,
        etag: object.etag.clone(),
        mtime_ms: dir.mtime_ms,
        content_type: object.content_type.clone(),
    }
}

#[cfg(test)]
mod tests;
