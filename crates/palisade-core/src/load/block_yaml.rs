//! The fast road for the block YAML that `kubectl get -o yaml` and generators write: one
//! document -> the spanned [`Node`] tree saphyr's events build, without saphyr.
//!
//! The subset: block maps and lists (a list may sit at its key's indentation), plain,
//! single-quoted and double-quoted scalars on one line, `{}`, `[]` and one-line flow lists of
//! plain scalars. Anything else (a comment, a tab, a carriage return, an anchor, alias, tag or
//! block scalar, a scalar continued on the next line, an empty value, a complex or merge key, a
//! duplicate key, an escape the subset does not know, deep nesting) gives `None`, and the
//! document goes to the YAML parser, with all of its diagnostics. Values are typed by the same
//! go-yaml rules ([`super::scalar`]). A test reads many documents both ways and compares them
//! node by node, spans included.

use super::scalar;
use super::syntax::find_forbidden_char;
use super::tree::{Key, Node, Value};
use super::yaml::MAX_DEPTH;
use crate::source::{FileId, Span};

/// The one document of `text[start..end]` (`start` at the start of 1-based line `line`, an
/// optional `---` line first), or `None` when it is not in the subset. `Some(None)`: the
/// stretch holds no document.
pub fn document(
    file: FileId,
    text: &str,
    start: usize,
    end: usize,
    line: usize,
) -> Option<Option<Node>> {
    let stretch = text.get(start..end)?;
    // Tabs, carriage returns, comments, and the control characters YAML forbids.
    if stretch
        .bytes()
        .any(|b| (b < 0x20 && b != b'\n') || b == 0x7f || b == b'#')
    {
        return None;
    }
    let ascii = stretch.is_ascii();
    if !ascii && find_forbidden_char(stretch, 0).is_some() {
        return None;
    }
    let mut lines = Vec::with_capacity(stretch.bytes().filter(|&b| b == b'\n').count() + 1);
    let mut at = start;
    for raw in stretch.split_inclusive('\n') {
        let content = raw.strip_suffix('\n').unwrap_or(raw);
        lines.push((at, at + content.len()));
        at += raw.len();
    }
    let mut doc = Doc {
        file,
        text,
        lines,
        first_line: line,
        i: 0,
        ascii,
        depth: 0,
        entries: Vec::new(),
        items: Vec::new(),
    };
    if doc.line_text(0).is_some_and(|l| l.starts_with("---")) {
        if doc.line_text(0)? != "---" {
            return None;
        }
        doc.i = 1;
    }
    doc.skip_blank();
    if doc.i == doc.lines.len() {
        return Some(None);
    }
    if doc.indent(doc.i) != 0 {
        return None;
    }
    let root = doc.block(0)?;
    doc.skip_blank();
    (doc.i == doc.lines.len()).then_some(Some(root.node))
}

/// A finished node and where its text ends (a collection ends where its last child does).
struct Built {
    node: Node,
    src_end: usize,
}

struct Doc<'t> {
    file: FileId,
    text: &'t str,
    /// Every line of the stretch: start and end (before its line feed) in `text`.
    lines: Vec<(usize, usize)>,
    first_line: usize,
    /// The current line.
    i: usize,
    ascii: bool,
    depth: usize,
    /// The entries (items) of the maps (lists) being read, innermost last: each collection
    /// takes exactly its own when it ends, instead of growing a vector of its own.
    entries: Vec<(Key, Node)>,
    items: Vec<Node>,
}

impl<'t> Doc<'t> {
    fn line_text(&self, i: usize) -> Option<&'t str> {
        let &(s, e) = self.lines.get(i)?;
        self.text.get(s..e)
    }

    fn indent(&self, i: usize) -> usize {
        let line = self.line_text(i).unwrap_or("");
        line.len() - line.trim_start_matches(' ').len()
    }

    fn is_blank(&self, i: usize) -> bool {
        self.line_text(i)
            .is_some_and(|l| l.trim_start_matches(' ').is_empty())
    }

    fn skip_blank(&mut self) {
        while self.i < self.lines.len() && self.is_blank(self.i) {
            self.i += 1;
        }
    }

    /// The next line with content, if any, without moving.
    fn next_content(&self) -> Option<usize> {
        (self.i..self.lines.len()).find(|&i| !self.is_blank(i))
    }

    fn span(&self, line: usize, start: usize, end: usize) -> Span {
        let line_start = self.lines[line].0;
        let column = if self.ascii {
            start - line_start
        } else {
            self.text[line_start..start].chars().count()
        };
        Span {
            file: self.file,
            start,
            end,
            line: u32::try_from(self.first_line + line).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth + 2 < MAX_DEPTH).then_some(())
    }

    /// The block node (map or list) whose first line is the current one, at `indent`.
    fn block(&mut self, indent: usize) -> Option<Built> {
        let line = self.line_text(self.i)?;
        let content = &line[indent..];
        if content == "-" || content.starts_with("- ") {
            self.seq(indent)
        } else {
            self.map(indent, indent)
        }
    }

    /// A block map whose first key is at byte column `column` of the current line, the
    /// following keys at `indent` (they differ for a map that starts on a list item's line).
    fn map(&mut self, column: usize, indent: usize) -> Option<Built> {
        self.enter()?;
        let first = self.entries.len();
        let mut start: Option<Span> = None;
        let mut src_end = 0;
        let mut col = column;
        loop {
            let (key, value) = self.entry(col, indent)?;
            start.get_or_insert(key.span);
            src_end = src_end.max(value.src_end);
            if self.entries[first..]
                .iter()
                .any(|(k, _)| k.name == key.name)
            {
                return None;
            }
            self.entries.push((key, value.node));
            let Some(next) = self.next_content() else {
                break;
            };
            let next_indent = self.indent(next);
            if next_indent < indent {
                break;
            }
            if next_indent > indent {
                return None;
            }
            let line = self.line_text(next)?;
            if line[indent..].starts_with('-') {
                // A list item at a map's own indentation belongs to an enclosing list.
                break;
            }
            self.i = next;
            col = indent;
        }
        self.depth -= 1;
        let mut span = start?;
        span.end = src_end;
        let entries = self.entries.drain(first..).collect();
        Some(Built {
            node: Node {
                span,
                value: Value::Map(entries),
            },
            src_end,
        })
    }

    /// One `key: value` entry whose key starts at byte column `col` of the current line; moves
    /// past the value's last line.
    fn entry(&mut self, col: usize, indent: usize) -> Option<(Key, Built)> {
        let i = self.i;
        let (line_start, line_end) = self.lines[i];
        let line = &self.text[line_start..line_end];
        let (key, after) = self.key(i, line_start, &line[col..], col)?;
        let rest = &line[after..];
        let value_text = rest.trim_start_matches(' ');
        if value_text.is_empty() {
            // The value is on the lines below: a map more indented, or a list at least as
            // indented as the key.
            self.i += 1;
            let next = self.next_content()?;
            let next_indent = self.indent(next);
            let next_line = self.line_text(next)?;
            let is_list =
                next_line[next_indent..] == *"-" || next_line[next_indent..].starts_with("- ");
            if next_indent > indent || (is_list && next_indent == indent) {
                self.i = next;
                let value = self.block(next_indent)?;
                return Some((key, value));
            }
            return None;
        }
        let value_col = line.len() - value_text.len();
        let value = self.inline_value(i, line_start + value_col, value_text)?;
        self.i += 1;
        // A more indented line after a scalar continues it (or is an error): not ours.
        if self.next_content().is_some_and(|n| self.indent(n) > indent) {
            return None;
        }
        Some((key, value))
    }

    /// The key at the start of `text` (byte column `col` of line `i`) and the byte column just
    /// after its `:`.
    fn key(&self, i: usize, line_start: usize, text: &str, col: usize) -> Option<(Key, usize)> {
        let start = line_start + col;
        let (name, len) = match text.as_bytes().first()? {
            b'"' => {
                let (value, len) = double_quoted(text)?;
                (value, len)
            }
            b'\'' => {
                let (value, len) = single_quoted(text)?;
                (value, len)
            }
            _ => {
                let len = plain_key_len(text)?;
                let plain = &text[..len];
                if !plain_start_ok(plain) || plain == "<<" {
                    return None;
                }
                (scalar::key_string(&scalar::resolve_plain(plain))?, len)
            }
        };
        let after_key = &text[len..];
        let colon = after_key.len() - after_key.trim_start_matches(' ').len();
        let after = after_key.get(colon..)?;
        if !(after == ":" || after.starts_with(": ")) {
            return None;
        }
        let key = Key {
            name,
            span: self.span(i, start, start + len),
        };
        Some((key, col + len + colon + 1))
    }

    /// A value written on its key's or dash's line: a scalar, `{}`, `[]` or `[a, b]`.
    fn inline_value(&self, i: usize, start: usize, text: &str) -> Option<Built> {
        let scalar = |value: Value, len: usize| {
            Some(Built {
                node: Node {
                    span: self.span(i, start, start + len),
                    value,
                },
                src_end: start + len,
            })
        };
        let trimmed = text.trim_end_matches(' ');
        match text.as_bytes().first()? {
            b'"' => {
                let (value, len) = double_quoted(text)?;
                text[len..]
                    .trim_start_matches(' ')
                    .is_empty()
                    .then_some(())?;
                scalar(Value::Str(value), len)
            }
            b'\'' => {
                let (value, len) = single_quoted(text)?;
                text[len..]
                    .trim_start_matches(' ')
                    .is_empty()
                    .then_some(())?;
                scalar(Value::Str(value), len)
            }
            b'{' if trimmed == "{}" => scalar(Value::Map(Vec::new()), 2),
            b'[' => self.flow_list(i, start, trimmed),
            _ => {
                if !plain_start_ok(trimmed) || !plain_value_ok(trimmed) {
                    return None;
                }
                scalar(scalar::resolve_plain(trimmed), trimmed.len())
            }
        }
    }

    /// `[]` or `[a, b, c]` of plain scalars, the whole rest of the line.
    fn flow_list(&self, i: usize, start: usize, text: &str) -> Option<Built> {
        let inner = text.strip_prefix('[')?.strip_suffix(']')?;
        let mut items = Vec::new();
        if !inner.trim_start_matches(' ').is_empty() {
            let mut offset = start + 1;
            for part in inner.split(',') {
                let lead = part.len() - part.trim_start_matches(' ').len();
                let item = part.trim_matches(' ');
                if item.is_empty()
                    || !plain_start_ok(item)
                    || item.contains([':', '[', ']', '{', '}', '"', '\''])
                {
                    return None;
                }
                let s = offset + lead;
                items.push(Node {
                    span: self.span(i, s, s + item.len()),
                    value: scalar::resolve_plain(item),
                });
                offset += part.len() + 1;
            }
        }
        let end = start + text.len();
        Some(Built {
            node: Node {
                span: self.span(i, start, end),
                value: Value::Seq(items),
            },
            src_end: end,
        })
    }

    /// A block list whose dashes are at `indent`, the first on the current line.
    fn seq(&mut self, indent: usize) -> Option<Built> {
        self.enter()?;
        let first = self.items.len();
        let mut start: Option<Span> = None;
        let mut src_end = 0;
        loop {
            let i = self.i;
            let (line_start, line_end) = self.lines[i];
            let line = &self.text[line_start..line_end];
            start.get_or_insert_with(|| self.span(i, line_start + indent, line_start + indent));
            let after_dash = &line[indent + 1..];
            let content = after_dash.trim_start_matches(' ');
            let item = if content.is_empty() {
                // The item is on the lines below, more indented.
                self.i += 1;
                let next = self.next_content()?;
                let next_indent = self.indent(next);
                if next_indent <= indent {
                    return None;
                }
                self.i = next;
                self.block(next_indent)?
            } else {
                let col = line.len() - content.len();
                if content == "-" || content.starts_with("- ") {
                    return None;
                }
                if self.key(i, line_start, content, col).is_some() {
                    self.map(col, col)?
                } else {
                    let value = self.inline_value(i, line_start + col, content)?;
                    self.i += 1;
                    if self.next_content().is_some_and(|n| self.indent(n) > indent) {
                        return None;
                    }
                    value
                }
            };
            src_end = src_end.max(item.src_end);
            self.items.push(item.node);
            let Some(next) = self.next_content() else {
                break;
            };
            if self.indent(next) != indent {
                if self.indent(next) > indent {
                    return None;
                }
                break;
            }
            let line = self.line_text(next)?;
            if !(line[indent..] == *"-" || line[indent..].starts_with("- ")) {
                break;
            }
            self.i = next;
        }
        self.depth -= 1;
        let mut span = start?;
        span.end = src_end;
        let items = self.items.drain(first..).collect();
        Some(Built {
            node: Node {
                span,
                value: Value::Seq(items),
            },
            src_end,
        })
    }
}

/// Length of a plain key: up to the `:` that a space or the end of the line follows.
fn plain_key_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let at = (0..bytes.len())
        .find(|&i| bytes[i] == b':' && matches!(bytes.get(i + 1), None | Some(b' ')))?;
    let key = text[..at].trim_end_matches(' ');
    (!key.is_empty()).then_some(key.len())
}

/// A plain scalar may not start with an indicator; `-`, `?` and `:` only before a non-space,
/// which the subset leaves out too, but for `-` (negative numbers, `-foo`).
fn plain_start_ok(text: &str) -> bool {
    match text.as_bytes().first() {
        None => false,
        Some(b'-') => !matches!(text.as_bytes().get(1), None | Some(b' ')),
        Some(
            b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
            | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`',
        ) => false,
        Some(_) => true,
    }
}

/// A plain value on one line: no `: ` (a map where a value belongs) and no final `:`.
fn plain_value_ok(text: &str) -> bool {
    !text.contains(": ") && !text.ends_with(':') && !text.starts_with("---")
}

/// A double-quoted scalar at the start of `text`: its value and its length with the quotes.
fn double_quoted(text: &str) -> Option<(String, usize)> {
    let (value, taken) = super::quoted::body(text.get(1..)?)?;
    Some((value, taken + 1))
}

/// A single-quoted scalar at the start of `text` (`''` is a quote).
fn single_quoted(text: &str) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut run = 1;
    let mut at = 1;
    loop {
        if *bytes.get(at)? == b'\'' {
            out.push_str(&text[run..at]);
            if bytes.get(at + 1) == Some(&b'\'') {
                out.push('\'');
                at += 2;
                run = at;
                continue;
            }
            return Some((out, at + 1));
        }
        at += 1;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::load::syntax::Lines;
    use crate::load::yaml::parse_stretch_by_yaml_alone;

    /// Where two trees first differ: the path and both nodes there, without their children.
    pub(crate) fn first_difference(fast: &Node, yaml: &Node) -> Option<String> {
        let shallow = |n: &Node| match &n.value {
            Value::Seq(items) => format!("{:?} list of {}", n.span, items.len()),
            Value::Map(entries) => format!("{:?} map of {}", n.span, entries.len()),
            v => format!("{:?} {v:?}", n.span),
        };
        let here = || Some(format!("fast {} / yaml {}", shallow(fast), shallow(yaml)));
        if fast.span != yaml.span {
            return here();
        }
        match (&fast.value, &yaml.value) {
            (Value::Seq(a), Value::Seq(b)) if a.len() == b.len() => a
                .iter()
                .zip(b)
                .enumerate()
                .find_map(|(i, (x, y))| first_difference(x, y).map(|d| format!("[{i}] {d}"))),
            (Value::Map(a), Value::Map(b)) if a.len() == b.len() => {
                a.iter().zip(b).find_map(|((ka, x), (kb, y))| {
                    if ka != kb {
                        return Some(format!("key fast {ka:?} / yaml {kb:?}"));
                    }
                    first_difference(x, y).map(|d| format!(".{} {d}", ka.name))
                })
            }
            (a, b) if a == b && !matches!(a, Value::Seq(_) | Value::Map(_)) => None,
            _ => here(),
        }
    }

    /// Every document of `text` the fast reader takes is the YAML parser's, spans included;
    /// returns how many it took.
    pub(crate) fn compare_documents(text: &str) -> Result<usize, String> {
        let lines = Lines::new(text);
        let mut taken = 0;
        let mut at = 0;
        while at < text.len() {
            let next = lines.next_separator_from(at, at).unwrap_or(text.len());
            if let Some(fast) = document(FileId(0), text, at, next, lines.line_of(at)) {
                taken += 1;
                let (docs, diags) = parse_stretch_by_yaml_alone(FileId(0), text, at, next);
                let stretch = &text[at..next];
                if !diags.is_empty() || docs.len() != usize::from(fast.is_some()) {
                    return Err(format!(
                        "the YAML parser finds {} documents and {diags:?} in\n{stretch}",
                        docs.len()
                    ));
                }
                if let (Some(f), Some(y)) = (&fast, docs.first())
                    && let Some(difference) = first_difference(f, y)
                {
                    return Err(format!("the roads differ at {difference} in\n{stretch}"));
                }
            }
            at = next;
        }
        Ok(taken)
    }

    /// `value` as block YAML the way `kubectl get -o yaml` writes it (lists at their key's
    /// indentation, a list item's map starting on its dash line), with text plain where YAML
    /// would read it back as that text and double-quoted otherwise.
    fn emit(value: &serde_json::Value, indent: usize, out: &mut String) {
        use serde_json::Value as J;
        let pad = " ".repeat(indent);
        match value {
            J::Object(map) => {
                for (k, v) in map {
                    out.push_str(&pad);
                    out.push_str(&scalar_text(&J::String(k.clone())));
                    out.push(':');
                    nested(v, indent, indent + 2, out);
                }
            }
            J::Array(items) => {
                for item in items {
                    out.push_str(&pad);
                    out.push('-');
                    match item {
                        J::Object(map) if !map.is_empty() => {
                            let mut inner = String::new();
                            emit(item, indent + 2, &mut inner);
                            out.push(' ');
                            out.push_str(&inner[indent + 2..]);
                        }
                        _ => nested(item, indent, indent + 2, out),
                    }
                }
            }
            scalar => {
                out.push_str(&pad);
                out.push_str(&scalar_text(scalar));
                out.push('\n');
            }
        }
    }

    /// What follows a key's `:` or a dash: the value on the line, or on the lines below.
    fn nested(v: &serde_json::Value, list_indent: usize, map_indent: usize, out: &mut String) {
        use serde_json::Value as J;
        match v {
            J::Object(m) if !m.is_empty() => {
                out.push('\n');
                emit(v, map_indent, out);
            }
            J::Array(a) if !a.is_empty() => {
                out.push('\n');
                emit(v, list_indent, out);
            }
            J::Object(_) => out.push_str(" {}\n"),
            J::Array(_) => out.push_str(" []\n"),
            scalar => {
                out.push(' ');
                out.push_str(&scalar_text(scalar));
                out.push('\n');
            }
        }
    }

    fn scalar_text(v: &serde_json::Value) -> String {
        use serde_json::Value as J;
        match v {
            J::String(s) => {
                let plain_reads_back = plain_start_ok(s)
                    && plain_value_ok(s)
                    && !s.contains(['#', '\n', '\t', '\r'])
                    && s.trim() == s
                    && scalar::resolve_plain(s) == Value::Str(s.clone());
                if plain_reads_back {
                    s.clone()
                } else {
                    serde_json::to_string(s).unwrap()
                }
            }
            other => other.to_string(),
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value as J;
        let text = prop_oneof![
            Just("080".to_string()),
            Just("yes".to_string()),
            Just("~".to_string()),
            Just("- x".to_string()),
            Just("a: b".to_string()),
            Just("http://example.com:80/x".to_string()),
            Just("it's".to_string()),
            Just("10.0.0.0/8".to_string()),
            "[ -~]{0,12}",
            any::<String>(),
        ];
        let leaf = prop_oneof![
            Just(J::Null),
            any::<bool>().prop_map(J::Bool),
            any::<i64>().prop_map(J::from),
            (-1e6f64..1e6).prop_map(|f| serde_json::Number::from_f64(f).map_or(J::Null, J::Number)),
            text.prop_map(J::String),
        ];
        leaf.prop_recursive(5, 64, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(J::Array),
                prop::collection::btree_map("[a-z][a-z./-]{0,8}|[ -~]{1,6}", inner, 0..5)
                    .prop_map(|m| J::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Random objects written as kubectl writes YAML: every document the fast reader takes
        /// is the YAML parser's.
        #[test]
        fn random_block_yaml_reads_alike_on_both_roads(
            docs in proptest::collection::vec(
                proptest::collection::btree_map("[a-z]{1,8}", json_value(), 1..6), 1..4),
        ) {
            let mut text = String::new();
            for doc in docs {
                text.push_str("---\n");
                emit(&serde_json::Value::Object(doc.into_iter().collect()), 0, &mut text);
            }
            compare_documents(&text).map_err(proptest::test_runner::TestCaseError::fail)?;
        }
    }

    /// What an export holds is taken by the fast reader (and read as the parser reads it).
    #[test]
    fn an_exported_pod_is_taken_by_the_fast_reader() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    note: 'it''s \"quoted\"'\n    é: \"caf\\u00e9 \\\"x\\\"\"\n  creationTimestamp: \"2026-11-02T10:00:00Z\"\n  labels:\n    app: web\n    tier: \"080\"\n  name: web-1\n  ownerReferences:\n  - apiVersion: apps/v1\n    controller: true\n    kind: ReplicaSet\n    name: web-7b9\nspec:\n  containers:\n  - image: registry.example/web:1.0\n    ports:\n    - containerPort: 8080\n      name: http\n    args: [a, b, -1]\n    env: []\n  nodeSelector: {}\n  terminationGracePeriodSeconds: 30\nstatus:\n  podIPs:\n  - ip: 10.0.0.7\n\n";
        assert_eq!(compare_documents(text), Ok(1));
        let second = format!("---\n{text}---\n{text}");
        assert_eq!(compare_documents(&second), Ok(2));
    }

    /// What the subset leaves to the YAML parser.
    /// Every escape the shared decoder reads means in YAML what it means in JSON.
    #[test]
    fn shared_escapes_read_as_the_yaml_parser_reads_them() {
        let text = "a: \"\\b\\f\\n\\r\\t\\0\\/\\\\\\\"\\u00e9\"\nb:\n- \"\\f\"\n- \"x\\by\"\n";
        assert_eq!(compare_documents(text), Ok(1), "{text}");
    }

    #[test]
    fn anything_outside_the_subset_is_left_to_the_yaml_parser() {
        for text in [
            "a: 1 # comment\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: |\n  text\n",
            "a: plain\n  continued\n",
            "a:\nb: 1\n",
            "a: 1\na: 2\n",
            "<<: {}\n",
            "? a\n: 1\n",
            "a: {b: 1}\n",
            "a: [b: 1]\n",
            "a: b: c\n",
            "a:\t1\n",
            "a: 1\r\n",
            "- - a\n",
            "--- a\n",
            "a: \"\\x41\"\n",
            "  a: 1\n",
            "a: \"\u{0}\"\n",
            "a: x\u{7f}\n",
        ] {
            assert!(
                document(FileId(0), text, 0, text.len(), 1).is_none(),
                "{text:?}"
            );
        }
    }

    /// Every file under `dir` whose extension is one of `extensions`, depth first.
    pub(crate) fn manifests(
        dir: &std::path::Path,
        extensions: &[&str],
        out: &mut Vec<std::path::PathBuf>,
    ) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                manifests(&path, extensions, out);
            } else if path
                .extension()
                .is_some_and(|e| extensions.iter().any(|x| e == *x))
            {
                out.push(path);
            }
        }
    }

    /// Every document of the repository's YAML that the fast reader takes reads as the YAML
    /// parser reads it; and it takes many.
    #[test]
    fn the_repositorys_manifests_read_alike_on_both_roads() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for dir in ["testdata", "examples", "crates", "deploy"] {
            manifests(&root.join(dir), &["yaml", "yml"], &mut files);
        }
        let mut taken = 0;
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            taken += compare_documents(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
        assert!(taken > 200, "the fast reader took {taken} documents");
    }
}
