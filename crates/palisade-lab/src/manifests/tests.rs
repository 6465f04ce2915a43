//! The manifests agents read must say exactly what the model says, defaults spelled out.

use palisade_core::model::{PortMatch, PortSpec, Protocol};
use palisade_test_support::builders::{
    cport, ip, ip_block, key_not_in, mk_cluster, mk_pod, mk_policy, namespaces, ns, pods, rule,
    sel, sel_expr, tcp,
};
use serde_json::json;

use super::*;

#[test]
fn pods_carry_node_ips_ports_and_host_network() {
    let cluster = mk_cluster(
        vec![ns("x", &[("team", "a")])],
        vec![mk_pod("x", "web", |p| {
            p.labels = [("app".to_string(), "web".to_string())].into();
            p.node = Some("node-2".into());
            p.ips = vec![ip("10.244.2.2"), ip("fd00:244:2::2")];
            p.ports = vec![
                cport("http", Protocol::Tcp, 80),
                cport("", Protocol::Udp, 53),
            ];
        })],
        vec![],
    );
    let v = to_json(&cluster);
    assert_eq!(v["kind"], "List");
    assert_eq!(
        v["items"][0],
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": "x", "labels": {"kubernetes.io/metadata.name": "x", "team": "a"}}})
    );
    assert_eq!(
        v["items"][1],
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "x", "labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "lab", "image": "palisade-lab", "ports": [
                    {"containerPort": 80, "protocol": "TCP", "name": "http"},
                    {"containerPort": 53, "protocol": "UDP"},
                ]}],
                "nodeName": "node-2",
            },
            "status": {"podIP": "10.244.2.2", "podIPs": [{"ip": "10.244.2.2"}, {"ip": "fd00:244:2::2"}]},
        })
    );
}

#[test]
fn policies_spell_out_types_peers_and_ports() {
    let policy = mk_policy("x", "p", |p| {
        p.subject = sel(&[("app", "db")]);
        p.ingress = Some(vec![
            rule(
                vec![
                    pods(sel(&[("app", "api")])),
                    namespaces(sel_expr(&[], vec![key_not_in("env", &["dev"])])),
                    ip_block("10.0.0.0/8", &["10.1.0.0/16"]),
                ],
                vec![
                    tcp(5432),
                    PortMatch {
                        protocol: Protocol::Udp,
                        port: PortSpec::Range {
                            first: 1000,
                            last: 2000,
                        },
                    },
                    PortMatch {
                        protocol: Protocol::Sctp,
                        port: PortSpec::Named("sig".into()),
                    },
                    PortMatch {
                        protocol: Protocol::Tcp,
                        port: PortSpec::Any,
                    },
                ],
            ),
            rule(vec![], vec![]),
        ]);
        // Egress isolated with no rules: deny all egress.
        p.egress = Some(vec![]);
    });
    let cluster = mk_cluster(vec![], vec![], vec![policy]);
    let v = to_json(&cluster);
    assert_eq!(
        v["items"][0],
        json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "p", "namespace": "x"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "db"}},
                "ingress": [
                    {
                        "from": [
                            {"podSelector": {"matchLabels": {"app": "api"}}},
                            {"namespaceSelector": {"matchExpressions": [
                                {"key": "env", "operator": "NotIn", "values": ["dev"]}]},
                             "podSelector": {}},
                            {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                        ],
                        "ports": [
                            {"protocol": "TCP", "port": 5432},
                            {"protocol": "UDP", "port": 1000, "endPort": 2000},
                            {"protocol": "SCTP", "port": "sig"},
                            {"protocol": "TCP"},
                        ],
                    },
                    {},
                ],
                "egress": [],
                "policyTypes": ["Ingress", "Egress"],
            },
        })
    );
}

#[test]
fn referenced_only_namespaces_are_not_written() {
    // mk_cluster adds an undeclared namespace for `y`; the API server would create its label.
    let cluster = mk_cluster(vec![], vec![mk_pod("y", "a", |_| {})], vec![]);
    let v = to_json(&cluster);
    let kinds: Vec<&str> = v["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["kind"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(kinds, ["Pod"]);
}
