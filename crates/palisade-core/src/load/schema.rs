//! What each k8s-openapi type accepts, learnt from its own `Deserialize` impl.
//!
//! k8s-openapi's generated impls call `deserialize_struct(name, FIELDS, visitor)` and then ask
//! for each field's value with the field's own type. A probing deserializer that answers every
//! request with a harmless sample value walks the whole type once and records, per field path
//! pattern (`spec.ingress[].from[]`), the shape found there: a struct and its field names, a
//! list, a map, or a scalar type. Decoding uses it to name the fields a misspelt key could
//! have meant, to say what was expected in plain words, and to treat JSON `null` the way Go's
//! `encoding/json` does. Nothing here is maintained by hand, so it follows k8s-openapi.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use crate::path::{FieldPath, Segment};

/// The shape of the value at one field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    Struct {
        name: &'static str,
        fields: &'static [&'static str],
    },
    Seq,
    /// A map with arbitrary string keys (labels, annotations, resource lists).
    Map,
    Str,
    Int,
    Float,
    Bool,
    /// Anything (free-form JSON, int-or-string, quantities).
    Any,
}

#[derive(Debug, Default)]
pub struct Schema {
    shapes: HashMap<String, Shape>,
}

/// A path with list indices erased and map keys replaced by `*`.
fn pattern_push(pattern: &str, seg: &str) -> String {
    if pattern.is_empty() {
        seg.to_string()
    } else if seg == "[]" {
        format!("{pattern}[]")
    } else {
        format!("{pattern}.{seg}")
    }
}

impl Schema {
    /// Walks `T`'s `Deserialize` impl once.
    pub fn of<T: DeserializeOwned>() -> Schema {
        let recorder = RefCell::new(HashMap::new());
        // An error only ends the walk early; what was recorded so far stays useful.
        let _ = T::deserialize(Probe {
            pattern: String::new(),
            depth: 0,
            rec: &recorder,
        });
        Schema {
            shapes: recorder.into_inner(),
        }
    }

    /// The shape at `path` (indices and map keys included), if `T` has that path.
    pub fn shape(&self, path: &FieldPath) -> Option<&Shape> {
        let mut pattern = String::new();
        for seg in &path.0 {
            let here = self.shapes.get(&pattern);
            pattern = match (seg, here) {
                (Segment::Index(_), _) => pattern_push(&pattern, "[]"),
                (Segment::Field(_), Some(Shape::Map)) => pattern_push(&pattern, "*"),
                (Segment::Field(name), _) => pattern_push(&pattern, name),
            };
        }
        self.shapes.get(&pattern)
    }

    /// The field names of the struct at `path`.
    pub fn fields_at(&self, path: &FieldPath) -> Option<&'static [&'static str]> {
        match self.shape(path) {
            Some(Shape::Struct { fields, .. }) => Some(fields),
            _ => None,
        }
    }
}

/// A string every string-typed field accepts, timestamps included.
const SAMPLE_STR: &str = "1970-01-01T00:00:00Z";

/// No Kubernetes type nests this deep; the cap only guards against a recursive type.
const PROBE_DEPTH: usize = 48;

struct Probe<'r> {
    pattern: String,
    depth: usize,
    rec: &'r RefCell<HashMap<String, Shape>>,
}

impl<'r> Probe<'r> {
    fn record(&self, shape: Shape) {
        self.rec
            .borrow_mut()
            .entry(self.pattern.clone())
            .or_insert(shape);
    }

    fn child(&self, seg: &str) -> Probe<'r> {
        Probe {
            pattern: pattern_push(&self.pattern, seg),
            depth: self.depth + 1,
            rec: self.rec,
        }
    }
}

type ProbeError = de::value::Error;

macro_rules! probe_scalar {
    ($($method:ident => $shape:expr, $visit:ident($($value:expr)?);)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
            self.record($shape);
            visitor.$visit($($value)?)
        })*
    };
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = ProbeError;

    probe_scalar! {
        deserialize_bool => Shape::Bool, visit_bool(false);
        deserialize_i8 => Shape::Int, visit_i64(0);
        deserialize_i16 => Shape::Int, visit_i64(0);
        deserialize_i32 => Shape::Int, visit_i64(0);
        deserialize_i64 => Shape::Int, visit_i64(0);
        deserialize_u8 => Shape::Int, visit_u64(0);
        deserialize_u16 => Shape::Int, visit_u64(0);
        deserialize_u32 => Shape::Int, visit_u64(0);
        deserialize_u64 => Shape::Int, visit_u64(0);
        deserialize_f32 => Shape::Float, visit_f64(0.0);
        deserialize_f64 => Shape::Float, visit_f64(0.0);
        deserialize_char => Shape::Str, visit_char('a');
        deserialize_str => Shape::Str, visit_str(SAMPLE_STR);
        deserialize_string => Shape::Str, visit_str(SAMPLE_STR);
        deserialize_identifier => Shape::Str, visit_str(SAMPLE_STR);
        deserialize_any => Shape::Any, visit_str(SAMPLE_STR);
        deserialize_bytes => Shape::Str, visit_bytes(&[]);
        deserialize_byte_buf => Shape::Str, visit_bytes(&[]);
        deserialize_unit => Shape::Any, visit_unit();
        deserialize_ignored_any => Shape::Any, visit_unit();
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.record(Shape::Seq);
        let element = (self.depth < PROBE_DEPTH).then(|| self.child("[]"));
        visitor.visit_seq(ProbeSeq { element })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.record(Shape::Map);
        let entries = if self.depth < PROBE_DEPTH {
            vec![("*", self.child("*"))]
        } else {
            Vec::new()
        };
        visitor.visit_map(ProbeMap {
            entries,
            value: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.record(Shape::Struct { name, fields });
        let entries = if self.depth < PROBE_DEPTH {
            fields
                .iter()
                // A resource checks apiVersion and kind against its own constants; they are
                // plain strings for this purpose.
                .filter(|f| !(self.pattern.is_empty() && matches!(**f, "apiVersion" | "kind")))
                .map(|f| (*f, self.child(f)))
                .collect()
        } else {
            Vec::new()
        };
        if self.pattern.is_empty() {
            for f in ["apiVersion", "kind"] {
                self.rec.borrow_mut().insert(f.to_string(), Shape::Str);
            }
        }
        visitor.visit_map(ProbeMap {
            entries,
            value: None,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProbeError> {
        Err(de::Error::custom("enums are not probed"))
    }
}

struct ProbeSeq<'r> {
    element: Option<Probe<'r>>,
}

impl<'de> de::SeqAccess<'de> for ProbeSeq<'_> {
    type Error = ProbeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ProbeError> {
        match self.element.take() {
            Some(probe) => seed.deserialize(probe).map(Some),
            None => Ok(None),
        }
    }
}

struct ProbeMap<'r> {
    entries: Vec<(&'static str, Probe<'r>)>,
    value: Option<Probe<'r>>,
}

impl<'de> de::MapAccess<'de> for ProbeMap<'_> {
    type Error = ProbeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ProbeError> {
        if self.entries.is_empty() {
            return Ok(None);
        }
        let (key, probe) = self.entries.remove(0);
        self.value = Some(probe);
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ProbeError> {
        match self.value.take() {
            Some(probe) => seed.deserialize(probe),
            None => Err(de::Error::custom("value without key")),
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::batch::v1::CronJob;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::api::networking::v1::NetworkPolicy;

    use super::*;

    #[test]
    fn network_policy_shapes_are_learnt() {
        let s = Schema::of::<NetworkPolicy>();
        let at = |p: &str| s.shape(&FieldPath::parse(p)).cloned();
        assert_eq!(
            s.fields_at(&FieldPath::parse("spec.ingress[0].from[2]")),
            Some(&["ipBlock", "namespaceSelector", "podSelector"][..])
        );
        assert_eq!(at("spec.egress[1].to"), Some(Shape::Seq));
        assert_eq!(at("spec.egress[1].ports[0].endPort"), Some(Shape::Int));
        assert_eq!(at("spec.egress[1].ports[0].port"), Some(Shape::Any));
        assert_eq!(at("spec.policyTypes[0]"), Some(Shape::Str));
        assert_eq!(at("metadata.labels"), Some(Shape::Map));
        // Label keys contain dots; the map step swallows the key whatever it is.
        assert_eq!(
            s.shape(&FieldPath(vec![
                Segment::Field("metadata".into()),
                Segment::Field("labels".into()),
                Segment::Field("app.kubernetes.io/name".into()),
            ])),
            Some(&Shape::Str)
        );
        assert_eq!(at("kind"), Some(Shape::Str));
        assert_eq!(at("spec.nope"), None);
    }

    #[test]
    fn deep_types_are_walked_completely() {
        let pod = Schema::of::<Pod>();
        assert_eq!(
            pod.shape(&FieldPath::parse(
                "spec.containers[0].ports[0].containerPort"
            )),
            Some(&Shape::Int)
        );
        assert_eq!(
            pod.shape(&FieldPath::parse("metadata.creationTimestamp")),
            Some(&Shape::Str)
        );
        // Walking carries on past timestamps and quantities.
        assert_eq!(
            pod.shape(&FieldPath::parse("status.podIPs[0].ip")),
            Some(&Shape::Str)
        );
        let cron = Schema::of::<CronJob>();
        assert!(
            cron.fields_at(&FieldPath::parse("spec.jobTemplate.spec.template.spec"))
                .is_some_and(|f| f.contains(&"hostNetwork"))
        );
    }
}
