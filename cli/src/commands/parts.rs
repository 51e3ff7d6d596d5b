//! `put` of a file too large for one write session (more than `MAX_SESSION_CHUNKS` chunks), or
//! of any file with `--part-size`: a multipart upload of the file's parts, written one after
//! the other and completed into one object, whose ETag is S3's multipart ETag (`"...-N"`).
//! Nothing is visible before the completion; a failure or Ctrl-C aborts the upload.

use super::files::pump;
use super::{interrupted, ns};
use crate::output::format_size;
use crate::CliError;
use dfs_client::{CreateOptions, DfsClient, FinishPartOptions};
use dfs_common::names::ObjectPath;
use dfs_common::wire::{
    AbortUploadReq, CompleteUploadReq, CreateUploadReq, Entry, MAX_OBJECT_SLICES, MAX_PART_NUMBER,
    MAX_PART_SIZE, MAX_SESSION_CHUNKS, MIN_PART_SIZE,
};
use indicatif::ProgressBar;

/// Parts chosen for the user are at least this large: fewer commits per file, and every part
/// still far below the 5 GiB S3 allows.
const DEFAULT_PART_SIZE: u64 = 1 << 30;

/// How to upload a file of `size` bytes in chunks of `chunk_size`: `None` in one write
/// session, else as a multipart upload in parts of the returned size (`asked` by the user, or
/// chosen when the file is larger than one session may hold). A file that cannot be uploaded
/// at all is refused before any byte is sent.
pub(super) fn plan(size: u64, chunk_size: u64, asked: Option<u64>) -> Result<Option<u64>, String> {
    let chunk_size = chunk_size.max(1);
    let session_max = chunk_size.saturating_mul(MAX_SESSION_CHUNKS as u64);
    let part_max = MAX_PART_SIZE.min(session_max);
    let part_size = match asked {
        Some(asked) => asked,
        None if size <= session_max => return Ok(None),
        None => {
            let even = size.div_ceil(u64::from(MAX_PART_NUMBER));
            let part = even.max(DEFAULT_PART_SIZE).div_ceil(chunk_size) * chunk_size;
            part.min(part_max)
        }
    };
    if !(MIN_PART_SIZE..=part_max).contains(&part_size) {
        let what = match asked {
            Some(_) => "--part-size",
            None => "a part",
        };
        return Err(format!(
            "{what} must be between {} and {} (this cluster's chunks are {}), not {}",
            format_size(MIN_PART_SIZE),
            format_size(part_max),
            format_size(chunk_size),
            format_size(part_size)
        ));
    }
    let parts = size.div_ceil(part_size).max(1);
    // Every part but the last is whole chunks or ends in one short slice.
    let slices = size.div_ceil(chunk_size) + parts;
    if parts > u64::from(MAX_PART_NUMBER) || slices > MAX_OBJECT_SLICES as u64 {
        return Err(format!(
            "{} is too large for one object: it would take {parts} parts of {} (at most \
             {MAX_PART_NUMBER}) and about {slices} chunks of {} (at most {MAX_OBJECT_SLICES})",
            format_size(size),
            format_size(part_size),
            format_size(chunk_size)
        ));
    }
    Ok(Some(part_size))
}

/// Uploads `file` to `target` as a multipart upload in parts of `part_size`.
pub(super) async fn put(
    client: &DfsClient,
    file: &mut tokio::fs::File,
    target: &str,
    part_size: u64,
    content_type: Option<String>,
    bar: &ProgressBar,
    shown: &str,
) -> Result<Entry, CliError> {
    let object = ObjectPath::parse(target).map_err(|e| {
        CliError::Usage(format!(
            "{target}: a multipart upload needs an S3 object path (larger files than one write \
             session holds go up as one): {e}"
        ))
    })?;
    let upload_id = client
        .uploads()
        .create(&CreateUploadReq {
            path: object.clone(),
            content_type,
            meta: Vec::new(),
            checksum_algorithm: None,
            checksum_type: None,
            owner_key: None,
        })
        .await
        .map_err(|err| ns::error_at_target(err, target))?
        .upload_id;
    let written = tokio::select! {
        result = put_parts(client, file, &object, &upload_id, part_size, bar, shown) => result,
        () = interrupted() => Err(CliError::Interrupted),
    };
    let completed = match written {
        Ok(parts) => {
            let req = CompleteUploadReq {
                upload_id: upload_id.clone(),
                path: Some(object.clone()),
                parts,
                if_none_match: false,
                if_match: None,
                checksum: None,
            };
            client
                .uploads()
                .complete(&req)
                .await
                .map_err(CliError::at(target))
        }
        Err(err) => Err(err),
    };
    match completed {
        Ok(done) => Ok(done.entry),
        Err(err) => {
            // An upload left behind is listed by `dfs uploads ls` and expires in any case.
            let abort = AbortUploadReq {
                upload_id,
                path: Some(object.clone()),
            };
            if let Err(abort_err) = client.uploads().abort(&abort).await {
                let id = &abort.upload_id;
                let (bucket, key) = (&object.bucket, &object.key);
                eprintln!(
                    "{target}: could not abort upload {id} ({abort_err}): \
                     `dfs uploads abort {bucket} {key} {id}` drops it"
                );
            }
            Err(err)
        }
    }
}

/// Writes the parts one after the other until the end of the file; returns their numbers and
/// ETags for the completion.
async fn put_parts(
    client: &DfsClient,
    file: &mut tokio::fs::File,
    object: &ObjectPath,
    upload_id: &str,
    part_size: u64,
    bar: &ProgressBar,
    shown: &str,
) -> Result<Vec<(u32, String)>, CliError> {
    let target = object.to_string();
    let mut parts = Vec::new();
    for number in 1..=MAX_PART_NUMBER {
        let mut writer = client
            .create_part(object, upload_id, number, CreateOptions::default())
            .await
            .map_err(CliError::at(&target))?;
        let read = match pump(file, &mut writer, bar, shown, part_size).await {
            Ok(read) => read,
            Err(err) => {
                writer.abort().await;
                return Err(err);
            }
        };
        if read == 0 && !parts.is_empty() {
            // The file ended on a part boundary.
            writer.abort().await;
            return Ok(parts);
        }
        let part = writer
            .finish_part(FinishPartOptions::default())
            .await
            .map_err(CliError::at(&target))?;
        parts.push((number, part.etag));
        if read < part_size {
            return Ok(parts);
        }
    }
    Err(CliError::Usage(format!(
        "{shown} grew while it was uploaded: it no longer fits {MAX_PART_NUMBER} parts of {}",
        format_size(part_size)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    #[test]
    fn a_file_one_session_holds_is_written_whole_unless_parts_are_asked_for() {
        let session_max = 8 * MIB * MAX_SESSION_CHUNKS as u64;
        assert_eq!(plan(0, 8 * MIB, None), Ok(None));
        assert_eq!(plan(session_max, 8 * MIB, None), Ok(None));
        assert_eq!(plan(12 * MIB, 8 * MIB, Some(5 * MIB)), Ok(Some(5 * MIB)));
        assert_eq!(plan(0, 8 * MIB, Some(5 * MIB)), Ok(Some(5 * MIB)));
    }

    #[test]
    fn larger_files_go_in_parts_of_whole_chunks_within_every_cap() {
        let session_max = 8 * MIB * MAX_SESSION_CHUNKS as u64;
        assert_eq!(plan(session_max + 1, 8 * MIB, None), Ok(Some(GIB)));
        // 20 TiB in 10,000 parts: 2 GiB and a bit, rounded up to whole 64 MiB chunks.
        let part = plan(20 << 40, 64 * MIB, None).unwrap().unwrap();
        assert_eq!(part % (64 * MIB), 0);
        assert!(part >= (20 << 40) / u64::from(MAX_PART_NUMBER));
        assert!((20u64 << 40).div_ceil(part) <= u64::from(MAX_PART_NUMBER));
        // Small chunks: a part may not hold more chunks than one session.
        assert_eq!(plan(GIB, 64 << 10, None), Ok(Some(625 * MIB)));
    }

    #[test]
    fn files_no_object_can_hold_are_refused_up_front() {
        // 9 TiB in 8 MiB chunks: over 2^20 slices.
        let err = plan(9 << 40, 8 * MIB, None).unwrap_err();
        assert!(err.contains("too large for one object"), "{err}");
        // 60 TiB: over 10,000 parts of 5 GiB.
        assert!(plan(60 << 40, 1 << 30, None).is_err());
        let err = plan(GIB, 8 * MIB, Some(MIB)).unwrap_err();
        assert!(
            err.contains("--part-size must be between 5.0 MiB and 5.0 GiB"),
            "{err}"
        );
        // Chunks so small that a part of 10,000 of them is under S3's 5 MiB minimum.
        assert!(plan(GIB, 100, None).unwrap_err().contains("a part must be"));
    }
}
