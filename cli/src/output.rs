//! Formatting for people: sizes, times, entry names, tables and trees. Pure functions, so the
//! exact output is unit-tested.

use dfs_common::wire::{Entry, EntryKind};

/// A byte count in binary units with one decimal: `0 B`, `999 B`, `1.5 KiB`, `8.0 MiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Splits milliseconds since the epoch into date and time of day (UTC).
fn split_time(ms: u64) -> ((i64, u32, u32), (u64, u64, u64)) {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    (
        civil_from_days(days),
        (rest / 3600, rest % 3600 / 60, rest % 60),
    )
}

/// A modification time for `stat`: `2023-11-14 22:13:20 UTC`.
pub fn format_time(ms: u64) -> String {
    let ((y, mo, d), (h, mi, s)) = split_time(ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// A modification time for listings: `2023-11-14 22:13` (UTC).
pub fn format_time_short(ms: u64) -> String {
    let ((y, mo, d), (h, mi, _)) = split_time(ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}")
}

/// A name as shown to a person: directories end in `/`, control characters are escaped so a
/// hostile name cannot rewrite the terminal.
pub fn display_name(entry: &Entry) -> String {
    let mut name = escape(&entry.name);
    if entry.kind == EntryKind::Dir && !name.ends_with('/') {
        name.push('/');
    }
    name
}

/// Escapes control characters (`\n`, `\u{1b}`, ...) the way Rust's debug format does.
pub fn escape(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        text.to_owned()
    }
}

/// One line of `ls -l`: type, size, mtime, name.
pub fn long_line(entry: &Entry) -> String {
    let (kind, size) = match entry.kind {
        EntryKind::Dir => ("dir", "-".to_owned()),
        EntryKind::File => ("file", entry.size.to_string()),
    };
    format!(
        "{kind:<4}  {size:>14}  {}  {}",
        format_time_short(entry.mtime_ms),
        display_name(entry)
    )
}

/// Column alignment in a [`format_table`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text columns.
    Left,
    /// Number columns.
    Right,
}

/// A table with a header row; columns are two spaces apart, lines carry no trailing spaces.
pub fn format_table(headers: &[&str], align: &[Align], rows: &[Vec<String>]) -> String {
    let columns = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (i, width) in widths.iter().enumerate() {
            let cell = row.get(i).map(String::as_str).unwrap_or("");
            if i > 0 {
                line.push_str("  ");
            }
            let pad = width.saturating_sub(cell.chars().count());
            match align.get(i).copied().unwrap_or(Align::Left) {
                Align::Left => {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
                Align::Right => {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A node of a tree to draw: its label and its children, which may have been cut short.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeNode {
    /// The text of its line.
    pub label: String,
    /// Its children, in order.
    pub children: Vec<TreeNode>,
    /// More children exist than are listed: a `…` line follows them.
    pub more: bool,
}

impl TreeNode {
    /// A node without children.
    pub fn leaf(label: impl Into<String>) -> Self {
        TreeNode {
            label: label.into(),
            ..TreeNode::default()
        }
    }

    /// How many lines the tree takes (its own included).
    pub fn line_count(&self) -> usize {
        1 + usize::from(self.more)
            + self
                .children
                .iter()
                .map(TreeNode::line_count)
                .sum::<usize>()
    }
}

/// The label of an entry in a tree: the name, and the size of a file.
pub fn tree_label(entry: &Entry) -> String {
    match entry.kind {
        EntryKind::Dir => display_name(entry),
        EntryKind::File => format!("{} ({})", display_name(entry), format_size(entry.size)),
    }
}

/// Draws a tree with box-drawing lines:
/// ```text
/// /b/
/// ├── x/
/// │   └── y (12 B)
/// └── z (1.0 KiB)
/// ```
pub fn render_tree(root: &TreeNode) -> String {
    let mut out = String::new();
    out.push_str(&root.label);
    out.push('\n');
    render_children(root, "", &mut out);
    out
}

fn render_children(node: &TreeNode, prefix: &str, out: &mut String) {
    let count = node.children.len();
    for (index, child) in node.children.iter().enumerate() {
        let last = index + 1 == count && !node.more;
        out.push_str(prefix);
        out.push_str(if last { "└── " } else { "├── " });
        out.push_str(&child.label);
        out.push('\n');
        let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
        render_children(child, &deeper, out);
    }
    if node.more {
        out.push_str(prefix);
        out.push_str("└── …\n");
    }
}

/// Quotes `text` for a POSIX shell when it holds anything but plain path characters.
pub fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,@".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfs_common::InodeId;

    fn entry(name: &str, kind: EntryKind, size: u64) -> Entry {
        Entry {
            name: name.into(),
            kind,
            inode: InodeId(9),
            size,
            mtime_ms: 1_700_000_000_000,
            etag: String::new(),
            content_type: None,
            meta: Vec::new(),
            checksum: None,
            explicit: true,
            chunk_count: 0,
            part_sizes: Vec::new(),
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(1024), "1.0 KiB");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(8 << 20), "8.0 MiB");
        assert_eq!(format_size(5 << 40), "5.0 TiB");
        assert_eq!(format_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_700_000_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_time(1_709_251_199_999), "2024-02-29 23:59:59 UTC");
        assert_eq!(format_time(4_102_444_799_000), "2099-12-31 23:59:59 UTC");
        assert_eq!(format_time_short(1_700_000_000_000), "2023-11-14 22:13");
    }

    #[test]
    fn names() {
        assert_eq!(display_name(&entry("x/", EntryKind::Dir, 0)), "x/");
        assert_eq!(display_name(&entry("x", EntryKind::Dir, 0)), "x/");
        assert_eq!(display_name(&entry("f", EntryKind::File, 3)), "f");
        assert_eq!(display_name(&entry("a\nb", EntryKind::File, 3)), "a\\nb");
    }

    #[test]
    fn long_lines() {
        assert_eq!(
            long_line(&entry("f", EntryKind::File, 1500)),
            "file            1500  2023-11-14 22:13  f"
        );
        assert_eq!(
            long_line(&entry("d/", EntryKind::Dir, 0)),
            "dir                -  2023-11-14 22:13  d/"
        );
    }

    #[test]
    fn tables() {
        let table = format_table(
            &["ID", "ADDRESS", "USED"],
            &[Align::Right, Align::Left, Align::Right],
            &[
                vec!["1".into(), "127.0.0.1:7801".into(), "0 B".into()],
                vec!["12".into(), "h:1".into(), "1.5 GiB".into()],
            ],
        );
        assert_eq!(
            table,
            "ID  ADDRESS            USED\n 1  127.0.0.1:7801      0 B\n12  h:1             1.5 GiB\n"
        );
    }

    #[test]
    fn trees() {
        let tree = TreeNode {
            label: "/b/".into(),
            children: vec![
                TreeNode {
                    label: "x/".into(),
                    children: vec![TreeNode::leaf("y (12 B)")],
                    more: false,
                },
                TreeNode::leaf("z (1.0 KiB)"),
            ],
            more: false,
        };
        assert_eq!(
            render_tree(&tree),
            "/b/\n├── x/\n│   └── y (12 B)\n└── z (1.0 KiB)\n"
        );
        assert_eq!(tree.line_count(), 4);
        assert_eq!(render_tree(&TreeNode::leaf("/")), "/\n");
    }

    #[test]
    fn cut_trees_end_with_an_ellipsis() {
        let tree = TreeNode {
            label: "/".into(),
            children: vec![TreeNode {
                label: "a/".into(),
                children: vec![TreeNode::leaf("1")],
                more: true,
            }],
            more: true,
        };
        assert_eq!(
            render_tree(&tree),
            "/\n├── a/\n│   ├── 1\n│   └── …\n└── …\n"
        );
        assert_eq!(tree.line_count(), 5);
    }

    #[test]
    fn tree_labels() {
        assert_eq!(tree_label(&entry("d/", EntryKind::Dir, 0)), "d/");
        assert_eq!(
            tree_label(&entry("f", EntryKind::File, 2048)),
            "f (2.0 KiB)"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(
            shell_quote("/home/me/dfs-data/cluster.secret"),
            "/home/me/dfs-data/cluster.secret"
        );
        assert_eq!(shell_quote("/my dir/x"), "'/my dir/x'");
        assert_eq!(shell_quote("/it's"), "'/it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
