//! Golden tests of the listing documents against the examples of AWS's S3 API reference
//! (compared without the indentation; `<Prefix/>` of an example is written `<Prefix></Prefix>`,
//! the same XML).

use super::super::compact;
use super::*;

fn item(key: &str, ms: u64, etag: &str, size: u64) -> ObjectItem {
    ObjectItem {
        key: key.into(),
        last_modified_ms: ms,
        etag: etag.into(),
        size,
    }
}

#[test]
fn list_objects_v1_golden() {
    let result = ListObjectsResult {
        bucket: "bucket".into(),
        prefix: String::new(),
        delimiter: None,
        max_keys: 1000,
        url_encoding: false,
        is_truncated: false,
        contents: vec![item(
            "my-image.jpg",
            1_255_369_830_000,
            "\"fba9dede5f27731c9771645a39863328\"",
            434_234,
        )],
        common_prefixes: vec![],
        owner: Some(Owner {
            id: "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a".into(),
            display_name: "mtd@amazon.com".into(),
        }),
        version: ListVersion::V1 {
            marker: String::new(),
            next_marker: None,
        },
    };
    let expected = compact(
        r#"<?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Name>bucket</Name>
          <Prefix></Prefix>
          <Marker></Marker>
          <MaxKeys>1000</MaxKeys>
          <IsTruncated>false</IsTruncated>
          <Contents>
            <Key>my-image.jpg</Key>
            <LastModified>2009-10-12T17:50:30.000Z</LastModified>
            <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
            <Size>434234</Size>
            <StorageClass>STANDARD</StorageClass>
            <Owner>
              <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
              <DisplayName>mtd@amazon.com</DisplayName>
            </Owner>
          </Contents>
        </ListBucketResult>"#,
    );
    assert_eq!(list_objects(&result), expected);
}

#[test]
fn list_objects_v2_golden_with_continuation() {
    let result = ListObjectsResult {
        bucket: "bucket".into(),
        prefix: String::new(),
        delimiter: None,
        max_keys: 1000,
        url_encoding: false,
        is_truncated: true,
        contents: vec![item(
            "happyface.jpg",
            1_416_598_805_000,
            "\"70ee1738b6b21e2c8a43f3a5ab0eee71\"",
            11,
        )],
        common_prefixes: vec![],
        owner: None,
        version: ListVersion::V2 {
            continuation_token: None,
            next_continuation_token: Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=".into()),
            start_after: None,
        },
    };
    let expected = compact(
        r#"<?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Name>bucket</Name>
          <Prefix></Prefix>
          <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
          <KeyCount>1</KeyCount>
          <MaxKeys>1000</MaxKeys>
          <IsTruncated>true</IsTruncated>
          <Contents>
            <Key>happyface.jpg</Key>
            <LastModified>2014-11-21T19:40:05.000Z</LastModified>
            <ETag>&quot;70ee1738b6b21e2c8a43f3a5ab0eee71&quot;</ETag>
            <Size>11</Size>
            <StorageClass>STANDARD</StorageClass>
          </Contents>
        </ListBucketResult>"#,
    );
    assert_eq!(list_objects(&result), expected);
}

#[test]
fn list_objects_v2_golden_start_after_and_common_prefixes() {
    let result = ListObjectsResult {
        bucket: "quotes".into(),
        prefix: "E".into(),
        delimiter: None,
        max_keys: 3,
        url_encoding: false,
        is_truncated: false,
        contents: vec![item(
            "ExampleObject.txt",
            1_379_441_273_000,
            "\"599bab3ed2c697f1d26842727561fd94\"",
            857,
        )],
        common_prefixes: vec![],
        owner: None,
        version: ListVersion::V2 {
            continuation_token: None,
            next_continuation_token: None,
            start_after: Some("ExampleGuide.pdf".into()),
        },
    };
    let expected = compact(
        r#"<?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Name>quotes</Name>
          <Prefix>E</Prefix>
          <StartAfter>ExampleGuide.pdf</StartAfter>
          <KeyCount>1</KeyCount>
          <MaxKeys>3</MaxKeys>
          <IsTruncated>false</IsTruncated>
          <Contents>
            <Key>ExampleObject.txt</Key>
            <LastModified>2013-09-17T18:07:53.000Z</LastModified>
            <ETag>&quot;599bab3ed2c697f1d26842727561fd94&quot;</ETag>
            <Size>857</Size>
            <StorageClass>STANDARD</StorageClass>
          </Contents>
        </ListBucketResult>"#,
    );
    assert_eq!(list_objects(&result), expected);

    let result = ListObjectsResult {
        bucket: "example-bucket".into(),
        prefix: "photos/2006/".into(),
        delimiter: Some("/".into()),
        max_keys: 1000,
        url_encoding: false,
        is_truncated: false,
        contents: vec![],
        common_prefixes: vec![
            "photos/2006/February/".into(),
            "photos/2006/January/".into(),
        ],
        owner: None,
        version: ListVersion::V2 {
            continuation_token: None,
            next_continuation_token: None,
            start_after: None,
        },
    };
    let expected = compact(
        r#"<?xml version="1.0" encoding="UTF-8"?>
        <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Name>example-bucket</Name>
          <Prefix>photos/2006/</Prefix>
          <KeyCount>2</KeyCount>
          <MaxKeys>1000</MaxKeys>
          <Delimiter>/</Delimiter>
          <IsTruncated>false</IsTruncated>
          <CommonPrefixes>
            <Prefix>photos/2006/February/</Prefix>
          </CommonPrefixes>
          <CommonPrefixes>
            <Prefix>photos/2006/January/</Prefix>
          </CommonPrefixes>
        </ListBucketResult>"#,
    );
    assert_eq!(list_objects(&result), expected);
}

#[test]
fn url_encoding_applies_to_key_fields_only() {
    let result = ListObjectsResult {
        bucket: "b".into(),
        prefix: "a b".into(),
        delimiter: Some("/".into()),
        max_keys: 10,
        url_encoding: true,
        is_truncated: true,
        contents: vec![item("a b+c", 0, "\"e\"", 1)],
        common_prefixes: vec!["a b/".into()],
        owner: None,
        version: ListVersion::V1 {
            marker: "a a".into(),
            next_marker: Some("a b/".into()),
        },
    };
    let doc = list_objects(&result);
    for part in [
        "<Prefix>a%20b</Prefix>",
        "<Marker>a%20a</Marker>",
        "<NextMarker>a%20b/</NextMarker>",
        "<Delimiter>/</Delimiter><EncodingType>url</EncodingType>",
        "<Key>a%20b%2Bc</Key>",
        "<CommonPrefixes><Prefix>a%20b/</Prefix></CommonPrefixes>",
    ] {
        assert!(doc.contains(part), "{part} missing in {doc}");
    }
    // V2 tokens are opaque: never encoded.
    let v2 = ListObjectsResult {
        version: ListVersion::V2 {
            continuation_token: Some("a+b/=".into()),
            next_continuation_token: None,
            start_after: Some("k k".into()),
        },
        ..result
    };
    let doc = list_objects(&v2);
    assert!(doc.contains("<ContinuationToken>a+b/=</ContinuationToken>"));
    assert!(doc.contains("<StartAfter>k%20k</StartAfter>"));
    assert!(doc.contains("<KeyCount>2</KeyCount>"));
}

#[test]
fn empty_delimiter_is_not_echoed() {
    let result = ListObjectsResult {
        bucket: "b".into(),
        prefix: String::new(),
        delimiter: Some(String::new()),
        max_keys: 1000,
        url_encoding: false,
        is_truncated: false,
        contents: vec![],
        common_prefixes: vec![],
        owner: None,
        version: ListVersion::V1 {
            marker: String::new(),
            next_marker: None,
        },
    };
    assert!(!list_objects(&result).contains("Delimiter"));
}

#[test]
fn keys_with_markup_and_line_ends_are_escaped() {
    let result = ListObjectsResult {
        bucket: "b".into(),
        prefix: "<".into(),
        delimiter: None,
        max_keys: 1,
        url_encoding: false,
        is_truncated: false,
        contents: vec![item("<a&b>\n", 0, "\"e\"", 0)],
        common_prefixes: vec![],
        owner: None,
        version: ListVersion::V1 {
            marker: String::new(),
            next_marker: None,
        },
    };
    let doc = list_objects(&result);
    assert!(doc.contains("<Key>&lt;a&amp;b&gt;&#xA;</Key>"));
    assert!(doc.contains("<Prefix>&lt;</Prefix>"));
}

#[test]
fn list_multipart_uploads_golden() {
    let result = ListMultipartUploadsResult {
        bucket: "bucket".into(),
        key_marker: String::new(),
        upload_id_marker: String::new(),
        next_key_marker: Some("my-movie.m2ts".into()),
        next_upload_id_marker: Some("YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ".into()),
        prefix: None,
        delimiter: None,
        max_uploads: 3,
        url_encoding: false,
        is_truncated: true,
        uploads: vec![UploadItem {
            key: "my-divisor".into(),
            upload_id: "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw".into(),
            initiated_ms: 1_289_422_113_000,
            initiator: None,
            checksum_algorithm: None,
            checksum_type: None,
        }],
        common_prefixes: vec![],
        initiator: Owner {
            id: "arn:aws:iam::111122223333:user/user1-11111a31-17b5-4fb7-9df5-b111111f13de".into(),
            display_name: "user1-11111a31-17b5-4fb7-9df5-b111111f13de".into(),
        },
        owner: Owner {
            id: "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a".into(),
            display_name: "OwnerDisplayName".into(),
        },
    };
    let expected = compact(
        r#"<?xml version="1.0" encoding="UTF-8"?>
        <ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Bucket>bucket</Bucket>
          <KeyMarker></KeyMarker>
          <UploadIdMarker></UploadIdMarker>
          <NextKeyMarker>my-movie.m2ts</NextKeyMarker>
          <NextUploadIdMarker>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</NextUploadIdMarker>
          <MaxUploads>3</MaxUploads>
          <IsTruncated>true</IsTruncated>
          <Upload>
            <Key>my-divisor</Key>
            <UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>
            <Initiator>
              <ID>arn:aws:iam::111122223333:user/user1-11111a31-17b5-4fb7-9df5-b111111f13de</ID>
              <DisplayName>user1-11111a31-17b5-4fb7-9df5-b111111f13de</DisplayName>
            </Initiator>
            <Owner>
              <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
              <DisplayName>OwnerDisplayName</DisplayName>
            </Owner>
            <StorageClass>STANDARD</StorageClass>
            <Initiated>2010-11-10T20:48:33.000Z</Initiated>
          </Upload>
        </ListMultipartUploadsResult>"#,
    );
    assert_eq!(list_multipart_uploads(&result), expected);

    let with_prefixes = ListMultipartUploadsResult {
        prefix: Some("photos 2006/".into()),
        delimiter: Some("/".into()),
        url_encoding: true,
        uploads: vec![],
        common_prefixes: vec!["photos 2006/Jan/".into()],
        ..result
    };
    let doc = list_multipart_uploads(&with_prefixes);
    assert!(doc.contains(
        "<Prefix>photos%202006/</Prefix><Delimiter>/</Delimiter><EncodingType>url</EncodingType>"
    ));
    assert!(doc.contains("<CommonPrefixes><Prefix>photos%202006/Jan/</Prefix></CommonPrefixes>"));

    // An upload whose starter is known names it as initiator and owner.
    let starter = Owner {
        id: "DFSKEY2".into(),
        display_name: "alice".into(),
    };
    let mut with_starter = with_prefixes.clone();
    with_starter.uploads = vec![UploadItem {
        key: "k".into(),
        upload_id: "u".into(),
        initiated_ms: 0,
        initiator: Some(starter),
        checksum_algorithm: Some("CRC32".into()),
        checksum_type: Some("COMPOSITE".into()),
    }];
    let doc = list_multipart_uploads(&with_starter);
    assert!(doc.contains(
        "<Initiator><ID>DFSKEY2</ID><DisplayName>alice</DisplayName></Initiator>\
         <Owner><ID>DFSKEY2</ID><DisplayName>alice</DisplayName></Owner>"
    ));
    assert!(doc.contains(
        "<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>COMPOSITE</ChecksumType>\
         </Upload>"
    ));
}

#[test]
fn list_parts_golden() {
    let part = |n, ms, etag: &str| PartItem {
        part_number: n,
        last_modified_ms: ms,
        etag: etag.into(),
        size: 10_485_760,
        checksums: Checksums::default(),
    };
    let result = ListPartsResult {
        bucket: "example-bucket".into(),
        key: "example-object".into(),
        upload_id: "XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA".into(),
        part_number_marker: 1,
        next_part_number_marker: Some(3),
        max_parts: 2,
        is_truncated: true,
        parts: vec![
            part(2, 1_289_422_114_000, "\"7778aef83f66abc1fa1e8477f296d394\""),
            part(3, 1_289_422_113_000, "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""),
        ],
        initiator: Owner {
            id: "arn:aws:iam::111122223333:user/some-user-11116a31-17b5-4fb7-9df5-b288870f11xx"
                .into(),
            display_name: "umat-user-11116a31-17b5-4fb7-9df5-b288870f11xx".into(),
        },
        owner: Owner {
            id: "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a".into(),
            display_name: "someName".into(),
        },
        checksum_algorithm: None,
        checksum_type: None,
    };
    let expected = compact(
        r#"<?xml version="1.0" encoding="UTF-8"?>
        <ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <Bucket>example-bucket</Bucket>
          <Key>example-object</Key>
          <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
          <Initiator>
            <ID>arn:aws:iam::111122223333:user/some-user-11116a31-17b5-4fb7-9df5-b288870f11xx</ID>
            <DisplayName>umat-user-11116a31-17b5-4fb7-9df5-b288870f11xx</DisplayName>
          </Initiator>
          <Owner>
            <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
            <DisplayName>someName</DisplayName>
          </Owner>
          <StorageClass>STANDARD</StorageClass>
          <PartNumberMarker>1</PartNumberMarker>
          <NextPartNumberMarker>3</NextPartNumberMarker>
          <MaxParts>2</MaxParts>
          <IsTruncated>true</IsTruncated>
          <Part>
            <PartNumber>2</PartNumber>
            <LastModified>2010-11-10T20:48:34.000Z</LastModified>
            <ETag>&quot;7778aef83f66abc1fa1e8477f296d394&quot;</ETag>
            <Size>10485760</Size>
          </Part>
          <Part>
            <PartNumber>3</PartNumber>
            <LastModified>2010-11-10T20:48:33.000Z</LastModified>
            <ETag>&quot;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&quot;</ETag>
            <Size>10485760</Size>
          </Part>
        </ListPartsResult>"#,
    );
    assert_eq!(list_parts(&result), expected);

    let mut with_checksum = result;
    with_checksum.parts[0].checksums.sha256 =
        Some("5RQ3A5uk0w7ojNjvegohch4JRBBGN/cLhsNrPzfv/hA=".into());
    assert!(list_parts(&with_checksum).contains(
        "<Size>10485760</Size><ChecksumSHA256>5RQ3A5uk0w7ojNjvegohch4JRBBGN/cLhsNrPzfv/hA=</ChecksumSHA256></Part>"
    ));
    with_checksum.checksum_algorithm = Some("SHA256".into());
    with_checksum.checksum_type = Some("COMPOSITE".into());
    assert!(list_parts(&with_checksum).contains(
        "<StorageClass>STANDARD</StorageClass><ChecksumAlgorithm>SHA256</ChecksumAlgorithm>\
         <ChecksumType>COMPOSITE</ChecksumType><PartNumberMarker>"
    ));
}
