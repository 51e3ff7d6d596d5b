//! ListMultipartUploads: a bucket's open uploads in S3 order (key, then creation), one page per
//! call, from one snapshot.
//!
//! The `upload` rows of a bucket are keyed bucket ‖ key ‖ 0 ‖ id, which is that order already,
//! so a page is one scan from the markers on. A common prefix is reported once and everything
//! under it skipped by one seek. Uploads being completed in steps are listed (S3 counts them
//! in progress until the completion answers; they are marked). Completed uploads (kept a day
//! for repeated completions) and uploads being aborted (gone for clients) are passed over.

use crate::ns::{bucket_by_name, Namespace};
use crate::store::keys;
use crate::store::values::{Upload, UploadState, Value};
use crate::store::{Cf, Reader};
use dfs_common::wire::{ListUploadsReq, ListUploadsResp, UploadEntry, MAX_LIST_UPLOADS};
use dfs_common::RpcError;

/// One item of a page.
enum Item {
    Upload(UploadEntry),
    Prefix(String),
}

impl Namespace {
    /// One page of the open uploads of `req.bucket`.
    pub fn list_uploads(&self, req: &ListUploadsReq) -> Result<ListUploadsResp, RpcError> {
        let view = self.store.view();
        let bucket = bucket_by_name(&view, &req.bucket)?.inode;
        let max = req.max_uploads.min(MAX_LIST_UPLOADS) as usize;
        let delimiter = req.delimiter.as_deref().filter(|d| !d.is_empty());
        let prefix = req.prefix.as_str();
        let common_prefix = |key: &str| -> Option<String> {
            let rest = key.strip_prefix(prefix)?;
            let i = rest.find(delimiter?)?;
            key.get(..prefix.len() + i + delimiter?.len())
                .map(str::to_owned)
        };
        // Past every row whose key starts with `part` (no UTF-8 key holds the byte 0xff).
        let past = |part: &str| {
            let mut key = keys::upload_key_prefix(bucket, part);
            key.push(0xff);
            key
        };
        let mut after: Option<Vec<u8>> = match (&req.key_marker, &req.upload_id_marker) {
            (None, _) => None,
            (Some(marker), _) if common_prefix(marker).is_some() => {
                common_prefix(marker).map(|cp| past(&cp))
            }
            (Some(marker), Some(id)) if !id.is_empty() => Some(keys::upload(bucket, marker, id)),
            // After every upload of the marker's key: its rows continue with 0 ‖ id, any longer
            // key has a byte of at least 1 there.
            (Some(marker), _) => {
                let mut key = keys::upload_key_prefix(bucket, marker);
                key.push(1);
                Some(key)
            }
        };
        let scan_prefix = keys::upload_key_prefix(bucket, prefix);
        let mut items: Vec<Item> = Vec::new();
        while max > 0 && items.len() <= max {
            let mut resume = None;
            view.scan_raw(
                Cf::Upload,
                &scan_prefix,
                after.as_deref(),
                &mut |raw, value| {
                    let Some((_, key, id)) = keys::parse_upload(raw) else {
                        tracing::error!("list_uploads: skipping malformed key {raw:02x?}");
                        return Ok(true);
                    };
                    let upload = Upload::decode(value)?;
                    let completing = match upload.state {
                        UploadState::Open => false,
                        UploadState::Completing(_) => true,
                        UploadState::Completed(_) | UploadState::Aborting => return Ok(true),
                    };
                    if let Some(cp) = common_prefix(&key) {
                        resume = Some(past(&cp));
                        items.push(Item::Prefix(cp));
                        return Ok(false);
                    }
                    items.push(Item::Upload(UploadEntry {
                        key,
                        upload_id: id,
                        initiated_ms: upload.initiated_ms,
                        owner_key: upload.owner_key,
                        checksum_algorithm: upload.checksum_algorithm.map(Into::into),
                        checksum_type: upload.checksum_type.map(Into::into),
                        completing,
                    }));
                    Ok(items.len() <= max)
                },
            )?;
            match resume {
                Some(key) => after = Some(key),
                None => break,
            }
        }
        let truncated = items.len() > max;
        items.truncate(max);
        let mut resp = ListUploadsResp {
            uploads: Vec::new(),
            common_prefixes: Vec::new(),
            truncated,
            next_key_marker: None,
            next_upload_id_marker: None,
        };
        if truncated {
            match items.last() {
                Some(Item::Upload(u)) => {
                    resp.next_key_marker = Some(u.key.clone());
                    resp.next_upload_id_marker = Some(u.upload_id.clone());
                }
                Some(Item::Prefix(p)) => resp.next_key_marker = Some(p.clone()),
                None => {}
            }
        }
        for item in items {
            match item {
                Item::Upload(u) => resp.uploads.push(u),
                Item::Prefix(p) => resp.common_prefixes.push(p),
            }
        }
        Ok(resp)
    }
}

#[cfg(test)]
pub(super) mod tests;
