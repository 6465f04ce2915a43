//! Loading never panics, and whatever it reports points inside the file it names: on any
//! bytes, on YAML-flavoured noise, and on valid manifests broken in the ways people break
//! them (cut lines, stray indentation, pasted brackets, tabs, duplicated keys).

use palisade_core::load::{Loaded, Node, Value, load_text};
use palisade_core::source::Span;
use proptest::prelude::*;

/// Cases per property (three properties). Failures are saved next to this file in
/// `load_props.proptest-regressions` and replayed first on every run.
const CASES: u32 = 3000;

/// Manifests to mutate: the guide examples plus a workload and a List exercising more syntax.
const BASES: &[&str] = &[
    include_str!("../testdata/load/seeds/003-web-tier.yaml"),
    include_str!("../testdata/load/seeds/000-api-ingress.yaml"),
    include_str!("../testdata/load/seeds/003-allow-external-api.yaml"),
    include_str!("../testdata/load/three-tier-to-empty-map.yaml"),
    "apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: &m {name: web, labels: {app: web}}\n  spec:\n    selector: {matchLabels: {app: web}}\n    template:\n      metadata: {<<: *m, annotations: {note: \"é ✓\"}}\n      spec:\n        containers:\n        - name: web\n          image: 'nginx:1.25'\n          ports: [{containerPort: 080, name: http}]\n          args: |\n            --flag\n            --other\n- {\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"p\"}, \"spec\": {\"containers\": []}}\n",
];

const SNIPPETS: &[&str] = &[
    ": ",
    "- ",
    "\n",
    "  ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\t",
    "---\n",
    "...\n",
    "&a ",
    "*a",
    "<<: ",
    "!!int ",
    "!foo ",
    "'",
    "\"",
    "#",
    "~",
    "yes",
    "0x1F",
    "é",
    "😀",
    "\u{1}",
    "\u{0}",
    "\r",
    "\r\n",
    "\u{feff}",
    "? ",
    "|\n",
    ">-\n",
    "%YAML 1.1\n",
    "<li>",
    "to: {}\n",
    "kind: List\n",
    "items: [",
    "podSelecter: {}\n",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, snippet: usize },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
    Indent { line: usize, add: bool },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), 0..SNIPPETS.len())
            .prop_map(|(at, snippet)| Mutation::Insert { at, snippet }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (any::<usize>(), any::<bool>()).prop_map(|(line, add)| Mutation::Indent { line, add }),
    ]
}

fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let n = lines.len();
    match *m {
        Mutation::Delete { at, len } => {
            let start = floor_boundary(text, at);
            let end = floor_boundary(text, (start + len).min(text.len()));
            let end = end.max(start);
            format!("{}{}", &text[..start], &text[end..])
        }
        Mutation::Insert { at, snippet } => {
            let at = floor_boundary(text, at);
            format!("{}{}{}", &text[..at], SNIPPETS[snippet], &text[at..])
        }
        Mutation::DuplicateLine { line } => {
            let l = lines[line % n].clone();
            lines.insert(line % n, l);
            lines.join("\n")
        }
        Mutation::SwapLines { a, b } => {
            lines.swap(a % n, b % n);
            lines.join("\n")
        }
        Mutation::Indent { line, add } => {
            let l = &mut lines[line % n];
            if add {
                l.insert_str(0, "  ");
            } else if let Some(rest) = l.strip_prefix("  ") {
                *l = rest.to_string();
            }
            lines.join("\n")
        }
    }
}

/// 1-based line and character column, counted independently of the parser.
fn line_col(text: &str, byte: usize) -> (u32, u32) {
    let before = &text[..byte];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line as u32, before[start..].chars().count() as u32 + 1)
}

fn check_span(loaded: &Loaded, span: &Span, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        (span.file.0 as usize) < loaded.sources.len(),
        "{what}: file {:?}",
        span.file
    );
    let text = &loaded.sources.get(span.file).text;
    prop_assert!(
        span.start <= span.end && span.end <= text.len(),
        "{what}: {span:?} in {} bytes",
        text.len()
    );
    prop_assert!(
        text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
        "{what}: {span:?}"
    );
    prop_assert!(span.line >= 1 && span.column >= 1, "{what}: {span:?}");
    // saphyr counts a lone `\r` as a line break and skips a byte-order mark; elsewhere line
    // and column must agree with the byte offset exactly.
    if !text.contains('\r') && !text.contains('\u{feff}') {
        prop_assert_eq!(
            (span.line, span.column),
            line_col(text, span.start),
            "{}: {:?}",
            what,
            span
        );
    }
    Ok(())
}

fn check_node(loaded: &Loaded, node: &Node) -> Result<(), TestCaseError> {
    check_span(loaded, &node.span, "node")?;
    match &node.value {
        Value::Seq(items) => {
            for item in items {
                check_node(loaded, item)?;
            }
        }
        Value::Map(entries) => {
            for (key, value) in entries {
                check_span(loaded, &key.span, "key")?;
                check_node(loaded, value)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_loaded(text: &str) -> Result<(), TestCaseError> {
    let loaded = load_text("prop.yaml", text);
    for d in loaded.diagnostics.iter().chain(&loaded.io_errors) {
        prop_assert!(!d.message.is_empty());
        if let Some(span) = &d.span {
            check_span(&loaded, span, d.code)?;
        }
    }
    for object in &loaded.objects {
        check_node(&loaded, &object.document)?;
        prop_assert!(
            object
                .span_of(&palisade_core::path::FieldPath::root())
                .is_some()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_loaded(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn yaml_flavoured_noise_never_panics(parts in proptest::collection::vec(0..SNIPPETS.len(), 0..60)) {
        let text: String = parts.iter().map(|&i| SNIPPETS[i]).collect();
        check_loaded(&text)?;
    }

    #[test]
    fn broken_manifests_never_panic(base in 0..BASES.len(), mutations in proptest::collection::vec(mutation(), 1..6)) {
        let text = mutations.iter().fold(BASES[base].to_string(), |t, m| apply(&t, m));
        check_loaded(&text)?;
    }
}

#[test]
fn the_unmutated_bases_pass_the_same_checks() {
    for base in BASES {
        check_loaded(base).unwrap();
    }
}
