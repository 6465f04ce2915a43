//! Line arithmetic over a source text, and YAML syntax errors explained in the user's words.
//!
//! saphyr's messages are terse (`simple key expect ':'`) and sometimes land a line late (a key
//! without `:` is noticed on the next line, a tab on the line before). This module moves the
//! position to the line that is actually wrong and says what is wrong with it, with special
//! cases for tabs and for YAML pasted from a web page whose lists became HTML.

use crate::source::{FileId, Span};

/// Where every line starts, with line breaks counted as saphyr counts them: `\n`, `\r\n` and
/// a lone `\r`.
#[derive(Debug)]
pub struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    pub fn new(text: &'t str) -> Lines<'t> {
        let bytes = text.as_bytes();
        let starts = std::iter::once(0)
            .chain(bytes.iter().enumerate().filter_map(|(i, &b)| match b {
                b'\n' => Some(i + 1),
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => Some(i + 1),
                _ => None,
            }))
            .collect();
        Lines { text, starts }
    }

    /// 1-based line of `byte`.
    pub fn line_of(&self, byte: usize) -> usize {
        self.starts.partition_point(|&s| s <= byte).max(1)
    }

    /// Start of the line holding `byte`.
    pub fn start_of(&self, byte: usize) -> usize {
        self.starts
            .get(self.line_of(byte) - 1)
            .copied()
            .unwrap_or(0)
    }

    /// Start of the line after the one starting at or holding `byte`.
    fn next_start(&self, byte: usize) -> Option<usize> {
        self.starts.get(self.line_of(byte)).copied()
    }

    /// The text of the line starting at `start`, without its line break.
    pub fn text_at(&self, start: usize) -> &'t str {
        let rest = self.text.get(start..).unwrap_or("");
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        &rest[..end]
    }

    /// A span of the character at `byte` (empty at the end of a line or of the text).
    pub fn point(&self, file: FileId, byte: usize) -> Span {
        let text = self.text;
        let mut byte = byte.min(text.len());
        while !text.is_char_boundary(byte) {
            byte -= 1;
        }
        let start = self.start_of(byte);
        // saphyr does not count a byte-order mark as a column.
        let col_from = if start == 0 && text.starts_with('\u{feff}') {
            3.min(byte)
        } else {
            start
        };
        let column = text[col_from..byte].chars().count() + 1;
        let end = match text[byte..].chars().next() {
            Some(c) if c != '\n' && c != '\r' => byte + c.len_utf8(),
            _ => byte,
        };
        Span {
            file,
            start: byte,
            end,
            line: to_u32(self.line_of(byte)),
            column: to_u32(column),
        }
    }

    /// The start of the first `---` line at or after the line holding `byte` (but after
    /// `chunk_start`, so that parsing always moves on): where kubectl would start its next
    /// document. The parser often notices an unclosed bracket only at that `---` line.
    pub fn next_separator_from(&self, byte: usize, chunk_start: usize) -> Option<usize> {
        let here = self.start_of(byte);
        let first = self
            .starts
            .partition_point(|&s| s < here || s <= chunk_start);
        self.starts[first..].iter().copied().find(|&s| {
            self.text_at(s)
                .strip_prefix("---")
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        })
    }

    /// The first non-blank character of the last line before `at`'s line that has content
    /// other than a comment, not before `chunk_start`.
    fn previous_content_line(&self, chunk_start: usize, at: usize) -> Option<usize> {
        let here = self.start_of(at);
        let lo = self.starts.partition_point(|&s| s < chunk_start);
        let hi = self.starts.partition_point(|&s| s < here);
        self.starts.get(lo..hi)?.iter().rev().find_map(|&s| {
            let line = self.text_at(s);
            let trimmed = line.trim_start();
            (!trimmed.is_empty() && !trimmed.starts_with('#'))
                .then(|| s + (line.len() - trimmed.len()))
        })
    }

    fn leading_tab(&self, line_start: usize) -> Option<usize> {
        let line = self.text_at(line_start);
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        line[..indent].find('\t').map(|i| line_start + i)
    }
}

pub fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Characters go-yaml refuses anywhere in a file (its reader's printable check, YAML 1.1
/// section 5.1).
fn is_yaml_printable(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

pub fn find_forbidden_char(text: &str, from: usize) -> Option<(usize, char)> {
    text.get(from..)?
        .char_indices()
        .find(|&(_, c)| !is_yaml_printable(c))
        .map(|(i, c)| (from + i, c))
}

/// A syntax error in the user's words, and the position that deserves the underline.
pub struct Explained {
    pub at: usize,
    pub message: String,
    pub help: String,
}

/// `info` is saphyr's message for an error at byte `at`.
pub fn explain(lines: &Lines<'_>, chunk_start: usize, at: usize, info: &str) -> Explained {
    let mut at = at;
    let mut message = format!("invalid YAML: {info}");
    let mut help = "fix the YAML syntax here; kubectl would reject this document too".to_string();

    if info.contains("simple key expect") {
        // saphyr notices a key without `:` only on the next line: point at the key's line.
        if let Some(line) = lines.previous_content_line(chunk_start, at) {
            at = line;
        }
        message = "invalid YAML: this line is not `key: value` and not a list item".into();
        help = "every line inside a map needs `key: value`; check this line and its indentation"
            .into();
    } else if info.contains("illegal placement of ':'") {
        message = "invalid YAML: unexpected `:` here".into();
        help = "a `[` or `{` above may be missing its closing bracket; otherwise quote the \
                value that contains `:`"
            .into();
    } else if info.contains("mapping values are not allowed") {
        message = "invalid YAML: unexpected `:` here".into();
        help = "if the value contains `: `, quote it; otherwise check the indentation: a nested \
                map goes on the lines below its key, indented"
            .into();
    } else if info.contains("did not find expected key") {
        message = "invalid YAML: this line does not fit the map above it".into();
        help = "keys of one map must start in the same column; check the indentation".into();
    } else if info.contains("expected '-' indicator") || info.contains("block sequence entries") {
        message = "invalid YAML: this line does not fit the list above it".into();
        help = "items of one list start with `- ` in the same column; check the indentation".into();
    } else if info.contains("quoted scalar") {
        message = "invalid YAML: a quoted string is not closed".into();
        help = "add the closing quote".into();
    } else if info.contains("',' or '}'") || info.contains("flow mapping") {
        message = "invalid YAML: a `{ ... }` map is not closed properly".into();
        help = "separate entries with `,` and close the map with `}`".into();
    } else if info.contains("',' or ']'") || info.contains("flow sequence") {
        message = "invalid YAML: a `[ ... ]` list is not closed properly".into();
        help = "separate items with `,` and close the list with `]`".into();
    } else if info.contains("unknown anchor") {
        message =
            "invalid YAML: this alias refers to an anchor that is not defined before it".into();
        help = "define `&name` on a value before using `*name`".into();
    }

    // Tabs: saphyr may report them on the line before; find the tab that indents a line.
    if info.contains("tab") || lines.leading_tab(lines.start_of(at)).is_some() {
        let mut line = lines.start_of(at);
        for _ in 0..3 {
            if let Some(tab) = lines.leading_tab(line) {
                at = tab;
                message = "invalid YAML: a tab is used for indentation".into();
                help = "YAML indentation must use spaces; replace the tab characters with spaces"
                    .into();
                break;
            }
            match lines.next_start(line) {
                Some(next) => line = next,
                None => break,
            }
        }
    }

    // Text pasted from a web page: list items turned into HTML tags.
    let start = lines.start_of(at);
    let line = lines.text_at(start);
    if looks_like_html(line) {
        at = start + (line.len() - line.trim_start().len());
        // The opening tag is enough to recognise the problem.
        let tag = line.trim();
        let tag = tag.find('>').map_or(tag, |i| &tag[..=i]);
        let shown: String = tag.chars().take(80).collect();
        message = format!("invalid YAML: `{shown}` is HTML markup, not YAML");
        help = "this manifest looks copied from a web page that turned its lists into HTML \
                (`<ul>`/`<li>`); copy it from the page source or rewrite the list items as \
                `- item` lines with the original indentation"
            .into();
    }
    Explained { at, message, help }
}

/// `<ul class="...">`, `<li>Ingress</li>`, `</ul>...`: a line that starts with an HTML tag.
fn looks_like_html(line: &str) -> bool {
    let t = line.trim_start();
    let Some(rest) = t.strip_prefix('<') else {
        return false;
    };
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let name: String = rest
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && rest[name.len()..].starts_with([' ', '>', '/'])
        && t.contains('>')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_breaks_like_saphyr() {
        let lines = Lines::new("a\nb\r\nc\rd");
        let cases = [(0, 1), (1, 1), (2, 2), (4, 2), (5, 3), (7, 4), (8, 4)];
        for (byte, line) in cases {
            assert_eq!(lines.line_of(byte), line, "byte {byte}");
        }
        assert_eq!(lines.start_of(6), 5);
        assert_eq!(lines.text_at(2), "b");
    }

    #[test]
    fn separators_are_found_at_or_after_the_error_line() {
        let text = "a: 1\n---\nb: [\n--- # next\nc: 3\n---x\n";
        let lines = Lines::new(text);
        assert_eq!(lines.next_separator_from(10, 0), Some(14));
        assert_eq!(lines.next_separator_from(14, 0), Some(14));
        // Never the chunk's own first line: parsing must move on.
        assert_eq!(lines.next_separator_from(14, 14), None);
    }

    #[test]
    fn html_lines_are_recognised() {
        for (line, html) in [
            ("<ul class=\"list-disc\">", true),
            ("  <li class=\"x\">Ingress</li>", true),
            ("</ul>An empty podSelector", true),
            ("<br/>", true),
            ("<<: *base", false),
            ("< 5", false),
            ("key: <b>", false),
        ] {
            assert_eq!(looks_like_html(line), html, "{line:?}");
        }
    }
}
