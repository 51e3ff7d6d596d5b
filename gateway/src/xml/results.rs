//! Writers of the small S3 response documents.

use super::XmlWriter;
use crate::error::S3Error;

/// The owner of buckets and objects, as S3 reports it (`<Owner><ID/><DisplayName/></Owner>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Canonical user id.
    pub id: String,
    /// Display name.
    pub display_name: String,
}

impl Owner {
    /// Writes `<tag><ID>..</ID><DisplayName>..</DisplayName></tag>`.
    pub(crate) fn write(&self, w: &mut XmlWriter, tag: &str) {
        w.open(tag);
        w.elem("ID", &self.id);
        w.elem("DisplayName", &self.display_name);
        w.close(tag);
    }
}

/// One bucket of ListBuckets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketItem {
    /// Bucket name.
    pub name: String,
    /// Creation time, Unix milliseconds.
    pub creation_ms: u64,
}

/// `ListAllMyBucketsResult`, the answer to ListBuckets (`GET /`).
pub fn list_all_my_buckets(owner: &Owner, buckets: &[BucketItem]) -> String {
    let mut w = XmlWriter::new();
    w.root("ListAllMyBucketsResult");
    owner.write(&mut w, "Owner");
    w.open("Buckets");
    for bucket in buckets {
        w.open("Bucket");
        w.elem("Name", &bucket.name);
        w.elem_time("CreationDate", bucket.creation_ms);
        w.close("Bucket");
    }
    w.close("Buckets");
    w.close("ListAllMyBucketsResult");
    w.finish()
}

/// `LocationConstraint` (GetBucketLocation). S3 answers an empty element for `us-east-1`.
pub fn location_constraint(region: &str) -> String {
    let mut w = XmlWriter::new();
    if region.is_empty() || region == "us-east-1" {
        w.empty_root("LocationConstraint");
    } else {
        w.root("LocationConstraint");
        w.text(region);
        w.close("LocationConstraint");
    }
    w.finish()
}

/// `VersioningConfiguration` of a bucket on which versioning was never enabled: an empty
/// element, which clients read as "unversioned".
pub fn versioning_configuration() -> String {
    let mut w = XmlWriter::new();
    w.empty_root("VersioningConfiguration");
    w.finish()
}

/// `AccessControlPolicy` (GetBucketAcl, GetObjectAcl): the owner has `FULL_CONTROL`, the one
/// grant dfs has.
pub fn access_control_policy(owner: &Owner) -> String {
    let mut w = XmlWriter::new();
    w.root("AccessControlPolicy");
    owner.write(&mut w, "Owner");
    w.open("AccessControlList");
    w.open("Grant");
    w.raw(
        r#"<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">"#,
    );
    w.elem("ID", &owner.id);
    w.elem("DisplayName", &owner.display_name);
    w.close("Grantee");
    w.elem("Permission", "FULL_CONTROL");
    w.close("Grant");
    w.close("AccessControlList");
    w.close("AccessControlPolicy");
    w.finish()
}

/// The checksums S3 may report with an object or a part, each base64 of the digest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checksums {
    /// `ChecksumCRC32`.
    pub crc32: Option<String>,
    /// `ChecksumCRC32C`.
    pub crc32c: Option<String>,
    /// `ChecksumCRC64NVME`.
    pub crc64nvme: Option<String>,
    /// `ChecksumSHA1`.
    pub sha1: Option<String>,
    /// `ChecksumSHA256`.
    pub sha256: Option<String>,
}

impl Checksums {
    /// The element names, in the order S3 writes them, with their values.
    pub fn elements(&self) -> [(&'static str, Option<&str>); 5] {
        [
            ("ChecksumCRC32", self.crc32.as_deref()),
            ("ChecksumCRC32C", self.crc32c.as_deref()),
            ("ChecksumCRC64NVME", self.crc64nvme.as_deref()),
            ("ChecksumSHA1", self.sha1.as_deref()),
            ("ChecksumSHA256", self.sha256.as_deref()),
        ]
    }

    /// Whether no checksum is set.
    pub fn is_empty(&self) -> bool {
        self.elements().iter().all(|(_, v)| v.is_none())
    }

    /// Writes the checksums that are set.
    pub(crate) fn write(&self, w: &mut XmlWriter) {
        for (tag, value) in self.elements() {
            w.elem_opt(tag, value);
        }
    }
}

/// `CopyObjectResult` (CopyObject).
pub fn copy_object_result(etag: &str, last_modified_ms: u64, checksums: &Checksums) -> String {
    copy_result("CopyObjectResult", etag, last_modified_ms, checksums)
}

/// `CopyPartResult` (UploadPartCopy).
pub fn copy_part_result(etag: &str, last_modified_ms: u64, checksums: &Checksums) -> String {
    copy_result("CopyPartResult", etag, last_modified_ms, checksums)
}

fn copy_result(root: &str, etag: &str, last_modified_ms: u64, checksums: &Checksums) -> String {
    let mut w = XmlWriter::new();
    w.root(root);
    w.elem_time("LastModified", last_modified_ms);
    w.elem("ETag", etag);
    checksums.write(&mut w);
    w.close(root);
    w.finish()
}

/// A key that DeleteObjects removed (or found already absent, which S3 also reports as deleted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletedItem {
    /// The key, as given in the request.
    pub key: String,
    /// The version id, echoed when the request named one.
    pub version_id: Option<String>,
}

/// A key that DeleteObjects could not remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteErrorItem {
    /// The key, as given in the request.
    pub key: String,
    /// The version id, echoed when the request named one.
    pub version_id: Option<String>,
    /// The S3 error code (`AccessDenied`, `InternalError`...).
    pub code: String,
    /// A message for a human.
    pub message: String,
}

impl DeleteErrorItem {
    /// The entry for a key whose deletion failed with `error`.
    pub fn from_error(key: String, version_id: Option<String>, error: &S3Error) -> Self {
        DeleteErrorItem {
            key,
            version_id,
            code: error.code().as_str().to_owned(),
            message: error.message().to_owned(),
        }
    }
}

/// `DeleteResult` (DeleteObjects). In quiet mode S3 reports only the errors.
pub fn delete_result(deleted: &[DeletedItem], errors: &[DeleteErrorItem], quiet: bool) -> String {
    let mut w = XmlWriter::new();
    w.root("DeleteResult");
    if !quiet {
        for item in deleted {
            w.open("Deleted");
            w.elem("Key", &item.key);
            w.elem_opt("VersionId", item.version_id.as_deref());
            w.close("Deleted");
        }
    }
    for item in errors {
        w.open("Error");
        w.elem("Key", &item.key);
        w.elem_opt("VersionId", item.version_id.as_deref());
        w.elem("Code", &item.code);
        w.elem("Message", &item.message);
        w.close("Error");
    }
    w.close("DeleteResult");
    w.finish()
}

/// `InitiateMultipartUploadResult` (CreateMultipartUpload).
pub fn initiate_multipart_upload_result(bucket: &str, key: &str, upload_id: &str) -> String {
    let mut w = XmlWriter::new();
    w.root("InitiateMultipartUploadResult");
    w.elem("Bucket", bucket);
    w.elem("Key", key);
    w.elem("UploadId", upload_id);
    w.close("InitiateMultipartUploadResult");
    w.finish()
}

/// `CompleteMultipartUploadResult`. `location` is the object's URL; `checksum_type`
/// (`COMPOSITE` or `FULL_OBJECT`) is written when the object has a checksum.
pub fn complete_multipart_upload_result(
    location: &str,
    bucket: &str,
    key: &str,
    etag: &str,
    checksums: &Checksums,
    checksum_type: Option<&str>,
) -> String {
    let mut w = XmlWriter::new();
    w.root("CompleteMultipartUploadResult");
    w.elem("Location", location);
    w.elem("Bucket", bucket);
    w.elem("Key", key);
    w.elem("ETag", etag);
    checksums.write(&mut w);
    w.elem_opt("ChecksumType", checksum_type);
    w.close("CompleteMultipartUploadResult");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::super::compact;
    use super::*;

    const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

    fn owner() -> Owner {
        Owner {
            id: "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a".into(),
            display_name: "CustomersName@amazon.com".into(),
        }
    }

    #[test]
    fn list_buckets_golden() {
        // The example of AWS's ListBuckets reference.
        let owner = Owner {
            id: "bcaf1ffd86f461ca5fb16fd081034f".into(),
            display_name: "webfile".into(),
        };
        let buckets = [
            BucketItem {
                name: "quotes".into(),
                creation_ms: 1_138_985_109_000,
            },
            BucketItem {
                name: "samples".into(),
                creation_ms: 1_139_010_000_000,
            },
        ];
        let expected = compact(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Owner>
                <ID>bcaf1ffd86f461ca5fb16fd081034f</ID>
                <DisplayName>webfile</DisplayName>
              </Owner>
              <Buckets>
                <Bucket>
                  <Name>quotes</Name>
                  <CreationDate>2006-02-03T16:45:09.000Z</CreationDate>
                </Bucket>
                <Bucket>
                  <Name>samples</Name>
                  <CreationDate>2006-02-03T23:40:00.000Z</CreationDate>
                </Bucket>
              </Buckets>
            </ListAllMyBucketsResult>"#,
        );
        assert_eq!(list_all_my_buckets(&owner, &buckets), expected);
    }

    #[test]
    fn location_and_versioning() {
        assert_eq!(
            location_constraint("us-east-1"),
            format!(
                r#"{DECL}<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#
            )
        );
        assert_eq!(
            location_constraint("EU"),
            format!(
                r#"{DECL}<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">EU</LocationConstraint>"#
            )
        );
        assert_eq!(
            versioning_configuration(),
            format!(
                r#"{DECL}<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#
            )
        );
    }

    #[test]
    fn acl_golden() {
        let expected = compact(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Owner>
                <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
                <DisplayName>CustomersName@amazon.com</DisplayName>
              </Owner>
              <AccessControlList>
                <Grant>
                  <Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">
                    <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
                    <DisplayName>CustomersName@amazon.com</DisplayName>
                  </Grantee>
                  <Permission>FULL_CONTROL</Permission>
                </Grant>
              </AccessControlList>
            </AccessControlPolicy>"#,
        );
        assert_eq!(access_control_policy(&owner()), expected);
    }

    #[test]
    fn copy_results_golden() {
        let expected = compact(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <CopyObjectResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <LastModified>2009-10-28T22:32:00.000Z</LastModified>
              <ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>
            </CopyObjectResult>"#,
        );
        let etag = "\"9b2cf535f27731c974343645a3985328\"";
        let when = 1_256_769_120_000;
        assert_eq!(
            copy_object_result(etag, when, &Checksums::default()),
            expected
        );
        let part = copy_part_result(
            etag,
            when,
            &Checksums {
                crc32c: Some("yZRlqg==".into()),
                ..Checksums::default()
            },
        );
        assert!(part.contains("<CopyPartResult xmlns="));
        assert!(part.ends_with("<ChecksumCRC32C>yZRlqg==</ChecksumCRC32C></CopyPartResult>"));
    }

    #[test]
    fn delete_result_golden_and_quiet() {
        let deleted = [DeletedItem {
            key: "sample1.txt".into(),
            version_id: None,
        }];
        let errors = [DeleteErrorItem {
            key: "sample2.txt".into(),
            version_id: None,
            code: "AccessDenied".into(),
            message: "Access Denied".into(),
        }];
        let expected = compact(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Deleted>
                <Key>sample1.txt</Key>
              </Deleted>
              <Error>
                <Key>sample2.txt</Key>
                <Code>AccessDenied</Code>
                <Message>Access Denied</Message>
              </Error>
            </DeleteResult>"#,
        );
        assert_eq!(delete_result(&deleted, &errors, false), expected);
        let quiet = delete_result(&deleted, &errors, true);
        assert!(!quiet.contains("<Deleted>"));
        assert!(quiet.contains("<Key>sample2.txt</Key>"));
        let from_error = DeleteErrorItem::from_error(
            "sample2.txt".into(),
            None,
            &S3Error::from_code(crate::error::S3ErrorCode::AccessDenied),
        );
        assert_eq!(from_error, errors[0]);
        assert_eq!(
            delete_result(&deleted, &[], true),
            format!(
                r#"{DECL}<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>"#
            )
        );
    }

    #[test]
    fn multipart_results_golden() {
        let expected = compact(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Bucket>example-bucket</Bucket>
              <Key>example-object</Key>
              <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
            </InitiateMultipartUploadResult>"#,
        );
        assert_eq!(
            initiate_multipart_upload_result(
                "example-bucket",
                "example-object",
                "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
            ),
            expected
        );
        let expected = compact(
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Location>http://Example-Bucket.s3.Region.amazonaws.com/Example-Object</Location>
              <Bucket>Example-Bucket</Bucket>
              <Key>Example-Object</Key>
              <ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>
            </CompleteMultipartUploadResult>"#,
        );
        assert_eq!(
            complete_multipart_upload_result(
                "http://Example-Bucket.s3.Region.amazonaws.com/Example-Object",
                "Example-Bucket",
                "Example-Object",
                "\"3858f62230ac3c915f300c664312c11f-9\"",
                &Checksums::default(),
                None,
            ),
            expected
        );
        let with_checksum = complete_multipart_upload_result(
            "http://h/b/k",
            "b",
            "k",
            "\"e-2\"",
            &Checksums {
                crc64nvme: Some("AAAAAAAAAAA=".into()),
                ..Checksums::default()
            },
            Some("FULL_OBJECT"),
        );
        assert!(with_checksum.ends_with(
            "<ChecksumCRC64NVME>AAAAAAAAAAA=</ChecksumCRC64NVME>\
             <ChecksumType>FULL_OBJECT</ChecksumType></CompleteMultipartUploadResult>"
        ));
    }

    #[test]
    fn keys_are_escaped() {
        let doc = initiate_multipart_upload_result("b", "a<&>\r\n'\"", "u");
        assert!(doc.contains("<Key>a&lt;&amp;&gt;&#xD;&#xA;&apos;&quot;</Key>"));
    }
}
