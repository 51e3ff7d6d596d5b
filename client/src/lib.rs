//! The dfs client library: talks to metad (namespace RPCs) and to the chunkds (chunk data).
//!
//! [`DfsClient`] is the one entry point, used by the `dfs` CLI and the S3 gateway. Writes go
//! through a [`FileWriter`] (cut into chunks, each sent to all its replicas in parallel, a
//! bounded number in flight, committed atomically at the end); reads through a
//! [`FileReader`] (a range streamed chunk by chunk from a live replica, failing over to the
//! next, with a small prefetch).

mod api;
mod chunker;
mod etag;
mod read;
mod retry;
mod upload;
mod write;

pub use api::{Buckets, Keys, Nodes, Uploads};
pub use chunker::chunk_count;
pub use etag::{etag_of, format_etag};
pub use read::{plan_range, stored_range, FileReader, Piece, StoredRange};
pub use retry::{may_retry, RetryPolicy};
pub use write::{CreateOptions, FileWriter, FinishOptions, FinishPartOptions};

use dfs_common::auth::ClusterSecret;
use dfs_common::http::InternalClient;
use dfs_common::metad_group::{call_group, MetadGroup};
use dfs_common::names::ObjectPath;
use dfs_common::wire::{
    BeginPartWriteReq, BeginWriteReq, CopyReq, DeleteReq, Entry, EntryKind, ListReq, ListResp,
    MkdirReq, RenameReq, Rpc, StatReq, StatResp, StatusReq, StatusResp, WriteSession,
};
use dfs_common::{ErrorCode, ErrorDetail, RpcError};
use std::sync::Arc;

/// Largest page metad returns for one `list` call.
pub const MAX_LIST_PAGE: u32 = 1000;

/// A handle on a dfs cluster. Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct DfsClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: InternalClient,
    metad: Arc<MetadGroup>,
    retry: RetryPolicy,
}

impl DfsClient {
    /// A client of the cluster whose metad group is `metad` (`host:port`, or the members'
    /// addresses separated by commas: any member is a first contact, and requests follow the
    /// leader), signing its requests with `secret`. Connects lazily: nothing is sent before
    /// the first call. Check a list a person typed with [`MetadGroup::parse`] first: one that
    /// does not parse is taken as a single address.
    pub fn new(metad: impl Into<String>, secret: ClusterSecret) -> Self {
        DfsClient {
            inner: Arc::new(Inner {
                http: InternalClient::new(secret),
                metad: Arc::new(MetadGroup::parse_or_single(&metad.into())),
                retry: RetryPolicy::default(),
            }),
        }
    }

    /// The same client with another retry policy (the default rides out a metad restart).
    pub fn with_retry_policy(self, retry: RetryPolicy) -> Self {
        DfsClient {
            inner: Arc::new(Inner {
                http: self.inner.http.clone(),
                metad: Arc::clone(&self.inner.metad),
                retry,
            }),
        }
    }

    /// The metad group: its members and the one requests go to now.
    pub fn metad(&self) -> &MetadGroup {
        &self.inner.metad
    }

    /// The signed HTTP client, shared with the chunk pipelines.
    pub(crate) fn http(&self) -> &InternalClient {
        &self.inner.http
    }

    /// Calls a metad RPC under the retry policy (see [`retry`]). A transport failure names
    /// metad, so that a person reading "cannot reach metad at ..." knows which daemon is
    /// missing. Only the library calls RPCs directly; users have the typed methods.
    pub(crate) async fn call<R: Rpc>(&self, req: &R) -> Result<R::Response, RpcError> {
        self.call_tracked(req).await.map_err(|(err, _)| err)
    }

    /// Like [`call`](Self::call); on failure also says whether an earlier attempt got no
    /// answer, so that it may have been done (what a token call's caller must check).
    pub(crate) async fn call_tracked<R: Rpc>(
        &self,
        req: &R,
    ) -> Result<R::Response, (RpcError, bool)> {
        let group = &self.inner.metad;
        let policy = &self.inner.retry;
        let start = tokio::time::Instant::now();
        let mut maybe_done = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let err = match call_group(&self.inner.http, group, req).await {
                Ok(resp) => return Ok(resp),
                Err(err) => err,
            };
            let wait = policy.backoff(attempt);
            let deadline = match err.detail {
                ErrorDetail::NoQuorum => policy.no_quorum_grace.min(policy.deadline),
                _ => policy.deadline,
            };
            if attempt >= policy.max_attempts
                || !retry::may_retry(&err, R::REPEAT)
                || start.elapsed() + wait > deadline
            {
                return Err((name_metad(err, group), maybe_done));
            }
            maybe_done |= err.detail == ErrorDetail::NoAnswer;
            if let Some(notify) = policy.on_retry {
                notify(attempt, &err);
            }
            tracing::debug!(
                rpc = R::METHOD,
                attempt,
                wait_ms = wait.as_millis() as u64,
                error = %err,
                "metad call failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// The entry at `path` (file or directory).
    pub async fn stat(&self, path: &str) -> Result<Entry, RpcError> {
        let resp = self.call(&StatReq::entry(path.parse()?)).await?;
        Ok(resp.entry)
    }

    /// The entry at `path` and, for a file, the page of its chunks (with their replicas) that
    /// covers bytes `[from, until)`, or starts it when the range spans more than one page
    /// (`chunks_next` then says where the next page starts).
    pub async fn stat_chunks(
        &self,
        path: &str,
        from: u64,
        until: u64,
    ) -> Result<StatResp, RpcError> {
        self.call(&StatReq::chunk_page(path.parse()?, from, until))
            .await
    }

    /// One page of the directory at `path`: at most `limit` entries (metad caps it at
    /// [`MAX_LIST_PAGE`]) whose names sort after `start_after`, in key order.
    pub async fn list(
        &self,
        path: &str,
        start_after: Option<String>,
        limit: u32,
    ) -> Result<ListResp, RpcError> {
        self.call(&ListReq {
            path: path.parse()?,
            start_after,
            limit,
        })
        .await
    }

    /// Every entry of the directory at `path`, paging through as needed. Holds the whole
    /// listing in memory: prefer [`list`](Self::list) for directories that may be huge.
    pub async fn list_all(&self, path: &str) -> Result<Vec<Entry>, RpcError> {
        let mut all = Vec::new();
        let mut start_after = None;
        loop {
            let page = self.list(path, start_after, MAX_LIST_PAGE).await?;
            let last = page.entries.last().map(|e| e.name.clone());
            all.extend(page.entries);
            match last {
                Some(name) if page.truncated => start_after = Some(name),
                // An empty page that claims more would loop forever: stop there.
                _ => return Ok(all),
            }
        }
    }

    /// Creates the directory `path`; with `parents`, creates missing parents too and succeeds
    /// when it already exists as a directory.
    pub async fn mkdir(&self, path: &str, parents: bool) -> Result<Entry, RpcError> {
        self.call(&MkdirReq {
            path: path.parse()?,
            parents,
            object: None,
        })
        .await
    }

    /// Deletes a file, or a directory (with everything below it when `recursive`).
    pub async fn delete(&self, path: &str, recursive: bool) -> Result<(), RpcError> {
        self.call(&DeleteReq {
            path: path.parse()?,
            recursive,
            object: false,
        })
        .await
        .map(|_| ())
    }

    /// Renames a file or a whole directory atomically; a file at `dst` is replaced.
    pub async fn rename(&self, src: &str, dst: &str) -> Result<(), RpcError> {
        self.call(&RenameReq {
            src: src.parse()?,
            dst: dst.parse()?,
        })
        .await
        .map(|_| ())
    }

    /// Deletes as `req` says (an S3 delete of an object names `object: true`).
    pub async fn delete_with(&self, req: &DeleteReq) -> Result<(), RpcError> {
        self.call(req).await.map(|_| ())
    }

    /// Copies as `req` says (new metadata, preconditions on source and destination).
    pub async fn copy_with(&self, req: &CopyReq) -> Result<Entry, RpcError> {
        self.call(req).await
    }

    /// Copies a file; the copy shares the source's chunks, so no data moves.
    pub async fn copy(&self, src: &str, dst: &str) -> Result<Entry, RpcError> {
        self.call(&CopyReq {
            src: src.parse()?,
            dst: dst.parse()?,
            replace_meta: None,
            if_match: None,
            if_none_match: false,
            src_if_match: None,
        })
        .await
    }

    /// The cluster overview: nodes, replication, chunk and queue counts.
    pub async fn status(&self) -> Result<StatusResp, RpcError> {
        self.call(&StatusReq {}).await
    }

    /// Starts writing the file `path` (for a path ending in `/`, the payload of the directory
    /// object `x/`). Nothing is visible until [`FileWriter::finish`].
    pub async fn create(&self, path: &str, opts: CreateOptions) -> Result<FileWriter, RpcError> {
        let open = self
            .call(&BeginWriteReq {
                path: path.parse()?,
            })
            .await?;
        self.writer(path, open, opts).await
    }

    /// Starts writing part `part_number` of the multipart upload `upload_id` of the object
    /// `path` (`/bucket/key`; metad answers `NotFound` when the upload is not that object's).
    /// The part is stored by [`FileWriter::finish_part`]; nothing is visible before the
    /// upload is completed. Other multipart calls go through [`call`](Self::call) with the
    /// requests of `dfs_common::wire` (`CreateUploadReq`, `CopyPartReq`, ...).
    pub async fn create_part(
        &self,
        path: &ObjectPath,
        upload_id: &str,
        part_number: u32,
        opts: CreateOptions,
    ) -> Result<FileWriter, RpcError> {
        let open = self
            .call(&BeginPartWriteReq {
                upload_id: upload_id.to_owned(),
                part_number,
                path: Some(path.clone()),
            })
            .await?;
        self.writer(&path.to_string(), open, opts).await
    }

    /// A writer on a freshly opened write session.
    async fn writer(
        &self,
        path: &str,
        open: WriteSession,
        opts: CreateOptions,
    ) -> Result<FileWriter, RpcError> {
        if open.chunk_size == 0 {
            let _ = self
                .call(&dfs_common::wire::AbortReq {
                    session: open.session,
                })
                .await;
            return Err(RpcError::internal(format!(
                "metad answered a chunk size of 0 for {path}"
            )));
        }
        Ok(FileWriter::new(
            self.clone(),
            path.to_owned(),
            open.session,
            open.chunk_size,
            opts,
        ))
    }

    /// Opens the file `path` for reading: fetches its entry and the first page of its chunk
    /// list. A path ending in `/` opens the payload of the directory object `x/` (an explicit
    /// directory below a bucket); any other directory is `IsADirectory`.
    pub async fn open(&self, path: &str) -> Result<FileReader, RpcError> {
        self.open_at(path, 0, u64::MAX).await
    }

    /// Opens the file `path` for reading bytes `[from, until)` (or more): as
    /// [`open`](Self::open), with the page of the chunk list that covers that range, so that a
    /// read far into a large file asks metad for no other page.
    pub async fn open_at(&self, path: &str, from: u64, until: u64) -> Result<FileReader, RpcError> {
        let stat = self.stat_chunks(path, from, until).await?;
        if stat.entry.kind == EntryKind::Dir && !stat.entry.is_object(path.ends_with('/')) {
            return Err(RpcError::new(
                ErrorCode::IsADirectory,
                format!("{path} is a directory"),
            ));
        }
        Ok(FileReader::new(self.clone(), path.to_owned(), stat))
    }
}

/// Says that a transport failure (the request never reached metad, or no answer came) was
/// metad's: "cannot reach ADDR: why" reads "cannot reach metad at ADDR: why", so that a person
/// knows which daemon is missing. Which errors are reworded is decided by their detail; any
/// other error is returned as it is.
fn name_metad(mut err: RpcError, group: &MetadGroup) -> RpcError {
    if matches!(err.detail, ErrorDetail::Unreachable | ErrorDetail::NoAnswer)
        && group.members().len() == 1
    {
        let addr = &group.members()[0];
        let prefix = format!("cannot reach {addr}");
        err.message = match err.message.strip_prefix(&prefix) {
            Some(rest) => format!("cannot reach metad at {addr}{rest}"),
            None => format!("metad at {addr}: {}", err.message),
        };
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> ClusterSecret {
        ClusterSecret::new("0123456789abcdef0123").unwrap()
    }

    #[test]
    fn transport_errors_name_metad() {
        let err = RpcError::detailed(
            ErrorDetail::Unreachable,
            "cannot reach 127.0.0.1:7700: connection refused",
        );
        let one = MetadGroup::parse("127.0.0.1:7700").unwrap();
        assert_eq!(
            name_metad(err.clone(), &one).message,
            "cannot reach metad at 127.0.0.1:7700: connection refused"
        );
        let other = RpcError::not_found("no such file or directory: /b/x");
        assert_eq!(name_metad(other.clone(), &one), other);
        // With several members, call_group's message already names the group.
        let three = MetadGroup::parse("a:1,b:2,c:3").unwrap();
        assert_eq!(name_metad(err.clone(), &three), err);
    }

    #[tokio::test]
    async fn unreachable_metad_is_a_clear_unavailable_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        // A short deadline: the retries happen, and the error that ends them is the one shown.
        let client = DfsClient::new(addr.clone(), secret()).with_retry_policy(RetryPolicy {
            deadline: std::time::Duration::from_millis(300),
            ..RetryPolicy::default()
        });
        let err = client.stat("/b").await.unwrap_err();
        assert_eq!(err.code, ErrorCode::Unavailable);
        assert!(
            err.message
                .starts_with(&format!("cannot reach metad at {addr}")),
            "{}",
            err.message
        );
    }
}
