//! Writers of the listing documents: ListObjects (V1 and V2), ListMultipartUploads, ListParts.
//!
//! With `encoding-type=url` S3 URL-encodes the fields that hold keys (Key, Prefix, Delimiter,
//! Marker, NextMarker, StartAfter, KeyMarker, NextKeyMarker and each CommonPrefixes/Prefix) and
//! says so in `<EncodingType>url</EncodingType>`; opaque tokens and upload ids stay as they are.

use super::results::{Checksums, Owner};
use super::{XmlWriter, STORAGE_CLASS};

/// One object of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectItem {
    /// The full key.
    pub key: String,
    /// Last modification, Unix milliseconds.
    pub last_modified_ms: u64,
    /// The ETag, quoted as stored (`"hex"` or `"hex-N"`).
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
}

/// What differs between ListObjects V1 and V2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListVersion {
    /// ListObjects (V1): marker based.
    V1 {
        /// The `marker` of the request (empty when none).
        marker: String,
        /// Where the next page starts; S3 sends it only for a truncated listing with a delimiter
        /// (without one, clients continue from the last key).
        next_marker: Option<String>,
    },
    /// ListObjectsV2: continuation-token based, with a key count.
    V2 {
        /// The `continuation-token` of the request, echoed.
        continuation_token: Option<String>,
        /// The token of the next page, when truncated.
        next_continuation_token: Option<String>,
        /// The `start-after` of the request, echoed.
        start_after: Option<String>,
    },
}

/// A page of ListObjects or ListObjectsV2 (`ListBucketResult`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListObjectsResult {
    /// Bucket name.
    pub bucket: String,
    /// The `prefix` of the request (empty when none).
    pub prefix: String,
    /// The `delimiter` of the request; an empty one is not echoed, as S3 does.
    pub delimiter: Option<String>,
    /// The effective `max-keys`.
    pub max_keys: u32,
    /// Whether the request asked for `encoding-type=url`.
    pub url_encoding: bool,
    /// Whether more entries follow this page.
    pub is_truncated: bool,
    /// Objects, in key order.
    pub contents: Vec<ObjectItem>,
    /// Common prefixes (each ending with the delimiter), in key order.
    pub common_prefixes: Vec<String>,
    /// The owner written in each `<Contents>`: always for V1, with `fetch-owner=true` for V2.
    pub owner: Option<Owner>,
    /// V1 or V2 fields.
    pub version: ListVersion,
}

/// `ListBucketResult` for ListObjects V1 or V2.
pub fn list_objects(r: &ListObjectsResult) -> String {
    let url = r.url_encoding;
    let mut w = XmlWriter::new();
    w.root("ListBucketResult");
    w.elem("Name", &r.bucket);
    w.elem_key("Prefix", &r.prefix, url);
    match &r.version {
        ListVersion::V1 {
            marker,
            next_marker,
        } => {
            w.elem_key("Marker", marker, url);
            if let Some(next) = next_marker {
                w.elem_key("NextMarker", next, url);
            }
        }
        ListVersion::V2 {
            continuation_token,
            next_continuation_token,
            start_after,
        } => {
            if let Some(start_after) = start_after {
                w.elem_key("StartAfter", start_after, url);
            }
            w.elem_opt("ContinuationToken", continuation_token.as_deref());
            w.elem_opt("NextContinuationToken", next_continuation_token.as_deref());
            let key_count = r.contents.len() + r.common_prefixes.len();
            w.elem_num("KeyCount", key_count as u64);
        }
    }
    w.elem_num("MaxKeys", u64::from(r.max_keys));
    write_delimiter_and_encoding(&mut w, r.delimiter.as_deref(), url);
    w.elem_bool("IsTruncated", r.is_truncated);
    for item in &r.contents {
        w.open("Contents");
        w.elem_key("Key", &item.key, url);
        w.elem_time("LastModified", item.last_modified_ms);
        w.elem("ETag", &item.etag);
        w.elem_num("Size", item.size);
        w.elem("StorageClass", STORAGE_CLASS);
        if let Some(owner) = &r.owner {
            owner.write(&mut w, "Owner");
        }
        w.close("Contents");
    }
    write_common_prefixes(&mut w, &r.common_prefixes, url);
    w.close("ListBucketResult");
    w.finish()
}

fn write_delimiter_and_encoding(w: &mut XmlWriter, delimiter: Option<&str>, url: bool) {
    if let Some(delimiter) = delimiter.filter(|d| !d.is_empty()) {
        w.elem_key("Delimiter", delimiter, url);
    }
    if url {
        w.elem("EncodingType", "url");
    }
}

fn write_common_prefixes(w: &mut XmlWriter, prefixes: &[String], url: bool) {
    for prefix in prefixes {
        w.open("CommonPrefixes");
        w.elem_key("Prefix", prefix, url);
        w.close("CommonPrefixes");
    }
}

/// One in-progress multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadItem {
    /// The key the upload will create.
    pub key: String,
    /// The upload id.
    pub upload_id: String,
    /// When it was started, Unix milliseconds.
    pub initiated_ms: u64,
    /// Who started it (and will own the object), when known; otherwise the result's
    /// `initiator` and `owner` are written.
    pub initiator: Option<Owner>,
    /// Its checksum algorithm (`CRC32`...), if it has one.
    pub checksum_algorithm: Option<String>,
    /// Its checksum type (`COMPOSITE`, `FULL_OBJECT`), if it has one.
    pub checksum_type: Option<String>,
}

/// A page of ListMultipartUploads (`ListMultipartUploadsResult`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListMultipartUploadsResult {
    /// Bucket name.
    pub bucket: String,
    /// The `key-marker` of the request (empty when none).
    pub key_marker: String,
    /// The `upload-id-marker` of the request (empty when none).
    pub upload_id_marker: String,
    /// Where the next page starts, when truncated.
    pub next_key_marker: Option<String>,
    /// Where the next page starts, when truncated.
    pub next_upload_id_marker: Option<String>,
    /// The `prefix` of the request, echoed when given.
    pub prefix: Option<String>,
    /// The `delimiter` of the request, echoed when given and not empty.
    pub delimiter: Option<String>,
    /// The effective `max-uploads`.
    pub max_uploads: u32,
    /// Whether the request asked for `encoding-type=url`.
    pub url_encoding: bool,
    /// Whether more uploads follow.
    pub is_truncated: bool,
    /// Uploads, in key then start order.
    pub uploads: Vec<UploadItem>,
    /// Common prefixes, in key order.
    pub common_prefixes: Vec<String>,
    /// Who started the uploads.
    pub initiator: Owner,
    /// Who will own the objects.
    pub owner: Owner,
}

/// `ListMultipartUploadsResult`.
pub fn list_multipart_uploads(r: &ListMultipartUploadsResult) -> String {
    let url = r.url_encoding;
    let mut w = XmlWriter::new();
    w.root("ListMultipartUploadsResult");
    w.elem("Bucket", &r.bucket);
    w.elem_key("KeyMarker", &r.key_marker, url);
    w.elem("UploadIdMarker", &r.upload_id_marker);
    if let Some(next) = &r.next_key_marker {
        w.elem_key("NextKeyMarker", next, url);
    }
    w.elem_opt("NextUploadIdMarker", r.next_upload_id_marker.as_deref());
    if let Some(prefix) = &r.prefix {
        w.elem_key("Prefix", prefix, url);
    }
    write_delimiter_and_encoding(&mut w, r.delimiter.as_deref(), url);
    w.elem_num("MaxUploads", u64::from(r.max_uploads));
    w.elem_bool("IsTruncated", r.is_truncated);
    for upload in &r.uploads {
        w.open("Upload");
        w.elem_key("Key", &upload.key, url);
        w.elem("UploadId", &upload.upload_id);
        let started_by = upload.initiator.as_ref();
        started_by
            .unwrap_or(&r.initiator)
            .write(&mut w, "Initiator");
        started_by.unwrap_or(&r.owner).write(&mut w, "Owner");
        w.elem("StorageClass", STORAGE_CLASS);
        w.elem_time("Initiated", upload.initiated_ms);
        w.elem_opt("ChecksumAlgorithm", upload.checksum_algorithm.as_deref());
        w.elem_opt("ChecksumType", upload.checksum_type.as_deref());
        w.close("Upload");
    }
    write_common_prefixes(&mut w, &r.common_prefixes, url);
    w.close("ListMultipartUploadsResult");
    w.finish()
}

/// One uploaded part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartItem {
    /// Its number, 1..=10000.
    pub part_number: u32,
    /// When it was uploaded, Unix milliseconds.
    pub last_modified_ms: u64,
    /// Its ETag, quoted.
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
    /// The checksums given when it was uploaded.
    pub checksums: Checksums,
}

/// A page of ListParts (`ListPartsResult`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPartsResult {
    /// Bucket name.
    pub bucket: String,
    /// The key of the upload.
    pub key: String,
    /// The upload id.
    pub upload_id: String,
    /// The `part-number-marker` of the request (0 when none).
    pub part_number_marker: u32,
    /// The last part number of this page, where the next one starts.
    pub next_part_number_marker: Option<u32>,
    /// The effective `max-parts`.
    pub max_parts: u32,
    /// Whether more parts follow.
    pub is_truncated: bool,
    /// Parts, in part-number order.
    pub parts: Vec<PartItem>,
    /// Who started the upload.
    pub initiator: Owner,
    /// Who will own the object.
    pub owner: Owner,
    /// The upload's checksum algorithm (`CRC32`...), if it has one.
    pub checksum_algorithm: Option<String>,
    /// The upload's checksum type (`COMPOSITE`, `FULL_OBJECT`), if it has one.
    pub checksum_type: Option<String>,
}

/// `ListPartsResult`.
pub fn list_parts(r: &ListPartsResult) -> String {
    let mut w = XmlWriter::new();
    w.root("ListPartsResult");
    w.elem("Bucket", &r.bucket);
    w.elem("Key", &r.key);
    w.elem("UploadId", &r.upload_id);
    r.initiator.write(&mut w, "Initiator");
    r.owner.write(&mut w, "Owner");
    w.elem("StorageClass", STORAGE_CLASS);
    w.elem_opt("ChecksumAlgorithm", r.checksum_algorithm.as_deref());
    w.elem_opt("ChecksumType", r.checksum_type.as_deref());
    w.elem_num("PartNumberMarker", u64::from(r.part_number_marker));
    if let Some(next) = r.next_part_number_marker {
        w.elem_num("NextPartNumberMarker", u64::from(next));
    }
    w.elem_num("MaxParts", u64::from(r.max_parts));
    w.elem_bool("IsTruncated", r.is_truncated);
    for part in &r.parts {
        w.open("Part");
        w.elem_num("PartNumber", u64::from(part.part_number));
        w.elem_time("LastModified", part.last_modified_ms);
        w.elem("ETag", &part.etag);
        w.elem_num("Size", part.size);
        part.checksums.write(&mut w);
        w.close("Part");
    }
    w.close("ListPartsResult");
    w.finish()
}

#[cfg(test)]
mod tests;
