//! `build_cluster`: defaults across objects, duplicate resolution, sorting, and order
//! independence under every permutation of the input.

mod common;

use common::{container, loaded, pod, policy};
use palisade_core::diag::Diagnostic;
use palisade_core::load::LoadedObject;
use palisade_core::model::Cluster;
use palisade_core::model::convert::{DUPLICATE_OBJECT, build_cluster};
use serde_json::{Value, json};

fn namespace(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

fn named_pod(namespace: Option<&str>, name: &str, ip: &str, phase: &str) -> Value {
    let mut v = pod(
        json!({"containers": [container("c", json!([{"containerPort": 80}]))]}),
        json!({"podIP": ip, "phase": phase}),
    );
    v["metadata"] = json!({"name": name, "labels": {"app": name}});
    if let Some(ns) = namespace {
        v["metadata"]["namespace"] = json!(ns);
    }
    v
}

fn deployment(namespace: &str, name: &str, app: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": []}}}})
}

fn named_policy(namespace: &str, name: &str, spec: Value) -> Value {
    let mut v = policy(spec);
    v["metadata"] = json!({"name": name, "namespace": namespace});
    v
}

/// The fixture: every kind, a clash of each sort, an undeclared namespace, a terminal pod.
fn fixture() -> Vec<LoadedObject> {
    let docs = vec![
        namespace("prod", json!({"team": "a"})),
        named_pod(Some("prod"), "web", "10.0.0.1", "Running"),
        deployment("prod", "web", "web-from-deployment"),
        named_pod(None, "client", "10.0.0.2", "Running"),
        named_pod(Some("prod"), "done", "10.0.0.3", "Succeeded"),
        named_policy("prod", "deny", json!({"podSelector": {}})),
        named_policy(
            "prod",
            "deny",
            json!({"podSelector": {}, "policyTypes": ["Egress"]}),
        ),
        named_policy(
            "staging",
            "allow",
            json!({"podSelector": {}, "ingress": [{}, {"from": [{"podSelector": {}}]}]}),
        ),
        deployment("staging", "api", "api"),
        namespace("prod", json!({"team": "b"})),
    ];
    docs.into_iter()
        .enumerate()
        .map(|(i, doc)| loaded(i as u32, 1, doc))
        .collect()
}

fn summary(cluster: &Cluster) -> Vec<String> {
    let mut out = Vec::new();
    for ns in &cluster.namespaces {
        out.push(format!(
            "ns {} declared={} {:?}",
            ns.name, ns.declared, ns.labels
        ));
    }
    for p in &cluster.pods {
        out.push(format!(
            "pod {} {:?} {:?} {:?}",
            p.key(),
            p.origin,
            p.labels,
            p.ips
        ));
    }
    for p in &cluster.policies {
        out.push(format!(
            "policy {} ingress={:?} egress={:?}",
            p.key(),
            p.ingress.as_ref().map(Vec::len),
            p.egress.as_ref().map(Vec::len)
        ));
    }
    out
}

#[test]
fn builds_the_expected_cluster() {
    let objects = fixture();
    let refs: Vec<&LoadedObject> = objects.iter().collect();
    let (cluster, diagnostics) = build_cluster(&refs);
    let want = vec![
        "ns default declared=false {\"kubernetes.io/metadata.name\": \"default\"}",
        "ns prod declared=true {\"kubernetes.io/metadata.name\": \"prod\", \"team\": \"a\"}",
        "ns staging declared=false {\"kubernetes.io/metadata.name\": \"staging\"}",
        "pod default/client Pod {\"app\": \"client\"} [10.0.0.2]",
        "pod prod/web Pod {\"app\": \"web\"} [10.0.0.1]",
        "pod staging/api Template { kind: \"Deployment\" } {\"app\": \"api\"} []",
        // The two prod/deny definitions differ; the winner is chosen by content (canonical JSON),
        // so it is the same whatever the input order.
        "policy prod/deny ingress=None egress=Some(0)",
        "policy staging/allow ingress=Some(2) egress=None",
    ];
    assert_eq!(summary(&cluster), want);

    let mut clashes: Vec<(String, Option<String>)> = diagnostics
        .iter()
        .map(|d| (d.message.clone(), d.object.clone()))
        .collect();
    clashes.sort();
    assert_eq!(
        clashes,
        vec![
            (
                "Deployment prod/web and Pod prod/web both define pod `prod/web`".to_string(),
                Some("Deployment prod/web".to_string())
            ),
            (
                "duplicate Namespace prod: it is defined more than once".to_string(),
                Some("Namespace prod".to_string())
            ),
            (
                "duplicate NetworkPolicy prod/deny: it is defined more than once".to_string(),
                Some("NetworkPolicy prod/deny".to_string())
            ),
        ]
    );
    for d in &diagnostics {
        assert_eq!(d.code, DUPLICATE_OBJECT);
        assert!(d.is_error());
        assert_eq!(d.field.as_deref(), Some("metadata.name"));
        assert!(d.span.is_some(), "points at the losing object: {d:?}");
        assert!(
            d.help
                .as_deref()
                .is_some_and(|h| h.contains("palisade uses")),
            "{d:?}"
        );
    }
}

#[test]
fn spans_point_into_the_documents() {
    let objects = fixture();
    let refs: Vec<&LoadedObject> = objects.iter().collect();
    let (cluster, _) = build_cluster(&refs);
    let allow = cluster
        .policies
        .iter()
        .find(|p| p.name == "allow")
        .unwrap_or_else(|| panic!("no allow policy"));
    assert_eq!(allow.span.map(|s| s.file.0), Some(7));
    let rule_spans: Vec<_> = allow.ingress.iter().flatten().map(|r| r.span).collect();
    let expected: Vec<_> = [0, 1]
        .iter()
        .map(|i| {
            objects[7].span_of(&palisade_core::path::FieldPath::parse(&format!(
                "spec.ingress[{i}]"
            )))
        })
        .collect();
    assert_eq!(rule_spans, expected);
    assert!(rule_spans.iter().all(Option::is_some));
    assert_ne!(rule_spans[0], rule_spans[1]);
    let declared = cluster.namespaces.iter().find(|n| n.name == "prod");
    assert!(declared.and_then(|n| n.span).is_some());
    assert!(
        cluster
            .namespaces
            .iter()
            .filter(|n| !n.declared)
            .all(|n| n.span.is_none())
    );
}

#[test]
fn terminal_pod_loses_to_a_running_one() {
    let objects = [
        loaded(0, 1, named_pod(Some("a"), "x", "10.0.0.9", "Succeeded")),
        loaded(1, 1, named_pod(Some("a"), "x", "10.0.0.8", "Running")),
    ];
    let (cluster, diagnostics) = build_cluster(&[&objects[0], &objects[1]]);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(cluster.pods.len(), 1);
    assert_eq!(
        cluster.pods[0].ips,
        vec![
            "10.0.0.8"
                .parse::<std::net::IpAddr>()
                .unwrap_or_else(|e| panic!("{e}"))
        ]
    );

    let only_done = [loaded(
        0,
        1,
        named_pod(Some("a"), "x", "10.0.0.9", "Failed"),
    )];
    let (cluster, diagnostics) = build_cluster(&[&only_done[0]]);
    assert!(
        cluster.pods.is_empty(),
        "finished pods hold no IP and are left out"
    );
    assert!(diagnostics.is_empty());
    assert!(
        cluster.namespaces.is_empty(),
        "a left-out pod references no namespace"
    );
}

#[test]
fn identical_duplicates_resolve_by_position() {
    // Same content in two files: the one in the lower file id wins, whatever the input order.
    let a = loaded(3, 1, deployment("a", "w", "w"));
    let b = loaded(5, 1, deployment("a", "w", "w"));
    for order in [[&a, &b], [&b, &a]] {
        let (cluster, diagnostics) = build_cluster(&order);
        assert_eq!(
            cluster.pods.first().and_then(|p| p.span).map(|s| s.file.0),
            Some(3)
        );
        assert_eq!(
            diagnostics.first().and_then(|d| d.span).map(|s| s.file.0),
            Some(5)
        );
    }
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for perm in permutations(n - 1) {
        for i in 0..=perm.len() {
            let mut p = perm.clone();
            p.insert(i, n - 1);
            out.push(p);
        }
    }
    out
}

fn same(a: &(Cluster, Vec<Diagnostic>), b: &(Cluster, Vec<Diagnostic>)) -> bool {
    a.0.namespaces == b.0.namespaces
        && a.0.pods == b.0.pods
        && a.0.policies == b.0.policies
        && a.1 == b.1
}

/// Hard requirement: permuting the input objects gives an identical cluster and diagnostics.
/// Every permutation of the first 7 objects (5040), with the rest rotated in.
#[test]
fn order_independent_under_every_permutation() {
    let objects = fixture();
    let baseline = build_cluster(&objects.iter().collect::<Vec<_>>());
    let (head, tail) = objects.split_at(7);
    for (k, perm) in permutations(head.len()).into_iter().enumerate() {
        let mut order: Vec<&LoadedObject> = perm.iter().map(|&i| &head[i]).collect();
        let at = k % (order.len() + 1);
        for (j, t) in tail.iter().enumerate() {
            order.insert((at + j).min(order.len()), t);
        }
        let got = build_cluster(&order);
        assert!(
            same(&got, &baseline),
            "permutation {perm:?} changed the result"
        );
    }
}
