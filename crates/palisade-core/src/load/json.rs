//! A document tree -> the JSON kubectl would send, with `null` treated as Go does.
//!
//! kubectl marshals the YAML value to JSON and the API server unmarshals that JSON with Go's
//! `encoding/json` rules, where `null` is never a type error: a `null` struct field is left
//! unset, and a `null` list element or map value becomes the zero value of its type. serde
//! rejects `null` for a non-optional field, so the conversion applies Go's rule here, with
//! the element types learnt by [`Schema`]. Unknown keys keep their `null` so that they are
//! still reported as unknown.

use serde_json::{Map, Number, Value as Json};

use super::schema::{Schema, Shape};
use super::tree::{Key, Node, Value};
use crate::path::{FieldPath, Segment};

/// A value JSON cannot carry (`.inf`, `.nan`), found at `path`.
#[derive(Debug, Clone, PartialEq)]
pub struct NotJson {
    pub path: FieldPath,
}

/// Top-level content the decoder would drop anyway, left out of the conversion (a Pod's
/// exported `status` can be a third of its text).
#[derive(Debug, Clone, Copy)]
pub enum Omit {
    Nothing,
    /// `status`, whole.
    Status,
    /// Every field of a `status` map but these.
    StatusExcept(&'static [&'static str]),
}

/// `node` as JSON, with Go's `null` rules for the type `schema` describes, without what
/// `omit` names; values JSON cannot carry are reported in `problems`.
pub fn to_json_omitting(
    node: &Node,
    schema: &Schema,
    problems: &mut Vec<NotJson>,
    omit: Omit,
) -> Json {
    let mut path = FieldPath::root();
    match (&node.value, omit) {
        (_, Omit::Nothing) | (Value::Seq(_) | Value::Null | Value::Bool(_), _) => {
            convert(node, &mut path, schema, problems)
        }
        (Value::Map(entries), _) => {
            let top = |key: &Key, value: &Node| match (omit, &value.value) {
                _ if key.name != "status" => Part::Whole,
                (Omit::Status, _) => Part::Skip,
                (Omit::StatusExcept(fields), Value::Map(_)) => Part::Only(fields),
                _ => Part::Whole,
            };
            convert_map(entries, &mut path, schema, problems, &top)
        }
        _ => convert(node, &mut path, schema, problems),
    }
}

/// How much of one map entry to convert.
enum Part {
    Whole,
    Skip,
    /// Only these fields of the map it holds.
    Only(&'static [&'static str]),
}

fn convert(
    node: &Node,
    path: &mut FieldPath,
    schema: &Schema,
    problems: &mut Vec<NotJson>,
) -> Json {
    match &node.value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Number(Number::from(*i)),
        Value::Float(f) => match float_json(*f) {
            Some(n) => Json::Number(n),
            None => {
                problems.push(NotJson { path: path.clone() });
                Json::Null
            }
        },
        Value::Str(s) => Json::String(s.clone()),
        Value::Seq(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    path.0.push(Segment::Index(i));
                    let v = match item.value {
                        Value::Null => zero_value(schema.shape(path)),
                        _ => convert(item, path, schema, problems),
                    };
                    path.0.pop();
                    v
                })
                .collect(),
        ),
        Value::Map(entries) => convert_map(entries, path, schema, problems, &|_, _| Part::Whole),
    }
}

fn convert_map(
    entries: &[(Key, Node)],
    path: &mut FieldPath,
    schema: &Schema,
    problems: &mut Vec<NotJson>,
    part: &dyn Fn(&Key, &Node) -> Part,
) -> Json {
    let parent = schema.shape(path).cloned();
    let mut out = Map::new();
    for (key, value) in entries {
        let converted = match (part(key, value), &value.value) {
            (Part::Skip, _) => None,
            // Most values are plain leaves: no path needed to convert them.
            (Part::Whole, Value::Bool(b)) => Some(Json::Bool(*b)),
            (Part::Whole, Value::Int(i)) => Some(Json::Number(Number::from(*i))),
            (Part::Whole, Value::Str(s)) => Some(Json::String(s.clone())),
            (Part::Only(fields), Value::Map(inner)) => {
                path.0.push(Segment::Field(key.name.clone()));
                let only = |k: &Key, _: &Node| {
                    if fields.contains(&k.name.as_str()) {
                        Part::Whole
                    } else {
                        Part::Skip
                    }
                };
                let converted = convert_map(inner, path, schema, problems, &only);
                path.0.pop();
                Some(converted)
            }
            _ => {
                path.0.push(Segment::Field(key.name.clone()));
                let converted = match (&value.value, &parent) {
                    (Value::Null, Some(Shape::Map)) => Some(zero_value(schema.shape(path))),
                    // Go leaves a null struct field unset.
                    (Value::Null, Some(Shape::Struct { fields, .. }))
                        if fields.contains(&key.name.as_str()) =>
                    {
                        None
                    }
                    _ => Some(convert(value, path, schema, problems)),
                };
                path.0.pop();
                converted
            }
        };
        if let Some(v) = converted {
            out.insert(key.name.clone(), v);
        }
    }
    Json::Object(out)
}

/// Go's `encoding/json` writes an integral float64 without a fraction (`80`, not `80.0`), so
/// a YAML `080` reaches the API server as the integer 80.
fn float_json(f: f64) -> Option<Number> {
    if !f.is_finite() {
        return None;
    }
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.fract() == 0.0 {
        if (-TWO_63..TWO_63).contains(&f) {
            return Some(Number::from(f as i64));
        }
        if (0.0..2.0 * TWO_63).contains(&f) {
            return Some(Number::from(f as u64));
        }
    }
    Number::from_f64(f)
}

/// What Go's decoder leaves in a list element or map value after reading `null` into it.
fn zero_value(shape: Option<&Shape>) -> Json {
    match shape {
        Some(Shape::Struct { .. } | Shape::Map) => Json::Object(Map::new()),
        Some(Shape::Seq) => Json::Array(Vec::new()),
        Some(Shape::Str) => Json::String(String::new()),
        Some(Shape::Int) => Json::Number(Number::from(0)),
        Some(Shape::Float) => Json::Number(Number::from(0)),
        Some(Shape::Bool) => Json::Bool(false),
        Some(Shape::Any) | None => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::networking::v1::NetworkPolicy;

    use super::*;
    use crate::load::yaml::parse_documents;
    use crate::source::FileId;

    fn json_of(yaml: &str) -> (Json, Vec<NotJson>) {
        let (docs, diags) = parse_documents(FileId(0), yaml);
        assert!(diags.is_empty(), "{diags:?}");
        let schema = Schema::of::<NetworkPolicy>();
        let mut problems = Vec::new();
        let json = to_json_omitting(&docs[0], &schema, &mut problems, Omit::Nothing);
        (json, problems)
    }

    #[test]
    fn nulls_follow_go_encoding_json() {
        let (json, problems) = json_of(
            "metadata:\n  name:\n  labels: {a: ~}\nspec:\n  podSelector:\n  policyTypes: [~]\n  ingress: [~]\nbogus: ~\n",
        );
        assert!(problems.is_empty());
        assert_eq!(
            json,
            serde_json::json!({
                "metadata": {"labels": {"a": ""}},
                "spec": {"policyTypes": [""], "ingress": [{}]},
                "bogus": null,
            })
        );
    }

    /// Leaving a status out gives the JSON of the whole object with those fields removed,
    /// keys in document order, and finds no problem inside what it left out.
    #[test]
    fn omitting_status_fields_is_removing_them_afterwards() {
        let yaml = "metadata:\n  name: p\nstatus:\n  conditions:\n  - {x: .inf}\n  phase: Running\n  podIP: 10.0.0.1\n  other: ~\nspec:\n  containers: []\n";
        let (docs, _) = parse_documents(FileId(0), yaml);
        let schema = Schema::of::<k8s_openapi::api::core::v1::Pod>();
        let mut problems = Vec::new();
        let kept = to_json_omitting(
            &docs[0],
            &schema,
            &mut problems,
            Omit::StatusExcept(&["phase", "podIP"]),
        );
        assert!(problems.is_empty(), "{problems:?}");
        let mut whole = to_json_omitting(&docs[0], &schema, &mut problems, Omit::Nothing);
        assert_eq!(
            problems.len(),
            1,
            "the infinity left out is found in the whole"
        );
        let status = whole["status"].as_object_mut().unwrap();
        status.retain(|k, _| k == "phase" || k == "podIP");
        assert_eq!(kept, whole);
        let keys: Vec<&String> = kept.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["metadata", "status", "spec"]);
        let mut problems = Vec::new();
        let gone = to_json_omitting(&docs[0], &schema, &mut problems, Omit::Status);
        assert!(problems.is_empty() && gone.get("status").is_none());
    }

    #[test]
    fn integral_floats_become_integers_and_infinities_are_reported() {
        let (json, problems) =
            json_of("spec:\n  ingress:\n  - ports:\n    - port: 080\n      endPort: .inf\n");
        assert_eq!(
            json["spec"]["ingress"][0]["ports"][0]["port"],
            serde_json::json!(80)
        );
        assert_eq!(
            problems,
            vec![NotJson {
                path: FieldPath::parse("spec.ingress[0].ports[0].endPort")
            }]
        );
    }
}
