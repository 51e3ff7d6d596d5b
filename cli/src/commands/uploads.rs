//! `uploads ls|abort`: the open S3 multipart uploads of a bucket. Their parts hold chunks but
//! are no namespace entries (`ls` never shows them), so this is where an operator finds the
//! uploads that clients started and never completed or aborted, and drops them. An upload
//! whose completion in steps began and did not finish shows as `completing`: its parts are
//! being moved into the object, so it has no part count.

use super::emit;
use crate::args::UploadsCommand;
use crate::output::{escape, format_table, format_time_short, Align};
use crate::{CliError, Context};
use dfs_client::DfsClient;
use dfs_common::names::{BucketName, NameError, ObjectKey, ObjectPath};
use dfs_common::wire::{
    AbortUploadReq, ListPartsReq, ListUploadsReq, ListUploadsResp, PartInfo, UploadEntry,
    MAX_LIST_PARTS, MAX_LIST_UPLOADS,
};
use dfs_common::{ErrorCode, RpcError};
use futures_util::{StreamExt, TryStreamExt};

/// How many `list_parts` calls `uploads ls -l` keeps in flight: enough to hide the round
/// trips, few enough not to crowd metad.
const PARTS_CALLS_IN_FLIGHT: usize = 8;

/// Runs `uploads ...`.
pub async fn uploads(ctx: &mut Context, command: UploadsCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        UploadsCommand::Ls {
            long,
            prefix,
            bucket,
        } => {
            let bucket = bucket_name(&bucket)?;
            let listed = list_uploads(&client, bucket, &prefix).await?;
            if !long {
                return emit(&format_uploads(&listed));
            }
            let rows: Vec<Option<UploadRow>> = futures_util::stream::iter(listed)
                .map(|upload| {
                    let client = client.clone();
                    async move {
                        if upload.completing {
                            return Ok(Some((upload, None)));
                        }
                        let totals = part_totals(&client, &upload.upload_id).await?;
                        Ok::<_, CliError>(totals.map(|totals| (upload, Some(totals))))
                    }
                })
                .buffered(PARTS_CALLS_IN_FLIGHT)
                .try_collect()
                .await?;
            // An upload completed or aborted since the listing is simply no longer open.
            let rows: Vec<UploadRow> = rows.into_iter().flatten().collect();
            emit(&format_uploads_long(&rows))
        }
        UploadsCommand::Abort {
            bucket,
            key,
            upload_id,
        } => {
            let bucket = bucket_name(&bucket)?;
            if key.is_empty() {
                return Err(CliError::Usage(
                    "uploads abort: KEY is empty (uploads ls shows the keys)".into(),
                ));
            }
            let key = ObjectKey::new(key).map_err(|err| CliError::Usage(err.to_string()))?;
            let object = ObjectPath::new(bucket, key);
            let path = object.to_string();
            let req = AbortUploadReq {
                upload_id: upload_id.clone(),
                path: Some(object),
            };
            client
                .uploads()
                .abort(&req)
                .await
                .map_err(|err| match err.code {
                    // Unknown, already aborted or completed, or started for another key.
                    ErrorCode::NotFound => CliError::NoSuch {
                        what: "upload",
                        name: format!("{} of {}", escape(&upload_id), escape(&path)),
                    },
                    _ => CliError::at(&path)(err),
                })?;
            Ok(())
        }
    }
}

/// The bucket named on the command line; `/b` and `b/` are taken for `b`. Uploads and grants
/// exist only for S3 buckets, so the name must follow S3's naming rules.
pub fn bucket_name(input: &str) -> Result<BucketName, CliError> {
    let name = input.trim_matches('/');
    if name.is_empty() || name.contains('/') {
        return Err(CliError::Usage(format!(
            "not a bucket name: {} (bucket ls lists them)",
            escape(input)
        )));
    }
    BucketName::new(name).map_err(|err| {
        let why = match err {
            NameError::BucketName { why, .. } => why,
            other => other.to_string(),
        };
        CliError::Usage(format!("not a bucket name: {} ({why})", escape(name)))
    })
}

/// Where the next page of a `list_uploads` listing starts: (key marker, upload id marker).
pub type UploadsMarker = (String, Option<String>);

/// Every open upload of `bucket` whose key starts with `prefix`, page after page.
async fn list_uploads(
    client: &DfsClient,
    bucket: BucketName,
    prefix: &str,
) -> Result<Vec<UploadEntry>, CliError> {
    let mut all = Vec::new();
    let mut marker: Option<UploadsMarker> = None;
    loop {
        let (key_marker, upload_id_marker) = match marker.clone() {
            Some((key, id)) => (Some(key), id),
            None => (None, None),
        };
        let req = ListUploadsReq {
            bucket: bucket.clone(),
            prefix: prefix.to_owned(),
            delimiter: None,
            key_marker,
            upload_id_marker,
            max_uploads: MAX_LIST_UPLOADS,
        };
        let page = client
            .uploads()
            .list(&req)
            .await
            .map_err(|err| match err.code {
                ErrorCode::NotFound => CliError::NoSuch {
                    what: "bucket",
                    name: escape(&bucket),
                },
                _ => err.into(),
            })?;
        let next = next_uploads_marker(&page, marker.as_ref(), &bucket)?;
        all.extend(page.uploads);
        match next {
            Some(next) => marker = Some(next),
            None => return Ok(all),
        }
    }
}

/// The marker of the page after `page`, `None` after the last one. A page that says more
/// follow but gives no marker, or the marker it started from, is an error rather than a
/// listing that never ends.
pub fn next_uploads_marker(
    page: &ListUploadsResp,
    previous: Option<&UploadsMarker>,
    bucket: &str,
) -> Result<Option<UploadsMarker>, CliError> {
    if !page.truncated {
        return Ok(None);
    }
    // Without metad's marker, the last upload of the page is where the next one starts.
    let next = match (&page.next_key_marker, page.uploads.last()) {
        (Some(key), _) => (key.clone(), page.next_upload_id_marker.clone()),
        (None, Some(last)) => (last.key.clone(), Some(last.upload_id.clone())),
        (None, None) => {
            return Err(RpcError::internal(format!(
                "metad listed the uploads of bucket {} as truncated without a next marker",
                escape(bucket)
            ))
            .into())
        }
    };
    if previous == Some(&next) {
        return Err(RpcError::internal(format!(
            "metad's listing of the uploads of bucket {} does not advance past key {}",
            escape(bucket),
            escape(&next.0)
        ))
        .into());
    }
    Ok(Some(next))
}

/// A line of `uploads ls -l`: the upload and its parts' totals (none while it is being
/// completed).
pub type UploadRow = (UploadEntry, Option<PartTotals>);

/// How many parts an upload holds and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartTotals {
    /// Number of parts.
    pub parts: u64,
    /// Sum of their sizes.
    pub bytes: u64,
}

impl PartTotals {
    /// Counts `parts` in.
    pub fn add(&mut self, parts: &[PartInfo]) {
        for part in parts {
            self.parts += 1;
            self.bytes = self.bytes.saturating_add(part.size);
        }
    }
}

/// The parts of `upload_id`, counted page after page; `None` if the upload is gone (it was
/// completed or aborted after the listing).
async fn part_totals(client: &DfsClient, upload_id: &str) -> Result<Option<PartTotals>, CliError> {
    let mut totals = PartTotals::default();
    let mut marker = 0;
    loop {
        let req = ListPartsReq {
            upload_id: upload_id.to_owned(),
            // The id came from this bucket's listing; a path would only add a way to miss it
            // (the bucket renamed since the upload began).
            path: None,
            part_number_marker: marker,
            max_parts: MAX_LIST_PARTS,
        };
        let page = match client.uploads().list_parts(&req).await {
            Ok(page) => page,
            Err(err) if err.code == ErrorCode::NotFound => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        totals.add(&page.parts);
        if !page.truncated {
            return Ok(Some(totals));
        }
        if page.next_part_number_marker <= marker {
            return Err(RpcError::internal(format!(
                "metad's listing of the parts of upload {} does not advance past part {marker}",
                escape(upload_id)
            ))
            .into());
        }
        marker = page.next_part_number_marker;
    }
}

/// The table of `uploads ls`; nothing at all for no upload, so scripts can test for output.
pub fn format_uploads(uploads: &[UploadEntry]) -> String {
    if uploads.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = uploads.iter().map(upload_cells).collect();
    format_table(
        &["KEY", "UPLOAD ID", "INITIATED (UTC)", "STATE"],
        &[Align::Left; 4],
        &rows,
    )
}

/// The table of `uploads ls -l`: with each upload's parts and bytes.
pub fn format_uploads_long(rows: &[UploadRow]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(upload, totals)| {
            let mut cells = upload_cells(upload);
            match totals {
                Some(totals) => {
                    cells.push(totals.parts.to_string());
                    cells.push(totals.bytes.to_string());
                }
                None => cells.extend(["-".to_owned(), "-".to_owned()]),
            }
            cells
        })
        .collect();
    format_table(
        &[
            "KEY",
            "UPLOAD ID",
            "INITIATED (UTC)",
            "STATE",
            "PARTS",
            "BYTES",
        ],
        &[
            Align::Left,
            Align::Left,
            Align::Left,
            Align::Left,
            Align::Right,
            Align::Right,
        ],
        &rows,
    )
}

fn upload_cells(upload: &UploadEntry) -> Vec<String> {
    let state = if upload.completing {
        "completing"
    } else {
        "open"
    };
    vec![
        escape(&upload.key),
        escape(&upload.upload_id),
        format_time_short(upload.initiated_ms),
        state.to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(key: &str, id: &str) -> UploadEntry {
        UploadEntry {
            key: key.into(),
            upload_id: id.into(),
            initiated_ms: 1_700_000_000_000,
            owner_key: None,
            checksum_algorithm: None,
            checksum_type: None,
            completing: false,
        }
    }

    fn part(number: u32, size: u64) -> PartInfo {
        PartInfo {
            part_number: number,
            size,
            etag: "\"e\"".into(),
            checksum: None,
            mtime_ms: 0,
        }
    }

    fn page(
        uploads: Vec<UploadEntry>,
        truncated: bool,
        key: Option<&str>,
        id: Option<&str>,
    ) -> ListUploadsResp {
        ListUploadsResp {
            uploads,
            common_prefixes: Vec::new(),
            truncated,
            next_key_marker: key.map(str::to_owned),
            next_upload_id_marker: id.map(str::to_owned),
        }
    }

    #[test]
    fn upload_table() {
        let uploads = vec![
            upload("logs/a.bin", "0123456789abcdef0123456789abcdef"),
            UploadEntry {
                completing: true,
                ..upload("x\ny", "ff")
            },
        ];
        assert_eq!(
            format_uploads(&uploads),
            "KEY         UPLOAD ID                         INITIATED (UTC)   STATE\n\
             logs/a.bin  0123456789abcdef0123456789abcdef  2023-11-14 22:13  open\n\
             x\\ny        ff                                2023-11-14 22:13  completing\n"
        );
        assert_eq!(format_uploads(&[]), "");
    }

    #[test]
    fn long_upload_table() {
        let rows = vec![
            (
                upload("a", "01"),
                Some(PartTotals {
                    parts: 2,
                    bytes: 10_485_760,
                }),
            ),
            (upload("b", "02"), Some(PartTotals::default())),
            (
                UploadEntry {
                    completing: true,
                    ..upload("c", "03")
                },
                None,
            ),
        ];
        assert_eq!(
            format_uploads_long(&rows),
            "KEY  UPLOAD ID  INITIATED (UTC)   STATE       PARTS     BYTES\n\
             a    01         2023-11-14 22:13  open            2  10485760\n\
             b    02         2023-11-14 22:13  open            0         0\n\
             c    03         2023-11-14 22:13  completing      -         -\n"
        );
        assert_eq!(format_uploads_long(&[]), "");
    }

    #[test]
    fn totals_add_up() {
        let mut totals = PartTotals::default();
        totals.add(&[part(1, 5 << 20), part(2, 3)]);
        totals.add(&[part(3, u64::MAX)]);
        assert_eq!(
            totals,
            PartTotals {
                parts: 3,
                bytes: u64::MAX
            }
        );
    }

    #[test]
    fn bucket_names() {
        assert_eq!(bucket_name("b1a").unwrap().as_str(), "b1a");
        assert_eq!(bucket_name("/b1a/").unwrap().as_str(), "b1a");
        for bad in ["", "/", "b1/x", "B1", "b"] {
            let err = bucket_name(bad).unwrap_err().line();
            assert!(err.starts_with("not a bucket name"), "{bad}: {err}");
        }
    }

    #[test]
    fn paging_through_uploads() {
        let last = page(vec![upload("a", "01")], false, None, None);
        assert_eq!(next_uploads_marker(&last, None, "b").unwrap(), None);

        let full = page(vec![upload("a", "01")], true, Some("a"), Some("01"));
        let next = next_uploads_marker(&full, None, "b").unwrap();
        assert_eq!(next, Some(("a".to_owned(), Some("01".to_owned()))));
        // The same marker twice would list forever.
        let err = next_uploads_marker(&full, next.as_ref(), "b").unwrap_err();
        assert!(err.line().contains("does not advance"), "{}", err.line());

        // Without a marker from metad, the last key of the page carries on.
        let bare = page(vec![upload("k", "02")], true, None, None);
        assert_eq!(
            next_uploads_marker(&bare, None, "b").unwrap(),
            Some(("k".to_owned(), Some("02".to_owned())))
        );
        let empty = page(Vec::new(), true, None, None);
        let err = next_uploads_marker(&empty, None, "b").unwrap_err();
        assert!(
            err.line().contains("without a next marker"),
            "{}",
            err.line()
        );
    }

    #[test]
    fn missing_uploads_are_named() {
        let err = CliError::NoSuch {
            what: "upload",
            name: "0123 of /b/k".into(),
        };
        assert_eq!(err.line(), "no such upload: 0123 of /b/k");
    }
}
