//! The fast road for JSON text: one JSON object -> the spanned [`Node`] tree the YAML road
//! would build for it, without a YAML parser.
//!
//! `kubectl get -o json` exports and generated manifests are JSON, and JSON is YAML flow
//! syntax: [`super::yaml`] reads it correctly, but at a YAML parser's speed (about 20 MB/s
//! here), which is most of loading a big cluster. This reader accepts only plain, well-formed
//! JSON and builds exactly what the YAML road builds (same values, same spans, scalars typed
//! by the same go-yaml rules); for anything else (a syntax error, a duplicate key, a tab or
//! carriage return outside a string, a character YAML forbids, a surrogate escape, nesting
//! near the depth limit, more than one value) it gives up and the YAML road reads the text,
//! with all of its diagnostics. A test parses many documents both ways and compares.

use super::scalar;
use super::syntax::find_forbidden_char;
use super::tree::{Key, Node, Value};
use super::yaml::MAX_DEPTH;
use crate::source::{FileId, Span};

/// The one document `text` holds, or `None` when the text is not plain JSON of one object.
pub fn parse(file: FileId, text: &str) -> Option<Node> {
    let docs = parse_stream(file, text, 0, text.len(), 1)?;
    <[Node; 1]>::try_from(docs).ok().map(|[root]| root)
}

/// The documents of `text[start..end]` (`start` at the start of 1-based line `line`) when
/// that stretch is a
/// stream of plain JSON objects, each after a `---` line (the first one may go without);
/// `None` for anything else.
pub fn parse_stream(
    file: FileId,
    text: &str,
    start: usize,
    end: usize,
    line: usize,
) -> Option<Vec<Node>> {
    let stretch = text.get(start..end)?;
    if !stretch
        .trim_start_matches([' ', '\n'])
        .starts_with(['{', '-'])
    {
        return None;
    }
    let ascii = stretch.is_ascii();
    if !ascii && find_forbidden_char(stretch, 0).is_some() {
        return None;
    }
    let mut reader = Reader {
        file,
        text,
        bytes: &text.as_bytes()[..end],
        at: start,
        line: u32::try_from(line).ok()?,
        line_start: start,
        ascii,
        depth: 0,
    };
    let mut docs = Vec::new();
    loop {
        reader.skip_space();
        let separated = reader.separator();
        reader.skip_space();
        if reader.at == end {
            break;
        }
        if !separated && !docs.is_empty() {
            return None;
        }
        if reader.bytes[reader.at] != b'{' {
            return None;
        }
        docs.push(reader.value()?);
    }
    Some(docs)
}

struct Reader<'t> {
    file: FileId,
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
    /// 1-based line of `at` and where that line starts.
    line: u32,
    line_start: usize,
    ascii: bool,
    depth: usize,
}

impl Reader<'_> {
    /// Spaces and line feeds only: YAML treats tabs and carriage returns in its own ways.
    fn skip_space(&mut self) {
        while let Some(&b) = self.bytes.get(self.at) {
            match b {
                b' ' => self.at += 1,
                b'\n' => {
                    self.at += 1;
                    self.line += 1;
                    self.line_start = self.at;
                }
                _ => break,
            }
        }
    }

    /// A `---` line (nothing else on it) at the current position, which is a line start.
    fn separator(&mut self) -> bool {
        let at_line_start = self.at == self.line_start;
        if at_line_start && self.bytes[self.at..].starts_with(b"---\n") {
            self.at += 4;
            self.line += 1;
            self.line_start = self.at;
            return true;
        }
        false
    }

    /// A span from `start` (on the current line) to the current position.
    fn span_from(&self, start: usize) -> Span {
        let column = if self.ascii {
            start - self.line_start
        } else {
            self.text[self.line_start..start].chars().count()
        };
        Span {
            file: self.file,
            start,
            end: self.at,
            line: self.line,
            column: u32::try_from(column + 1).ok().unwrap_or(u32::MAX),
        }
    }

    fn value(&mut self) -> Option<Node> {
        match *self.bytes.get(self.at)? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => {
                let (start, line, line_start) = (self.at, self.line, self.line_start);
                let text = self.string()?;
                Some(self.node_at(start, line, line_start, Value::Str(text)))
            }
            _ => self.plain(),
        }
    }

    /// A node that started at `start` on `line` (strings cannot span lines, so scalars start
    /// and end on one line; collections record their first line).
    fn node_at(&self, start: usize, line: u32, line_start: usize, value: Value) -> Node {
        let column = if self.ascii {
            start - line_start
        } else {
            self.text[line_start..start].chars().count()
        };
        Node {
            span: Span {
                file: self.file,
                start,
                end: self.at,
                line,
                column: u32::try_from(column + 1).ok().unwrap_or(u32::MAX),
            },
            value,
        }
    }

    fn open(&mut self) -> Option<(usize, u32, usize)> {
        self.depth += 1;
        // The YAML road reports documents nested this deep; let it.
        if self.depth + 2 >= MAX_DEPTH {
            return None;
        }
        let opened = (self.at, self.line, self.line_start);
        self.at += 1;
        self.skip_space();
        Some(opened)
    }

    fn object(&mut self) -> Option<Node> {
        let (start, line, line_start) = self.open()?;
        let mut entries: Vec<(Key, Node)> = Vec::new();
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
        } else {
            loop {
                if self.bytes.get(self.at) != Some(&b'"') {
                    return None;
                }
                let key_start = self.at;
                let name = self.string()?;
                let key = Key {
                    span: self.span_from(key_start),
                    name,
                };
                self.skip_space();
                if self.bytes.get(self.at) != Some(&b':') {
                    return None;
                }
                self.at += 1;
                self.skip_space();
                let value = self.value()?;
                entries.push((key, value));
                self.skip_space();
                match self.bytes.get(self.at)? {
                    b',' => {
                        self.at += 1;
                        self.skip_space();
                    }
                    b'}' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        // Duplicate keys are the YAML road's to report (with both lines).
        if has_duplicate_key(&entries) {
            return None;
        }
        self.depth -= 1;
        Some(self.node_at(start, line, line_start, Value::Map(entries)))
    }

    fn array(&mut self) -> Option<Node> {
        let (start, line, line_start) = self.open()?;
        let mut items = Vec::new();
        if self.bytes.get(self.at) == Some(&b']') {
            self.at += 1;
        } else {
            loop {
                items.push(self.value()?);
                self.skip_space();
                match self.bytes.get(self.at)? {
                    b',' => {
                        self.at += 1;
                        self.skip_space();
                    }
                    b']' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(self.node_at(start, line, line_start, Value::Seq(items)))
    }

    /// A JSON string at the current `"`, unescaped; the position ends after its closing quote.
    fn string(&mut self) -> Option<String> {
        let (value, taken) = super::quoted::body(self.text.get(self.at + 1..)?)?;
        self.at += 1 + taken;
        Some(value)
    }

    /// A number, `true`, `false` or `null`: a plain scalar to YAML, typed by the same rules.
    fn plain(&mut self) -> Option<Node> {
        let start = self.at;
        while let Some(&b) = self.bytes.get(self.at) {
            if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.') {
                self.at += 1;
            } else {
                break;
            }
        }
        let token = &self.text[start..self.at];
        if !(matches!(token, "true" | "false" | "null") || is_json_number(token)) {
            return None;
        }
        Some(self.node_at(
            start,
            self.line,
            self.line_start,
            scalar::resolve_plain(token),
        ))
    }
}

/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, JSON's number grammar.
fn is_json_number(token: &str) -> bool {
    let b = token.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let from = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - from
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

fn has_duplicate_key(entries: &[(Key, Node)]) -> bool {
    if entries.len() < 16 {
        return entries
            .iter()
            .enumerate()
            .any(|(i, (k, _))| entries[..i].iter().any(|(e, _)| e.name == k.name));
    }
    let mut seen = rustc_hash::FxHashSet::default();
    !entries.iter().all(|(k, _)| seen.insert(k.name.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::block_yaml::tests::{first_difference, manifests};
    use crate::load::yaml::parse_by_yaml_alone;
    use proptest::prelude::*;

    fn to_serde(node: &Node) -> serde_json::Value {
        use serde_json::Value as J;
        match &node.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(to_serde).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), to_serde(v)))
                    .collect(),
            ),
        }
    }

    /// `kubectl get -o json` indents by four spaces, serde_json by two.
    fn pretty(value: &serde_json::Value, indent: &[u8]) -> String {
        use serde::Serialize;
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(indent);
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        value.serialize(&mut ser).unwrap();
        String::from_utf8(out).unwrap() + "\n"
    }

    /// Where the fast reader answers, its trees are the YAML road's, spans included.
    fn agrees_with_yaml(text: &str) -> Result<bool, String> {
        let Some(fast) = parse_stream(FileId(0), text, 0, text.len(), 1) else {
            return Ok(false);
        };
        same_as_yaml(&fast, text).map(|()| true)
    }

    fn same_as_yaml(fast: &[Node], text: &str) -> Result<(), String> {
        let (docs, diags) = parse_by_yaml_alone(FileId(0), text);
        if !diags.is_empty() || docs.len() != fast.len() {
            return Err(format!(
                "the YAML road finds {} documents (the fast reader {}) and {diags:?} in\n{text}",
                docs.len(),
                fast.len()
            ));
        }
        for (i, (f, y)) in fast.iter().zip(&docs).enumerate() {
            if let Some(difference) = first_difference(f, y) {
                return Err(format!(
                    "the roads differ in document {i} at {difference} in\n{text}"
                ));
            }
        }
        Ok(())
    }

    /// Every document of the repository's manifests, written as JSON the way kubectl and
    /// serde_json write it, reads to the same tree on both roads; the JSON fixtures too.
    #[test]
    fn the_repositorys_manifests_as_json_read_alike_on_both_roads() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for dir in ["testdata", "examples", "crates"] {
            manifests(&root.join(dir), &["yaml", "yml", "json"], &mut files);
        }
        let (mut compared, mut fast) = (0, 0);
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            let mut texts = vec![text.clone()];
            let (docs, _) = parse_by_yaml_alone(FileId(0), &text);
            let mut stream = String::new();
            for doc in docs.iter().filter(|d| matches!(d.value, Value::Map(_))) {
                let value = to_serde(doc);
                texts.push(pretty(&value, b"    "));
                texts.push(pretty(&value, b"  "));
                stream += "---\n";
                stream += &pretty(&value, b"  ");
            }
            if !stream.is_empty() {
                texts.push(stream[4..].to_string());
                texts.push(stream);
            }
            for text in texts {
                compared += 1;
                match agrees_with_yaml(&text) {
                    Ok(true) => fast += 1,
                    Ok(false) => {}
                    Err(e) => panic!("{}: {e}", file.display()),
                }
            }
        }
        assert!(
            fast > 500,
            "the fast reader read {fast} of {compared} texts"
        );
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value as J;
        let leaf = prop_oneof![
            Just(J::Null),
            any::<bool>().prop_map(J::Bool),
            any::<i64>().prop_map(J::from),
            any::<u64>().prop_map(J::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(J::Null, J::Number)),
            // Text YAML would type if it were plain, escapes, and any character at all.
            prop_oneof![
                Just("080".to_string()),
                Just("yes".to_string()),
                Just("1e3".to_string()),
                Just("~".to_string()),
                Just("<<".to_string()),
                Just("a \"quoted\" \\ path/x\ttab\nline".to_string()),
                any::<String>(),
                "[ -~]{0,12}",
            ]
            .prop_map(J::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(J::Array),
                prop::collection::btree_map("[a-z<~\"\\ ]{0,6}|[\\PC]{1,4}", inner, 0..6)
                    .prop_map(|m| J::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Random objects, pretty-printed: wherever the fast reader answers, the YAML road
        /// builds the same tree; and it answers for every object of printable text.
        #[test]
        fn random_json_reads_alike_on_both_roads(
            entries in prop::collection::btree_map("[a-z]{1,8}", json_value(), 0..6),
        ) {
            let value = serde_json::Value::Object(entries.into_iter().collect());
            for indent in [&b"  "[..], &b"    "[..]] {
                let text = pretty(&value, indent);
                let read = agrees_with_yaml(&text).map_err(TestCaseError::fail)?;
                let printable = find_forbidden_char(&text, 0).is_none();
                prop_assert!(read || !printable, "the fast reader gave up on\n{}", text);
            }
        }
    }

    /// A big stream of JSON documents is read in stretches side by side, each by the fast
    /// reader: the documents and their spans are those of the YAML parser reading it whole.
    #[test]
    fn a_big_json_stream_read_in_stretches_is_the_yaml_roads() {
        let mut stream = String::new();
        for i in 0..4000 {
            let doc = serde_json::json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": format!("pod-{i}"), "labels": {"app": format!("a{}", i % 7)}},
                "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80 + i % 3}]}]},
            });
            stream += "---\n";
            stream += &pretty(&doc, b"  ");
        }
        assert!(stream.len() > 1 << 20);
        let (docs, diags) = crate::load::yaml::parse_documents(FileId(0), &stream);
        assert!(diags.is_empty());
        same_as_yaml(&docs, &stream).unwrap();
    }

    /// Compact JSON (`{"a":1}`) reads to the same values as its pretty form.
    #[test]
    fn compact_json_reads_to_the_values_of_its_pretty_form() {
        let value: serde_json::Value = serde_json::from_str(
            r#"{"kind":"Pod","metadata":{"name":"a","labels":{"app":"web"}},"spec":{"n":[1,2.5,-3e2,true,null,"x\u00e9"]}}"#,
        )
        .unwrap();
        let compact = value.to_string();
        let fast = parse(FileId(0), &compact).expect("compact JSON is read");
        assert_eq!(
            to_serde(&fast),
            to_serde(&parse(FileId(0), &pretty(&value, b"  ")).unwrap())
        );
        assert_eq!(to_serde(&fast), value);
    }

    /// What the fast reader leaves to the YAML road, which reports it or reads YAML.
    #[test]
    fn anything_but_plain_json_is_left_to_the_yaml_road() {
        for text in [
            "{\"a\": 1, \"a\": 2}\n",
            "{\"a\": 1}\n{\"b\": 2}\n",
            "{\"a\": 1}\n--- x\n",
            "{\"a\": 1}\n...\n",
            "{\"a\":\t1}\n",
            "{\"a\": 1}\r\n",
            "{\"a\": \"\\ud83d\\ude00\"}\n",
            "{\"a\": \"\\x41\"}\n",
            "{\"a\": 01}\n",
            "{\"a\": yes}\n",
            "{\"a\": 1,}\n",
            "{a: 1}\n",
            "{\"a\": 1} # comment\n",
            "{\"a\": \"\u{7f}\"}\n",
            "[1, 2]\n",
            "a: 1\n",
        ] {
            assert!(parse(FileId(0), text).is_none(), "{text:?}");
        }
        let deep = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(FileId(0), &format!("{{\"a\": {deep}}}")).is_none());
    }

    #[test]
    fn json_numbers_follow_the_json_grammar() {
        for ok in ["0", "-0", "12", "1.5", "-1.5e10", "2E-3", "1e+9"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in [
            "", "-", "01", "1.", ".5", "1e", "+1", "0x10", "1_000", "NaN",
        ] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }
}
