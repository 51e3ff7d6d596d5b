//! Parsers of the S3 request bodies: `CreateBucketConfiguration`, `Delete` (DeleteObjects) and
//! `CompleteMultipartUpload`.
//!
//! A body is first read into a small element tree with quick-xml's event reader, then the fields
//! are picked from it. Anything that is not well-formed XML, or does not have the shape S3
//! documents, is a `MalformedXML` error: never a panic. Element names are matched without their
//! namespace prefix, and unknown elements are ignored, as S3 does. Key texts are kept exactly as
//! sent (no trimming: a key may begin or end with spaces); numbers and flags are trimmed.

use super::results::Checksums;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Most objects one DeleteObjects request may name.
pub const MAX_DELETE_OBJECTS: usize = 1000;
/// Highest part number of a multipart upload.
pub const MAX_PART_NUMBER: u32 = 10_000;
/// Deepest nesting accepted: S3's request documents are three levels deep.
const MAX_DEPTH: usize = 16;
/// Most elements in one document: far above the largest valid one (a Delete of 1000 objects),
/// low enough that a hostile body cannot build a huge tree.
const MAX_ELEMENTS: usize = 200_000;

/// One element of a parsed document: its local name, its own text and its children.
#[derive(Debug, Default)]
struct Element {
    name: String,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The trimmed text of an optional child.
    fn child_text<'a>(&'a self, name: &str) -> Option<&'a str> {
        self.child(name).map(|c| c.text.trim())
    }
}

/// Reads a whole document into an element tree.
fn parse_tree(body: &[u8]) -> S3Result<Element> {
    let text = std::str::from_utf8(body)
        .map_err(|e| S3Error::malformed_xml(format!("the body is not UTF-8: {e}")))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| {
            S3Error::malformed_xml(format!("at byte {}: {e}", reader.error_position()))
        })?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(S3Error::malformed_xml("content after the root element"));
            }
            Event::Start(start) => {
                check_attributes(&start)?;
                elements += 1;
                if stack.len() >= MAX_DEPTH || elements > MAX_ELEMENTS {
                    return Err(S3Error::malformed_xml(
                        "the document is too deep or too large",
                    ));
                }
                stack.push(Element {
                    name: local_name(start.local_name().as_ref())?,
                    ..Element::default()
                });
            }
            Event::Empty(start) => {
                check_attributes(&start)?;
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(S3Error::malformed_xml("the document is too large"));
                }
                let element = Element {
                    name: local_name(start.local_name().as_ref())?,
                    ..Element::default()
                };
                close(element, &mut stack, &mut root);
            }
            Event::End(_) => {
                // quick-xml has checked that the name matches the open element.
                let element = stack
                    .pop()
                    .ok_or_else(|| S3Error::malformed_xml("an end tag without a start"))?;
                close(element, &mut stack, &mut root);
            }
            Event::Text(t) => {
                let content = t
                    .xml10_content()
                    .map_err(|e| S3Error::malformed_xml(format!("bad text: {e}")))?;
                append_text(&mut stack, &content)?;
            }
            Event::CData(c) => {
                let content = c
                    .decode()
                    .map_err(|e| S3Error::malformed_xml(format!("bad CDATA: {e}")))?;
                append_text(&mut stack, &content)?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => predefined_entity(r.as_ref())?,
                    Err(e) => return Err(S3Error::malformed_xml(format!("bad reference: {e}"))),
                };
                append_text(&mut stack, resolved.encode_utf8(&mut [0; 4]))?;
            }
            Event::DocType(_) => {
                // A DTD could declare entities; S3 documents never have one.
                return Err(S3Error::malformed_xml("a DOCTYPE is not allowed"));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(S3Error::malformed_xml(
            "the document ends inside an element",
        ));
    }
    root.ok_or_else(|| S3Error::malformed_xml("the document has no root element"))
}

/// quick-xml parses attributes lazily: walk them so that a malformed one is refused (their
/// values are not used; S3's request documents carry only namespace declarations).
fn check_attributes(start: &BytesStart<'_>) -> S3Result<()> {
    for attribute in start.attributes() {
        attribute.map_err(|e| S3Error::malformed_xml(format!("bad attribute: {e}")))?;
    }
    Ok(())
}

fn local_name(raw: &[u8]) -> S3Result<String> {
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|_| S3Error::malformed_xml("an element name is not UTF-8"))
}

/// Attaches a finished element to its parent, or makes it the root.
fn close(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// Adds character data to the open element; outside the root only whitespace may appear.
fn append_text(stack: &mut [Element], text: &str) -> S3Result<()> {
    match stack.last_mut() {
        Some(open) => {
            open.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(S3Error::malformed_xml("text outside the root element")),
    }
}

/// The five entities every XML document has; no other can be declared (no DTD allowed).
fn predefined_entity(name: &[u8]) -> S3Result<char> {
    match name {
        b"lt" => Ok('<'),
        b"gt" => Ok('>'),
        b"amp" => Ok('&'),
        b"apos" => Ok('\''),
        b"quot" => Ok('"'),
        other => Err(S3Error::malformed_xml(format!(
            "unknown entity &{};",
            String::from_utf8_lossy(other)
        ))),
    }
}

fn expect_root(root: &Element, name: &str) -> S3Result<()> {
    if root.name != name {
        return Err(S3Error::malformed_xml(format!(
            "the root element is <{}>, expected <{name}>",
            root.name
        )));
    }
    Ok(())
}

/// Parses an XML boolean (`true`/`false`, as S3 writes them; `1`/`0` are XML Schema's too).
fn parse_bool(text: &str, what: &str) -> S3Result<bool> {
    match text {
        t if t.eq_ignore_ascii_case("true") || t == "1" => Ok(true),
        t if t.eq_ignore_ascii_case("false") || t == "0" => Ok(false),
        _ => Err(S3Error::malformed_xml(format!(
            "<{what}> must be true or false, not {text:?}"
        ))),
    }
}

/// The body of CreateBucket: the `LocationConstraint`, if any. An empty body is allowed (no
/// configuration) and gives `None`, as does an empty `LocationConstraint`.
pub fn parse_create_bucket_configuration(body: &[u8]) -> S3Result<Option<String>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let root = parse_tree(body)?;
    expect_root(&root, "CreateBucketConfiguration")?;
    Ok(root
        .child_text("LocationConstraint")
        .filter(|region| !region.is_empty())
        .map(str::to_owned))
}

/// One key named by DeleteObjects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectToDelete {
    /// The key, exactly as sent.
    pub key: String,
    /// The version id, when given.
    pub version_id: Option<String>,
}

/// The body of DeleteObjects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteRequest {
    /// The keys, in request order (1..=1000 of them).
    pub objects: Vec<ObjectToDelete>,
    /// Quiet mode: the answer lists only the failures.
    pub quiet: bool,
}

/// Parses the `Delete` document of DeleteObjects. No object, more than
/// [`MAX_DELETE_OBJECTS`], or an object without a `Key` is `MalformedXML`, as in S3.
pub fn parse_delete(body: &[u8]) -> S3Result<DeleteRequest> {
    let root = parse_tree(body)?;
    expect_root(&root, "Delete")?;
    let quiet = match root.child_text("Quiet") {
        Some(text) => parse_bool(text, "Quiet")?,
        None => false,
    };
    let mut objects = Vec::new();
    for object in root.children("Object") {
        if objects.len() == MAX_DELETE_OBJECTS {
            return Err(S3Error::malformed_xml(format!(
                "a Delete request names at most {MAX_DELETE_OBJECTS} objects"
            )));
        }
        let key = object
            .child("Key")
            .ok_or_else(|| S3Error::malformed_xml("an <Object> has no <Key>"))?;
        objects.push(ObjectToDelete {
            key: key.text.clone(),
            version_id: object
                .child_text("VersionId")
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
        });
    }
    if objects.is_empty() {
        return Err(S3Error::malformed_xml("a Delete request names no <Object>"));
    }
    Ok(DeleteRequest { objects, quiet })
}

/// One part named by CompleteMultipartUpload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletePart {
    /// The part number, 1..=10000.
    pub part_number: u32,
    /// The ETag the client got for the part, as sent (usually quoted).
    pub etag: String,
    /// The checksums the client sent for the part.
    pub checksums: Checksums,
}

/// Parses the `CompleteMultipartUpload` document. The parts must be in strictly ascending
/// part-number order (`InvalidPartOrder`), numbered 1..=10000 (`InvalidArgument`), each with a
/// `PartNumber` and an `ETag`, and there must be at least one (`MalformedXML`).
pub fn parse_complete_multipart_upload(body: &[u8]) -> S3Result<Vec<CompletePart>> {
    let root = parse_tree(body)?;
    expect_root(&root, "CompleteMultipartUpload")?;
    let mut parts: Vec<CompletePart> = Vec::new();
    for part in root.children("Part") {
        let number_text = part
            .child_text("PartNumber")
            .ok_or_else(|| S3Error::malformed_xml("a <Part> has no <PartNumber>"))?;
        let part_number: u32 = number_text.parse().map_err(|_| {
            S3Error::malformed_xml(format!("<PartNumber> {number_text:?} is not a number"))
        })?;
        if !(1..=MAX_PART_NUMBER).contains(&part_number) {
            return Err(S3Error::invalid_argument(format!(
                "Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive (got {part_number})"
            )));
        }
        if parts
            .last()
            .is_some_and(|last| last.part_number >= part_number)
        {
            return Err(S3Error::from_code(S3ErrorCode::InvalidPartOrder));
        }
        let etag = part
            .child_text("ETag")
            .ok_or_else(|| S3Error::malformed_xml(format!("part {part_number} has no <ETag>")))?;
        let text = |name: &str| part.child_text(name).map(str::to_owned);
        parts.push(CompletePart {
            part_number,
            etag: etag.to_owned(),
            checksums: Checksums {
                crc32: text("ChecksumCRC32"),
                crc32c: text("ChecksumCRC32C"),
                crc64nvme: text("ChecksumCRC64NVME"),
                sha1: text("ChecksumSHA1"),
                sha256: text("ChecksumSHA256"),
            },
        });
    }
    if parts.is_empty() {
        return Err(S3Error::malformed_xml(
            "a CompleteMultipartUpload request names no <Part>",
        ));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests;
