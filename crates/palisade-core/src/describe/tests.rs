//! Table tests: one case per construct of the model, each with the exact sentence it must give.
//! Semantics cited from the NetworkPolicy concept page
//! (<https://kubernetes.io/docs/concepts/services-networking/network-policies/>) and the API
//! reference (<https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/>).

use std::collections::BTreeSet;

use super::*;
use crate::model::{
    ContainerPort, Labels, NAMESPACE_NAME_LABEL, Namespace, NamespaceScope, Operator, Peer, Peers,
    PodOrigin, PortMatch, PortSpec, Ports, Protocol, Requirement, Rule, Selector,
};

// ---- builders -------------------------------------------------------------------------------

fn labels_of(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn sel(pairs: &[(&str, &str)]) -> Selector {
    Selector {
        match_labels: labels_of(pairs),
        expressions: Vec::new(),
    }
}

fn req(key: &str, operator: Operator) -> Requirement {
    Requirement {
        key: key.to_owned(),
        operator,
    }
}

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn exprs(reqs: Vec<Requirement>) -> Selector {
    Selector {
        match_labels: Labels::new(),
        expressions: reqs,
    }
}

/// A declared namespace with the automatic name label plus `pairs`.
fn ns(name: &str, pairs: &[(&str, &str)]) -> Namespace {
    let mut labels = labels_of(pairs);
    labels.insert(NAMESPACE_NAME_LABEL.to_owned(), name.to_owned());
    Namespace {
        name: name.to_owned(),
        labels,
        declared: true,
        span: None,
    }
}

fn mk_pod(namespace: &str, name: &str, pairs: &[(&str, &str)]) -> Pod {
    Pod {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        labels: labels_of(pairs),
        ips: Vec::new(),
        node: None,
        host_network: false,
        ports: Vec::new(),
        origin: PodOrigin::Pod,
        owner: None,
        span: None,
    }
}

fn with_port(mut pod: Pod, name: &str, port: u16, protocol: Protocol) -> Pod {
    pod.ports.push(ContainerPort {
        name: Some(name.to_owned()),
        port,
        protocol,
    });
    pod
}

fn mk_policy(
    namespace: &str,
    name: &str,
    subject: Selector,
    ingress: Option<Vec<Rule>>,
    egress: Option<Vec<Rule>>,
) -> Policy {
    Policy {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        subject,
        ingress,
        egress,
        span: None,
    }
}

fn rule(peers: Peers, ports: Ports) -> Rule {
    Rule {
        peers,
        ports,
        span: None,
    }
}

fn from(peers: Vec<Peer>) -> Peers {
    Peers::OneOf(peers)
}

fn on(ports: Vec<PortMatch>) -> Ports {
    Ports::OneOf(ports)
}

fn own(pairs: &[(&str, &str)]) -> Peer {
    Peer::Pods {
        namespaces: NamespaceScope::Own,
        pods: sel(pairs),
    }
}

fn in_ns(ns_sel: Selector, pod_sel: Selector) -> Peer {
    Peer::Pods {
        namespaces: NamespaceScope::Matching(ns_sel),
        pods: pod_sel,
    }
}

fn block(cidr: &str, except: &[&str]) -> Peer {
    Peer::IpBlock {
        cidr: cidr
            .parse()
            .unwrap_or_else(|e| panic!("bad cidr {cidr}: {e}")),
        except: except
            .iter()
            .map(|c| c.parse().unwrap_or_else(|e| panic!("bad cidr {c}: {e}")))
            .collect(),
    }
}

fn tcp(port: u16) -> PortMatch {
    range(Protocol::Tcp, port, port)
}

fn udp(port: u16) -> PortMatch {
    range(Protocol::Udp, port, port)
}

fn range(protocol: Protocol, first: u16, last: u16) -> PortMatch {
    PortMatch {
        protocol,
        port: PortSpec::Range { first, last },
    }
}

fn named(protocol: Protocol, name: &str) -> PortMatch {
    PortMatch {
        protocol,
        port: PortSpec::Named(name.to_owned()),
    }
}

fn cluster(namespaces: Vec<Namespace>, pods: Vec<Pod>, policies: Vec<Policy>) -> Cluster {
    Cluster {
        namespaces,
        pods,
        policies,
    }
}

/// No pods and no declared namespaces: descriptions carry no notes.
fn empty() -> Cluster {
    Cluster::default()
}

// ---- phrases --------------------------------------------------------------------------------

#[test]
fn selector_phrases() {
    // matchLabels and matchExpressions are ANDed; In, NotIn, Exists, DoesNotExist
    // (LabelSelectorRequirement in the API reference).
    let cases: Vec<(&str, Selector, &str)> = vec![
        ("empty selector", Selector::everything(), "everything"),
        ("one label", sel(&[("app", "web")]), "app=web"),
        (
            "labels sorted by key",
            sel(&[("tier", "front"), ("app", "web")]),
            "app=web, tier=front",
        ),
        ("empty value is quoted", sel(&[("app", "")]), "app=\"\""),
        (
            "in",
            exprs(vec![req("tier", Operator::In(set(&["b", "a"])))]),
            "tier in (a, b)",
        ),
        (
            "not in",
            exprs(vec![req("env", Operator::NotIn(set(&["dev"])))]),
            "env not in (dev)",
        ),
        (
            "exists",
            exprs(vec![req("team", Operator::Exists)]),
            "with label team",
        ),
        (
            "does not exist",
            exprs(vec![req("legacy", Operator::DoesNotExist)]),
            "without label legacy",
        ),
        (
            "labels then expressions in written order",
            Selector {
                match_labels: labels_of(&[("app", "web")]),
                expressions: vec![
                    req("legacy", Operator::DoesNotExist),
                    req("env", Operator::NotIn(set(&["dev", "qa"]))),
                ],
            },
            "app=web, without label legacy, env not in (dev, qa)",
        ),
    ];
    for (label, input, want) in cases {
        assert_eq!(selector(&input), want, "case: {label}");
    }
}

#[test]
fn namespace_scope_phrases() {
    // No namespaceSelector = the policy's namespace; an empty one = every namespace; the API
    // server labels each namespace kubernetes.io/metadata.name=<name>.
    let cases: Vec<(&str, NamespaceScope, &str)> = vec![
        ("own namespace", NamespaceScope::Own, "in production"),
        (
            "empty selector",
            NamespaceScope::Matching(Selector::everything()),
            "in any namespace",
        ),
        (
            "by name label",
            NamespaceScope::Matching(sel(&[(NAMESPACE_NAME_LABEL, "kube-system")])),
            "in namespace kube-system",
        ),
        (
            "name in a set",
            NamespaceScope::Matching(exprs(vec![req(
                NAMESPACE_NAME_LABEL,
                Operator::In(set(&["b", "a", "c"])),
            )])),
            "in namespace a, b or c",
        ),
        (
            "name not in a set",
            NamespaceScope::Matching(exprs(vec![req(
                NAMESPACE_NAME_LABEL,
                Operator::NotIn(set(&["kube-system", "kube-public"])),
            )])),
            "in any namespace except kube-public and kube-system",
        ),
        (
            "name label plus another label is a general selector",
            NamespaceScope::Matching(sel(&[(NAMESPACE_NAME_LABEL, "x"), ("team", "y")])),
            "in namespaces kubernetes.io/metadata.name=x, team=y",
        ),
        (
            "other labels",
            NamespaceScope::Matching(sel(&[("team", "y")])),
            "in namespaces team=y",
        ),
    ];
    for (label, input, want) in cases {
        assert_eq!(namespace_scope(&input, "production"), want, "case: {label}");
    }
}

#[test]
fn peer_phrases() {
    let cases: Vec<(&str, Peer, &str)> = vec![
        (
            "podSelector alone",
            own(&[("app", "x")]),
            "pods app=x in production",
        ),
        ("empty podSelector", own(&[]), "all pods in production"),
        (
            "podSelector AND namespaceSelector in one item",
            in_ns(sel(&[("team", "y")]), sel(&[("app", "x")])),
            "pods app=x in namespaces team=y",
        ),
        (
            "namespaceSelector alone: all pods there, never non-pod addresses",
            in_ns(sel(&[("team", "y")]), Selector::everything()),
            "all pods in namespaces team=y",
        ),
        (
            "ipBlock",
            block("10.0.0.0/8", &[]),
            "addresses in 10.0.0.0/8",
        ),
        (
            "ipBlock with except",
            block("0.0.0.0/0", &["10.0.0.0/8", "172.16.0.0/12"]),
            "addresses in 0.0.0.0/0 except 10.0.0.0/8, 172.16.0.0/12",
        ),
        (
            "IPv6 ipBlock",
            block("fd00::/8", &["fd00:1::/32"]),
            "addresses in fd00::/8 except fd00:1::/32",
        ),
    ];
    for (label, input, want) in cases {
        assert_eq!(peer(&input, "production"), want, "case: {label}");
    }
}

#[test]
fn port_phrases() {
    // Protocol defaults to TCP at conversion; endPort is inclusive; a named port is resolved on
    // the destination pod (NetworkPolicyPort in the API reference).
    let cases: Vec<(&str, Ports, &str)> = vec![
        ("no ports", Ports::Any, "on any port"),
        ("one port", on(vec![tcp(80)]), "on TCP 80"),
        (
            "two ports",
            on(vec![tcp(80), udp(53)]),
            "on TCP 80 and UDP 53",
        ),
        (
            "three ports keep their order",
            on(vec![udp(53), tcp(53), tcp(443)]),
            "on UDP 53, TCP 53 and TCP 443",
        ),
        (
            "endPort range",
            on(vec![range(Protocol::Tcp, 32000, 32768)]),
            "on TCP 32000-32768",
        ),
        (
            "named port",
            on(vec![named(Protocol::Tcp, "http")]),
            "on TCP port named http",
        ),
        (
            "protocol without port",
            on(vec![PortMatch {
                protocol: Protocol::Udp,
                port: PortSpec::Any,
            }]),
            "on any UDP port",
        ),
        ("SCTP", on(vec![range(Protocol::Sctp, 9, 9)]), "on SCTP 9"),
        (
            "duplicates listed once",
            on(vec![tcp(80), tcp(80), udp(53)]),
            "on TCP 80 and UDP 53",
        ),
        ("empty list matches nothing", on(vec![]), "on no port"),
    ];
    for (label, input, want) in cases {
        assert_eq!(ports(&input), want, "case: {label}");
    }
}

#[test]
fn labels_phrase() {
    assert_eq!(labels(&Labels::new()), "no labels");
    assert_eq!(
        labels(&labels_of(&[("tier", "db"), ("app", "pg")])),
        "app=pg, tier=db"
    );
}

// ---- policies -------------------------------------------------------------------------------

#[test]
fn policy_sentences() {
    let app = |v: &str| sel(&[("app", v)]);
    let cases: Vec<(&str, Policy, &str)> = vec![
        (
            "ingress from pods on a port; egress untouched",
            mk_policy(
                "production",
                "db",
                app("postgres"),
                Some(vec![rule(
                    from(vec![own(&[("app", "backend")])]),
                    on(vec![tcp(5432)]),
                )]),
                None,
            ),
            "Pods app=postgres in production accept ingress only from pods app=backend in \
             production on TCP 5432; all other ingress is denied. Egress is not restricted by \
             this policy.",
        ),
        (
            // "A policy direction with no rules denies everything in that direction."
            "default deny both directions",
            mk_policy(
                "production",
                "deny",
                Selector::everything(),
                Some(vec![]),
                Some(vec![]),
            ),
            "All pods in production: all ingress is denied (no ingress rules). All egress is \
             denied (no egress rules).",
        ),
        (
            "default deny ingress only",
            mk_policy(
                "production",
                "deny",
                Selector::everything(),
                Some(vec![]),
                None,
            ),
            "All pods in production: all ingress is denied (no ingress rules). Egress is not \
             restricted by this policy.",
        ),
        (
            "egress with two rules, ingress untouched",
            mk_policy(
                "production",
                "egress",
                sel(&[("tier", "backend")]),
                None,
                Some(vec![
                    rule(
                        from(vec![own(&[("tier", "database")])]),
                        on(vec![tcp(5432)]),
                    ),
                    rule(
                        from(vec![in_ns(
                            Selector::everything(),
                            sel(&[("k8s-app", "kube-dns")]),
                        )]),
                        on(vec![udp(53), tcp(53)]),
                    ),
                ]),
            ),
            "Pods tier=backend in production may send egress to pods tier=database in \
             production on TCP 5432, and to pods k8s-app=kube-dns in any namespace on UDP 53 \
             and TCP 53; all other egress is denied. Ingress is not restricted by this policy.",
        ),
        (
            "rules in both directions",
            mk_policy(
                "shop",
                "api",
                app("api"),
                Some(vec![rule(
                    from(vec![own(&[("app", "web")])]),
                    on(vec![tcp(8080)]),
                )]),
                Some(vec![rule(from(vec![own(&[("app", "db")])]), Ports::Any)]),
            ),
            "Pods app=api in shop accept ingress only from pods app=web in shop on TCP 8080; \
             all other ingress is denied. They may send egress to pods app=db in shop on any \
             port; all other egress is denied.",
        ),
        (
            "ingress rules, egress denied",
            mk_policy(
                "shop",
                "api",
                app("api"),
                Some(vec![rule(from(vec![own(&[("app", "web")])]), Ports::Any)]),
                Some(vec![]),
            ),
            "Pods app=api in shop accept ingress only from pods app=web in shop on any port; \
             all other ingress is denied. All egress is denied (no egress rules).",
        ),
        (
            "ingress denied, egress rules",
            mk_policy(
                "shop",
                "api",
                app("api"),
                Some(vec![]),
                Some(vec![rule(Peers::Any, on(vec![udp(53)]))]),
            ),
            "Pods app=api in shop: all ingress is denied (no ingress rules). They may send \
             egress to anywhere (all pods and all addresses) on UDP 53; all other egress is \
             denied.",
        ),
        (
            // Missing `from` = every source, pods and IPs.
            "from anywhere on a port drops 'only'",
            mk_policy(
                "shop",
                "web",
                app("web"),
                Some(vec![rule(Peers::Any, on(vec![tcp(80), tcp(443)]))]),
                None,
            ),
            "Pods app=web in shop accept ingress from anywhere (all pods and all addresses) on \
             TCP 80 and TCP 443; all other ingress is denied. Egress is not restricted by this \
             policy.",
        ),
        (
            "allow all ingress",
            mk_policy(
                "shop",
                "allow-all",
                Selector::everything(),
                Some(vec![rule(Peers::Any, Ports::Any)]),
                None,
            ),
            "All pods in shop accept ingress from anywhere (all pods and all addresses) on any \
             port; all ingress is allowed. Egress is not restricted by this policy.",
        ),
        (
            // Separate `from` items are ORed; pod+namespace selectors in one item are ANDed.
            "peers of one rule are alternatives",
            mk_policy(
                "shop",
                "db",
                app("db"),
                Some(vec![rule(
                    from(vec![
                        own(&[("app", "api")]),
                        in_ns(sel(&[("team", "ops")]), Selector::everything()),
                    ]),
                    on(vec![tcp(5432)]),
                )]),
                None,
            ),
            "Pods app=db in shop accept ingress only from pods app=api in shop or all pods in \
             namespaces team=ops on TCP 5432; all other ingress is denied. Egress is not \
             restricted by this policy.",
        ),
        (
            "pod and namespace selector in one item",
            mk_policy(
                "shop",
                "db",
                app("db"),
                Some(vec![rule(
                    from(vec![in_ns(sel(&[("team", "ops")]), app("backup"))]),
                    Ports::Any,
                )]),
                None,
            ),
            "Pods app=db in shop accept ingress only from pods app=backup in namespaces \
             team=ops on any port; all other ingress is denied. Egress is not restricted by \
             this policy.",
        ),
        (
            "several rules",
            mk_policy(
                "shop",
                "db",
                app("db"),
                Some(vec![
                    rule(from(vec![own(&[("app", "api")])]), on(vec![tcp(5432)])),
                    rule(from(vec![block("10.9.0.0/16", &[])]), on(vec![tcp(9187)])),
                ]),
                None,
            ),
            "Pods app=db in shop accept ingress only from pods app=api in shop on TCP 5432, and \
             from addresses in 10.9.0.0/16 on TCP 9187; all other ingress is denied. Egress is \
             not restricted by this policy.",
        ),
        (
            "identical rules listed once",
            mk_policy(
                "shop",
                "db",
                app("db"),
                Some(vec![
                    rule(from(vec![own(&[("app", "api")])]), on(vec![tcp(5432)])),
                    rule(from(vec![own(&[("app", "api")])]), on(vec![tcp(5432)])),
                ]),
                None,
            ),
            "Pods app=db in shop accept ingress only from pods app=api in shop on TCP 5432; all \
             other ingress is denied. Egress is not restricted by this policy.",
        ),
        (
            "egress to an ipBlock with except",
            mk_policy(
                "shop",
                "out",
                app("api"),
                None,
                Some(vec![rule(
                    from(vec![block("0.0.0.0/0", &["10.0.0.0/8", "192.168.0.0/16"])]),
                    on(vec![tcp(443)]),
                )]),
            ),
            "Pods app=api in shop may send egress to addresses in 0.0.0.0/0 except 10.0.0.0/8, \
             192.168.0.0/16 on TCP 443; all other egress is denied. Ingress is not restricted \
             by this policy.",
        ),
        (
            "subject with expressions",
            mk_policy(
                "shop",
                "x",
                exprs(vec![
                    req("tier", Operator::In(set(&["api", "web"]))),
                    req("legacy", Operator::DoesNotExist),
                ]),
                Some(vec![]),
                None,
            ),
            "Pods tier in (api, web), without label legacy in shop: all ingress is denied (no \
             ingress rules). Egress is not restricted by this policy.",
        ),
        (
            "neither direction (not produced by conversion)",
            mk_policy("shop", "noop", app("x"), None, None),
            "Pods app=x in shop: this policy restricts neither ingress nor egress.",
        ),
    ];
    let c = empty();
    for (label, input, want) in cases {
        assert_eq!(policy(&c, &input), want, "case: {label}");
    }
}

// ---- notes ----------------------------------------------------------------------------------

/// production (env=prod) with backend and postgres; monitoring (team=ops) with prometheus.
fn small_cluster() -> Cluster {
    cluster(
        vec![
            ns("monitoring", &[("team", "ops")]),
            ns("production", &[("env", "prod")]),
        ],
        vec![
            mk_pod("monitoring", "prometheus", &[("app", "prometheus")]),
            with_port(
                mk_pod("production", "backend", &[("app", "backend")]),
                "http",
                8080,
                Protocol::Tcp,
            ),
            mk_pod("production", "postgres", &[("app", "postgres")]),
        ],
        Vec::new(),
    )
}

#[test]
fn notes_for_selectors_that_match_nothing() {
    let ingress_from = |peer: Peer, ports: Ports| {
        mk_policy(
            "production",
            "p",
            sel(&[("app", "postgres")]),
            Some(vec![rule(from(vec![peer]), ports)]),
            None,
        )
    };
    let tail = "; all other ingress is denied. Egress is not restricted by this policy.";
    let cases: Vec<(&str, Policy, String)> = vec![
        (
            "subject matches no pod",
            mk_policy("production", "p", sel(&[("app", "pg")]), Some(vec![]), None),
            "Pods app=pg in production (no pod in production has app=pg): all ingress is denied \
             (no ingress rules). Egress is not restricted by this policy."
                .to_owned(),
        ),
        (
            "subject selects an empty namespace",
            mk_policy("staging", "p", Selector::everything(), Some(vec![]), None),
            "All pods in staging (there are no pods in staging): all ingress is denied (no \
             ingress rules). Egress is not restricted by this policy."
                .to_owned(),
        ),
        (
            "subject with expressions matches no pod",
            mk_policy(
                "production",
                "p",
                exprs(vec![req("tier", Operator::Exists)]),
                Some(vec![]),
                None,
            ),
            "Pods with label tier in production (no such pod in production): all ingress is \
             denied (no ingress rules). Egress is not restricted by this policy."
                .to_owned(),
        ),
        (
            "pod peer matches nothing in own namespace",
            ingress_from(own(&[("app", "frontend")]), Ports::Any),
            format!(
                "Pods app=postgres in production accept ingress only from pods app=frontend in \
                 production (no pod in production has app=frontend) on any port{tail}"
            ),
        ),
        (
            "namespace label no namespace carries",
            ingress_from(
                in_ns(sel(&[("team", "monitoring")]), Selector::everything()),
                Ports::Any,
            ),
            format!(
                "Pods app=postgres in production accept ingress only from all pods in namespaces \
                 team=monitoring (no namespace has team=monitoring) on any port{tail}"
            ),
        ),
        (
            "namespace named but absent",
            ingress_from(
                in_ns(
                    sel(&[(NAMESPACE_NAME_LABEL, "monitor")]),
                    Selector::everything(),
                ),
                Ports::Any,
            ),
            format!(
                "Pods app=postgres in production accept ingress only from all pods in namespace \
                 monitor (there is no namespace monitor) on any port{tail}"
            ),
        ),
        (
            "namespace matches but no pod there has the labels",
            ingress_from(
                in_ns(sel(&[("team", "ops")]), sel(&[("app", "grafana")])),
                Ports::Any,
            ),
            format!(
                "Pods app=postgres in production accept ingress only from pods app=grafana in \
                 namespaces team=ops (no pod in those namespaces has app=grafana) on any port{tail}"
            ),
        ),
        (
            "any namespace, no such pod",
            ingress_from(
                in_ns(Selector::everything(), sel(&[("k8s-app", "kube-dns")])),
                Ports::Any,
            ),
            format!(
                "Pods app=postgres in production accept ingress only from pods k8s-app=kube-dns \
                 in any namespace (no pod in any namespace has k8s-app=kube-dns) on any port{tail}"
            ),
        ),
        (
            "matching peers get no note",
            ingress_from(
                in_ns(sel(&[("team", "ops")]), sel(&[("app", "prometheus")])),
                Ports::Any,
            ),
            format!(
                "Pods app=postgres in production accept ingress only from pods app=prometheus in \
                 namespaces team=ops on any port{tail}"
            ),
        ),
        (
            "named port the selected pods do not declare",
            ingress_from(
                own(&[("app", "backend")]),
                on(vec![named(Protocol::Tcp, "metrics")]),
            ),
            format!(
                "Pods app=postgres in production accept ingress only from pods app=backend in \
                 production on TCP port named metrics (no selected pod has a TCP port named \
                 metrics){tail}"
            ),
        ),
    ];
    let c = small_cluster();
    for (label, input, want) in cases {
        assert_eq!(policy(&c, &input), want, "case: {label}");
    }
}

#[test]
fn egress_named_port_note_looks_at_destinations() {
    let c = small_cluster();
    let to_backend = |name: &str, proto: Protocol| {
        mk_policy(
            "production",
            "p",
            sel(&[("app", "postgres")]),
            None,
            Some(vec![rule(
                from(vec![own(&[("app", "backend")])]),
                on(vec![named(proto, name)]),
            )]),
        )
    };
    let cases = [
        ("declared by the destination", "http", Protocol::Tcp, ""),
        (
            // Named ports resolve by name and protocol.
            "same name, other protocol",
            "http",
            Protocol::Udp,
            " (no destination pod of this rule has a UDP port named http)",
        ),
        (
            "not declared",
            "grpc",
            Protocol::Tcp,
            " (no destination pod of this rule has a TCP port named grpc)",
        ),
    ];
    for (label, name, proto, note) in cases {
        let want = format!(
            "Pods app=postgres in production may send egress to pods app=backend in production \
             on {proto} port named {name}{note}; all other egress is denied. Ingress is not \
             restricted by this policy."
        );
        assert_eq!(policy(&c, &to_backend(name, proto)), want, "case: {label}");
    }
}

#[test]
fn egress_named_port_to_addresses_is_flagged() {
    // A named port never matches a non-pod address (the NetworkPolicyPort reference).
    let mut c = small_cluster();
    for p in c.pods.iter_mut().filter(|p| p.name == "backend") {
        p.ips = vec![std::net::IpAddr::from([10, 1, 0, 5])];
    }
    let cases: Vec<(&str, Peers, &str)> = vec![
        (
            "ipBlock with no pod in it: the port can match nothing",
            from(vec![block("192.0.2.0/24", &[])]),
            "to addresses in 192.0.2.0/24 on TCP port named http (a named port matches pods \
             only, never other addresses; no destination pod of this rule has a TCP port named \
             http)",
        ),
        (
            "ipBlock holding a pod with the port",
            from(vec![block("0.0.0.0/0", &[])]),
            "to addresses in 0.0.0.0/0 on TCP port named http (a named port matches pods only, \
             never other addresses)",
        ),
        (
            "anywhere",
            Peers::Any,
            "to anywhere (all pods and all addresses) on TCP port named http (a named port \
             matches pods only, never other addresses)",
        ),
        (
            "pods only: no note",
            from(vec![own(&[("app", "backend")])]),
            "to pods app=backend in production on TCP port named http",
        ),
    ];
    for (label, peers, clause) in cases {
        let p = mk_policy(
            "production",
            "p",
            sel(&[("app", "postgres")]),
            None,
            Some(vec![rule(peers, on(vec![named(Protocol::Tcp, "http")]))]),
        );
        let want = format!(
            "Pods app=postgres in production may send egress {clause}; all other egress is \
             denied. Ingress is not restricted by this policy."
        );
        assert_eq!(policy(&c, &p), want, "case: {label}");
    }
}

#[test]
fn no_notes_without_objects_of_that_kind() {
    // Policies explained alone: no pods, namespaces only referenced.
    let mut referenced = ns("production", &[]);
    referenced.declared = false;
    let c = cluster(vec![referenced], Vec::new(), Vec::new());
    let p = mk_policy(
        "production",
        "p",
        sel(&[("app", "pg")]),
        Some(vec![rule(
            from(vec![in_ns(sel(&[("team", "x")]), Selector::everything())]),
            on(vec![named(Protocol::Tcp, "db")]),
        )]),
        None,
    );
    assert_eq!(
        policy(&c, &p),
        "Pods app=pg in production accept ingress only from all pods in namespaces team=x on \
         TCP port named db; all other ingress is denied. Egress is not restricted by this policy."
    );
}

// ---- pods -----------------------------------------------------------------------------------

#[test]
fn pod_sentences() {
    let backend = sel(&[("app", "backend")]);
    let deny_all = mk_policy(
        "production",
        "default-deny-all",
        Selector::everything(),
        Some(vec![]),
        Some(vec![]),
    );
    let allow_frontend = mk_policy(
        "production",
        "allow-frontend-to-backend",
        backend.clone(),
        Some(vec![rule(
            from(vec![own(&[("app", "frontend")])]),
            on(vec![tcp(8080)]),
        )]),
        None,
    );
    let dns = mk_policy(
        "production",
        "allow-dns",
        Selector::everything(),
        None,
        Some(vec![rule(
            from(vec![in_ns(
                Selector::everything(),
                sel(&[("k8s-app", "kube-dns")]),
            )]),
            on(vec![udp(53), tcp(53)]),
        )]),
    );
    let to_db = mk_policy(
        "production",
        "backend-egress",
        backend.clone(),
        None,
        Some(vec![
            rule(from(vec![own(&[("app", "postgres")])]), on(vec![tcp(5432)])),
            rule(from(vec![block("10.0.0.0/8", &[])]), on(vec![tcp(443)])),
        ]),
    );
    let web_only = mk_policy(
        "production",
        "web",
        backend.clone(),
        Some(vec![rule(
            Peers::Any,
            on(vec![
                named(Protocol::Tcp, "http"),
                named(Protocol::Tcp, "admin"),
            ]),
        )]),
        None,
    );
    let allow_all = mk_policy(
        "production",
        "allow-all",
        backend.clone(),
        Some(vec![rule(Peers::Any, Ports::Any)]),
        None,
    );
    let twin = mk_policy(
        "production",
        "twin",
        backend.clone(),
        Some(vec![rule(
            from(vec![own(&[("app", "frontend")])]),
            on(vec![tcp(8080)]),
        )]),
        None,
    );

    let cases: Vec<(&str, Vec<Policy>, &str)> = vec![
        (
            "no policy",
            vec![],
            "production/backend (app=backend): no policy selects it, so it is not isolated: it \
             accepts all ingress and may send all egress.",
        ),
        (
            "policy in another namespace does not select it",
            vec![mk_policy(
                "staging",
                "deny",
                Selector::everything(),
                Some(vec![]),
                Some(vec![]),
            )],
            "production/backend (app=backend): no policy selects it, so it is not isolated: it \
             accepts all ingress and may send all egress.",
        ),
        (
            "default deny only",
            vec![deny_all.clone()],
            "production/backend (app=backend): ingress is isolated by default-deny-all; all \
             ingress is denied (no ingress rules). Egress is isolated by default-deny-all; all \
             egress is denied (no egress rules).",
        ),
        (
            // Policies are additive: the allowed set is the union of the selecting policies.
            "deny all plus allows are a union",
            vec![deny_all.clone(), allow_frontend.clone(), dns.clone()],
            "production/backend (app=backend): ingress is isolated by allow-frontend-to-backend, \
             default-deny-all; it accepts ingress only from pods app=frontend in production on \
             TCP 8080 (allow-frontend-to-backend); all other ingress is denied. Egress is \
             isolated by allow-dns, default-deny-all; it may send egress to pods \
             k8s-app=kube-dns in any namespace on UDP 53 and TCP 53 (allow-dns); all other \
             egress is denied.",
        ),
        (
            "ingress-only policy leaves egress open",
            vec![allow_frontend.clone()],
            "production/backend (app=backend): ingress is isolated by allow-frontend-to-backend; \
             it accepts ingress only from pods app=frontend in production on TCP 8080 \
             (allow-frontend-to-backend); all other ingress is denied. Egress is not isolated: \
             it may send all egress.",
        ),
        (
            "rules numbered when a policy has several; DNS missing",
            vec![to_db.clone()],
            "production/backend (app=backend): ingress is not isolated: it accepts all ingress. \
             Egress is isolated by backend-egress; it may send egress to pods app=postgres in \
             production on TCP 5432 (backend-egress rule 1), and to addresses in 10.0.0.0/8 on \
             TCP 443 (backend-egress rule 2); all other egress is denied. No egress rule allows \
             UDP 53 (DNS).",
        ),
        (
            "identical rules of two policies credited to both",
            vec![allow_frontend.clone(), twin],
            "production/backend (app=backend): ingress is isolated by allow-frontend-to-backend, \
             twin; it accepts ingress only from pods app=frontend in production on TCP 8080 \
             (allow-frontend-to-backend, twin); all other ingress is denied. Egress is not \
             isolated: it may send all egress.",
        ),
        (
            "named ports checked on this pod",
            vec![web_only],
            "production/backend (app=backend): ingress is isolated by web; it accepts ingress \
             from anywhere (all pods and all addresses) on TCP port named http and TCP port \
             named admin (this pod has no TCP port named admin) (web); all other ingress is \
             denied. Egress is not isolated: it may send all egress.",
        ),
        (
            "an allow-all rule wins over a deny-all",
            vec![allow_all, deny_all.clone()],
            "production/backend (app=backend): ingress is isolated by allow-all, \
             default-deny-all; it accepts ingress from anywhere (all pods and all addresses) on \
             any port (allow-all); all ingress is allowed. Egress is isolated by \
             default-deny-all; all egress is denied (no egress rules).",
        ),
    ];
    for (label, policies, want) in cases {
        let c = cluster(
            vec![ns("production", &[])],
            vec![
                with_port(
                    mk_pod("production", "backend", &[("app", "backend")]),
                    "http",
                    8080,
                    Protocol::Tcp,
                ),
                mk_pod("production", "frontend", &[("app", "frontend")]),
                mk_pod("production", "postgres", &[("app", "postgres")]),
                mk_pod("kube-system", "coredns", &[("k8s-app", "kube-dns")]),
            ],
            policies,
        );
        let Some(backend_pod) = c.pods.first() else {
            panic!("cluster has no pods");
        };
        assert_eq!(pod(&c, backend_pod), want, "case: {label}");
    }
}

#[test]
fn host_network_pod_is_not_subject_to_policy() {
    let mut p = mk_pod("production", "agent", &[]);
    p.host_network = true;
    let c = cluster(
        vec![ns("production", &[])],
        vec![p.clone()],
        vec![mk_policy(
            "production",
            "deny",
            Selector::everything(),
            Some(vec![]),
            Some(vec![]),
        )],
    );
    assert_eq!(
        pod(&c, &p),
        "production/agent (no labels): uses the host network, so network policies do not apply \
         to it."
    );
}

#[test]
fn dns_note_respects_ranges_and_named_ports() {
    // Any egress rule that could allow UDP 53 silences the note.
    let cases: Vec<(&str, Ports, bool)> = vec![
        ("TCP 53 only", on(vec![tcp(53)]), true),
        ("UDP 53", on(vec![udp(53)]), false),
        (
            "UDP range over 53",
            on(vec![range(Protocol::Udp, 1, 1024)]),
            false,
        ),
        (
            "any UDP port",
            on(vec![PortMatch {
                protocol: Protocol::Udp,
                port: PortSpec::Any,
            }]),
            false,
        ),
        ("any port", Ports::Any, false),
        (
            "named UDP port that is 53 on some pod",
            on(vec![named(Protocol::Udp, "dns")]),
            false,
        ),
        (
            "named UDP port that is not 53",
            on(vec![named(Protocol::Udp, "syslog")]),
            true,
        ),
    ];
    for (label, ports, want_note) in cases {
        let p = mk_pod("production", "app", &[]);
        let c = cluster(
            vec![ns("production", &[])],
            vec![
                p.clone(),
                with_port(
                    with_port(
                        mk_pod("kube-system", "coredns", &[]),
                        "dns",
                        53,
                        Protocol::Udp,
                    ),
                    "syslog",
                    514,
                    Protocol::Udp,
                ),
            ],
            vec![mk_policy(
                "production",
                "e",
                Selector::everything(),
                None,
                Some(vec![rule(Peers::Any, ports)]),
            )],
        );
        let text = pod(&c, &p);
        assert_eq!(
            text.ends_with("No egress rule allows UDP 53 (DNS)."),
            want_note,
            "case: {label}: {text}"
        );
    }
}

#[test]
fn output_is_plain_ascii_and_order_independent() {
    // Policies are additive and order never matters; neither may the text.
    let c = small_cluster();
    let a = mk_policy(
        "production",
        "a",
        Selector::everything(),
        Some(vec![]),
        None,
    );
    let b = mk_policy(
        "production",
        "b",
        Selector::everything(),
        Some(vec![rule(
            from(vec![own(&[("app", "backend")])]),
            on(vec![tcp(1)]),
        )]),
        None,
    );
    let forward = cluster(
        c.namespaces.clone(),
        c.pods.clone(),
        vec![a.clone(), b.clone()],
    );
    let backward = cluster(c.namespaces.clone(), c.pods.clone(), vec![b, a]);
    for p in &c.pods {
        let text = pod(&forward, p);
        assert!(text.is_ascii(), "{text}");
        assert_eq!(text, pod(&backward, p), "pod {}", p.key());
    }
}
