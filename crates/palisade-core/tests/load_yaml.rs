//! The YAML stage on its own: spans, documents, anchors and merges, keys, tags, and syntax
//! errors, each checked for code, line, column and wording.

use palisade_core::diag::Diagnostic;
use palisade_core::load::yaml::{ALIAS_EXPANSION_LIMIT, MAX_DEPTH, parse_documents};
use palisade_core::load::{Node, Value};
use palisade_core::path::FieldPath;
use palisade_core::source::FileId;

fn parse(text: &str) -> (Vec<Node>, Vec<Diagnostic>) {
    parse_documents(FileId(0), text)
}

fn parse_ok(text: &str) -> Vec<Node> {
    let (docs, diags) = parse(text);
    assert!(diags.is_empty(), "unexpected diagnostics: {diags:#?}");
    docs
}

fn only_error(text: &str) -> Diagnostic {
    let (_, diags) = parse(text);
    assert_eq!(
        diags.len(),
        1,
        "expected exactly one diagnostic: {diags:#?}"
    );
    diags.into_iter().next().unwrap()
}

fn at<'n>(doc: &'n Node, path: &str) -> &'n Node {
    doc.lookup(&FieldPath::parse(path))
        .unwrap_or_else(|| panic!("no node at {path}"))
}

fn slice<'t>(text: &'t str, node: &Node) -> &'t str {
    &text[node.span.start..node.span.end]
}

/// 1-based line and character column of `byte`, counted independently of the parser.
fn line_col(text: &str, byte: usize) -> (u32, u32) {
    let before = &text[..byte];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line as u32, before[line_start..].chars().count() as u32 + 1)
}

fn walk<'n>(node: &'n Node, out: &mut Vec<&'n Node>) {
    out.push(node);
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|n| walk(n, out)),
        Value::Map(entries) => entries.iter().for_each(|(_, n)| walk(n, out)),
        _ => {}
    }
}

const SAMPLE: &str = r#"# a comment first
apiVersion: v1
kind: Pod
metadata:
  name: "quoted-näme"
  labels: {app: web, 'tier': "front end", num: 080}
  annotations:
    note: |
      line one
      line two

    folded: >-
      folded
      text
spec:
  containers:
  - name: c
    image: nginx:1.25
    ports: [{containerPort: 80, name: http}]
  nodeSelector: !!map {disk: ssd}
  empty:
  ünïcode: "välue"
"#;

#[test]
fn every_node_span_slices_back_to_its_text() {
    let docs = parse_ok(SAMPLE);
    let doc = &docs[0];
    let cases: &[(&str, &str)] = &[
        ("apiVersion", "v1"),
        ("metadata.name", "\"quoted-näme\""),
        (
            "metadata.labels",
            "{app: web, 'tier': \"front end\", num: 080}",
        ),
        ("metadata.labels.tier", "\"front end\""),
        ("metadata.labels.num", "080"),
        ("metadata.annotations.note", "line one\n      line two"),
        ("metadata.annotations.folded", "folded\n      text"),
        ("spec.containers[0].image", "nginx:1.25"),
        (
            "spec.containers[0].ports",
            "[{containerPort: 80, name: http}]",
        ),
        (
            "spec.containers[0].ports[0]",
            "{containerPort: 80, name: http}",
        ),
        ("spec.containers[0].ports[0].containerPort", "80"),
        ("spec.nodeSelector", "!!map {disk: ssd}"),
        ("spec.ünïcode", "\"välue\""),
        ("spec.empty", ""),
    ];
    for (path, want) in cases {
        assert_eq!(slice(SAMPLE, at(doc, path)), *want, "span of {path}");
    }
    // Block collections run from their first key or dash to the end of their last child.
    let containers = slice(SAMPLE, at(doc, "spec.containers"));
    assert!(
        containers.starts_with("- name: c") && containers.ends_with("name: http}]"),
        "{containers:?}"
    );
    assert!(
        slice(SAMPLE, doc).starts_with("apiVersion: v1")
            && slice(SAMPLE, doc).ends_with("\"välue\"")
    );

    // Keys point at the key text; every node's line and column agree with its byte offset.
    let meta = at(doc, "metadata.labels");
    assert_eq!(
        &SAMPLE[meta.key_span("tier").unwrap().start..meta.key_span("tier").unwrap().end],
        "'tier'"
    );
    let mut all = Vec::new();
    walk(doc, &mut all);
    assert_eq!(all.len(), 25);
    for node in all {
        assert!(SAMPLE.is_char_boundary(node.span.start) && SAMPLE.is_char_boundary(node.span.end));
        assert_eq!(
            (node.span.line, node.span.column),
            line_col(SAMPLE, node.span.start),
            "line/column of {:?}",
            slice(SAMPLE, node)
        );
        if let Value::Map(entries) = &node.value {
            for (key, _) in entries {
                assert_eq!(
                    (key.span.line, key.span.column),
                    line_col(SAMPLE, key.span.start)
                );
                assert!(
                    SAMPLE[key.span.start..key.span.end].contains(key.name.as_str()),
                    "{key:?}"
                );
            }
        }
    }
}

#[test]
fn scalars_are_typed_as_kubectl_types_them() {
    let docs = parse_ok(
        "a: yes\nb: 'yes'\nc: 080\nd: \"080\"\ne: 0x1F\nf: ~\ng: 1_000\nh: !!str 12\ni: !!int \"12\"\nj: ! 12\nk: !!float 3\nl: |\n  text\n",
    );
    let d = &docs[0];
    let cases: &[(&str, Value)] = &[
        ("a", Value::Bool(true)),
        ("b", Value::Str("yes".into())),
        ("c", Value::Float(80.0)),
        ("d", Value::Str("080".into())),
        ("e", Value::Int(31)),
        ("f", Value::Null),
        ("g", Value::Int(1000)),
        ("h", Value::Str("12".into())),
        ("i", Value::Int(12)),
        ("j", Value::Str("12".into())),
        ("k", Value::Float(3.0)),
        ("l", Value::Str("text\n".into())),
    ];
    for (path, want) in cases {
        assert_eq!(&at(d, path).value, want, "value of {path}");
    }
}

#[test]
fn non_string_keys_take_their_json_spelling() {
    // sigs.k8s.io/yaml turns keys into strings after go-yaml typed them (YAML 1.1).
    let docs = parse_ok("80: http\non: x\n1.5: y\n\"on\": z\n");
    let Value::Map(entries) = &docs[0].value else {
        panic!()
    };
    let names: Vec<&str> = entries.iter().map(|(k, _)| k.name.as_str()).collect();
    assert_eq!(names, ["80", "true", "1.5", "on"]);
}

#[test]
fn documents_are_split_and_empty_ones_skipped() {
    let text = "---\n# only a comment\n---\na: 1\n---\n---\n~\n---\n[1, 2]\n...\n---\nb: 2\n";
    let docs = parse_ok(text);
    assert_eq!(docs.len(), 3, "{docs:#?}");
    assert_eq!(docs[0].get("a").map(|n| &n.value), Some(&Value::Int(1)));
    assert!(matches!(docs[1].value, Value::Seq(_)));
    assert_eq!(docs[2].span.line, 12);
}

#[test]
fn json_is_read_through_the_same_parser() {
    let text = "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Namespace\",\n\t\"metadata\": {\"name\": \"a\", \"labels\": {\"x\": \"1\"}},\n\t\"n\": [1, 2.5, true, null]\n}\n";
    let docs = parse_ok(text);
    let d = &docs[0];
    assert_eq!(at(d, "metadata.labels.x").value, Value::Str("1".into()));
    assert_eq!(at(d, "n[1]").value, Value::Float(2.5));
    assert_eq!(at(d, "n[3]").value, Value::Null);
    assert_eq!(
        (at(d, "kind").span.line, at(d, "kind").span.column),
        (3, 10)
    );
}

#[test]
fn anchors_are_copied_and_merge_keys_merged() {
    let text = "\
base: &base {app: web, tier: front}
more: &more {tier: back, zone: a}
copy: *base
merged:
  <<: *base
  app: explicit
ordered:
  <<: [*more, *base]
quoted:
  \"<<\": not a merge
";
    let d = &parse_ok(text)[0];
    assert_eq!(at(d, "copy"), at(d, "base"));
    // Explicit keys win over merged ones (yaml.org/type/merge.html).
    assert_eq!(at(d, "merged.app").value, Value::Str("explicit".into()));
    assert_eq!(at(d, "merged.tier").value, Value::Str("front".into()));
    // In a list of maps, earlier maps win (go-yaml v2 decode.go merge()).
    assert_eq!(at(d, "ordered.tier").value, Value::Str("back".into()));
    assert_eq!(at(d, "ordered.app").value, Value::Str("web".into()));
    assert_eq!(
        at(d, "quoted").get("<<").map(|n| &n.value),
        Some(&Value::Str("not a merge".into()))
    );
    assert!(at(d, "merged").get("<<").is_none());
}

#[test]
fn merging_a_scalar_is_rejected() {
    let d = only_error("a:\n  <<: 5\n");
    assert_eq!(
        (d.code, d.span.map(|s| (s.line, s.column))),
        ("P105", Some((2, 7)))
    );
    assert!(
        d.message.contains("merge key `<<` takes a map"),
        "{}",
        d.message
    );
}

#[test]
fn billion_laughs_is_stopped() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let started = std::time::Instant::now();
    let (docs, diags) = parse(&text);
    assert!(docs.is_empty());
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0].code, "P101");
    assert!(
        diags[0]
            .message
            .contains(&ALIAS_EXPANSION_LIMIT.to_string())
    );
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn runaway_nesting_is_stopped() {
    let deep = format!(
        "{}{}",
        "[".repeat(MAX_DEPTH + 50),
        "]".repeat(MAX_DEPTH + 50)
    );
    let d = only_error(&deep);
    assert_eq!(d.code, "P101");
    assert!(d.message.contains("nests deeper"), "{}", d.message);
    parse_ok(&format!(
        "{}{}",
        "[".repeat(MAX_DEPTH - 1),
        "]".repeat(MAX_DEPTH - 1)
    ));
}

#[test]
fn duplicate_keys_are_errors_at_the_second_key() {
    let text = "metadata:\n  labels:\n    app: a\n    tier: b\n    app: c\n";
    let (docs, diags) = parse(text);
    assert!(
        docs.is_empty(),
        "a document with a duplicate key is dropped"
    );
    assert_eq!(diags.len(), 1);
    let d = &diags[0];
    assert_eq!(d.code, "P102");
    assert_eq!(d.span.map(|s| (s.line, s.column)), Some((5, 5)));
    assert_eq!(d.field.as_deref(), Some("metadata.labels.app"));
    assert_eq!(d.message, "duplicate key `app`");
    assert!(
        d.help.as_deref().unwrap().contains("already set on line 3"),
        "{:?}",
        d.help
    );

    // Keys that only become equal after typing: `on` is the boolean true, so "true" again.
    let d = only_error("on: 1\n\"true\": 2\n");
    assert_eq!((d.code, d.span.unwrap().line), ("P102", 2));
}

#[test]
fn keys_must_become_strings() {
    let d = only_error("~: x\n");
    assert_eq!(
        (d.code, d.span.unwrap().line, d.span.unwrap().column),
        ("P105", 1, 1)
    );
    assert!(d.message.contains("found null"), "{}", d.message);
    let d = only_error("? [a, b]\n: c\n");
    assert!(d.message.contains("found a list"), "{}", d.message);
}

#[test]
fn tags_are_checked() {
    let cases: &[(&str, &str, &str, (u32, u32))] = &[
        ("a: !foo x\n", "P101", "unsupported tag `!foo`", (1, 4)),
        (
            "a: !!binary aGk=\n",
            "P101",
            "unsupported tag `!!binary`",
            (1, 4),
        ),
        (
            "a: !!map x\n",
            "P101",
            "tag `!!map` cannot be used on a scalar",
            (1, 4),
        ),
        (
            "a: !!seq {b: c}\n",
            "P101",
            "tag `!!seq` cannot be used on a map",
            (1, 4),
        ),
        ("a: !!int abc\n", "P105", "`abc` is not an integer", (1, 4)),
        ("a: !!bool 1\n", "P105", "`1` is not a boolean", (1, 4)),
    ];
    for (text, code, fragment, pos) in cases {
        let d = only_error(text);
        assert_eq!(d.code, *code, "{text:?}");
        assert!(d.message.contains(fragment), "{text:?}: {}", d.message);
        assert_eq!(d.span.map(|s| (s.line, s.column)), Some(*pos), "{text:?}");
    }
}

#[test]
fn syntax_errors_point_at_the_line_and_explain() {
    // (label, text, line, column, message fragment, help fragment)
    let cases: &[(&str, &str, u32, u32, &str, &str)] = &[
        (
            "key without colon",
            "a: 1\nfoo\nb: 2\n",
            2,
            1,
            "not `key: value`",
            "key: value",
        ),
        (
            "colon in plain value",
            "a: b: c\n",
            1,
            5,
            "unexpected `:`",
            "quote it",
        ),
        (
            "unclosed quote",
            "a: \"abc\n",
            1,
            4,
            "quoted string is not closed",
            "closing quote",
        ),
        (
            "unclosed flow list",
            "a: [1, 2\n",
            2,
            1,
            "not closed",
            "`]`",
        ),
        (
            "unclosed flow list, more keys",
            "a: [1, 2\nb: 3\n",
            2,
            2,
            "unexpected `:`",
            "closing bracket",
        ),
        (
            "tab indentation",
            "a:\n\tb: 1\n",
            2,
            1,
            "tab is used for indentation",
            "spaces",
        ),
        (
            "tab after a value",
            "a:\n  b: 1\n\t c: 2\n",
            3,
            1,
            "tab is used for indentation",
            "spaces",
        ),
        (
            "bad indentation",
            "a:\n  b: 1\n c: 2\n",
            3,
            2,
            "does not fit the map",
            "same column",
        ),
        (
            "control character",
            "a: \"x\u{1}y\"\n",
            1,
            6,
            "control character U+0001",
            "remove it",
        ),
    ];
    for (label, text, line, column, message, help) in cases {
        let (_, diags) = parse(text);
        let d = diags
            .first()
            .unwrap_or_else(|| panic!("{label}: no diagnostic"));
        assert_eq!(d.code, "P101", "{label}");
        assert_eq!(
            d.span.map(|s| (s.line, s.column)),
            Some((*line, *column)),
            "{label}: {d:#?}"
        );
        assert!(d.message.contains(message), "{label}: {}", d.message);
        assert!(
            d.help.as_deref().unwrap_or("").contains(help),
            "{label}: {:?}",
            d.help
        );
        assert!(
            d.label.as_deref().unwrap_or("").len() > 3,
            "{label}: the parser's words are kept"
        );
    }
}

#[test]
fn documents_around_a_syntax_error_survive() {
    let text = "a: 1\n---\nb: [\n---\nc: 3\n---\nd: \"\u{0}\"\n---\ne: 5\n";
    let (docs, diags) = parse(text);
    let firsts: Vec<&str> = docs
        .iter()
        .map(|d| match &d.value {
            Value::Map(e) => e[0].0.name.as_str(),
            _ => "?",
        })
        .collect();
    assert_eq!(firsts, ["a", "c", "e"]);
    let lines: Vec<u32> = diags.iter().map(|d| d.span.unwrap().line).collect();
    assert_eq!(lines, [4, 7], "{diags:#?}");
}

#[test]
fn byte_order_mark_and_crlf_keep_positions_right() {
    let text = "\u{feff}a: 1\r\nb: [x,\r\n  y]\r\n";
    let d = &parse_ok(text)[0];
    let b = at(d, "b[1]");
    assert_eq!((b.span.line, b.span.column), (3, 3));
    assert_eq!(slice(text, b), "y");
    let a = d.key_span("a").unwrap();
    assert_eq!((a.line, a.column, a.start), (1, 1, 3));
}

/// kubectl reads YAML with go-yaml (a libyaml port), which does not check indentation inside
/// a flow collection: a continuation line may start with a tab, or sit left of the block that
/// holds the collection. Such files load, and spans still point into the file as written.
#[test]
fn flow_collections_indented_as_kubectl_accepts() {
    let text = "a: 1\n---\nspec:\n  policyTypes: [\n\tIngress,\n\t  Egress]\n  ports: [{port: 80,\nprotocol: TCP}]\n---\nb: [\n\t\"x\"]\n";
    let docs = parse_ok(text);
    assert_eq!(docs.len(), 3);
    let egress = at(&docs[1], "spec.policyTypes[1]");
    assert_eq!(egress.value, Value::Str("Egress".into()));
    assert_eq!(slice(text, egress), "Egress");
    assert_eq!(
        (egress.span.line, egress.span.column),
        line_col(text, text.find("Egress").unwrap())
    );
    let protocol = at(&docs[1], "spec.ports[0].protocol");
    assert_eq!(slice(text, protocol), "TCP");
    assert_eq!((protocol.span.line, protocol.span.column), (8, 11));
    assert_eq!(at(&docs[2], "b[0]").value, Value::Str("x".into()));
}

/// Block indentation stays YAML's: a tab that indents a block line is still refused, even
/// when a flow collection elsewhere in the file was relaxed.
#[test]
fn tabs_indenting_blocks_stay_errors() {
    let d = only_error("a: [1,\n\t2]\nb:\n\tc: 1\n");
    assert_eq!(d.code, "P101");
    assert_eq!(d.span.map(|s| s.line), Some(4));
}
