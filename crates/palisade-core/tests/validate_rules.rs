//! Table tests for `validate()`: one table per upstream rule family, valid and invalid cases,
//! each case citing the Kubernetes function whose behaviour it pins. Expectations are written
//! as `E|W code path` so a failure shows exactly which issue appeared or went missing.

mod common;

use common::{container, ingress_rule, object, pod, policy};
use palisade_core::diag::Severity;
use palisade_core::validate::{FieldIssue, codes, validate};
use serde_json::{Value, json};

struct Case {
    label: &'static str,
    /// The upstream function (kubernetes / apimachinery) the case pins.
    upstream: &'static str,
    object: Value,
    expect: &'static [&'static str],
}

fn render(issue: &FieldIssue) -> String {
    let sev = match issue.severity {
        Severity::Error => "E",
        Severity::Warning => "W",
        Severity::Note => "N",
    };
    format!("{sev} {} {}", issue.code, issue.path)
}

fn run(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in cases {
        let issues = validate(&object(case.object.clone()));
        let mut got: Vec<String> = issues.iter().map(render).collect();
        got.sort();
        let mut want: Vec<String> = case.expect.iter().map(|s| s.to_string()).collect();
        want.sort();
        if got != want {
            failures.push(format!(
                "{} ({}):\n  want {want:?}\n  got  {got:?}\n  issues: {issues:#?}",
                case.label, case.upstream
            ));
        }
        for issue in &issues {
            assert!(
                codes::ALL.contains(&issue.code),
                "{}: undocumented code {}",
                case.label,
                issue.code
            );
            assert!(
                issue.label.is_some() && issue.help.is_some(),
                "{}: {issue:?}",
                case.label
            );
            assert!(
                !issue.message.ends_with('.'),
                "{}: message style: {}",
                case.label,
                issue.message
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn port(p: Value) -> Value {
    ingress_rule(json!({"ports": [p]}))
}

fn from_peer(peer: Value) -> Value {
    ingress_rule(json!({"from": [peer]}))
}

fn ip_block(block: Value) -> Value {
    from_peer(json!({"ipBlock": block}))
}

fn selector(sel: Value) -> Value {
    policy(json!({"podSelector": sel}))
}

#[test]
fn network_policy_ports() {
    const V: &str = "ValidateNetworkPolicyPort";
    run(vec![
        Case {
            label: "TCP with a number",
            upstream: V,
            object: port(json!({"protocol": "TCP", "port": 80})),
            expect: &[],
        },
        Case {
            label: "UDP and SCTP",
            upstream: V,
            object: ingress_rule(
                json!({"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "SCTP", "port": 9}]}),
            ),
            expect: &[],
        },
        Case {
            label: "protocol defaults, no port",
            upstream: V,
            object: port(json!({})),
            expect: &[],
        },
        Case {
            label: "lower-case protocol",
            upstream: V,
            object: port(json!({"protocol": "tcp", "port": 80})),
            expect: &["E P220 spec.ingress[0].ports[0].protocol"],
        },
        Case {
            label: "ICMP is not supported",
            upstream: V,
            object: port(json!({"protocol": "ICMP"})),
            expect: &["E P220 spec.ingress[0].ports[0].protocol"],
        },
        Case {
            label: "empty protocol is not defaulted",
            upstream: "ValidateNetworkPolicyPort + SetDefaults_NetworkPolicyPort (nil only)",
            object: port(json!({"protocol": "", "port": 80})),
            expect: &["E P220 spec.ingress[0].ports[0].protocol"],
        },
        Case {
            label: "port 0",
            upstream: "IsValidPortNum",
            object: port(json!({"port": 0})),
            expect: &["E P221 spec.ingress[0].ports[0].port"],
        },
        Case {
            label: "port 65536",
            upstream: "IsValidPortNum",
            object: port(json!({"port": 65536})),
            expect: &["E P221 spec.ingress[0].ports[0].port"],
        },
        Case {
            label: "port 65535",
            upstream: "IsValidPortNum",
            object: port(json!({"port": 65535})),
            expect: &[],
        },
        Case {
            label: "port 1",
            upstream: "IsValidPortNum",
            object: port(json!({"port": 1})),
            expect: &[],
        },
        Case {
            label: "named port",
            upstream: "IsValidPortName",
            object: port(json!({"port": "http-alt"})),
            expect: &[],
        },
        Case {
            label: "upper-case port name",
            upstream: "IsValidPortName",
            object: port(json!({"port": "HTTP"})),
            expect: &["E P222 spec.ingress[0].ports[0].port"],
        },
        Case {
            label: "quoted number is a name without letters",
            upstream: "IsValidPortName",
            object: port(json!({"port": "8080"})),
            expect: &["E P222 spec.ingress[0].ports[0].port"],
        },
        Case {
            label: "port name of 16 characters",
            upstream: "IsValidPortName",
            object: port(json!({"port": "abcdefghijklmnop"})),
            expect: &["E P222 spec.ingress[0].ports[0].port"],
        },
        Case {
            label: "range",
            upstream: V,
            object: port(json!({"port": 32000, "endPort": 32768})),
            expect: &[],
        },
        Case {
            label: "range of one port",
            upstream: V,
            object: port(json!({"port": 80, "endPort": 80})),
            expect: &[],
        },
        Case {
            label: "endPort below port",
            upstream: V,
            object: port(json!({"port": 8080, "endPort": 90})),
            expect: &["E P223 spec.ingress[0].ports[0].endPort"],
        },
        Case {
            label: "endPort above 65535",
            upstream: V,
            object: port(json!({"port": 80, "endPort": 65536})),
            expect: &["E P221 spec.ingress[0].ports[0].endPort"],
        },
        Case {
            label: "endPort 0: below port and out of range",
            upstream: V,
            object: port(json!({"port": 80, "endPort": 0})),
            expect: &[
                "E P223 spec.ingress[0].ports[0].endPort",
                "E P221 spec.ingress[0].ports[0].endPort",
            ],
        },
        Case {
            label: "endPort with a named port",
            upstream: V,
            object: port(json!({"port": "http", "endPort": 90})),
            expect: &["E P223 spec.ingress[0].ports[0].endPort"],
        },
        Case {
            label: "endPort without port",
            upstream: V,
            object: port(json!({"protocol": "UDP", "endPort": 90})),
            expect: &["E P223 spec.ingress[0].ports[0].endPort"],
        },
        Case {
            label: "every bad port item is reported",
            upstream: V,
            object: ingress_rule(
                json!({"ports": [{"port": 0}, {"protocol": "udp"}, {"port": 10, "endPort": 5}]}),
            ),
            expect: &[
                "E P221 spec.ingress[0].ports[0].port",
                "E P220 spec.ingress[0].ports[1].protocol",
                "E P223 spec.ingress[0].ports[2].endPort",
            ],
        },
        Case {
            label: "egress ports too",
            upstream: "ValidateNetworkPolicySpec",
            object: policy(json!({"podSelector": {}, "egress": [{"ports": [{"port": 0}]}]})),
            expect: &["E P221 spec.egress[0].ports[0].port"],
        },
    ]);
}

#[test]
fn network_policy_peers() {
    const V: &str = "ValidateNetworkPolicyPeer";
    run(vec![
        Case {
            label: "podSelector",
            upstream: V,
            object: from_peer(json!({"podSelector": {"matchLabels": {"app": "web"}}})),
            expect: &[],
        },
        Case {
            label: "namespaceSelector",
            upstream: V,
            object: from_peer(json!({"namespaceSelector": {}})),
            expect: &[],
        },
        Case {
            label: "both selectors in one item (AND)",
            upstream: V,
            object: from_peer(json!({"podSelector": {}, "namespaceSelector": {}})),
            expect: &[],
        },
        Case {
            label: "ipBlock alone",
            upstream: V,
            object: ip_block(json!({"cidr": "10.0.0.0/8"})),
            expect: &[],
        },
        Case {
            label: "empty item",
            upstream: V,
            object: from_peer(json!({})),
            expect: &["E P230 spec.ingress[0].from[0]"],
        },
        Case {
            label: "empty egress item",
            upstream: V,
            object: policy(json!({"podSelector": {}, "egress": [{"to": [{}]}]})),
            expect: &["E P230 spec.egress[0].to[0]"],
        },
        Case {
            label: "ipBlock with podSelector",
            upstream: V,
            object: from_peer(json!({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}})),
            expect: &["E P230 spec.ingress[0].from[0]"],
        },
        Case {
            label: "ipBlock with namespaceSelector",
            upstream: V,
            object: from_peer(json!({"ipBlock": {"cidr": "10.0.0.0/8"}, "namespaceSelector": {}})),
            expect: &["E P230 spec.ingress[0].from[0]"],
        },
        Case {
            label: "every empty item is reported",
            upstream: V,
            object: ingress_rule(json!({"from": [{}, {"podSelector": {}}, {}]})),
            expect: &[
                "E P230 spec.ingress[0].from[0]",
                "E P230 spec.ingress[0].from[2]",
            ],
        },
        Case {
            label: "empty from list is fine (all sources)",
            upstream: "ValidateNetworkPolicySpec",
            object: ingress_rule(json!({"from": []})),
            expect: &[],
        },
    ]);
}

#[test]
fn network_policy_ip_blocks() {
    const V: &str = "ValidateIPBlock";
    const W: &str = "GetWarningsForCIDR (NetworkPolicy strategy warnings)";
    run(vec![
        Case {
            label: "IPv4 with except",
            upstream: V,
            object: ip_block(
                json!({"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "192.168.0.0/16"]}),
            ),
            expect: &[],
        },
        Case {
            label: "IPv6 with except",
            upstream: V,
            object: ip_block(json!({"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48"]})),
            expect: &[],
        },
        Case {
            label: "empty cidr",
            upstream: V,
            object: ip_block(json!({"cidr": ""})),
            expect: &["E P231 spec.ingress[0].from[0].ipBlock.cidr"],
        },
        Case {
            label: "address without prefix",
            upstream: "IsValidCIDRForLegacyField",
            object: ip_block(json!({"cidr": "10.0.0.1"})),
            expect: &["E P231 spec.ingress[0].from[0].ipBlock.cidr"],
        },
        Case {
            label: "prefix too long",
            upstream: "IsValidCIDRForLegacyField",
            object: ip_block(json!({"cidr": "10.0.0.0/33"})),
            expect: &["E P231 spec.ingress[0].from[0].ipBlock.cidr"],
        },
        Case {
            label: "bad cidr stops the except checks",
            upstream: V,
            object: ip_block(json!({"cidr": "nope", "except": ["also-nope"]})),
            expect: &["E P231 spec.ingress[0].from[0].ipBlock.cidr"],
        },
        Case {
            label: "invalid except entry",
            upstream: V,
            object: ip_block(json!({"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "10.2.0.0"]})),
            expect: &["E P231 spec.ingress[0].from[0].ipBlock.except[1]"],
        },
        Case {
            label: "except outside cidr",
            upstream: V,
            object: ip_block(json!({"cidr": "192.168.0.0/16", "except": ["10.0.0.0/24"]})),
            expect: &["E P232 spec.ingress[0].from[0].ipBlock.except[0]"],
        },
        Case {
            label: "except equal to cidr is not strict",
            upstream: V,
            object: ip_block(json!({"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]})),
            expect: &["E P232 spec.ingress[0].from[0].ipBlock.except[0]"],
        },
        Case {
            label: "except wider than cidr",
            upstream: V,
            object: ip_block(json!({"cidr": "10.1.0.0/16", "except": ["10.0.0.0/8"]})),
            expect: &["E P232 spec.ingress[0].from[0].ipBlock.except[0]"],
        },
        Case {
            label: "except of the other family",
            upstream: V,
            object: ip_block(json!({"cidr": "10.0.0.0/8", "except": ["2001:db8::/64"]})),
            expect: &["E P232 spec.ingress[0].from[0].ipBlock.except[0]"],
        },
        Case {
            label: "host bits in cidr: accepted with a warning",
            upstream: W,
            object: ip_block(json!({"cidr": "10.1.2.3/8"})),
            expect: &["W P233 spec.ingress[0].from[0].ipBlock.cidr"],
        },
        Case {
            label: "host bits in except: accepted with a warning",
            upstream: W,
            object: ip_block(json!({"cidr": "10.0.0.0/8", "except": ["10.1.2.3/16"]})),
            expect: &["W P233 spec.ingress[0].from[0].ipBlock.except[0]"],
        },
        Case {
            label: "leading zeros",
            upstream: W,
            object: ip_block(json!({"cidr": "010.0.0.0/8"})),
            expect: &["W P233 spec.ingress[0].from[0].ipBlock.cidr"],
        },
        Case {
            label: "IPv4-mapped IPv6",
            upstream: W,
            object: ip_block(json!({"cidr": "::ffff:10.0.0.0/104"})),
            expect: &["W P233 spec.ingress[0].from[0].ipBlock.cidr"],
        },
        Case {
            label: "non-canonical IPv6",
            upstream: W,
            object: ip_block(json!({"cidr": "2001:DB8:0::/32"})),
            expect: &["W P233 spec.ingress[0].from[0].ipBlock.cidr"],
        },
        Case {
            label: "host bits and leading zeros: two warnings",
            upstream: W,
            object: ip_block(json!({"cidr": "010.1.0.0/8"})),
            expect: &[
                "W P233 spec.ingress[0].from[0].ipBlock.cidr",
                "W P233 spec.ingress[0].from[0].ipBlock.cidr",
            ],
        },
    ]);
}

#[test]
fn network_policy_types() {
    const V: &str = "ValidateNetworkPolicySpec (policyTypes)";
    run(vec![
        Case {
            label: "both types",
            upstream: V,
            object: policy(json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})),
            expect: &[],
        },
        Case {
            label: "egress only",
            upstream: V,
            object: policy(json!({"podSelector": {}, "policyTypes": ["Egress"]})),
            expect: &[],
        },
        Case {
            label: "empty list means unset",
            upstream: "SetDefaults_NetworkPolicy",
            object: policy(json!({"podSelector": {}, "policyTypes": [], "egress": [{}]})),
            expect: &[],
        },
        Case {
            label: "lower case",
            upstream: V,
            object: policy(json!({"podSelector": {}, "policyTypes": ["ingress"]})),
            expect: &["E P210 spec.policyTypes[0]"],
        },
        Case {
            label: "unknown value next to a valid one",
            upstream: V,
            object: policy(json!({"podSelector": {}, "policyTypes": ["Ingress", "Both"]})),
            expect: &["E P210 spec.policyTypes[1]"],
        },
        Case {
            label: "duplicate is accepted by the API (warning only)",
            upstream: V,
            object: policy(json!({"podSelector": {}, "policyTypes": ["Ingress", "Ingress"]})),
            expect: &["W P211 spec.policyTypes[1]"],
        },
        Case {
            label: "three entries",
            upstream: V,
            object: policy(
                json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress", "Ingress"]}),
            ),
            expect: &["E P210 spec.policyTypes"],
        },
        Case {
            label: "lint: ingress rules ignored",
            upstream: "palisade lint (API accepts)",
            object: policy(json!({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}]})),
            expect: &["W P212 spec.ingress"],
        },
        Case {
            label: "lint: egress rules ignored",
            upstream: "palisade lint (API accepts)",
            object: policy(
                json!({"podSelector": {}, "policyTypes": ["Ingress"], "egress": [{}, {}]}),
            ),
            expect: &["W P212 spec.egress"],
        },
        Case {
            label: "no lint when policyTypes is unset",
            upstream: "SetDefaults_NetworkPolicy",
            object: policy(json!({"podSelector": {}, "ingress": [{}], "egress": [{}]})),
            expect: &[],
        },
    ]);
}

#[test]
fn label_selectors() {
    const V: &str = "ValidateLabelSelectorRequirement";
    run(vec![
        Case {
            label: "every operator used right",
            upstream: V,
            object: selector(json!({"matchExpressions": [
                {"key": "a", "operator": "In", "values": ["x"]},
                {"key": "b", "operator": "NotIn", "values": ["y", ""]},
                {"key": "c", "operator": "Exists"},
                {"key": "d", "operator": "DoesNotExist", "values": []},
            ]})),
            expect: &[],
        },
        Case {
            label: "operator is case-sensitive",
            upstream: V,
            object: selector(
                json!({"matchExpressions": [{"key": "a", "operator": "in", "values": ["x"]}]}),
            ),
            expect: &["E P207 spec.podSelector.matchExpressions[0].operator"],
        },
        Case {
            label: "In needs values",
            upstream: V,
            object: selector(json!({"matchExpressions": [{"key": "a", "operator": "In"}]})),
            expect: &["E P208 spec.podSelector.matchExpressions[0].values"],
        },
        Case {
            label: "NotIn needs values",
            upstream: V,
            object: selector(
                json!({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": []}]}),
            ),
            expect: &["E P208 spec.podSelector.matchExpressions[0].values"],
        },
        Case {
            label: "Exists takes no values",
            upstream: V,
            object: selector(
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
            ),
            expect: &["E P208 spec.podSelector.matchExpressions[0].values"],
        },
        Case {
            label: "DoesNotExist takes no values",
            upstream: V,
            object: selector(
                json!({"matchExpressions": [{"key": "a", "operator": "DoesNotExist", "values": ["x"]}]}),
            ),
            expect: &["E P208 spec.podSelector.matchExpressions[0].values"],
        },
        Case {
            label: "invalid key",
            upstream: "ValidateLabelName / IsQualifiedName",
            object: selector(
                json!({"matchExpressions": [{"key": "bad key", "operator": "Exists"}]}),
            ),
            expect: &["E P204 spec.podSelector.matchExpressions[0].key"],
        },
        Case {
            label: "invalid value",
            upstream: "IsValidLabelValue",
            object: selector(
                json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["ok", "-bad"]}]}),
            ),
            expect: &["E P205 spec.podSelector.matchExpressions[0].values[1]"],
        },
        Case {
            label: "matchLabels key and value",
            upstream: "ValidateLabels",
            object: selector(json!({"matchLabels": {"a/b/c": "x", "tier": "front end"}})),
            expect: &[
                "E P204 spec.podSelector.matchLabels.a/b/c",
                "E P205 spec.podSelector.matchLabels.tier",
            ],
        },
        Case {
            label: "prefixed key",
            upstream: "IsQualifiedName",
            object: selector(json!({"matchLabels": {"app.kubernetes.io/name": "web"}})),
            expect: &[],
        },
        Case {
            label: "namespaceSelector of a peer",
            upstream: "ValidateNetworkPolicyPeer",
            object: from_peer(json!({"namespaceSelector": {"matchLabels": {"team": "a b"}}})),
            expect: &["E P205 spec.ingress[0].from[0].namespaceSelector.matchLabels.team"],
        },
        Case {
            label: "all problems of one requirement",
            upstream: V,
            object: selector(
                json!({"matchExpressions": [{"key": "", "operator": "Equals", "values": ["-"]}]}),
            ),
            expect: &[
                "E P207 spec.podSelector.matchExpressions[0].operator",
                "E P204 spec.podSelector.matchExpressions[0].key",
                "E P205 spec.podSelector.matchExpressions[0].values[0]",
            ],
        },
    ]);
}

fn named(kind: &str, name: Value, namespace: Option<&str>) -> Value {
    let mut meta = json!({"name": name});
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    match kind {
        "Namespace" => json!({"apiVersion": "v1", "kind": "Namespace", "metadata": meta}),
        "NetworkPolicy" => {
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": {"podSelector": {}}})
        }
        "Pod" => {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [container("c", json!([]))]}})
        }
        "CronJob" => json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [container("c", json!([]))]}}}}}}),
        workload => json!({"apiVersion": "apps/v1", "kind": workload, "metadata": meta,
            "spec": {"template": {"spec": {"containers": [container("c", json!([]))]}}}}),
    }
}

#[test]
fn object_metadata() {
    const V: &str = "ValidateObjectMeta";
    let long_subdomain = ["a"; 127].join(".") + "x"; // 254 characters
    let name53 = "a".repeat(53);
    let name64 = "a".repeat(64);
    run(vec![
        Case {
            label: "valid policy",
            upstream: V,
            object: named("NetworkPolicy", json!("allow-web.v2"), Some("prod")),
            expect: &[],
        },
        Case {
            label: "missing name",
            upstream: V,
            object: json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "default"}, "spec": {"containers": []}}),
            expect: &["E P201 metadata.name"],
        },
        Case {
            label: "generateName only",
            upstream: V,
            object: json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"}, "spec": {"containers": []}}),
            expect: &["E P201 metadata.name"],
        },
        Case {
            label: "upper-case policy name",
            upstream: "NameIsDNSSubdomain",
            object: named("NetworkPolicy", json!("AllowWeb"), None),
            expect: &["E P202 metadata.name"],
        },
        Case {
            label: "name of 254 characters",
            upstream: "NameIsDNSSubdomain",
            object: named("Pod", json!(long_subdomain), None),
            expect: &["E P202 metadata.name"],
        },
        Case {
            label: "invalid namespace",
            upstream: "ValidateNamespaceName",
            object: named("Pod", json!("web"), Some("Prod_1")),
            expect: &["E P203 metadata.namespace"],
        },
        Case {
            label: "namespace name with a dot",
            upstream: "ValidateNamespaceName (NameIsDNSLabel)",
            object: named("Namespace", json!("team.a"), None),
            expect: &["E P202 metadata.name"],
        },
        Case {
            label: "namespace name",
            upstream: "ValidateNamespaceName",
            object: named("Namespace", json!("team-a"), None),
            expect: &[],
        },
        Case {
            label: "namespace field on a Namespace is ignored",
            upstream: "rest.BeforeCreate (cluster-scoped)",
            object: named("Namespace", json!("team-a"), Some("default")),
            expect: &["W P203 metadata.namespace"],
        },
        Case {
            label: "StatefulSet name is a DNS label",
            upstream: "ValidateStatefulSetName",
            object: named("StatefulSet", json!("db.v1"), None),
            expect: &["E P202 metadata.name"],
        },
        Case {
            label: "Deployment name may have dots",
            upstream: "ValidateDeploymentName",
            object: named("Deployment", json!("web.v1"), None),
            expect: &[],
        },
        Case {
            label: "CronJob name of 53 characters",
            upstream: "ValidateCronJobCreate",
            object: named("CronJob", json!(name53), None),
            expect: &["E P202 metadata.name"],
        },
        Case {
            label: "Job name of 64 characters",
            upstream: "ValidateJob (job-name label)",
            object: named("Job", json!(name64), None),
            expect: &["E P202 metadata.name"],
        },
        Case {
            label: "labels",
            upstream: "ValidateLabels",
            object: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "labels": {"ok": "", "/x": "y", "z": "a b"}}}),
            expect: &["E P204 metadata.labels./x", "E P205 metadata.labels.z"],
        },
        Case {
            label: "annotation key",
            upstream: "ValidateAnnotations",
            object: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "annotations": {"Example.COM/Owner": "x", "bad key": "y"}}}),
            expect: &["E P206 metadata.annotations.bad key"],
        },
    ]);
}

#[test]
fn pods_and_templates() {
    const V: &str = "validateContainerPorts";
    let ok = |ports: Value| {
        pod(
            json!({"containers": [container("app", ports)]}),
            json!(null),
        )
    };
    run(vec![
        Case {
            label: "valid ports",
            upstream: V,
            object: ok(
                json!([{"containerPort": 80, "name": "http"}, {"containerPort": 53, "protocol": "UDP", "name": "dns"}]),
            ),
            expect: &[],
        },
        Case {
            label: "empty protocol defaults to TCP",
            upstream: "SetDefaults_ContainerPort",
            object: ok(json!([{"containerPort": 80, "protocol": ""}])),
            expect: &[],
        },
        Case {
            label: "containerPort 0",
            upstream: V,
            object: ok(json!([{"containerPort": 0}])),
            expect: &["E P221 spec.containers[0].ports[0].containerPort"],
        },
        Case {
            label: "containerPort too big",
            upstream: V,
            object: ok(json!([{"containerPort": 70000}])),
            expect: &["E P221 spec.containers[0].ports[0].containerPort"],
        },
        Case {
            label: "hostPort too big",
            upstream: V,
            object: ok(json!([{"containerPort": 80, "hostPort": 70000}])),
            expect: &["E P221 spec.containers[0].ports[0].hostPort"],
        },
        Case {
            label: "protocol",
            upstream: V,
            object: ok(json!([{"containerPort": 80, "protocol": "http"}])),
            expect: &["E P220 spec.containers[0].ports[0].protocol"],
        },
        Case {
            label: "port name",
            upstream: V,
            object: ok(json!([{"containerPort": 80, "name": "Web_Port"}])),
            expect: &["E P222 spec.containers[0].ports[0].name"],
        },
        Case {
            label: "same name twice in a container",
            upstream: V,
            object: ok(
                json!([{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]),
            ),
            expect: &["E P240 spec.containers[0].ports[1].name"],
        },
        Case {
            label: "same name in two containers: accepted, warned",
            upstream: "validateContainerPorts (per container)",
            object: pod(
                json!({"containers": [container("a", json!([{"containerPort": 80, "name": "http"}])), container("b", json!([{"containerPort": 81, "name": "http"}]))]}),
                json!(null),
            ),
            expect: &["W P240 spec.containers[1].ports[0].name"],
        },
        Case {
            label: "same port in two containers",
            upstream: "GetWarningsForPod",
            object: pod(
                json!({"containers": [container("a", json!([{"containerPort": 80}])), container("b", json!([{"containerPort": 80}]))]}),
                json!(null),
            ),
            expect: &["W P241 spec.containers[1].ports[0]"],
        },
        Case {
            label: "same number, other protocol",
            upstream: "GetWarningsForPod",
            object: ok(json!([{"containerPort": 53}, {"containerPort": 53, "protocol": "UDP"}])),
            expect: &[],
        },
        Case {
            label: "init container ports are validated",
            upstream: "validateInitContainers",
            object: pod(
                json!({"initContainers": [container("sidecar", json!([{"containerPort": 0}]))], "containers": [container("app", json!([]))]}),
                json!(null),
            ),
            expect: &["E P221 spec.initContainers[0].ports[0].containerPort"],
        },
        Case {
            label: "dual-stack pod IPs",
            upstream: "validatePodIPs",
            object: pod(
                json!({"containers": []}),
                json!({"podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}]}),
            ),
            expect: &[],
        },
        Case {
            label: "invalid podIP",
            upstream: "IsValidIPForLegacyField",
            object: pod(json!({"containers": []}), json!({"podIP": "10.0.0.300"})),
            expect: &["E P245 status.podIP"],
        },
        Case {
            label: "invalid podIPs entry",
            upstream: "validatePodIPs",
            object: pod(
                json!({"containers": []}),
                json!({"podIPs": [{"ip": "10.0.0.5/32"}]}),
            ),
            expect: &["E P245 status.podIPs[0].ip"],
        },
        Case {
            label: "two IPv4 addresses",
            upstream: "validatePodIPs",
            object: pod(
                json!({"containers": []}),
                json!({"podIPs": [{"ip": "10.0.0.5"}, {"ip": "10.0.0.6"}]}),
            ),
            expect: &["E P245 status.podIPs"],
        },
        Case {
            label: "leading zeros",
            upstream: "GetWarningsForIP",
            object: pod(json!({"containers": []}), json!({"podIP": "010.0.0.5"})),
            expect: &["W P246 status.podIP"],
        },
        Case {
            label: "non-canonical IPv6",
            upstream: "GetWarningsForIP",
            object: pod(
                json!({"containers": []}),
                json!({"podIPs": [{"ip": "FD00:0::5"}]}),
            ),
            expect: &["W P246 status.podIPs[0].ip"],
        },
        Case {
            label: "podIP differs from podIPs[0]",
            upstream: "Convert_v1_PodStatus_To_core_PodStatus",
            object: pod(
                json!({"containers": []}),
                json!({"podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.6"}]}),
            ),
            expect: &["W P247 status.podIP"],
        },
        Case {
            label: "Deployment template",
            upstream: "ValidatePodTemplateSpec",
            object: json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"metadata": {"labels": {"app": "web app"}}, "spec": {"containers": [container("c", json!([{"containerPort": 0}]))]}}}}),
            expect: &[
                "E P205 spec.template.metadata.labels.app",
                "E P221 spec.template.spec.containers[0].ports[0].containerPort",
            ],
        },
        Case {
            label: "CronJob template path",
            upstream: "ValidatePodTemplateSpec",
            object: json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 0 * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [container("c", json!([{"containerPort": 8080, "name": "HTTP"}]))]}}}}}}),
            expect: &["E P222 spec.jobTemplate.spec.template.spec.containers[0].ports[0].name"],
        },
    ]);
}

fn only(object: Value) -> FieldIssue {
    let issues = validate(&common::object(object));
    assert_eq!(issues.len(), 1, "{issues:#?}");
    issues.into_iter().next().unwrap_or_else(|| unreachable!())
}

/// Messages quote the bad value; help says how to fix it, concretely where a fix can be guessed.
#[test]
fn messages_and_help() {
    for (label, object, in_message, in_help) in [
        (
            "endPort guess from digits",
            port(json!({"port": 8080, "endPort": 90})),
            "90",
            "endPort must be >= port (8080); did you mean `endPort: 8090`?",
        ),
        (
            "endPort swapped bounds",
            port(json!({"port": 9000, "endPort": 8000})),
            "8000",
            "write `port: 8000` and `endPort: 9000`",
        ),
        (
            "protocol case",
            port(json!({"protocol": "udp"})),
            "\"udp\"",
            "`protocol: UDP`",
        ),
        (
            "quoted number port",
            port(json!({"port": "8080"})),
            "\"8080\"",
            "`port: 8080`",
        ),
        (
            "port name suggestion",
            port(json!({"port": "Metrics_Port"})),
            "\"Metrics_Port\"",
            "`port: metrics-port`",
        ),
        (
            "operator case",
            selector(
                json!({"matchExpressions": [{"key": "a", "operator": "notin", "values": ["x"]}]}),
            ),
            "\"notin\"",
            "`operator: NotIn`",
        ),
        (
            "In without values",
            selector(json!({"matchExpressions": [{"key": "tier", "operator": "In"}]})),
            "\"tier\"",
            "`operator: Exists`",
        ),
        (
            "policy type case",
            policy(json!({"podSelector": {}, "policyTypes": ["egress"]})),
            "\"egress\"",
            "`Egress`",
        ),
        (
            "empty peer",
            from_peer(json!({})),
            "`from`",
            "`namespaceSelector: {}`",
        ),
        (
            "ipBlock mixed",
            from_peer(json!({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}})),
            "podSelector",
            "separate `from` items",
        ),
        (
            "cidr without prefix",
            ip_block(json!({"cidr": "10.0.0.1"})),
            "\"10.0.0.1\"",
            "`10.0.0.1/32`",
        ),
        (
            "except outside",
            ip_block(json!({"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]})),
            "\"10.1.0.0/24\"",
            "lies outside 10.0.0.0/16",
        ),
        (
            "host bits",
            ip_block(json!({"cidr": "192.168.1.7/24"})),
            "\"192.168.1.7/24\"",
            "`192.168.1.0/24` for the whole network, or `192.168.1.7/32`",
        ),
        (
            "label value",
            selector(json!({"matchLabels": {"tier": "front end"}})),
            "\"front end\"",
            "`tier: front-end`",
        ),
        (
            "name",
            named("NetworkPolicy", json!("Allow_Web"), None),
            "\"Allow_Web\"",
            "`allow-web`",
        ),
        (
            "namespace",
            named("Pod", json!("web"), Some("Team_A")),
            "\"Team_A\"",
            "`team-a`",
        ),
        (
            "rules ignored",
            policy(json!({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}]})),
            "Ingress",
            "add `Ingress` to policyTypes",
        ),
    ] {
        let issue = only(object);
        assert!(
            issue.message.contains(in_message),
            "{label}: message {:?}",
            issue.message
        );
        let help = issue.help.unwrap_or_default();
        assert!(help.contains(in_help), "{label}: help {help:?}");
    }
}

#[test]
fn codes_are_unique_and_in_the_validation_range() {
    let mut seen = std::collections::BTreeSet::new();
    for code in codes::ALL {
        assert!(code.starts_with("P2") && code.len() == 4, "{code}");
        assert!(seen.insert(code), "duplicate code {code}");
    }
}
