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
use super::tree::{Node, Value};
use crate::path::FieldPath;

/// A value JSON cannot carry (`.inf`, `.nan`), found at `path`.
#[derive(Debug, Clone, PartialEq)]
pub struct NotJson {
    pub path: FieldPath,
}

pub fn to_json(node: &Node, schema: &Schema, problems: &mut Vec<NotJson>) -> Json {
    convert(node, &mut FieldPath::root(), schema, problems)
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
                    path.0.push(crate::path::Segment::Index(i));
                    let v = match item.value {
                        Value::Null => zero_value(schema.shape(path)),
                        _ => convert(item, path, schema, problems),
                    };
                    path.0.pop();
                    v
                })
                .collect(),
        ),
        Value::Map(entries) => {
            let parent = schema.shape(path).cloned();
            let mut out = Map::new();
            for (key, value) in entries {
                path.0.push(crate::path::Segment::Field(key.name.clone()));
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
                if let Some(v) = converted {
                    out.insert(key.name.clone(), v);
                }
            }
            Json::Object(out)
        }
    }
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
        let json = to_json(&docs[0], &schema, &mut problems);
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
