//! Decoding failures in the user's words: which field, what was expected, what was found, and
//! a concrete fix, pointed at the exact key or value in the file.
//!
//! serde reports `invalid type: map, expected a sequence` for `spec.egress[0].to`; the user
//! reads "expected a list of peers, found a map" (the field path travels beside it) with the help that
//! `to` is a list and that an empty one allows every destination.

use super::schema::{Schema, Shape};
use super::tree::{Node, Value};
use crate::diag::Diagnostic;
use crate::path::{FieldPath, Segment};
use crate::source::Span;

/// The object being decoded and where it sits.
pub struct ObjectCtx<'a> {
    pub doc: &'a Node,
    pub text: &'a str,
    /// Where the object sits in `doc` (root, or `items[3]`).
    pub base: FieldPath,
    /// `NetworkPolicy production/db`, for [`Diagnostic::object`].
    pub object: String,
    pub schema: &'a Schema,
}

impl ObjectCtx<'_> {
    fn node(&self, path: &FieldPath) -> Option<&Node> {
        self.doc.lookup(&self.base.join(path))
    }

    fn nearest_span(&self, path: &FieldPath) -> Option<Span> {
        self.doc
            .lookup_nearest(&self.base.join(path))
            .map(|n| n.span)
    }

    fn source(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }

    fn diag(&self, code: &'static str, message: String, path: &FieldPath) -> Diagnostic {
        let d = Diagnostic::error(code, message).with_object(self.object.clone());
        if path.is_root() {
            d
        } else {
            d.with_field(path.to_string())
        }
    }
}

/// P104: a key the type does not have, pointed at the key.
pub fn unknown_field(ctx: &ObjectCtx<'_>, path: &FieldPath) -> Diagnostic {
    let (parent, name) = split_last(path);
    let span = ctx
        .node(&parent)
        .and_then(|n| n.key_span(&name))
        .or_else(|| ctx.nearest_span(path));
    let key_text = span.map(|s| ctx.source(s)).unwrap_or("");
    let fields = ctx.schema.fields_at(&parent).unwrap_or(&[]);
    let within = if parent.is_root() {
        String::new()
    } else {
        format!(" in `{parent}`")
    };
    let mut help = if let Some(better) = closest(&name, fields) {
        format!("did you mean `{better}`?")
    } else if let Some(owner) = owning_child(ctx.schema, &parent, &name) {
        format!("`{name}` belongs under `{owner}`: indent it below `{owner}:`")
    } else if fields.is_empty() {
        "remove this field".to_string()
    } else {
        format!("the fields here are: {}", fields.join(", "))
    };
    // `on:` and friends are booleans in YAML 1.1 and reach the API server as "true"/"false".
    let bare = key_text.trim_matches(['"', '\'']);
    if !key_text.is_empty() && bare != name && !key_text.starts_with(['"', '\'']) {
        help = format!(
            "YAML 1.1 reads the key `{key_text}` as `{name}`; quote it (`\"{key_text}\"`) if you meant the text. {help}"
        );
    }
    ctx.diag("P104", format!("unknown field `{name}`{within}"), path)
        .with_span(span)
        .with_label("unknown field")
        .with_help(help)
}

/// P105: serde could not build the value at `path`; `message` is serde's.
pub fn type_error(ctx: &ObjectCtx<'_>, path: &FieldPath, message: &str) -> Diagnostic {
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        let full = path.field(field);
        let within = if path.is_root() {
            "the object".to_string()
        } else {
            format!("`{path}`")
        };
        return ctx
            .diag(
                "P105",
                format!("missing required field `{field}` in {within}"),
                &full,
            )
            .with_span(ctx.nearest_span(path))
            .with_label(format!("`{field}` is missing here"))
            .with_help(format!("add `{field}:`"));
    }
    let node = ctx.node(path);
    let span = node.map(|n| n.span).or_else(|| ctx.nearest_span(path));
    let expected_by_serde = message.rsplit_once(", expected ").map(|(_, e)| e);
    let (Some(node), Some(serde_expected), true) =
        (node, expected_by_serde, message.starts_with("invalid type"))
    else {
        return ctx
            .diag("P105", plain_serde(message).to_string(), path)
            .with_span(span)
            .with_label("invalid value");
    };
    let expected = expected_noun(ctx.schema.shape(path), path, serde_expected);
    let found = node.type_name();
    let text = ctx.source(node.span);
    let help = shape_help(path, &expected, node, text);
    let mut d = ctx
        .diag("P105", format!("expected {expected}, found {found}"), path)
        .with_span(span)
        .with_label(format!("expected {expected}"));
    if let Some(help) = help {
        d = d.with_help(help);
    }
    d
}

/// P105: a number JSON cannot carry.
pub fn not_json(ctx: &ObjectCtx<'_>, path: &FieldPath) -> Diagnostic {
    let span = ctx.nearest_span(path);
    let text = span.map(|s| ctx.source(s).to_string()).unwrap_or_default();
    ctx.diag(
        "P105",
        format!("`{text}` cannot be sent to the API server (JSON has no infinity or NaN)"),
        path,
    )
    .with_span(span)
    .with_label("not a JSON number")
    .with_help(format!(
        "write a finite number, or quote it (`\"{text}\"`) if a string is meant"
    ))
}

fn split_last(path: &FieldPath) -> (FieldPath, String) {
    let mut parent = path.clone();
    match parent.0.pop() {
        Some(Segment::Field(name)) => (parent, name),
        Some(Segment::Index(i)) => (parent, i.to_string()),
        None => (parent, String::new()),
    }
}

/// The child struct of `parent` that has a field `name`: `name` at the root of a
/// NetworkPolicy belongs under `metadata`, `podSelector` under `spec`.
fn owning_child(schema: &Schema, parent: &FieldPath, name: &str) -> Option<String> {
    let fields = schema.fields_at(parent)?;
    fields
        .iter()
        .find(|f| {
            schema
                .fields_at(&parent.field(f))
                .is_some_and(|inner| inner.contains(&name))
        })
        .map(|f| f.to_string())
}

/// The best near-miss among `candidates`: same letters in another case, or a small edit
/// distance relative to the length.
pub fn closest<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(name)) {
        return Some(c);
    }
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| {
            (
                edit_distance(&name.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                *c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance (insertions, deletions, substitutions, adjacent swaps).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

/// "a list of peers", "a map (NetworkPolicyPeer)", "a string"...
fn expected_noun(shape: Option<&Shape>, path: &FieldPath, serde_expected: &str) -> String {
    match shape {
        Some(Shape::Seq) => list_noun(path).to_string(),
        Some(Shape::Struct { name, .. }) => format!("a map ({name})"),
        Some(Shape::Map) => "a map".to_string(),
        Some(Shape::Str) => "a string".to_string(),
        Some(Shape::Int) => "an integer".to_string(),
        Some(Shape::Float) => "a number".to_string(),
        Some(Shape::Bool) => "a boolean".to_string(),
        Some(Shape::Any) | None => serde_noun(serde_expected),
    }
}

fn list_noun(path: &FieldPath) -> &'static str {
    match path.0.last() {
        Some(Segment::Field(f)) => match f.as_str() {
            "to" | "from" => "a list of peers",
            "ingress" | "egress" => "a list of rules",
            "ports" => "a list of ports",
            "policyTypes" => "a list of policy types",
            "except" => "a list of CIDRs",
            "matchExpressions" => "a list of label selector requirements",
            "values" => "a list of strings",
            "containers" | "initContainers" | "ephemeralContainers" => "a list of containers",
            "items" => "a list of objects",
            _ => "a list",
        },
        _ => "a list",
    }
}

fn serde_noun(expected: &str) -> String {
    match expected {
        "a sequence" => "a list".into(),
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "IntOrString" => "an integer or a string".into(),
        "Quantity" => "a quantity (a number or a string like `500m`)".into(),
        other => other.to_string(),
    }
}

/// serde's remaining messages, lightly reworded.
fn plain_serde(message: &str) -> String {
    message
        .replace("a sequence", "a list")
        .replace("expected i32", "expected a 32-bit integer")
        .replace("expected i64", "expected an integer")
}

/// A concrete fix for the common shape mistakes.
fn shape_help(path: &FieldPath, expected: &str, node: &Node, text: &str) -> Option<String> {
    let last = match path.0.last() {
        Some(Segment::Field(f)) => f.as_str(),
        _ => "",
    };
    let text = text.lines().next().unwrap_or("").trim();
    match (&node.value, expected) {
        (Value::Map(_), "a list of peers") => {
            let every = if last == "to" {
                "destination"
            } else {
                "source"
            };
            Some(format!(
                "`{last}` is a list of peers: start each peer with `- ` (for example \
                 `- podSelector: {{...}}`); an absent or empty list (`{last}: []`) allows every {every}"
            ))
        }
        (Value::Map(_), e) if e.starts_with("a list") => Some(format!(
            "`{last}` is a list: start each item with `- ` on its own line"
        )),
        (Value::Seq(_), e) if e.starts_with("a map") => Some(format!(
            "`{last}` is a single map, not a list: remove the `- ` in front of its fields"
        )),
        (Value::Bool(_), "a string") => Some(format!(
            "YAML 1.1 reads `{text}` as a boolean; quote it (`\"{text}\"`) to keep it a string"
        )),
        (Value::Int(_) | Value::Float(_), "a string") => Some(format!(
            "YAML reads `{text}` as a number; quote it (`\"{text}\"`) to keep it a string"
        )),
        (Value::Str(s), "an integer") if s.trim().parse::<i64>().is_ok() => {
            Some(format!("remove the quotes: `{}`", s.trim()))
        }
        (Value::Null, _) => Some(format!("give `{last}` a value or remove the line")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_found_and_far_ones_are_not() {
        let fields = ["ipBlock", "namespaceSelector", "podSelector"];
        let cases = [
            ("podSelecter", Some("podSelector")),
            ("PodSelector", Some("podSelector")),
            ("podselector", Some("podSelector")),
            ("namespaceSelectr", Some("namespaceSelector")),
            ("ipblock", Some("ipBlock")),
            ("ipBlcok", Some("ipBlock")),
            ("cidr", None),
            ("selector", None),
        ];
        for (name, want) in cases {
            assert_eq!(closest(name, &fields), want, "{name}");
        }
    }

    #[test]
    fn edit_distance_counts_swaps_as_one() {
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "acb"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
