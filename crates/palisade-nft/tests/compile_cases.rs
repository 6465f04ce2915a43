//! Table tests of the compiler: one scenario per NetworkPolicy rule the ruleset must honour,
//! decided by the interpreter on node `n1` and cross-checked with `evaluate()`; the shape of
//! the ruleset (shared chains and sets, pending pods); and a snapshot of the rendered script.
//! Rules: <https://kubernetes.io/docs/concepts/services-networking/network-policies/>.

mod common;

use palisade_core::eval::{Endpoint, Probe, evaluate};
use palisade_core::model::{Cluster, Pod, Protocol};
use palisade_nft::{Decision, Packet, Ruleset, Transport, compile};
use palisade_test_support::builders::{
    any_port, cport, ip, ip_block, labels, mk_cluster, mk_ns, mk_pod, mk_policy, named, namespaces,
    ns, pods, port_range, rule, sctp, sel, tcp, udp,
};

const NODE: &str = "n1";

fn pod_on(node: &str, namespace: &str, name: &str, app: &str, ips: &[&str]) -> Pod {
    mk_pod(namespace, name, |p| {
        p.labels = labels(&[("app", app)]);
        p.ips = ips.iter().map(|s| ip(s)).collect();
        p.node = Some(node.to_string());
    })
}

fn probe(s: &str) -> Probe {
    s.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn decide(rs: &Ruleset, src: &str, dst: &str, transport: Transport) -> Decision {
    rs.decide(&Packet {
        src: ip(src),
        dst: ip(dst),
        transport,
    })
}

/// (label, from address, to address, probe, accepted on n1?)
type Expect = (&'static str, &'static str, &'static str, &'static str, bool);

fn check(label: &str, cluster: &Cluster, expectations: &[Expect]) {
    let rs = compile(cluster, NODE);
    common::check_structure(&rs).unwrap_or_else(|e| panic!("{label}: {e}"));
    for &(what, src, dst, p, want) in expectations {
        let got = decide(&rs, src, dst, Transport::Port(probe(p))) == Decision::Accept;
        assert_eq!(
            got,
            want,
            "{label}: {what}: {src} -> {dst} {p}\n{}",
            rs.to_nft()
        );
    }
    let externals = [ip("192.0.2.10"), ip("198.51.100.7")];
    let probes: Vec<Probe> = expectations.iter().map(|e| probe(e.3)).collect();
    if let Err(e) = common::check_agreement(cluster, &externals, &["n1", "n2"], &probes) {
        panic!("{label}: {e}");
    }
}

#[test]
fn scenarios() {
    type Case = (&'static str, Cluster, Vec<Expect>);
    let cases: Vec<Case> = vec![
        (
            // "By default, pods are non-isolated" (#the-two-sorts-of-pod-isolation).
            "no policy: nothing in the maps",
            mk_cluster(
                vec![],
                vec![
                    pod_on("n1", "prod", "a", "a", &["10.0.1.1"]),
                    pod_on("n1", "prod", "b", "b", &["10.0.1.2"]),
                ],
                vec![],
            ),
            vec![("allowed", "10.0.1.1", "10.0.1.2", "tcp/80", true)],
        ),
        (
            // Both sides must allow; when both pods live here, the egress chain returns and the
            // ingress chain still decides (#the-two-sorts-of-pod-isolation).
            "same node: egress allows, ingress denies",
            mk_cluster(
                vec![],
                vec![
                    pod_on("n1", "prod", "a", "a", &["10.0.1.1"]),
                    pod_on("n1", "prod", "b", "b", &["10.0.1.2"]),
                ],
                vec![
                    mk_policy("prod", "a-out", |p| {
                        p.subject = sel(&[("app", "a")]);
                        p.ingress = None;
                        p.egress = Some(vec![rule(vec![], vec![])]);
                    }),
                    mk_policy("prod", "b-in", |p| {
                        p.subject = sel(&[("app", "b")]);
                        p.ingress = Some(vec![rule(vec![pods(sel(&[("app", "c")]))], vec![])]);
                    }),
                ],
            ),
            vec![
                ("ingress denies", "10.0.1.1", "10.0.1.2", "tcp/80", false),
                (
                    "b -> a: a's ingress is open",
                    "10.0.1.2",
                    "10.0.1.1",
                    "tcp/80",
                    true,
                ),
            ],
        ),
        (
            // A remote pod's egress is enforced on its own node; here only the local side counts.
            "remote source: only local ingress is checked",
            mk_cluster(
                vec![],
                vec![
                    pod_on("n1", "prod", "web", "web", &["10.0.1.1"]),
                    pod_on("n2", "prod", "api", "api", &["10.0.2.1"]),
                ],
                vec![
                    mk_policy("prod", "deny-all-egress", |p| {
                        p.ingress = None;
                        p.egress = Some(vec![]);
                    }),
                    mk_policy("prod", "web-in", |p| {
                        p.subject = sel(&[("app", "web")]);
                        p.ingress = Some(vec![rule(
                            vec![pods(sel(&[("app", "api")]))],
                            vec![tcp(8080)],
                        )]);
                    }),
                ],
            ),
            vec![
                (
                    "api -> web 8080 on n1",
                    "10.0.2.1",
                    "10.0.1.1",
                    "tcp/8080",
                    true,
                ),
                ("api -> web 9090", "10.0.2.1", "10.0.1.1", "tcp/9090", false),
                (
                    "web -> api: web's egress denies",
                    "10.0.1.1",
                    "10.0.2.1",
                    "tcp/80",
                    false,
                ),
            ],
        ),
        (
            // NetworkPolicyPort.endPort: "the range of ports from port to endPort, inclusive".
            "endPort range and SCTP",
            mk_cluster(
                vec![],
                vec![
                    pod_on("n1", "prod", "db", "db", &["10.0.1.1"]),
                    pod_on("n2", "prod", "api", "api", &["10.0.2.1"]),
                ],
                vec![mk_policy("prod", "db-in", |p| {
                    p.subject = sel(&[("app", "db")]);
                    p.ingress = Some(vec![rule(
                        vec![],
                        vec![port_range(Protocol::Tcp, 32000, 32768), sctp(9000)],
                    )]);
                })],
            ),
            vec![
                ("first", "10.0.2.1", "10.0.1.1", "tcp/32000", true),
                ("last", "10.0.2.1", "10.0.1.1", "tcp/32768", true),
                ("past the end", "10.0.2.1", "10.0.1.1", "tcp/32769", false),
                (
                    "udp is another protocol",
                    "10.0.2.1",
                    "10.0.1.1",
                    "udp/32000",
                    false,
                ),
                ("sctp", "10.0.2.1", "10.0.1.1", "sctp/9000", true),
                (
                    "sctp other port",
                    "10.0.2.1",
                    "10.0.1.1",
                    "sctp/9001",
                    false,
                ),
            ],
        ),
        (
            // IPBlock: cidr minus except; "it matches pod IPs too".
            "ipBlock with except, egress",
            mk_cluster(
                vec![],
                vec![pod_on("n1", "prod", "web", "web", &["10.0.1.1"])],
                vec![mk_policy("prod", "web-out", |p| {
                    p.subject = sel(&[("app", "web")]);
                    p.ingress = None;
                    p.egress = Some(vec![rule(
                        vec![ip_block("192.0.2.0/24", &["192.0.2.8/29"])],
                        vec![udp(53)],
                    )]);
                })],
            ),
            vec![
                ("inside", "10.0.1.1", "192.0.2.1", "udp/53", true),
                ("except", "10.0.1.1", "192.0.2.10", "udp/53", false),
                ("after the except", "10.0.1.1", "192.0.2.16", "udp/53", true),
                ("outside", "10.0.1.1", "198.51.100.7", "udp/53", false),
            ],
        ),
        (
            // NetworkPolicyPort.port: a named port is looked up on the destination pod.
            "named port on ingress resolves on each local pod",
            mk_cluster(
                vec![],
                vec![
                    mk_pod("prod", "web-1", |p| {
                        p.labels = labels(&[("app", "web")]);
                        p.ips = vec![ip("10.0.1.1")];
                        p.node = Some("n1".into());
                        p.ports = vec![cport("http", Protocol::Tcp, 8080)];
                    }),
                    mk_pod("prod", "web-2", |p| {
                        p.labels = labels(&[("app", "web")]);
                        p.ips = vec![ip("10.0.1.2")];
                        p.node = Some("n1".into());
                        p.ports = vec![cport("http", Protocol::Tcp, 9090)];
                    }),
                    pod_on("n2", "prod", "api", "api", &["10.0.2.1"]),
                ],
                vec![mk_policy("prod", "web-in", |p| {
                    p.subject = sel(&[("app", "web")]);
                    p.ingress = Some(vec![rule(vec![], vec![named(Protocol::Tcp, "http")])]);
                })],
            ),
            vec![
                ("web-1 http", "10.0.2.1", "10.0.1.1", "tcp/8080", true),
                ("web-1 not 9090", "10.0.2.1", "10.0.1.1", "tcp/9090", false),
                ("web-2 http", "10.0.2.1", "10.0.1.2", "tcp/9090", true),
                ("web-2 not 8080", "10.0.2.1", "10.0.1.2", "tcp/8080", false),
            ],
        ),
        (
            // Egress named ports resolve per destination, and never on a non-pod address or a
            // hostNetwork pod (node traffic).
            "named port on egress resolves per destination pod",
            mk_cluster(
                vec![],
                vec![
                    pod_on("n1", "prod", "api", "api", &["10.0.1.1"]),
                    mk_pod("prod", "db-1", |p| {
                        p.labels = labels(&[("app", "db")]);
                        p.ips = vec![ip("10.0.2.1")];
                        p.node = Some("n2".into());
                        p.ports = vec![cport("pg", Protocol::Tcp, 5432)];
                    }),
                    mk_pod("prod", "db-2", |p| {
                        p.labels = labels(&[("app", "db")]);
                        p.ips = vec![ip("10.0.2.2")];
                        p.node = Some("n2".into());
                        p.ports = vec![cport("pg", Protocol::Tcp, 6432)];
                    }),
                    mk_pod("prod", "agent", |p| {
                        p.labels = labels(&[("app", "db")]);
                        p.ips = vec![ip("10.0.3.1")];
                        p.node = Some("n3".into());
                        p.host_network = true;
                        p.ports = vec![cport("pg", Protocol::Tcp, 5432)];
                    }),
                ],
                vec![mk_policy("prod", "api-out", |p| {
                    p.subject = sel(&[("app", "api")]);
                    p.ingress = None;
                    p.egress = Some(vec![rule(
                        vec![ip_block("10.0.0.0/8", &[])],
                        vec![named(Protocol::Tcp, "pg")],
                    )]);
                })],
            ),
            vec![
                ("db-1 5432", "10.0.1.1", "10.0.2.1", "tcp/5432", true),
                ("db-1 not 6432", "10.0.1.1", "10.0.2.1", "tcp/6432", false),
                ("db-2 6432", "10.0.1.1", "10.0.2.2", "tcp/6432", true),
                (
                    "hostNetwork pod: no named port",
                    "10.0.1.1",
                    "10.0.3.1",
                    "tcp/5432",
                    false,
                ),
                ("non-pod address", "10.0.1.1", "10.9.9.9", "tcp/5432", false),
            ],
        ),
        (
            // A pod with addresses of both families matches an ipBlock if any address is in it.
            "dual stack: an ipBlock matching one address covers the pod",
            mk_cluster(
                vec![],
                vec![
                    pod_on("n1", "prod", "web", "web", &["10.0.1.1", "fd00::1:1"]),
                    pod_on("n2", "prod", "api", "api", &["10.0.2.1", "fd00::2:1"]),
                ],
                vec![mk_policy("prod", "web-in", |p| {
                    p.subject = sel(&[("app", "web")]);
                    p.ingress = Some(vec![rule(
                        vec![ip_block("10.0.2.0/24", &[])],
                        vec![tcp(80)],
                    )]);
                })],
            ),
            vec![
                ("v4", "10.0.2.1", "10.0.1.1", "tcp/80", true),
                (
                    "v6 of the same pod",
                    "fd00::2:1",
                    "fd00::1:1",
                    "tcp/80",
                    true,
                ),
                ("other v6", "fd00::3:1", "fd00::1:1", "tcp/80", false),
            ],
        ),
        (
            // namespaceSelector alone: every pod of the selected namespaces, never non-pods.
            "namespaceSelector",
            mk_cluster(
                vec![ns("mon", &[("team", "ops")]), mk_ns("prod", |_| {})],
                vec![
                    pod_on("n1", "prod", "web", "web", &["10.0.1.1"]),
                    pod_on("n2", "mon", "prom", "prom", &["10.0.2.1"]),
                    pod_on("n2", "prod", "api", "api", &["10.0.2.2"]),
                ],
                vec![mk_policy("prod", "web-in", |p| {
                    p.subject = sel(&[("app", "web")]);
                    p.ingress = Some(vec![rule(
                        vec![namespaces(sel(&[("team", "ops")]))],
                        vec![any_port(Protocol::Tcp)],
                    )]);
                })],
            ),
            vec![
                ("prom", "10.0.2.1", "10.0.1.1", "tcp/9100", true),
                (
                    "api, other namespace",
                    "10.0.2.2",
                    "10.0.1.1",
                    "tcp/9100",
                    false,
                ),
                ("non-pod", "192.0.2.10", "10.0.1.1", "tcp/9100", false),
                ("udp not listed", "10.0.2.1", "10.0.1.1", "udp/9100", false),
            ],
        ),
    ];
    for (label, cluster, expectations) in cases {
        check(label, &cluster, &expectations);
    }
}

/// "missing/empty ports: every port of every protocol" also covers protocols without ports
/// (ICMP): a rule with ports matches only the protocols it lists.
#[test]
fn protocols_without_ports() {
    let cluster = mk_cluster(
        vec![],
        vec![
            pod_on("n1", "prod", "web", "web", &["10.0.1.1"]),
            pod_on("n1", "prod", "db", "db", &["10.0.1.2"]),
        ],
        vec![
            mk_policy("prod", "web-in", |p| {
                p.subject = sel(&[("app", "web")]);
                p.ingress = Some(vec![rule(vec![], vec![])]);
            }),
            mk_policy("prod", "db-in", |p| {
                p.subject = sel(&[("app", "db")]);
                p.ingress = Some(vec![rule(vec![], vec![tcp(5432)])]);
            }),
        ],
    );
    let rs = compile(&cluster, NODE);
    assert_eq!(
        decide(&rs, "10.0.1.2", "10.0.1.1", Transport::Other),
        Decision::Accept
    );
    assert_eq!(
        decide(&rs, "10.0.1.1", "10.0.1.2", Transport::Other),
        Decision::Drop
    );
}

#[test]
fn same_policy_view_shares_a_chain_and_rules_share_sets() {
    let web = |name: &str, address: &str| pod_on("n1", "prod", name, "web", &[address]);
    let cluster = mk_cluster(
        vec![],
        vec![
            web("web-1", "10.0.1.1"),
            web("web-2", "10.0.1.2"),
            web("web-3", "10.0.1.3"),
            pod_on("n1", "prod", "api", "api", &["10.0.1.9"]),
            pod_on("n2", "prod", "remote", "web", &["10.0.2.1"]),
        ],
        vec![
            mk_policy("prod", "web-in", |p| {
                p.subject = sel(&[("app", "web")]);
                p.ingress = Some(vec![rule(
                    vec![pods(sel(&[("app", "api")]))],
                    vec![tcp(80)],
                )]);
            }),
            mk_policy("prod", "api-in", |p| {
                p.subject = sel(&[("app", "api")]);
                p.ingress = Some(vec![rule(
                    vec![pods(sel(&[("app", "api")]))],
                    vec![tcp(9090)],
                )]);
            }),
        ],
    );
    let rs = compile(&cluster, NODE);
    let web_chains: std::collections::BTreeSet<&String> = ["10.0.1.1", "10.0.1.2", "10.0.1.3"]
        .iter()
        .map(|a| &rs.ingress[&ip(a)].chain)
        .collect();
    assert_eq!(web_chains.len(), 1, "replicas share one chain");
    assert_eq!(rs.chains.len(), 2, "{:?}", rs.chains.keys());
    assert!(
        !rs.ingress.contains_key(&ip("10.0.2.1")),
        "remote pods are not in the maps"
    );
    assert!(rs.egress.is_empty(), "nobody is isolated for egress");
    let api_sets: Vec<&String> = rs
        .sets
        .keys()
        .filter(|n| n.starts_with("cls-prod-app-api-"))
        .collect();
    assert_eq!(
        api_sets.len(),
        1,
        "both policies read one set: {:?}",
        rs.sets.keys()
    );
    assert_eq!(compile(&cluster, NODE), rs, "deterministic");
    // One class for the api pod, whatever the number of policies reading it.
    assert_eq!(rs.classes.len(), 1, "{:?}", rs.classes);
    assert!(rs.classes.contains_key(&ip("10.0.1.9")));
}

#[test]
fn pending_pods_and_address_conflicts_are_reported() {
    let cluster = mk_cluster(
        vec![],
        vec![
            pod_on("n1", "prod", "a", "web", &[]),
            pod_on("n1", "prod", "b", "web", &["10.0.1.1"]),
            pod_on("n1", "prod", "c", "web", &["10.0.1.1"]),
            pod_on("n2", "prod", "d", "web", &[]),
            mk_pod("prod", "host", |p| {
                p.node = Some("n1".into());
                p.host_network = true;
            }),
        ],
        vec![mk_policy("prod", "deny", |_| {})],
    );
    let rs = compile(&cluster, NODE);
    assert_eq!(rs.pending_pods, vec!["prod/a".to_string()]);
    assert_eq!(rs.address_conflicts.len(), 1);
    assert_eq!(rs.address_conflicts[0].programmed, "prod/b");
    assert_eq!(rs.address_conflicts[0].skipped, vec!["prod/c".to_string()]);
    assert_eq!(rs.ingress[&ip("10.0.1.1")].pod, "prod/b");
}

#[test]
fn stats_count_every_part() {
    let cluster = mk_cluster(
        vec![],
        vec![
            pod_on("n1", "prod", "web", "web", &["10.0.1.1", "fd00::1"]),
            pod_on("n2", "prod", "api", "api", &["10.0.2.1"]),
        ],
        vec![mk_policy("prod", "web-in", |p| {
            p.subject = sel(&[("app", "web")]);
            p.ingress = Some(vec![rule(
                vec![pods(sel(&[("app", "api")]))],
                vec![tcp(80)],
            )]);
        })],
    );
    let stats = compile(&cluster, NODE).stats();
    // forward + one ingress chain + the api pod's class chain; one class set; six maps;
    // 2 ingress map entries + 1 class map entry + 1 class set element; 14 base rules + the
    // class chain's rule + (class rule, drop).
    assert_eq!(
        (
            stats.chains,
            stats.sets,
            stats.maps,
            stats.elements,
            stats.rules
        ),
        (3, 1, 6, 4, 17)
    );
}

/// The example of the crate documentation and the report, rendered.
#[test]
fn example_script_snapshot() {
    let rs = compile(&common::example(), NODE);
    insta::assert_snapshot!(rs.to_nft());
}

#[test]
fn evaluate_is_the_reference_for_the_example() {
    let cluster = common::example();
    let web = Endpoint::Pod(
        cluster
            .pods
            .iter()
            .position(|p| p.name == "web-1")
            .unwrap_or(usize::MAX),
    );
    let db = Endpoint::Pod(
        cluster
            .pods
            .iter()
            .position(|p| p.name == "db-1")
            .unwrap_or(usize::MAX),
    );
    let rs = compile(&cluster, NODE);
    for p in ["tcp/5432", "udp/53", "tcp/80"] {
        let want = evaluate(&cluster, web, db, probe(p)).allowed;
        assert_eq!(
            decide(&rs, "10.0.1.1", "10.0.1.2", Transport::Port(probe(p))) == Decision::Accept,
            want,
            "web-1 -> db-1 {p}"
        );
    }
}

/// The base chain borrows the class bits of the packet mark and gives every bit back: a packet
/// accepted leaves with the mark it came with; one arriving with class bits set is dropped
/// (its class would be ambiguous).
#[test]
fn the_mark_leaves_as_it_came() {
    let cluster = mk_cluster(
        vec![],
        vec![
            pod_on("n1", "prod", "web", "web", &["10.0.1.1"]),
            pod_on("n2", "prod", "api", "api", &["10.0.2.1"]),
        ],
        vec![mk_policy("prod", "web-in", |p| {
            p.subject = sel(&[("app", "web")]);
            p.ingress = Some(vec![rule(
                vec![pods(sel(&[("app", "api")]))],
                vec![tcp(80)],
            )]);
        })],
    );
    let rs = compile(&cluster, NODE);
    assert!(!rs.classes.is_empty());
    let packet = |port| Packet {
        src: ip("10.0.2.1"),
        dst: ip("10.0.1.1"),
        transport: Transport::Port(Probe {
            protocol: Protocol::Tcp,
            port,
        }),
    };
    for mark in [0, 0x4000, 0x8000, 0x0000_c0ff] {
        assert_eq!(
            rs.decide_marked(&packet(80), mark),
            (Decision::Accept, mark)
        );
        assert_eq!(rs.decide_marked(&packet(81), mark).0, Decision::Drop);
    }
    assert_eq!(rs.decide_marked(&packet(80), 0x0001_0000).0, Decision::Drop);
    // With the class ids in other bits, the default's bits are the CNI's to keep, and the
    // new mask's bits are the ones that make a packet ambiguous.
    let options = palisade_nft::CompileOptions {
        class_mask: palisade_nft::ClassMask::new(0x00ff_0000).unwrap_or_else(|e| panic!("{e}")),
        ..Default::default()
    };
    let rs = palisade_nft::compile_with(&cluster, NODE, &options);
    for mark in [0, 0x4000, 0xff00_0000, 0x8000_c0ff] {
        assert_eq!(
            rs.decide_marked(&packet(80), mark),
            (Decision::Accept, mark)
        );
        assert_eq!(rs.decide_marked(&packet(81), mark).0, Decision::Drop);
    }
    for mark in [0x0001_0000, 0x0080_0000, 0xff80_0000] {
        assert_eq!(
            rs.decide_marked(&packet(80), mark).0,
            Decision::Drop,
            "{mark:#x}"
        );
    }
}

/// Class masks: contiguous, at least eight bits, clear of kube-proxy's 0x4000/0x8000.
#[test]
fn class_masks_are_validated() {
    use palisade_nft::{ClassMask, ClassMaskError};
    let cases: &[(&str, &str, Result<u32, ClassMaskError>)] = &[
        ("default", "0xffff0000", Ok(0xffff_0000)),
        ("upper byte", "0xff000000", Ok(0xff00_0000)),
        ("middle run", "0x00ff0000", Ok(0x00ff_0000)),
        ("low bits under kube-proxy's", "0x3fff", Ok(0x3fff)),
        ("decimal", "4278190080", Ok(0xff00_0000)),
        (
            "hole",
            "0xff0f0000",
            Err(ClassMaskError::NotContiguous(0xff0f_0000)),
        ),
        (
            "kube-proxy's masquerade bit",
            "0x0000ff00",
            Err(ClassMaskError::KubeProxy(0xff00)),
        ),
        (
            "across kube-proxy's bits",
            "0x0003c000",
            Err(ClassMaskError::KubeProxy(0x3_c000)),
        ),
        (
            "seven bits",
            "0xfe000000",
            Err(ClassMaskError::TooNarrow(0xfe00_0000)),
        ),
        ("zero", "0", Err(ClassMaskError::TooNarrow(0))),
        (
            "not a number",
            "ff-ff",
            Err(ClassMaskError::Syntax("ff-ff".into())),
        ),
        (
            "too wide",
            "0x1ffffffff",
            Err(ClassMaskError::Syntax("0x1ffffffff".into())),
        ),
    ];
    for (label, text, want) in cases {
        let got = text.parse::<ClassMask>().map(ClassMask::bits);
        assert_eq!(&got, want, "{label}");
    }
    let mask = ClassMask::new(0x00ff_0000).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((mask.shift(), mask.max_id()), (16, 255));
    assert_eq!(mask.mark(0x2a), 0x002a_0000);
    assert_eq!(mask.class_of(0xff2a_c000), Some(0x2a));
    assert_eq!(mask.class_of(0xff00_c000), None);
}

/// A mask too narrow for the node's classes leaves the excess addresses without a class, and
/// says how many.
#[test]
fn classes_beyond_the_mask_are_counted() {
    let mut members = Vec::new();
    let mut policies = Vec::new();
    // 300 workloads each allowed by its own policy on the local pod: 300 classes.
    for n in 0..300u32 {
        let app = format!("w{n}");
        let address = format!("10.1.{}.{}", n / 200, n % 200 + 1);
        members.push(pod_on("n2", "prod", &app, &app, &[address.as_str()]));
        policies.push(mk_policy("prod", &format!("allow-{app}"), |p| {
            p.subject = sel(&[("app", "web")]);
            p.ingress = Some(vec![rule(
                vec![pods(sel(&[("app", app.as_str())]))],
                vec![tcp(80)],
            )]);
        }));
    }
    members.push(pod_on("n1", "prod", "web", "web", &["10.0.1.1"]));
    let cluster = mk_cluster(vec![], members, policies);
    let wide = compile(&cluster, NODE);
    assert_eq!((wide.class_ids().len(), wide.unclassified), (300, 0));
    let options = palisade_nft::CompileOptions {
        class_mask: palisade_nft::ClassMask::new(0xff00_0000).unwrap_or_else(|e| panic!("{e}")),
        ..Default::default()
    };
    let narrow = palisade_nft::compile_with(&cluster, NODE, &options);
    assert_eq!((narrow.class_ids().len(), narrow.unclassified), (255, 45));
}
