//! The XML of the S3 API: writers for response documents and parsers for request bodies.
//!
//! - [`results`]: small documents (bucket list, location, versioning, ACL, copy, delete,
//!   multipart start and completion);
//! - [`list`]: the listing documents (ListObjects V1 and V2, ListMultipartUploads, ListParts);
//! - [`parse`]: request bodies (CreateBucketConfiguration, Delete, CompleteMultipartUpload).
//!
//! Writers take plain data structs and return the whole document as a `String`: a response is
//! built in one piece so that it goes out in one write. They are written by hand over
//! [`XmlWriter`] rather than with quick-xml's writer because writing into a `String` cannot fail
//! (no `io::Result` to handle on every element), and because S3 needs an escaping quick-xml does
//! not do: `\r` and `\n` in keys as character references, so that no XML parser's line-end
//! normalisation can change a key.

pub mod list;
pub mod parse;
pub mod results;

pub use list::*;
pub use parse::*;
pub use results::*;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// The namespace of every S3 response document.
pub const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The storage class reported for every object and part: dfs has one.
pub const STORAGE_CLASS: &str = "STANDARD";

/// Appends `text` escaped for XML character data or attribute values.
///
/// The five markup characters become entities. `\r`, `\n` and the other control characters
/// become character references, as S3 does, so that a key survives any parser's line-end
/// normalisation. (Control characters other than tab, CR and LF are not legal in XML 1.0 in any
/// form; clients that need such keys ask for `encoding-type=url`, which every SDK does.)
pub fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push('\t'),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("&#x{:X};", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// What `encoding-type=url` leaves as is: RFC 3986 unreserved characters and `/`, as S3 does.
const URL_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Encodes a key, prefix, marker or delimiter for a listing asked with `encoding-type=url`:
/// UTF-8 bytes outside the unreserved set become `%XX`; `/` stays. A space becomes `%20`, not
/// `+`: both decode to a space with the decoders SDKs use (`unquote_plus`, `URLDecoder`), and
/// `%20` is also right for the ones that do not treat `+` specially (s3-tests checks `%20`).
pub fn url_encode(text: &str) -> String {
    utf8_percent_encode(text, URL_ENCODE_SET).to_string()
}

/// Formats Unix milliseconds as S3's ISO 8601 timestamps: `2009-10-12T17:50:30.000Z`.
pub fn iso8601_ms(unix_ms: u64) -> String {
    let secs = i64::try_from(unix_ms / 1000).unwrap_or(i64::MAX);
    let millis = unix_ms % 1000;
    let (year, month, day) = crate::auth::time::civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// A small writer of S3 documents into a `String`. Tag names are static and never escaped;
/// every text goes through [`escape`].
pub struct XmlWriter {
    out: String,
}

impl Default for XmlWriter {
    fn default() -> Self {
        XmlWriter::new()
    }
}

impl XmlWriter {
    /// A document with its XML declaration written.
    pub fn new() -> XmlWriter {
        let mut out = String::with_capacity(512);
        out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        XmlWriter { out }
    }

    /// Opens the root element with the S3 namespace.
    pub fn root(&mut self, tag: &str) {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push_str(" xmlns=\"");
        self.out.push_str(S3_XMLNS);
        self.out.push_str("\">");
    }

    /// Writes an empty root element with the S3 namespace: `<Tag xmlns="..."/>`.
    pub fn empty_root(&mut self, tag: &str) {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push_str(" xmlns=\"");
        self.out.push_str(S3_XMLNS);
        self.out.push_str("\"/>");
    }

    /// Opens an element.
    pub fn open(&mut self, tag: &str) {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
    }

    /// Closes an element.
    pub fn close(&mut self, tag: &str) {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
    }

    /// Writes `<tag>text</tag>`, the text escaped.
    pub fn elem(&mut self, tag: &str, text: &str) {
        self.open(tag);
        escape(&mut self.out, text);
        self.close(tag);
    }

    /// Writes the element only when there is a value.
    pub fn elem_opt(&mut self, tag: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.elem(tag, text);
        }
    }

    /// Writes a number.
    pub fn elem_num(&mut self, tag: &str, value: u64) {
        self.elem(tag, &value.to_string());
    }

    /// Writes `true` or `false`.
    pub fn elem_bool(&mut self, tag: &str, value: bool) {
        self.elem(tag, if value { "true" } else { "false" });
    }

    /// Writes a timestamp given in Unix milliseconds.
    pub fn elem_time(&mut self, tag: &str, unix_ms: u64) {
        self.elem(tag, &iso8601_ms(unix_ms));
    }

    /// Writes a key-like text, URL-encoded when the listing asked for `encoding-type=url`.
    pub fn elem_key(&mut self, tag: &str, text: &str, url: bool) {
        if url {
            self.elem(tag, &url_encode(text));
        } else {
            self.elem(tag, text);
        }
    }

    /// Appends escaped character data inside the open element.
    fn text(&mut self, text: &str) {
        escape(&mut self.out, text);
    }

    /// Appends already-formed markup (only from this module's own writers).
    fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
    }

    /// The finished document.
    pub fn finish(self) -> String {
        self.out
    }
}

/// Test helper: removes the whitespace between tags of a pretty-printed example, so that AWS's
/// documented examples compare with the compact documents written here.
#[cfg(test)]
pub(crate) fn compact(pretty: &str) -> String {
    let mut out = String::with_capacity(pretty.len());
    for line in pretty.lines() {
        out.push_str(line.trim());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_line_ends() {
        let mut out = String::new();
        escape(&mut out, "a<b>&\"c\"'d'\r\n\te\u{1}é");
        assert_eq!(
            out,
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;&#xD;&#xA;\te&#x1;é"
        );
    }

    #[test]
    fn url_encoding_matches_s3() {
        assert_eq!(url_encode("a b.txt"), "a%20b.txt");
        assert_eq!(url_encode("a+b.txt"), "a%2Bb.txt");
        assert_eq!(url_encode("100%.csv"), "100%25.csv");
        assert_eq!(url_encode("한글/x.txt"), "%ED%95%9C%EA%B8%80/x.txt");
        assert_eq!(url_encode("foo+1/"), "foo%2B1/");
        assert_eq!(url_encode("quux ab/"), "quux%20ab/");
        assert_eq!(url_encode("a-b_c.d~e/f"), "a-b_c.d~e/f");
        assert_eq!(url_encode("\n"), "%0A");
    }

    #[test]
    fn iso8601_with_milliseconds() {
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_ms(1_255_369_830_000), "2009-10-12T17:50:30.000Z");
        assert_eq!(iso8601_ms(1_289_422_113_007), "2010-11-10T20:48:33.007Z");
        assert_eq!(iso8601_ms(951_782_400_999), "2000-02-29T00:00:00.999Z");
        assert_eq!(iso8601_ms(253_402_300_799_000), "9999-12-31T23:59:59.000Z");
        // Never panics, even on absurd values.
        assert!(!iso8601_ms(u64::MAX).is_empty());
    }

    #[test]
    fn writer_builds_documents() {
        let mut w = XmlWriter::new();
        w.root("R");
        w.elem("A", "x&y");
        w.elem_opt("B", None);
        w.elem_num("C", 7);
        w.elem_bool("D", false);
        w.elem_key("K", "a b", true);
        w.close("R");
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <R xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><A>x&amp;y</A><C>7</C>\
             <D>false</D><K>a%20b</K></R>"
        );
    }
}
