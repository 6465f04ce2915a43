//! The adjusted cluster written back as Kubernetes manifests, so agents started with
//! `--manifests DIR` enforce exactly the cluster the lab laid out and predicted.
//!
//! One `v1` `List` of Namespaces, Pods and NetworkPolicies in JSON (valid YAML too). Every
//! default of the model is written out explicitly (policyTypes, protocol), so nothing depends on
//! the reader applying the same defaults again. Workload templates become plain Pods: the lab
//! runs one pod per template.

use std::collections::BTreeMap;

use palisade_core::model::{
    Cluster, NamespaceScope, Operator, Peer, Peers, Pod, Policy, PortSpec, Ports, Rule, Selector,
};
use serde_json::{Map, Value, json};

fn labels(l: &BTreeMap<String, String>) -> Value {
    Value::Object(
        l.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn selector(s: &Selector) -> Value {
    let mut out = Map::new();
    if !s.match_labels.is_empty() {
        out.insert("matchLabels".into(), labels(&s.match_labels));
    }
    if !s.expressions.is_empty() {
        let exprs = s
            .expressions
            .iter()
            .map(|r| {
                let (op, values): (&str, Option<Vec<&String>>) = match &r.operator {
                    Operator::In(v) => ("In", Some(v.iter().collect())),
                    Operator::NotIn(v) => ("NotIn", Some(v.iter().collect())),
                    Operator::Exists => ("Exists", None),
                    Operator::DoesNotExist => ("DoesNotExist", None),
                };
                let mut e = json!({"key": r.key, "operator": op});
                if let (Some(values), Some(obj)) = (values, e.as_object_mut()) {
                    obj.insert("values".into(), json!(values));
                }
                e
            })
            .collect::<Vec<_>>();
        out.insert("matchExpressions".into(), Value::Array(exprs));
    }
    Value::Object(out)
}

fn pod(p: &Pod) -> Value {
    let ports: Vec<Value> = p
        .ports
        .iter()
        .map(|cp| {
            let mut v = json!({"containerPort": cp.port, "protocol": cp.protocol.as_str()});
            if let (Some(name), Some(obj)) = (&cp.name, v.as_object_mut()) {
                obj.insert("name".into(), json!(name));
            }
            v
        })
        .collect();
    let mut spec = json!({
        "containers": [{"name": "lab", "image": "palisade-lab", "ports": ports}],
    });
    if let Some(obj) = spec.as_object_mut() {
        if let Some(node) = &p.node {
            obj.insert("nodeName".into(), json!(node));
        }
        if p.host_network {
            obj.insert("hostNetwork".into(), json!(true));
        }
    }
    let mut status = Map::new();
    if let Some(first) = p.ips.first() {
        status.insert("podIP".into(), json!(first.to_string()));
        status.insert(
            "podIPs".into(),
            json!(
                p.ips
                    .iter()
                    .map(|ip| json!({"ip": ip.to_string()}))
                    .collect::<Vec<_>>()
            ),
        );
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": p.name, "namespace": p.namespace, "labels": labels(&p.labels)},
        "spec": spec,
        "status": status,
    })
}

fn peer(p: &Peer) -> Value {
    match p {
        Peer::Pods {
            namespaces: NamespaceScope::Own,
            pods,
        } => json!({"podSelector": selector(pods)}),
        Peer::Pods {
            namespaces: NamespaceScope::Matching(ns),
            pods,
        } => json!({"namespaceSelector": selector(ns), "podSelector": selector(pods)}),
        Peer::IpBlock { cidr, except } => {
            let mut block = json!({"cidr": cidr.to_string()});
            if !except.is_empty()
                && let Some(obj) = block.as_object_mut()
            {
                obj.insert(
                    "except".into(),
                    json!(except.iter().map(ToString::to_string).collect::<Vec<_>>()),
                );
            }
            json!({"ipBlock": block})
        }
    }
}

fn rule(r: &Rule, peers_key: &str) -> Value {
    let mut out = Map::new();
    if let Peers::OneOf(items) = &r.peers {
        out.insert(
            peers_key.into(),
            Value::Array(items.iter().map(peer).collect()),
        );
    }
    if let Ports::OneOf(items) = &r.ports {
        let ports = items
            .iter()
            .map(|m| {
                let mut v = json!({"protocol": m.protocol.as_str()});
                if let Some(obj) = v.as_object_mut() {
                    match &m.port {
                        PortSpec::Any => {}
                        PortSpec::Range { first, last } => {
                            obj.insert("port".into(), json!(first));
                            if last != first {
                                obj.insert("endPort".into(), json!(last));
                            }
                        }
                        PortSpec::Named(name) => {
                            obj.insert("port".into(), json!(name));
                        }
                    }
                }
                v
            })
            .collect();
        out.insert("ports".into(), Value::Array(ports));
    }
    Value::Object(out)
}

fn policy(p: &Policy) -> Value {
    let mut spec = Map::new();
    spec.insert("podSelector".into(), selector(&p.subject));
    let mut types = Vec::new();
    if let Some(rules) = &p.ingress {
        types.push("Ingress");
        spec.insert(
            "ingress".into(),
            Value::Array(rules.iter().map(|r| rule(r, "from")).collect()),
        );
    }
    if let Some(rules) = &p.egress {
        types.push("Egress");
        spec.insert(
            "egress".into(),
            Value::Array(rules.iter().map(|r| rule(r, "to")).collect()),
        );
    }
    spec.insert("policyTypes".into(), json!(types));
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": p.name, "namespace": p.namespace},
        "spec": spec,
    })
}

/// The cluster as one `v1` `List`: declared namespaces, pods, policies, in the model's order.
pub fn to_json(cluster: &Cluster) -> Value {
    let mut items: Vec<Value> = cluster
        .namespaces
        .iter()
        .filter(|ns| ns.declared)
        .map(|ns| {
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns.name, "labels": labels(&ns.labels)},
            })
        })
        .collect();
    items.extend(cluster.pods.iter().map(pod));
    items.extend(cluster.policies.iter().map(policy));
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

/// [`to_json`], pretty-printed.
pub fn to_string(cluster: &Cluster) -> String {
    serde_json::to_string_pretty(&to_json(cluster)).unwrap_or_default()
}

#[cfg(test)]
mod tests;
