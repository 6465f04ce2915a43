//! The spanned document tree: YAML or JSON after parsing, before typing.

use crate::path::{FieldPath, Segment};
use crate::source::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

/// A scalar is already typed the way kubectl's YAML-to-JSON conversion types it (YAML 1.1 plain
/// scalars: `on`/`yes` are booleans, `080` is a number), because that is what the API server sees.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order; duplicates have been rejected by the parser.
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

impl Node {
    /// The node at `path`, if every segment exists.
    pub fn lookup(&self, path: &FieldPath) -> Option<&Node> {
        let mut node = self;
        for seg in &path.0 {
            node = node.child(seg)?;
        }
        Some(node)
    }

    /// The node at `path`, or the deepest ancestor of it that exists.
    pub fn lookup_nearest(&self, path: &FieldPath) -> Option<&Node> {
        let mut node = self;
        for seg in &path.0 {
            match node.child(seg) {
                Some(next) => node = next,
                None => break,
            }
        }
        Some(node)
    }

    /// The span of the key `name` in this map (to point at an unknown or duplicate field).
    pub fn key_span(&self, name: &str) -> Option<Span> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == name)
                .map(|(k, _)| k.span),
            _ => None,
        }
    }

    pub fn get(&self, name: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == name).map(|(_, v)| v),
            _ => None,
        }
    }

    fn child(&self, seg: &Segment) -> Option<&Node> {
        match (seg, &self.value) {
            (Segment::Field(name), Value::Map(_)) => self.get(name),
            (Segment::Index(i), Value::Seq(items)) => items.get(*i),
            _ => None,
        }
    }

    /// A short name for the node's type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }
}
