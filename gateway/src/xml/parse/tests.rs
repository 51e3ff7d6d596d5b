//! Tests of the request-body parsers: AWS's documented examples, round trips through the
//! writer's escaping, and malformed or random input.

use super::super::escape;
use super::*;

fn code_of<T: std::fmt::Debug>(result: S3Result<T>) -> S3ErrorCode {
    result.expect_err("expected an error").code()
}

#[test]
fn create_bucket_configuration() {
    let body = br#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
        <LocationConstraint>Europe</LocationConstraint>
    </CreateBucketConfiguration>"#;
    assert_eq!(
        parse_create_bucket_configuration(body).unwrap(),
        Some("Europe".to_owned())
    );
    assert_eq!(parse_create_bucket_configuration(b"").unwrap(), None);
    assert_eq!(parse_create_bucket_configuration(b" \n").unwrap(), None);
    assert_eq!(
        parse_create_bucket_configuration(b"<CreateBucketConfiguration/>").unwrap(),
        None
    );
    assert_eq!(
        parse_create_bucket_configuration(
            b"<CreateBucketConfiguration><LocationConstraint></LocationConstraint></CreateBucketConfiguration>"
        )
        .unwrap(),
        None
    );
    assert_eq!(
        code_of(parse_create_bucket_configuration(b"<Other/>")),
        S3ErrorCode::MalformedXML
    );
}

#[test]
fn delete_aws_example() {
    let body = br#"<?xml version="1.0" encoding="UTF-8"?>
        <Delete>
            <Object>
                <Key>sample1.txt</Key>
            </Object>
            <Object>
                <Key>sample2.txt</Key>
                <VersionId>OYcLXagmS.WaD..oyH4KRguB95_YhLs7</VersionId>
            </Object>
        </Delete>"#;
    let parsed = parse_delete(body).unwrap();
    assert!(!parsed.quiet);
    assert_eq!(
        parsed.objects,
        vec![
            ObjectToDelete {
                key: "sample1.txt".into(),
                version_id: None
            },
            ObjectToDelete {
                key: "sample2.txt".into(),
                version_id: Some("OYcLXagmS.WaD..oyH4KRguB95_YhLs7".into())
            },
        ]
    );
    let quiet = br#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>
        <Object><Key>a</Key></Object></Delete>"#;
    assert!(parse_delete(quiet).unwrap().quiet);
}

/// Writes a Delete document the way an SDK does, escaping with the writer's escaper.
fn delete_document(keys: &[&str], quiet: bool) -> String {
    let mut doc = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
    );
    if quiet {
        doc.push_str("<Quiet>true</Quiet>");
    }
    for key in keys {
        doc.push_str("<Object><Key>");
        escape(&mut doc, key);
        doc.push_str("</Key></Object>");
    }
    doc.push_str("</Delete>");
    doc
}

#[test]
fn delete_round_trips_tricky_keys() {
    let keys = [
        " leading and trailing ",
        "a&b<c>d\"e'f",
        "line\r\nend\rcr\nlf",
        "tab\there",
        "é/日本/🙂",
        "a//b/./../c",
        "%2F+plus",
    ];
    let parsed = parse_delete(delete_document(&keys, false).as_bytes()).unwrap();
    let got: Vec<&str> = parsed.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(got, keys);
}

#[test]
fn delete_accepts_cdata_and_entities() {
    let body = b"<Delete><Object><Key><![CDATA[a<b]]>&amp;&#x41;&#66;</Key></Object></Delete>";
    assert_eq!(parse_delete(body).unwrap().objects[0].key, "a<b&AB");
}

#[test]
fn delete_limits() {
    let keys: Vec<String> = (0..MAX_DELETE_OBJECTS).map(|i| format!("k{i}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    assert_eq!(
        parse_delete(delete_document(&refs, true).as_bytes())
            .unwrap()
            .objects
            .len(),
        MAX_DELETE_OBJECTS
    );
    let keys: Vec<String> = (0..=MAX_DELETE_OBJECTS).map(|i| format!("k{i}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    assert_eq!(
        code_of(parse_delete(delete_document(&refs, true).as_bytes())),
        S3ErrorCode::MalformedXML
    );
    assert_eq!(
        code_of(parse_delete(b"<Delete></Delete>")),
        S3ErrorCode::MalformedXML
    );
    assert_eq!(
        code_of(parse_delete(
            b"<Delete><Object><VersionId>v</VersionId></Object></Delete>"
        )),
        S3ErrorCode::MalformedXML
    );
    assert_eq!(
        code_of(parse_delete(
            b"<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>"
        )),
        S3ErrorCode::MalformedXML
    );
}

#[test]
fn complete_multipart_upload_aws_example() {
    let body = br#"<CompleteMultipartUpload>
          <Part>
            <PartNumber>1</PartNumber>
            <ETag>"a54357aff0632cce46d942af68356b38"</ETag>
          </Part>
          <Part>
            <PartNumber>2</PartNumber>
            <ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag>
          </Part>
          <Part>
            <PartNumber>3</PartNumber>
            <ETag>"acbd18db4cc2f85cedef654fccc4a4d8"</ETag>
            <ChecksumCRC32C>yZRlqg==</ChecksumCRC32C>
          </Part>
        </CompleteMultipartUpload>"#;
    let parts = parse_complete_multipart_upload(body).unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0].part_number, 1);
    assert_eq!(parts[0].etag, "\"a54357aff0632cce46d942af68356b38\"");
    assert!(parts[0].checksums.is_empty());
    assert_eq!(parts[2].checksums.crc32c.as_deref(), Some("yZRlqg=="));
}

#[test]
fn complete_multipart_upload_round_trip() {
    let parts: Vec<CompletePart> = (1..=50)
        .map(|n| CompletePart {
            part_number: n * 3,
            etag: format!("\"{n:032x}\""),
            checksums: Checksums {
                sha256: (n % 2 == 0).then(|| format!("sha{n}=")),
                ..Checksums::default()
            },
        })
        .collect();
    let mut doc =
        String::from("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for part in &parts {
        doc.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>",
            part.part_number
        ));
        escape(&mut doc, &part.etag);
        doc.push_str("</ETag>");
        for (tag, value) in part.checksums.elements() {
            if let Some(value) = value {
                doc.push_str(&format!("<{tag}>{value}</{tag}>"));
            }
        }
        doc.push_str("</Part>");
    }
    doc.push_str("</CompleteMultipartUpload>");
    assert_eq!(
        parse_complete_multipart_upload(doc.as_bytes()).unwrap(),
        parts
    );
}

#[test]
fn complete_multipart_upload_errors() {
    let doc = |parts: &str| format!("<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>");
    let part = |n: &str| format!("<Part><PartNumber>{n}</PartNumber><ETag>\"e\"</ETag></Part>");
    let check = |body: String| code_of(parse_complete_multipart_upload(body.as_bytes()));
    assert_eq!(check(doc("")), S3ErrorCode::MalformedXML);
    assert_eq!(
        check(doc(&(part("2") + &part("1")))),
        S3ErrorCode::InvalidPartOrder
    );
    assert_eq!(
        check(doc(&(part("1") + &part("1")))),
        S3ErrorCode::InvalidPartOrder
    );
    assert_eq!(check(doc(&part("0"))), S3ErrorCode::InvalidArgument);
    assert_eq!(check(doc(&part("10001"))), S3ErrorCode::InvalidArgument);
    assert_eq!(check(doc(&part("x"))), S3ErrorCode::MalformedXML);
    assert_eq!(check(doc(&part("-1"))), S3ErrorCode::MalformedXML);
    assert_eq!(
        check(doc("<Part><PartNumber>1</PartNumber></Part>")),
        S3ErrorCode::MalformedXML
    );
    assert_eq!(
        check(doc("<Part><ETag>e</ETag></Part>")),
        S3ErrorCode::MalformedXML
    );
    assert_eq!(
        parse_complete_multipart_upload(doc(&part(" 7 ")).as_bytes()).unwrap()[0].part_number,
        7
    );
}

#[test]
fn malformed_documents_are_malformed_xml() {
    let cases: &[&[u8]] = &[
        b"",
        b"   ",
        b"<Delete>",
        b"<Delete><Object><Key>a</Key></Object>",
        b"<Delete><Object><Key>a</Object></Key></Delete>",
        b"</Delete>",
        b"<Delete></Delete><Delete></Delete>",
        b"junk<Delete><Object><Key>a</Key></Object></Delete>",
        b"<Delete><Object><Key>a</Key></Object></Delete>junk",
        b"<Delete><Object><Key>&unknown;</Key></Object></Delete>",
        b"<Delete><Object><Key>&#0;</Key></Object></Delete>",
        b"<Delete><Object><Key>&#xFFFFFFFF;</Key></Object></Delete>",
        b"<!DOCTYPE d [<!ENTITY e \"x\">]><Delete><Object><Key>&e;</Key></Object></Delete>",
        b"<Delete><Object><Key>\xff\xfe</Key></Object></Delete>",
        b"<Other><Object><Key>a</Key></Object></Other>",
        b"<Delete><Object><Key a=>x</Key></Object></Delete>",
        b"<?xml version=\"1.0\"?>",
        b"<!-- only a comment -->",
    ];
    for body in cases {
        assert_eq!(
            code_of(parse_delete(body)),
            S3ErrorCode::MalformedXML,
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
    let deep = "<a>".repeat(1000) + &"</a>".repeat(1000);
    assert_eq!(
        code_of(parse_delete(deep.as_bytes())),
        S3ErrorCode::MalformedXML
    );
}

/// A small deterministic generator, so the fuzz test needs no extra crate and is reproducible.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let alphabet =
        b"<>/&;#x=\"' ?!-[]CDATAPartNumberETagDeleteObjectKeyQuiet0123456789\r\n\xff\xc3\xa9";
    let seeds: [&[u8]; 3] = [
        b"<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key><VersionId>v</VersionId></Object></Delete>",
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag></Part></CompleteMultipartUpload>",
        b"<CreateBucketConfiguration><LocationConstraint>eu</LocationConstraint></CreateBucketConfiguration>",
    ];
    for round in 0..3000 {
        let body: Vec<u8> = if round % 3 == 0 {
            // Pure noise from a markup-heavy alphabet.
            (0..rng.below(200))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect()
        } else {
            // A valid document with a few bytes changed, inserted or removed.
            let mut body = seeds[round % seeds.len()].to_vec();
            for _ in 0..=rng.below(4) {
                let at = rng.below(body.len() + 1);
                match rng.below(3) {
                    0 if at < body.len() => body[at] = alphabet[rng.below(alphabet.len())],
                    1 => body.insert(at, alphabet[rng.below(alphabet.len())]),
                    _ if at < body.len() => {
                        body.remove(at);
                    }
                    _ => {}
                }
            }
            body
        };
        for result in [
            parse_delete(&body).map(|_| ()),
            parse_complete_multipart_upload(&body).map(|_| ()),
            parse_create_bucket_configuration(&body).map(|_| ()),
        ] {
            if let Err(e) = result {
                assert!(
                    matches!(
                        e.code(),
                        S3ErrorCode::MalformedXML
                            | S3ErrorCode::InvalidArgument
                            | S3ErrorCode::InvalidPartOrder
                    ),
                    "{e}"
                );
            }
        }
    }
}
