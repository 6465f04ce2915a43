//! Builders shared by the validate_* and convert_* tests: Kubernetes objects from JSON
//! literals, and loaded objects with a spanned document tree (the loader is not needed).

#![allow(dead_code)]

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use palisade_core::load::{K8sObject, Key, LoadedObject, Node, Value as NodeValue};
use palisade_core::path::FieldPath;
use palisade_core::source::{FileId, Span};
use serde_json::{Value, json};

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    match serde_json::from_value(v.clone()) {
        Ok(t) => t,
        Err(e) => panic!("test object does not decode: {e}\n{v:#}"),
    }
}

/// A K8sObject from a JSON manifest, the way the loader would type it.
pub fn object(v: Value) -> K8sObject {
    let kind = v["kind"].as_str().unwrap_or_default().to_string();
    match kind.as_str() {
        "Namespace" => K8sObject::Namespace(from(v)),
        "Pod" => K8sObject::Pod(from(v)),
        "NetworkPolicy" => K8sObject::NetworkPolicy(from(v)),
        "CronJob" => K8sObject::Workload {
            metadata: from::<ObjectMeta>(v["metadata"].clone()),
            template: from(v["spec"]["jobTemplate"]["spec"]["template"].clone()),
            template_path: FieldPath::parse("spec.jobTemplate.spec.template"),
            kind,
        },
        _ => K8sObject::Workload {
            metadata: from::<ObjectMeta>(v["metadata"].clone()),
            template: from(v["spec"]["template"].clone()),
            template_path: FieldPath::parse("spec.template"),
            kind,
        },
    }
}

/// A NetworkPolicy `default/p` with the given spec.
pub fn policy(spec: Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": spec,
    })
}

/// A NetworkPolicy with one ingress rule made of `rule`.
pub fn ingress_rule(rule: Value) -> Value {
    policy(json!({"podSelector": {}, "ingress": [rule]}))
}

/// A Pod `default/web` with the given spec (and optional status).
pub fn pod(spec: Value, status: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": spec,
        "status": status,
    })
}

/// A container with the given ports.
pub fn container(name: &str, ports: Value) -> Value {
    json!({"name": name, "image": "nginx", "ports": ports})
}

/// Spanned document tree for `v`: every node gets its own line, counted from `line`.
fn node(file: FileId, v: &Value, line: &mut u32) -> Node {
    *line += 1;
    let start = *line as usize * 100;
    let span = Span {
        file,
        start,
        end: start + 10,
        line: *line,
        column: 1,
    };
    let value = match v {
        Value::Null => NodeValue::Null,
        Value::Bool(b) => NodeValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => NodeValue::Int(i),
            None => NodeValue::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => NodeValue::Str(s.clone()),
        Value::Array(items) => NodeValue::Seq(items.iter().map(|i| node(file, i, line)).collect()),
        Value::Object(map) => NodeValue::Map(
            map.iter()
                .map(|(k, v)| {
                    let key = Key {
                        name: k.clone(),
                        span,
                    };
                    (key, node(file, v, line))
                })
                .collect(),
        ),
    };
    Node { span, value }
}

/// A loaded object as if read from file `file` starting at `first_line`.
pub fn loaded(file: u32, first_line: u32, v: Value) -> LoadedObject {
    let mut line = first_line;
    let file = FileId(file);
    LoadedObject {
        file,
        document: Arc::new(node(file, &v, &mut line)),
        base: FieldPath::root(),
        object: object(v),
        load_errors: 0,
    }
}
