//! Conversion of single objects: one test per API default, each citing the API reference text
//! (networking.k8s.io/v1 NetworkPolicy, core/v1 Pod and Namespace) or upstream function.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;

use common::{container, ingress_rule, object, pod, policy};
use ipnet::IpNet;
use palisade_core::load::K8sObject;
use palisade_core::model::convert;
use palisade_core::model::{
    ContainerPort, NAMESPACE_NAME_LABEL, NamespaceScope, Operator, Peer, Peers, PodOrigin, Policy,
    PortMatch, PortSpec, Ports, Protocol, Requirement, Selector,
};
use serde_json::{Value, json};

fn to_policy(v: Value) -> Policy {
    match object(v) {
        K8sObject::NetworkPolicy(np) => convert::policy(&np, None),
        other => panic!("not a policy: {other:?}"),
    }
}

fn to_pod(v: Value) -> palisade_core::model::Pod {
    match object(v) {
        K8sObject::Pod(p) => convert::pod(&p, None),
        K8sObject::Workload {
            kind,
            metadata,
            template,
            ..
        } => convert::workload_pod(&kind, &metadata, &template, None),
        other => panic!("not a pod: {other:?}"),
    }
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn labels(pairs: &[(&str, &str)]) -> palisade_core::model::Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn first_ingress_rule(v: Value) -> palisade_core::model::Rule {
    let p = to_policy(v);
    p.ingress
        .and_then(|rules| rules.into_iter().next())
        .unwrap_or_else(|| panic!("no ingress rule"))
}

/// policyTypes: "If this field is not specified, it will default based on the existence of
/// ingress or egress rules" (SetDefaults_NetworkPolicy tests len() == 0 on both lists).
#[test]
fn effective_policy_types() {
    for (label, spec, ingress, egress) in [
        ("unset, no rules", json!({"podSelector": {}}), Some(0), None),
        (
            "unset, ingress rules",
            json!({"podSelector": {}, "ingress": [{}]}),
            Some(1),
            None,
        ),
        (
            "unset, egress rules",
            json!({"podSelector": {}, "egress": [{}]}),
            Some(0),
            Some(1),
        ),
        (
            "unset, empty egress list",
            json!({"podSelector": {}, "egress": []}),
            Some(0),
            None,
        ),
        (
            "empty list means unset",
            json!({"podSelector": {}, "policyTypes": [], "egress": [{}]}),
            Some(0),
            Some(1),
        ),
        (
            "Egress only ignores ingress rules",
            json!({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}]}),
            None,
            Some(0),
        ),
        (
            "Ingress only ignores egress rules",
            json!({"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{}]}),
            Some(0),
            None,
        ),
        (
            "both, no rules: deny all",
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
            Some(0),
            Some(0),
        ),
        ("missing spec is the zero spec", Value::Null, Some(0), None),
    ] {
        let p = to_policy(policy(spec));
        assert_eq!(
            p.ingress.as_ref().map(Vec::len),
            ingress,
            "{label}: ingress"
        );
        assert_eq!(p.egress.as_ref().map(Vec::len), egress, "{label}: egress");
    }
}

/// "An empty podSelector matches all pods in this namespace"; a missing one decodes to it.
#[test]
fn subject_and_namespace() {
    let p = to_policy(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p"}, "spec": {}}),
    );
    assert_eq!(p.subject, Selector::everything());
    assert_eq!(
        p.namespace, "default",
        "missing metadata.namespace means the default namespace"
    );
    let p = to_policy(policy(
        json!({"podSelector": {"matchLabels": {"app": "db"}}}),
    ));
    assert_eq!(p.subject.match_labels, labels(&[("app", "db")]));
    assert_eq!(p.key(), "default/p");
}

/// from/to/ports: "If this field is empty or missing, this rule matches all ...".
#[test]
fn missing_or_empty_lists_match_everything() {
    for (label, rule) in [
        ("missing from and ports", json!({})),
        ("empty from and ports", json!({"from": [], "ports": []})),
    ] {
        let r = first_ingress_rule(ingress_rule(rule));
        assert_eq!(r.peers, Peers::Any, "{label}");
        assert_eq!(r.ports, Ports::Any, "{label}");
    }
    let p = to_policy(policy(json!({"podSelector": {}, "egress": [{"to": []}]})));
    let egress = p.egress.unwrap_or_default();
    assert_eq!(
        egress.first().map(|r| &r.peers),
        Some(&Peers::Any),
        "empty to"
    );
}

/// NetworkPolicyPort: protocol "defaults to TCP"; no port "matches all port names and
/// numbers"; endPort makes an inclusive range; a string is a named port.
#[test]
fn ports() {
    let tcp = |port| PortMatch {
        protocol: Protocol::Tcp,
        port,
    };
    for (label, item, want) in [
        (
            "protocol defaults to TCP",
            json!({"port": 80}),
            tcp(PortSpec::Range {
                first: 80,
                last: 80,
            }),
        ),
        (
            "no port: every port of the protocol",
            json!({"protocol": "UDP"}),
            PortMatch {
                protocol: Protocol::Udp,
                port: PortSpec::Any,
            },
        ),
        ("nothing: every TCP port", json!({}), tcp(PortSpec::Any)),
        (
            "endPort range",
            json!({"port": 32000, "endPort": 32768}),
            tcp(PortSpec::Range {
                first: 32000,
                last: 32768,
            }),
        ),
        (
            "named port",
            json!({"protocol": "SCTP", "port": "diameter"}),
            PortMatch {
                protocol: Protocol::Sctp,
                port: PortSpec::Named("diameter".into()),
            },
        ),
    ] {
        let r = first_ingress_rule(ingress_rule(json!({"ports": [item]})));
        assert_eq!(r.ports, Ports::OneOf(vec![want]), "{label}");
    }
}

/// Items validation rejects never widen a non-empty list.
#[test]
fn invalid_items_allow_less_not_more() {
    let r = first_ingress_rule(ingress_rule(json!({
        "ports": [{"port": 0}, {"protocol": "ICMP"}, {"port": 90, "endPort": 80}, {"endPort": 80}],
        "from": [{}, {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}, {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["bad"]}}],
    })));
    assert_eq!(
        r.ports,
        Ports::OneOf(vec![]),
        "no port item survives, and none means no port"
    );
    assert_eq!(r.peers, Peers::OneOf(vec![]));
}

/// NetworkPolicyPeer: podSelector alone selects "in the policy's own namespace";
/// namespaceSelector alone "selects all pods in the namespaces selected"; both are ANDed.
#[test]
fn peers() {
    let web = Selector {
        match_labels: labels(&[("app", "web")]),
        expressions: vec![],
    };
    let team = Selector {
        match_labels: labels(&[("team", "a")]),
        expressions: vec![],
    };
    for (label, item, want) in [
        (
            "podSelector only",
            json!({"podSelector": {"matchLabels": {"app": "web"}}}),
            Peer::Pods {
                namespaces: NamespaceScope::Own,
                pods: web.clone(),
            },
        ),
        (
            "namespaceSelector only",
            json!({"namespaceSelector": {"matchLabels": {"team": "a"}}}),
            Peer::Pods {
                namespaces: NamespaceScope::Matching(team.clone()),
                pods: Selector::everything(),
            },
        ),
        (
            "both in one item",
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "namespaceSelector": {"matchLabels": {"team": "a"}}}),
            Peer::Pods {
                namespaces: NamespaceScope::Matching(team.clone()),
                pods: web.clone(),
            },
        ),
        (
            "empty namespaceSelector: every namespace",
            json!({"namespaceSelector": {}}),
            Peer::Pods {
                namespaces: NamespaceScope::Matching(Selector::everything()),
                pods: Selector::everything(),
            },
        ),
    ] {
        let r = first_ingress_rule(ingress_rule(json!({"from": [item]})));
        assert_eq!(r.peers, Peers::OneOf(vec![want]), "{label}");
    }
}

/// ipBlock: cidr and except as the API server reads them (host bits cleared, IPv4-mapped IPv6
/// read as IPv4, leading zeros read as decimal).
#[test]
fn ip_blocks() {
    for (label, block, cidr, except) in [
        (
            "plain",
            json!({"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}),
            "10.0.0.0/8",
            vec!["10.1.0.0/16"],
        ),
        (
            "host bits cleared",
            json!({"cidr": "10.1.2.3/8", "except": ["10.1.2.3/16"]}),
            "10.0.0.0/8",
            vec!["10.1.0.0/16"],
        ),
        (
            "IPv6",
            json!({"cidr": "2001:db8::1/32"}),
            "2001:db8::/32",
            vec![],
        ),
        (
            "IPv4-mapped",
            json!({"cidr": "::ffff:10.0.0.0/104"}),
            "10.0.0.0/8",
            vec![],
        ),
        (
            "leading zeros",
            json!({"cidr": "010.000.0.0/08"}),
            "10.0.0.0/8",
            vec![],
        ),
    ] {
        let r = first_ingress_rule(ingress_rule(json!({"from": [{"ipBlock": block}]})));
        let want = Peer::IpBlock {
            cidr: net(cidr),
            except: except.into_iter().map(net).collect(),
        };
        assert_eq!(r.peers, Peers::OneOf(vec![want]), "{label}");
    }
}

/// LabelSelectorRequirement operators; requirements validation rejects match nothing.
#[test]
fn selector_requirements() {
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let p = to_policy(policy(json!({"podSelector": {"matchExpressions": [
        {"key": "a", "operator": "In", "values": ["x", "y"]},
        {"key": "b", "operator": "NotIn", "values": ["z"]},
        {"key": "c", "operator": "Exists"},
        {"key": "d", "operator": "DoesNotExist"},
        {"key": "e", "operator": "in", "values": ["x"]},
        {"key": "f", "operator": "NotIn"},
    ]}})));
    let want = vec![
        Requirement {
            key: "a".into(),
            operator: Operator::In(set(&["x", "y"])),
        },
        Requirement {
            key: "b".into(),
            operator: Operator::NotIn(set(&["z"])),
        },
        Requirement {
            key: "c".into(),
            operator: Operator::Exists,
        },
        Requirement {
            key: "d".into(),
            operator: Operator::DoesNotExist,
        },
        Requirement {
            key: "e".into(),
            operator: Operator::In(BTreeSet::new()),
        },
        Requirement {
            key: "f".into(),
            operator: Operator::In(BTreeSet::new()),
        },
    ];
    assert_eq!(p.subject.expressions, want);
    assert!(
        !p.subject
            .matches(&labels(&[("a", "x"), ("c", "1"), ("e", "x"), ("f", "1")]))
    );
}

/// "The Kubernetes control plane sets an immutable label kubernetes.io/metadata.name on all
/// namespaces": added, and it overrides a user value.
#[test]
fn namespace_label() {
    let ns = match object(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod",
        "labels": {"team": "a", NAMESPACE_NAME_LABEL: "something-else"}}}),
    ) {
        K8sObject::Namespace(ns) => convert::namespace(&ns, None),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        ns.labels,
        labels(&[("team", "a"), (NAMESPACE_NAME_LABEL, "prod")])
    );
    assert!(ns.declared);
    let referenced = convert::referenced_namespace("web");
    assert_eq!(referenced.labels, labels(&[(NAMESPACE_NAME_LABEL, "web")]));
    assert!(!referenced.declared);
}

/// status.podIPs, else podIP; when both disagree the API server keeps podIP
/// (Convert_v1_PodStatus_To_core_PodStatus).
#[test]
fn pod_ips() {
    for (label, status, want) in [
        (
            "podIPs",
            json!({"podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}]}),
            vec!["10.0.0.5", "fd00::5"],
        ),
        ("podIP only", json!({"podIP": "10.0.0.5"}), vec!["10.0.0.5"]),
        (
            "podIPs only",
            json!({"podIPs": [{"ip": "fd00::5"}]}),
            vec!["fd00::5"],
        ),
        (
            "disagreement: podIP wins",
            json!({"podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.6"}, {"ip": "fd00::6"}]}),
            vec!["10.0.0.5"],
        ),
        (
            "leading zeros read as decimal",
            json!({"podIP": "010.000.000.005"}),
            vec!["10.0.0.5"],
        ),
        (
            "IPv4-mapped read as IPv4",
            json!({"podIPs": [{"ip": "::ffff:10.0.0.5"}]}),
            vec!["10.0.0.5"],
        ),
        ("no address yet", json!({"phase": "Pending"}), vec![]),
        ("no status", Value::Null, vec![]),
    ] {
        let p = to_pod(pod(json!({"containers": []}), status));
        assert_eq!(
            p.ips,
            want.into_iter().map(ip).collect::<Vec<_>>(),
            "{label}"
        );
    }
}

/// nodeName, hostNetwork ("Default to false"), and ports of containers and sidecars
/// (restartable init containers); a plain init container has exited.
#[test]
fn pod_fields_and_ports() {
    let p = to_pod(pod(
        json!({
            "nodeName": "node-1",
            "initContainers": [
                {"name": "setup", "image": "x", "ports": [{"containerPort": 1111}]},
                {"name": "proxy", "image": "x", "restartPolicy": "Always", "ports": [{"containerPort": 15001, "name": "proxy"}]},
            ],
            "containers": [container("app", json!([
                {"containerPort": 8080, "name": "http"},
                {"containerPort": 53, "protocol": "UDP", "name": "dns"},
                {"containerPort": 9090, "protocol": ""},
            ]))],
        }),
        json!({"podIP": "10.0.0.5"}),
    ));
    assert_eq!((p.namespace.as_str(), p.name.as_str()), ("default", "web"));
    assert_eq!(p.node.as_deref(), Some("node-1"));
    assert!(!p.host_network);
    assert_eq!(p.origin, PodOrigin::Pod);
    let port = |name: Option<&str>, port, protocol| ContainerPort {
        name: name.map(String::from),
        port,
        protocol,
    };
    let mut want = vec![
        port(Some("http"), 8080, Protocol::Tcp),
        port(Some("dns"), 53, Protocol::Udp),
        port(None, 9090, Protocol::Tcp),
        port(Some("proxy"), 15001, Protocol::Tcp),
    ];
    want.sort();
    assert_eq!(p.ports, want);

    let host = to_pod(pod(
        json!({"hostNetwork": true, "containers": []}),
        Value::Null,
    ));
    assert!(host.host_network);
    assert_eq!(host.node, None);
}

#[test]
fn terminal_pods() {
    for (phase, terminal) in [
        ("Running", false),
        ("Pending", false),
        ("Succeeded", true),
        ("Failed", true),
        ("Unknown", false),
    ] {
        let K8sObject::Pod(p) = object(pod(json!({"containers": []}), json!({"phase": phase})))
        else {
            panic!("not a pod");
        };
        assert_eq!(convert::is_terminal(&p), terminal, "{phase}");
    }
}

/// A workload is one pod standing for its replicas: the workload's name and namespace, the
/// template's labels, ports and hostNetwork, no IP.
#[test]
fn workload_pods() {
    let p = to_pod(
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop"},
        "spec": {"template": {"metadata": {"name": "ignored", "labels": {"app": "api"}},
            "spec": {"hostNetwork": true, "containers": [container("c", json!([{"containerPort": 8080, "name": "http"}]))]}}}}),
    );
    assert_eq!(p.key(), "shop/api");
    assert_eq!(p.labels, labels(&[("app", "api")]));
    assert!(p.ips.is_empty());
    assert!(p.host_network);
    assert_eq!(
        p.origin,
        PodOrigin::Template {
            kind: "Deployment".into()
        }
    );
    assert_eq!(
        p.ports,
        vec![ContainerPort {
            name: Some("http".into()),
            port: 8080,
            protocol: Protocol::Tcp
        }]
    );

    let job = to_pod(
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
        "spec": {"template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": []}}}}),
    );
    assert_eq!(job.namespace, "default");
    assert_eq!(
        job.labels,
        labels(&[
            ("app", "db"),
            ("batch.kubernetes.io/job-name", "migrate"),
            ("job-name", "migrate")
        ]),
        "the Job strategy labels its pods with the Job name"
    );
}
