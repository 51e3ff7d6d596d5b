//! The write pipeline: a [`FileWriter`] cuts what it is given into chunks, uploads a bounded
//! number of them at once, each to all its replicas in parallel, and commits the file at metad
//! when finished. Nothing is visible to readers before the commit.

use crate::chunker::Chunker;
use crate::etag::Md5Task;
use crate::upload::{upload_chunk, SessionCtx};
use crate::DfsClient;
use bytes::Bytes;
use dfs_common::checksum::Checksum;
use dfs_common::request_id;
use dfs_common::wire::{AbortReq, CommitPartReq, CommitReq, Entry, PartInfo, Rpc, WrittenChunk};
use dfs_common::{ErrorDetail, RpcError, SessionId};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// How a file is written.
#[derive(Clone, Debug)]
pub struct CreateOptions {
    /// Compute the ETag (quoted hex MD5) of the data as it is written, on a thread of its own.
    /// The gateway, which computes the MD5 itself while checking the request, turns this off
    /// and passes its ETag to [`FileWriter::finish`]. Default: on.
    pub compute_etag: bool,
    /// How many chunks may be uploading at once; memory use is about this many chunks.
    /// Default: 4.
    pub max_chunks_in_flight: usize,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            compute_etag: true,
            max_chunks_in_flight: 4,
        }
    }
}

/// What is stored with the file at commit.
#[derive(Clone, Debug, Default)]
pub struct FinishOptions {
    /// The ETag to store when the writer did not compute one (`compute_etag` off); ignored
    /// otherwise. `None` stores an empty ETag.
    pub etag: Option<String>,
    /// Content type to store.
    pub content_type: Option<String>,
    /// User metadata and stored headers.
    pub meta: Vec<(String, String)>,
    /// The flexible checksum of the data, as verified by the caller.
    pub checksum: Option<Checksum>,
    /// Commit only if no file exists at the path (S3 `If-None-Match: *`), checked atomically.
    pub if_none_match: bool,
    /// Commit only if the existing file has this ETag (S3 `If-Match`), checked atomically.
    pub if_match: Option<String>,
}

/// What a part of a multipart upload is stored with at commit.
#[derive(Clone, Debug, Default)]
pub struct FinishPartOptions {
    /// The part's ETag (quoted hex MD5 of its bytes) when the writer did not compute one
    /// (`compute_etag` off); ignored otherwise. metad refuses a part whose ETag is no MD5.
    pub etag: Option<String>,
    /// The part's flexible checksum (of its bytes), as verified by the caller.
    pub checksum: Option<Checksum>,
}

/// A file (or a part of a multipart upload, made by `DfsClient::create_part`) being written.
/// Call [`finish`](Self::finish) (a part: [`finish_part`](Self::finish_part)) to commit it or
/// [`abort`](Self::abort) to give it up; dropping it without either aborts the session in
/// the background (best effort; metad's reaper collects what is left in any case).
#[derive(Debug)]
pub struct FileWriter {
    ctx: Arc<SessionCtx>,
    chunk_size: u64,
    chunker: Chunker,
    md5: Option<Md5Task>,
    /// One permit per chunk allowed in flight; closed by the first upload that fails, which
    /// wakes a writer waiting for room.
    window: Arc<Semaphore>,
    /// The upload of each chunk, in file order.
    uploads: Vec<JoinHandle<Result<WrittenChunk, RpcError>>>,
    /// The first upload failure, set by the upload task.
    failure: Arc<Mutex<Option<RpcError>>>,
    /// Set once the session was aborted after an error: every later call returns it.
    failed: Option<RpcError>,
    written: u64,
    /// Committed or aborted: nothing left to clean up on drop.
    done: bool,
}

impl FileWriter {
    pub(crate) fn new(
        client: DfsClient,
        path: String,
        session: SessionId,
        chunk_size: u64,
        opts: CreateOptions,
    ) -> Self {
        let in_flight = opts.max_chunks_in_flight.max(1);
        // Two chunks of look-ahead keep the hasher busy; more would only hold memory.
        let md5 = opts.compute_etag.then(|| Md5Task::start(in_flight.min(2)));
        FileWriter {
            ctx: Arc::new(SessionCtx {
                client,
                session,
                path,
                bad_nodes: Mutex::default(),
            }),
            chunk_size,
            chunker: Chunker::new(usize::try_from(chunk_size).unwrap_or(usize::MAX)),
            md5,
            window: Arc::new(Semaphore::new(in_flight)),
            uploads: Vec::new(),
            failure: Arc::default(),
            failed: None,
            written: 0,
            done: false,
        }
    }

    /// Appends `data` (any size). Returns once the data is buffered or on its way; waits while
    /// `max_chunks_in_flight` chunks are uploading. On error the session is aborted and every
    /// later call fails with the same error.
    pub async fn write(&mut self, data: Bytes) -> Result<(), RpcError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        self.written += data.len() as u64;
        for chunk in self.chunker.push(data) {
            if let Err(err) = self.submit(chunk).await {
                return Err(self.fail(err).await);
            }
        }
        Ok(())
    }

    /// Bytes accepted by [`write`](Self::write) so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The chunk size of this file: writes of whole chunks avoid a copy.
    pub fn chunk_size(&self) -> u64 {
        self.chunk_size
    }

    /// The path the file will have once committed.
    pub fn path(&self) -> &str {
        &self.ctx.path
    }

    /// Uploads the last chunk, waits for every chunk, and commits the file atomically
    /// (replacing any file at its path). On error the session is aborted.
    pub async fn finish(mut self, opts: FinishOptions) -> Result<Entry, RpcError> {
        let FinishOptions {
            etag,
            content_type,
            meta,
            checksum,
            if_none_match,
            if_match,
        } = opts;
        self.commit_with(
            etag,
            |session, size, etag, chunks| CommitReq {
                session,
                size,
                etag,
                content_type,
                meta,
                checksum,
                chunks,
                if_none_match,
                if_match,
            },
            |client, path, size, etag| async move {
                // Size and ETag (the MD5 of the bytes) identify this write's content.
                let entry = client.stat(&path).await.ok()?;
                (entry.size == size && entry.etag == etag).then_some(entry)
            },
        )
        .await
    }

    /// Like [`finish`](Self::finish), for a writer made by `DfsClient::create_part`: stores
    /// the part in its upload (replacing any part of the same number). On error the session
    /// is aborted.
    pub async fn finish_part(mut self, opts: FinishPartOptions) -> Result<PartInfo, RpcError> {
        let FinishPartOptions { etag, checksum } = opts;
        self.commit_with(
            etag,
            |session, size, etag, chunks| CommitPartReq {
                session,
                size,
                etag,
                checksum,
                chunks,
            },
            // Not confirmed: the client would send the part again anyway (S3 clients retry
            // UploadPart), which replaces it.
            |_, _, _, _| async { None },
        )
        .await
    }

    /// Gives the file up: stops the uploads and aborts the session at metad.
    pub async fn abort(mut self) {
        if !self.done {
            self.abort_session().await;
        }
    }

    /// Waits for every chunk, then sends the commit that `build` makes of the session, the
    /// size, the ETag and the chunks. On error the session is aborted.
    ///
    /// The commit is retried like any token call. When an attempt got no answer and a later
    /// one finds the session gone, the first may have committed: `confirm` then looks at
    /// what is stored (given the client, path, size and ETag) and returns it if it is this
    /// write's, so that a commit done just before a metad restart is not reported as failed.
    async fn commit_with<R: Rpc, C, F>(
        &mut self,
        etag: Option<String>,
        build: impl FnOnce(SessionId, u64, String, Vec<WrittenChunk>) -> R,
        confirm: C,
    ) -> Result<R::Response, RpcError>
    where
        C: FnOnce(crate::DfsClient, String, u64, String) -> F,
        F: std::future::Future<Output = Option<R::Response>>,
    {
        let result = match self.drain(etag).await {
            Ok((etag, chunks)) => {
                let req = build(self.ctx.session, self.written, etag.clone(), chunks);
                match self.ctx.client.call_tracked(&req).await {
                    Ok(resp) => Ok(resp),
                    Err((err, true)) if err.detail == ErrorDetail::NoSuchSession => {
                        let client = self.ctx.client.clone();
                        let path = self.ctx.path.clone();
                        match confirm(client, path, self.written, etag).await {
                            Some(resp) => Ok(resp),
                            None => Err(err),
                        }
                    }
                    Err((err, _)) => Err(err),
                }
            }
            Err(err) => Err(err),
        };
        match result {
            Ok(resp) => {
                self.done = true;
                Ok(resp)
            }
            Err(err) => Err(self.fail(err).await),
        }
    }

    /// Uploads the last chunk and waits for every upload. Returns the ETag (computed, or
    /// `given`, or empty) and the chunks in order.
    async fn drain(
        &mut self,
        given: Option<String>,
    ) -> Result<(String, Vec<WrittenChunk>), RpcError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if let Some(last) = self.chunker.finish() {
            self.submit(last).await?;
        }
        let etag = match self.md5.take() {
            Some(task) => task.finish().await?,
            None => given.unwrap_or_default(),
        };
        let mut chunks = Vec::with_capacity(self.uploads.len());
        for upload in std::mem::take(&mut self.uploads) {
            let chunk = upload.await.map_err(|e| {
                RpcError::internal(format!(
                    "the upload of a chunk of {} failed: {e}",
                    self.ctx.path
                ))
            })??;
            chunks.push(chunk);
        }
        let total: u64 = chunks.iter().map(|c| c.len).sum();
        if total != self.written {
            return Err(RpcError::internal(format!(
                "{}: chunks hold {total} bytes but {} were written",
                self.ctx.path, self.written
            )));
        }
        Ok((etag, chunks))
    }

    /// Feeds the hasher and starts the upload of one chunk once the window has room.
    async fn submit(&mut self, chunk: Bytes) -> Result<(), RpcError> {
        if let Some(err) = self.first_failure() {
            return Err(err);
        }
        if let Some(md5) = &self.md5 {
            md5.feed(chunk.clone()).await?;
        }
        let permit = match self.window.clone().acquire_owned().await {
            Ok(permit) => permit,
            // Closed by a failed upload, which left its error.
            Err(_) => {
                return Err(self.first_failure().unwrap_or_else(|| {
                    RpcError::internal(format!("a chunk upload of {} failed", self.ctx.path))
                }))
            }
        };
        let index = self.uploads.len() as u64;
        let ctx = self.ctx.clone();
        let failure = self.failure.clone();
        let window = self.window.clone();
        // Task-locals do not cross `spawn`: carry the request id over (see request_id).
        self.uploads.push(request_id::spawn(async move {
            let result = upload_chunk(ctx, index, chunk).await;
            drop(permit);
            if let Err(err) = &result {
                if let Ok(mut slot) = failure.lock() {
                    slot.get_or_insert_with(|| err.clone());
                }
                window.close();
            }
            result
        }));
        Ok(())
    }

    fn first_failure(&self) -> Option<RpcError> {
        match self.failure.lock() {
            Ok(slot) => slot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Aborts the session after `err` and remembers it for later calls.
    async fn fail(&mut self, err: RpcError) -> RpcError {
        if !self.done {
            self.abort_session().await;
        }
        self.failed = Some(err.clone());
        err
    }

    async fn abort_session(&mut self) {
        self.done = true;
        for upload in &self.uploads {
            upload.abort();
        }
        self.uploads.clear();
        self.md5 = None;
        let req = AbortReq {
            session: self.ctx.session,
        };
        if let Err(e) = self.ctx.client.call(&req).await {
            // The reaper collects sessions nobody aborted; this only makes it sooner.
            tracing::debug!(
                "cannot abort write session {} of {}: {e}",
                self.ctx.session,
                self.ctx.path
            );
        }
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for upload in &self.uploads {
            upload.abort();
        }
        // Outside a runtime nothing can be sent; the reaper will collect the session.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let client = self.ctx.client.clone();
            let req = AbortReq {
                session: self.ctx.session,
            };
            runtime.spawn(request_id::in_current(async move {
                if let Err(e) = client.call(&req).await {
                    tracing::debug!("cannot abort dropped write session {}: {e}", req.session);
                }
            }));
        }
    }
}
