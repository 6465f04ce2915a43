//! Table tests: one case per NetworkPolicy semantic rule, each citing the section of the
//! Kubernetes concept page (https://kubernetes.io/docs/concepts/services-networking/network-policies/,
//! abbreviated NP#section) or API reference it pins. Every case is also checked against the
//! all-pairs reachability, which must agree with evaluate().

use palisade_core::eval::{Endpoint, Probe, SideVerdict, Unrestricted, evaluate};
use palisade_core::model::{Cluster, Policy, Protocol};
use palisade_core::reach::Reachability;
use palisade_test_support::builders::*;

fn world(policies: Vec<Policy>) -> Cluster {
    mk_cluster(
        vec![
            ns("prod", &[("team", "payments"), ("env", "prod")]),
            ns("dev", &[("team", "payments"), ("env", "dev")]),
            ns("other", &[("team", "search")]),
        ],
        vec![
            mk_pod("prod", "web", |p| {
                p.labels = labels(&[("app", "web"), ("tier", "fe"), ("version", "v1")]);
                p.ips = vec![ip("10.0.1.1")];
                p.ports = vec![
                    cport("http", Protocol::Tcp, 8080),
                    cport("metrics", Protocol::Tcp, 9090),
                ];
                p.node = Some("n1".into());
            }),
            mk_pod("prod", "db", |p| {
                p.labels = labels(&[("app", "db"), ("tier", "data")]);
                p.ips = vec![ip("10.0.1.2"), ip("fd00::2")];
                p.ports = vec![
                    cport("postgres", Protocol::Tcp, 5432),
                    cport("dns", Protocol::Udp, 53),
                ];
                p.node = Some("n1".into());
            }),
            mk_pod("prod", "api", |p| {
                p.labels = labels(&[("app", "api"), ("tier", "be")]);
                p.ips = vec![ip("10.0.1.3")];
                p.ports = vec![
                    cport("http", Protocol::Tcp, 80),
                    cport("dns", Protocol::Tcp, 53),
                ];
                p.node = Some("n2".into());
            }),
            pod("dev", "web", &[("app", "web"), ("tier", "fe")], "10.0.2.1"),
            mk_pod("other", "client", |p| {
                p.labels = labels(&[("app", "client")]);
                p.ips = vec![ip("10.0.3.1"), ip("fd00::31")];
                p.node = Some("n2".into());
            }),
            pod("other", "pending", &[("app", "client")], ""),
            mk_pod("kube-system", "node-agent", |p| {
                p.labels = labels(&[("app", "node-agent")]);
                p.ips = vec![ip("172.16.0.1")];
                p.host_network = true;
                p.node = Some("n1".into());
                p.ports = vec![cport("metrics", Protocol::Tcp, 9100)];
            }),
        ],
        policies,
    )
}

const EXTERNALS: [&str; 2] = ["192.0.2.10", "2001:db8::10"];

fn endpoint(cluster: &Cluster, name: &str) -> Endpoint {
    if let Some(i) = cluster.pods.iter().position(|p| p.key() == name) {
        return Endpoint::Pod(i);
    }
    Endpoint::External(ip(name))
}

fn probe(protocol: Protocol, port: u16) -> Probe {
    Probe { protocol, port }
}

fn tcp_p(port: u16) -> Probe {
    probe(Protocol::Tcp, port)
}

/// What one side of the verdict must be.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Free(Unrestricted),
    Allows,
    Denies,
}

fn side_of(v: &SideVerdict) -> Side {
    match v {
        SideVerdict::Unrestricted(u) => Side::Free(*u),
        SideVerdict::Allowed { .. } => Side::Allows,
        SideVerdict::Denied { .. } => Side::Denies,
    }
}

struct Case {
    label: &'static str,
    policies: Vec<Policy>,
    from: &'static str,
    to: &'static str,
    probe: Probe,
    egress: Side,
    ingress: Side,
}

use Side::{Allows, Denies, Free};
use Unrestricted::{HostNetwork, NotAPod, NotIsolated, OwnNode, SamePod};

fn deny_all_ingress(ns: &str) -> Policy {
    mk_policy(ns, "deny-ingress", |_| {})
}

fn deny_all_egress(ns: &str) -> Policy {
    mk_policy(ns, "deny-egress", |p| {
        p.ingress = None;
        p.egress = Some(vec![]);
    })
}

fn allow_in(
    ns: &str,
    name: &str,
    subject: &[(&str, &str)],
    r: palisade_core::model::Rule,
) -> Policy {
    mk_policy(ns, name, |p| {
        p.subject = sel(subject);
        p.ingress = Some(vec![r]);
    })
}

fn allow_out(
    ns: &str,
    name: &str,
    subject: &[(&str, &str)],
    r: palisade_core::model::Rule,
) -> Policy {
    mk_policy(ns, name, |p| {
        p.subject = sel(subject);
        p.ingress = None;
        p.egress = Some(vec![r]);
    })
}

fn cases() -> Vec<Case> {
    let web = &[("app", "web")][..];
    let db = &[("app", "db")][..];
    vec![
        // NP#the-two-sorts-of-pod-isolation: by default a pod is non-isolated.
        Case {
            label: "no policies: everything allowed",
            policies: vec![],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Free(NotIsolated),
        },
        // NP#default-policies: an empty podSelector with no ingress rules denies all ingress.
        Case {
            label: "default deny ingress isolates the destination",
            policies: vec![deny_all_ingress("prod")],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Denies,
        },
        // NP#the-two-sorts-of-pod-isolation: only policies in the pod's own namespace count.
        Case {
            label: "a policy in another namespace does not isolate",
            policies: vec![deny_all_ingress("dev")],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Free(NotIsolated),
        },
        // NP#the-two-sorts-of-pod-isolation: both the source's egress and the destination's
        // ingress must allow.
        Case {
            label: "egress deny on the source blocks even if the destination allows",
            policies: vec![
                deny_all_egress("prod"),
                allow_in("prod", "allow-web", db, rule(vec![pods(sel(web))], vec![])),
            ],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Denies,
            ingress: Allows,
        },
        Case {
            label: "egress allowed, ingress denied: denied",
            policies: vec![
                allow_out(
                    "prod",
                    "web-out",
                    web,
                    rule(vec![pods(sel(db))], vec![tcp(5432)]),
                ),
                deny_all_ingress("prod"),
            ],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Allows,
            ingress: Denies,
        },
        // NP#networkpolicy-resource (policyTypes): a policy with only Egress does not isolate ingress.
        Case {
            label: "egress-only policy leaves ingress open",
            policies: vec![allow_out("prod", "db-out", db, rule(vec![], vec![udp(53)]))],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Free(NotIsolated),
        },
        // NP#behavior-of-to-and-from-selectors: podSelector alone = pods of the policy's namespace.
        Case {
            label: "podSelector alone does not match pods of other namespaces",
            policies: vec![allow_in(
                "prod",
                "from-web",
                db,
                rule(vec![pods(sel(web))], vec![]),
            )],
            from: "dev/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Denies,
        },
        Case {
            label: "podSelector alone matches in its own namespace",
            policies: vec![allow_in(
                "prod",
                "from-web",
                db,
                rule(vec![pods(sel(web))], vec![]),
            )],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Allows,
        },
        // NP#behavior-of-to-and-from-selectors: namespaceSelector alone = all pods of those namespaces.
        Case {
            label: "namespaceSelector alone admits every pod of matching namespaces",
            policies: vec![allow_in(
                "prod",
                "from-payments",
                db,
                rule(vec![namespaces(sel(&[("team", "payments")]))], vec![]),
            )],
            from: "dev/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Allows,
        },
        Case {
            label: "namespaceSelector {} never admits a non-pod address",
            policies: vec![allow_in(
                "prod",
                "from-all-ns",
                db,
                rule(vec![namespaces(sel(&[]))], vec![]),
            )],
            from: "192.0.2.10",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotAPod),
            ingress: Denies,
        },
        // NP#behavior-of-to-and-from-selectors: both selectors in one item = AND.
        Case {
            label: "namespaceSelector AND podSelector in one item: namespace must match too",
            policies: vec![allow_in(
                "prod",
                "and",
                db,
                rule(
                    vec![pods_in(sel(&[("env", "dev")]), sel(&[("app", "client")]))],
                    vec![],
                ),
            )],
            from: "other/client",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Denies,
        },
        Case {
            label: "separate items = OR: the namespace item alone admits",
            policies: vec![allow_in(
                "prod",
                "or",
                db,
                rule(
                    vec![namespaces(sel(&[("team", "search")])), pods(sel(web))],
                    vec![],
                ),
            )],
            from: "other/client",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Allows,
        },
        // NP#behavior-of-to-and-from-selectors (ipBlock): cidr minus except; matches pod IPs too.
        Case {
            label: "ipBlock matches a pod IP",
            policies: vec![allow_in(
                "prod",
                "cidr",
                db,
                rule(vec![ip_block("10.0.0.0/16", &[])], vec![]),
            )],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Allows,
        },
        Case {
            label: "ipBlock except carves the pod out",
            policies: vec![allow_in(
                "prod",
                "cidr",
                db,
                rule(vec![ip_block("10.0.0.0/16", &["10.0.1.0/24"])], vec![]),
            )],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Denies,
        },
        Case {
            label: "ipBlock admits an external address",
            policies: vec![allow_in(
                "prod",
                "cidr",
                db,
                rule(vec![ip_block("192.0.2.0/24", &[])], vec![]),
            )],
            from: "192.0.2.10",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotAPod),
            ingress: Allows,
        },
        Case {
            label: "IPv6 ipBlock matches the IPv6 address of a dual-stack pod",
            policies: vec![allow_in(
                "prod",
                "v6",
                db,
                rule(vec![ip_block("fd00::/64", &[])], vec![]),
            )],
            from: "other/client",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Allows,
        },
        Case {
            label: "a pod without IP matches no ipBlock, not even 0.0.0.0/0",
            policies: vec![allow_in(
                "prod",
                "all-v4",
                db,
                rule(vec![ip_block("0.0.0.0/0", &[])], vec![]),
            )],
            from: "other/pending",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Denies,
        },
        Case {
            label: "a pod without IP still matches selectors",
            policies: vec![allow_in(
                "prod",
                "client",
                db,
                rule(vec![pods_in(sel(&[]), sel(&[("app", "client")]))], vec![]),
            )],
            from: "other/pending",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Allows,
        },
        // A non-pod side imposes nothing.
        Case {
            label: "pod to external: only the pod's egress decides",
            policies: vec![allow_out(
                "prod",
                "out",
                web,
                rule(vec![ip_block("192.0.2.0/24", &[])], vec![tcp(443)]),
            )],
            from: "prod/web",
            to: "192.0.2.10",
            probe: tcp_p(443),
            egress: Allows,
            ingress: Free(NotAPod),
        },
        // API reference NetworkPolicyPort.port: a named port is resolved on the destination pod.
        Case {
            label: "egress named port resolves on the destination (http = 8080 on prod/web)",
            policies: vec![allow_out(
                "prod",
                "to-http",
                &[("app", "api")],
                rule(vec![], vec![named(Protocol::Tcp, "http")]),
            )],
            from: "prod/api",
            to: "prod/web",
            probe: tcp_p(8080),
            egress: Allows,
            ingress: Free(NotIsolated),
        },
        Case {
            label: "egress named port is not the source's number (http = 80 on prod/api)",
            policies: vec![allow_out(
                "prod",
                "to-http",
                &[("app", "api")],
                rule(vec![], vec![named(Protocol::Tcp, "http")]),
            )],
            from: "prod/api",
            to: "prod/web",
            probe: tcp_p(80),
            egress: Denies,
            ingress: Free(NotIsolated),
        },
        Case {
            label: "named port never matches a non-pod destination",
            policies: vec![allow_out(
                "prod",
                "to-http",
                web,
                rule(vec![], vec![named(Protocol::Tcp, "http")]),
            )],
            from: "prod/web",
            to: "192.0.2.10",
            probe: tcp_p(8080),
            egress: Denies,
            ingress: Free(NotAPod),
        },
        Case {
            label: "ingress named port resolves on the subject itself",
            policies: vec![allow_in(
                "prod",
                "metrics",
                web,
                rule(vec![], vec![named(Protocol::Tcp, "metrics")]),
            )],
            from: "prod/api",
            to: "prod/web",
            probe: tcp_p(9090),
            egress: Free(NotIsolated),
            ingress: Allows,
        },
        Case {
            label: "named port matches by name AND protocol (dns is UDP on prod/db)",
            policies: vec![allow_in(
                "prod",
                "dns",
                db,
                rule(vec![], vec![named(Protocol::Tcp, "dns")]),
            )],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(53),
            egress: Free(NotIsolated),
            ingress: Denies,
        },
        // NP#targeting-a-range-of-ports: port..endPort, inclusive.
        Case {
            label: "endPort range includes its last port",
            policies: vec![allow_in(
                "prod",
                "range",
                db,
                rule(vec![], vec![port_range(Protocol::Tcp, 5000, 5432)]),
            )],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Allows,
        },
        Case {
            label: "endPort range excludes the next port",
            policies: vec![allow_in(
                "prod",
                "range",
                db,
                rule(vec![], vec![port_range(Protocol::Tcp, 5000, 5431)]),
            )],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Denies,
        },
        // API reference NetworkPolicyIngressRule.ports: missing = every port of every protocol.
        Case {
            label: "missing ports allow SCTP too",
            policies: vec![allow_in(
                "prod",
                "any",
                db,
                rule(vec![pods(sel(web))], vec![]),
            )],
            from: "prod/web",
            to: "prod/db",
            probe: probe(Protocol::Sctp, 9),
            egress: Free(NotIsolated),
            ingress: Allows,
        },
        Case {
            label: "protocol without port = every port of that protocol only",
            policies: vec![allow_in(
                "prod",
                "udp",
                db,
                rule(vec![], vec![any_port(Protocol::Udp)]),
            )],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(53),
            egress: Free(NotIsolated),
            ingress: Denies,
        },
        Case {
            label: "rule without peers admits external sources",
            policies: vec![allow_in("prod", "open", db, rule(vec![], vec![tcp(5432)]))],
            from: "2001:db8::10",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotAPod),
            ingress: Allows,
        },
        // Always allowed: a pod to itself.
        Case {
            label: "a pod always reaches itself",
            policies: vec![deny_all_ingress("prod"), deny_all_egress("prod")],
            from: "prod/db",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(SamePod),
            ingress: Free(SamePod),
        },
        // NP#networkpolicy-and-hostnetwork-pods.
        Case {
            label: "hostNetwork pod is not subject to policy, and selectors do not see it",
            policies: vec![
                mk_policy("kube-system", "deny", |p| p.egress = Some(vec![])),
                allow_in(
                    "prod",
                    "from-all-pods",
                    &[("app", "api")],
                    rule(vec![namespaces(sel(&[]))], vec![]),
                ),
            ],
            from: "kube-system/node-agent",
            to: "prod/api",
            probe: tcp_p(80),
            egress: Free(HostNetwork),
            ingress: Denies,
        },
        Case {
            label: "hostNetwork pod is matched by an ipBlock on its node IP",
            policies: vec![allow_in(
                "prod",
                "nodes",
                &[("app", "api")],
                rule(vec![ip_block("172.16.0.0/16", &[])], vec![]),
            )],
            from: "kube-system/node-agent",
            to: "prod/api",
            probe: tcp_p(80),
            egress: Free(HostNetwork),
            ingress: Allows,
        },
        // NP#what-you-can-t-do-with-network-policies-at-least-not-yet: no blocking of the own node.
        Case {
            label: "hostNetwork pod on the same node reaches an isolated pod",
            policies: vec![deny_all_ingress("prod")],
            from: "kube-system/node-agent",
            to: "prod/web",
            probe: tcp_p(8080),
            egress: Free(HostNetwork),
            ingress: Free(OwnNode),
        },
        Case {
            label: "a pod reaches its own node's hostNetwork pod despite egress deny",
            policies: vec![deny_all_egress("prod")],
            from: "prod/web",
            to: "kube-system/node-agent",
            probe: tcp_p(9100),
            egress: Free(OwnNode),
            ingress: Free(HostNetwork),
        },
        Case {
            label: "no exemption across nodes",
            policies: vec![deny_all_egress("prod")],
            from: "prod/api",
            to: "kube-system/node-agent",
            probe: tcp_p(9100),
            egress: Denies,
            ingress: Free(HostNetwork),
        },
        // Labels and selectors concept page: NotIn and DoesNotExist match pods lacking the key.
        Case {
            label: "NotIn matches a pod without the key",
            policies: vec![allow_in(
                "prod",
                "notin",
                db,
                rule(
                    vec![pods(sel_expr(&[], vec![key_not_in("version", &["v2"])]))],
                    vec![],
                ),
            )],
            from: "prod/api",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Allows,
        },
        Case {
            label: "DoesNotExist rejects a pod with the key",
            policies: vec![allow_in(
                "prod",
                "dne",
                db,
                rule(
                    vec![pods(sel_expr(&[], vec![does_not_exist("version")]))],
                    vec![],
                ),
            )],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Denies,
        },
        Case {
            label: "matchLabels AND matchExpressions",
            policies: vec![allow_in(
                "prod",
                "both",
                db,
                rule(
                    vec![pods(sel_expr(
                        &[("tier", "fe")],
                        vec![key_in("app", &["web", "api"]), exists("version")],
                    ))],
                    vec![],
                ),
            )],
            from: "prod/web",
            to: "prod/db",
            probe: tcp_p(5432),
            egress: Free(NotIsolated),
            ingress: Allows,
        },
        // A namespace named but not declared has kubernetes.io/metadata.name.
        Case {
            label: "undeclared namespace selected by its automatic name label",
            policies: vec![allow_in(
                "prod",
                "from-ks",
                &[("app", "api")],
                rule(
                    vec![namespaces(sel(&[(
                        "kubernetes.io/metadata.name",
                        "kube-system",
                    )]))],
                    vec![],
                ),
            )],
            // hostNetwork: not matched by selectors even so.
            from: "kube-system/node-agent",
            to: "prod/api",
            probe: tcp_p(80),
            egress: Free(HostNetwork),
            ingress: Denies,
        },
    ]
}

#[test]
fn semantic_rules_table() {
    let mut failures = Vec::new();
    for case in cases() {
        let cluster = world(case.policies);
        let from = endpoint(&cluster, case.from);
        let to = endpoint(&cluster, case.to);
        let verdict = evaluate(&cluster, from, to, case.probe);
        let got = (side_of(&verdict.egress), side_of(&verdict.ingress));
        let want_allowed = !matches!(case.egress, Denies) && !matches!(case.ingress, Denies);
        if got != (case.egress, case.ingress) || verdict.allowed != want_allowed {
            failures.push(format!(
                "{}: want egress {:?} ingress {:?} (allowed {want_allowed}), got {verdict:#?}",
                case.label, case.egress, case.ingress
            ));
        }
        // The fast path must agree.
        let externals: Vec<_> = EXTERNALS.iter().map(|e| ip(e)).collect();
        let reach = Reachability::compute(&cluster, &externals);
        let names = reach.endpoint_names();
        let index = |n: &str| names.iter().position(|x| x == n);
        if let (Some(i), Some(j)) = (index(case.from), index(case.to))
            && reach.allowed(i, j, case.probe) != verdict.allowed
        {
            failures.push(format!("{}: reach disagrees with evaluate", case.label));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_allowing_rule_is_reported_sorted() {
    // NP#networkpolicy-resource: policies are additive; every allowing rule is a reason.
    let cluster = world(vec![
        allow_in(
            "prod",
            "b-second",
            &[("app", "db")],
            rule(
                vec![pods(sel(&[("tier", "fe")])), pods(sel(&[("app", "web")]))],
                vec![],
            ),
        ),
        allow_in(
            "prod",
            "a-first",
            &[("app", "db")],
            rule(
                vec![],
                vec![tcp(5432), port_range(Protocol::Tcp, 5000, 6000)],
            ),
        ),
    ]);
    let v = evaluate(
        &cluster,
        endpoint(&cluster, "prod/web"),
        endpoint(&cluster, "prod/db"),
        tcp_p(5432),
    );
    let SideVerdict::Allowed { by } = &v.ingress else {
        panic!("expected Allowed, got {v:#?}");
    };
    let got: Vec<(String, Option<usize>, Option<usize>)> = by
        .iter()
        .map(|r| (cluster.policies[r.policy].name.clone(), r.peer, r.port))
        .collect();
    let want = vec![
        ("a-first".to_string(), None, Some(0)),
        ("a-first".to_string(), None, Some(1)),
        ("b-second".to_string(), Some(0), None),
        ("b-second".to_string(), Some(1), None),
    ];
    assert_eq!(got, want);
}

#[test]
fn near_misses_explain_port_and_peer() {
    let cluster = world(vec![
        allow_in(
            "prod",
            "web-to-db",
            &[("app", "db")],
            rule(vec![pods(sel(&[("app", "web")]))], vec![tcp(5432)]),
        ),
        allow_in(
            "prod",
            "api-to-db",
            &[("app", "db")],
            rule(vec![pods(sel(&[("app", "api")]))], vec![tcp(6379)]),
        ),
        allow_in(
            "prod",
            "unrelated",
            &[("app", "db")],
            rule(vec![pods(sel(&[("app", "api")]))], vec![tcp(1)]),
        ),
    ]);
    let v = evaluate(
        &cluster,
        endpoint(&cluster, "prod/web"),
        endpoint(&cluster, "prod/db"),
        tcp_p(6379),
    );
    let SideVerdict::Denied {
        isolated_by,
        near_misses,
    } = &v.ingress
    else {
        panic!("expected Denied, got {v:#?}");
    };
    assert_eq!(isolated_by.len(), 3);
    let reasons: Vec<(&str, &str)> = near_misses
        .iter()
        .map(|m| {
            (
                cluster.policies[m.rule.policy].name.as_str(),
                m.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        reasons.len(),
        2,
        "the rule missing both counts is no near miss: {reasons:#?}"
    );
    let (_, port_miss) = reasons
        .iter()
        .find(|(n, _)| *n == "web-to-db")
        .expect("web-to-db");
    assert_eq!(
        *port_miss,
        "the source prod/web matches pods matching app=web in namespace prod, but this rule allows only TCP 5432, not TCP 6379"
    );
    let (_, peer_miss) = reasons
        .iter()
        .find(|(n, _)| *n == "api-to-db")
        .expect("api-to-db");
    assert_eq!(
        *peer_miss,
        "TCP 6379 matches this rule's ports, but the source prod/web is none of: pods matching app=api in namespace prod"
    );
}

#[test]
fn near_miss_hints_name_the_classic_mistakes() {
    let cases: Vec<(&str, Policy, &str, &str)> = vec![
        (
            "podSelector alone from another namespace",
            allow_in(
                "prod",
                "p",
                &[("app", "db")],
                rule(vec![pods(sel(&[("app", "web")]))], vec![]),
            ),
            "dev/web",
            "a podSelector without a namespaceSelector only matches pods in namespace prod",
        ),
        (
            "namespaceSelector on a label no namespace has",
            allow_in(
                "prod",
                "p",
                &[("app", "db")],
                rule(vec![namespaces(sel(&[("team", "nope")]))], vec![]),
            ),
            "dev/web",
            "no namespace matches team=nope",
        ),
        (
            "selectors never match an external",
            allow_in(
                "prod",
                "p",
                &[("app", "db")],
                rule(vec![namespaces(sel(&[]))], vec![]),
            ),
            "192.0.2.10",
            "pod and namespace selectors never match a non-pod address",
        ),
        (
            "pod without IP",
            allow_in(
                "prod",
                "p",
                &[("app", "db")],
                rule(vec![ip_block("0.0.0.0/0", &[])], vec![]),
            ),
            "other/pending",
            "other/pending has no IP, so no ipBlock can match it",
        ),
    ];
    for (label, policy, from, hint) in cases {
        let cluster = world(vec![policy]);
        let v = evaluate(
            &cluster,
            endpoint(&cluster, from),
            endpoint(&cluster, "prod/db"),
            tcp_p(5432),
        );
        let SideVerdict::Denied { near_misses, .. } = &v.ingress else {
            panic!("{label}: expected Denied, got {v:#?}");
        };
        assert!(
            near_misses.iter().any(|m| m.reason.contains(hint)),
            "{label}: no near miss mentions {hint:?}: {near_misses:#?}"
        );
    }
}

#[test]
fn reach_port_summary_reads_like_the_rules() {
    let cluster = world(vec![
        allow_in(
            "prod",
            "db-in",
            &[("app", "db")],
            rule(
                vec![pods(sel(&[("app", "web")]))],
                vec![tcp(5432), udp(53), port_range(Protocol::Tcp, 8000, 8080)],
            ),
        ),
        deny_all_egress("dev"),
    ]);
    let reach = Reachability::compute(&cluster, &[ip("192.0.2.10")]);
    let names = reach.endpoint_names();
    let at = |n: &str| names.iter().position(|x| x == n).expect(n);
    let cases = [
        ("prod/web", "prod/db", "TCP 5432,8000-8080,UDP 53"),
        ("prod/api", "prod/db", "none"),
        ("prod/db", "prod/web", "all"),
        ("prod/db", "prod/db", "all"),
        ("dev/web", "192.0.2.10", "none"),
        ("192.0.2.10", "dev/web", "all"),
    ];
    for (from, to, want) in cases {
        assert_eq!(
            reach.ports(at(from), at(to)).to_string(),
            want,
            "{from} -> {to}"
        );
    }
    assert_eq!(
        names.last().map(String::as_str),
        Some("192.0.2.10"),
        "externals come last"
    );
    assert!(
        reach.class_count() < reach.len(),
        "replicas and externals share classes"
    );
}
