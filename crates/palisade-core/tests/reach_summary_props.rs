//! Property tests: the grouped answer of `reach` (groups of identical connectivity, lines only
//! where the answer differs from what isolation implies) expands to exactly the per-pair
//! answer (`Reachability::ports`, itself checked against evaluate()).

use std::net::IpAddr;

use palisade_core::eval::{PortSet, Probe};
use palisade_core::model::{Cluster, Protocol};
use palisade_core::reach::{Focused, Layout, Reachability, Side, Summary};
use palisade_test_support::arbitrary;
use proptest::prelude::*;

fn cluster() -> impl Strategy<Value = (Cluster, Vec<IpAddr>)> {
    arbitrary::cluster(arbitrary::Addresses::Distinct)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn summary_expands_to_every_pair(
        (cluster, externals) in cluster(),
        layout in prop_oneof![Just(Layout::Dense), Just(Layout::Sparse)],
    ) {
        let reach = Reachability::compute_with(&cluster, &externals, layout);
        let summary = Summary::of(&reach, &cluster);
        for i in 0..reach.len() {
            for j in 0..reach.len() {
                prop_assert_eq!(
                    &summary.ports(&reach, i, j),
                    reach.ports(i, j),
                    "{} -> {}; lines {:?}",
                    i, j, summary.lines
                );
            }
        }
        // Every endpoint has its group, and no two lines name the same sides.
        for (g, group) in summary.groups.iter().enumerate() {
            for &m in &group.members {
                prop_assert_eq!(summary.group_of(m), Some(g));
            }
        }
        let mut sides: Vec<(Side, Side)> = summary.lines.iter().map(|l| (l.from, l.to)).collect();
        let total = sides.len();
        sides.sort();
        sides.dedup();
        prop_assert_eq!(sides.len(), total, "{:?}", summary.lines);
    }

    #[test]
    fn focused_summary_expands_to_every_focused_pair(
        (cluster, externals) in cluster(),
        from_bits in proptest::collection::vec(any::<bool>(), 64),
        to_bits in proptest::collection::vec(any::<bool>(), 64),
    ) {
        let reach = Reachability::compute(&cluster, &externals);
        let mask = |bits: &[bool]| (0..reach.len()).map(|i| bits[i % bits.len()]).collect::<Vec<_>>();
        let focus = Focused { from: Some(mask(&from_bits)), to: Some(mask(&to_bits)) };
        let summary = Summary::focused(&reach, &cluster, None, &focus);
        for i in (0..reach.len()).filter(|&i| mask(&from_bits)[i]) {
            for j in (0..reach.len()).filter(|&j| mask(&to_bits)[j]) {
                prop_assert_eq!(&summary.ports(&reach, i, j), reach.ports(i, j), "{} -> {}", i, j);
            }
        }
        for g in &summary.groups {
            prop_assert!(g.members.iter().all(|&m| focus.from.as_ref().unwrap()[m] == g.source));
        }
    }

    #[test]
    fn probe_summary_expands_to_every_pair((cluster, externals) in cluster(), port in prop_oneof![Just(53u16), Just(80), Just(443), 1u16..100]) {
        let reach = Reachability::compute(&cluster, &externals);
        let probe = Probe { protocol: Protocol::Tcp, port };
        let summary = Summary::of_probe(&reach, &cluster, probe);
        for i in 0..reach.len() {
            for j in 0..reach.len() {
                let got = summary.ports(&reach, i, j);
                prop_assert!(got.is_all() || got.is_empty());
                prop_assert_eq!(got.is_all(), reach.allowed(i, j, probe), "{} -> {}", i, j);
            }
        }
    }

    /// Held sparse, the summary visits only the sources whose answer is not their default
    /// and counts the others: it must choose exactly the lines a pass over every source
    /// (the dense cells) chooses, for every port, one probe, and a focus.
    #[test]
    fn sparse_cells_give_the_same_lines(
        (cluster, externals) in cluster(),
        port in prop_oneof![Just(53u16), Just(80), 1u16..100],
        from_bits in proptest::collection::vec(any::<bool>(), 16),
    ) {
        let dense = Reachability::compute_with(&cluster, &externals, Layout::Dense);
        let sparse = Reachability::compute_with(&cluster, &externals, Layout::Sparse);
        let probe = Probe { protocol: Protocol::Tcp, port };
        let from: Vec<bool> = (0..dense.len()).map(|i| from_bits[i % from_bits.len()]).collect();
        let focus = Focused { from: Some(from), to: None };
        for (what, probe, focus) in [
            ("all ports", None, Focused::default()),
            ("probe", Some(probe), Focused::default()),
            ("focused", None, focus),
        ] {
            let a = Summary::focused(&dense, &cluster, probe, &focus);
            let b = Summary::focused(&sparse, &cluster, probe, &focus);
            prop_assert_eq!(&a.groups, &b.groups, "{}", what);
            prop_assert_eq!(&a.lines, &b.lines, "{}", what);
        }
    }
}

#[test]
fn unisolated_pairs_are_left_out_and_isolated_ones_listed() {
    use palisade_test_support::builders::{mk_cluster, mk_policy, ns, pod, pods, rule, sel, tcp};
    // web and api in `shop`; a policy isolates api for ingress and admits web on TCP 8080.
    let cluster = mk_cluster(
        vec![ns("shop", &[])],
        vec![
            pod("shop", "web-1", &[("app", "web")], "10.0.0.1"),
            pod("shop", "web-2", &[("app", "web")], "10.0.0.2"),
            pod("shop", "api-1", &[("app", "api")], "10.0.0.3"),
        ],
        vec![mk_policy("shop", "api", |p| {
            p.subject = sel(&[("app", "api")]);
            p.ingress = Some(vec![rule(
                vec![pods(sel(&[("app", "web")]))],
                vec![tcp(8080)],
            )]);
        })],
    );
    let reach = Reachability::compute(&cluster, &[]);
    let summary = Summary::of(&reach, &cluster);
    assert_eq!(summary.groups.len(), 2, "{:?}", summary.groups);
    // web -> web and api -> web are the defaults (nothing isolated): not listed.
    assert_eq!(summary.lines.len(), 1, "{:?}", summary.lines);
    let line = &summary.lines[0];
    assert_eq!(
        summary.groups[match line.to {
            Side::Group(g) => g,
            _ => usize::MAX,
        }]
        .name,
        "shop/api-1"
    );
    assert_eq!(line.ports, PortSet::port(Protocol::Tcp, 8080));
}

/// A scraper admitted to every group of a namespace is one `ns/*` line, and the group that
/// admits it on other ports keeps a line of its own (docs/audit.md, "Grouped by connectivity").
#[test]
fn a_source_saying_the_same_to_a_namespace_is_one_line() {
    use palisade_test_support::builders::{
        mk_cluster, mk_policy, ns, pod, pods, pods_in, rule, sel, tcp,
    };
    let scraper = || {
        pods_in(
            sel(&[("kubernetes.io/metadata.name", "monitoring")]),
            sel(&[("app", "prometheus")]),
        )
    };
    let cluster = mk_cluster(
        vec![ns("blog", &[]), ns("monitoring", &[])],
        vec![
            pod(
                "monitoring",
                "prometheus-0",
                &[("app", "prometheus")],
                "10.0.1.1",
            ),
            pod("blog", "wordpress-0", &[("app", "wordpress")], "10.0.0.1"),
            pod("blog", "mysql-0", &[("app", "mysql")], "10.0.0.2"),
            pod("blog", "redis-0", &[("app", "redis")], "10.0.0.3"),
            pod("blog", "cron-0", &[("app", "cron")], "10.0.0.4"),
        ],
        vec![
            mk_policy("blog", "scrape", |p| {
                p.subject = sel(&[]);
                p.ingress = Some(vec![rule(vec![scraper()], vec![tcp(9100)])]);
            }),
            mk_policy("blog", "mysql", |p| {
                p.subject = sel(&[("app", "mysql")]);
                p.ingress = Some(vec![
                    rule(vec![pods(sel(&[("app", "wordpress")]))], vec![tcp(3306)]),
                    rule(vec![scraper()], vec![tcp(9104)]),
                ]);
            }),
        ],
    );
    let reach = Reachability::compute(&cluster, &[]);
    let summary = Summary::of(&reach, &cluster);
    let lines = named_lines(&summary);
    assert_eq!(
        lines,
        [
            "monitoring/prometheus-0 => blog/* : TCP 9100",
            "blog/wordpress-0 => blog/mysql-0 : TCP 3306",
            "monitoring/prometheus-0 => blog/mysql-0 : TCP 9100,9104",
        ],
        "{lines:#?}"
    );
    assert_every_pair(&reach, &summary);
}

/// Synthetic clusters big enough for the summary's namespace-wide lines: label-selected
/// namespaces admitted across the cluster, sources isolated for egress among open ones. Every
/// pair read back from the lines is the engine's answer, and the lines do use the
/// `ns/* [no egress policy]` sources and `ns/*` destinations they are checked for.
#[test]
fn synthetic_clusters_expand_to_every_pair() {
    use palisade_test_support::synth::{SynthParams, generate};
    let mut open_sources = 0;
    let mut namespace_destinations = 0;
    for seed in 1..=12 {
        let cluster = generate(SynthParams {
            namespaces: 6 + seed as usize % 4,
            pods: 240,
            policies: 80,
            seed,
        });
        let reach = Reachability::compute(&cluster, &[]);
        let summary = Summary::of(&reach, &cluster);
        for i in 0..reach.len() {
            for j in 0..reach.len() {
                assert_eq!(
                    &summary.ports(&reach, i, j),
                    reach.ports(i, j),
                    "seed {seed}: {} -> {}",
                    reach.endpoint_names()[i],
                    reach.endpoint_names()[j]
                );
            }
        }
        open_sources += summary
            .lines
            .iter()
            .filter(|l| matches!(l.from, Side::OpenNamespace(_)))
            .count();
        namespace_destinations += summary
            .lines
            .iter()
            .filter(|l| matches!(l.to, Side::Namespace(_)))
            .count();
    }
    assert!(open_sources > 0, "no `ns/* [no egress policy]` source");
    assert!(namespace_destinations > 0, "no `ns/*` destination");
}

/// A destination admitting a labelled namespace: the pods there without egress policy are one
/// source, a pod isolated for egress that still reaches it on some port keeps its own line, and
/// an open pod the rule does not admit gets an explicit `none` (docs/audit.md).
#[test]
fn pods_without_egress_policy_of_a_namespace_are_one_source() {
    use palisade_test_support::builders::{
        ip_block, mk_cluster, mk_policy, ns, pod, pods_in, rule, sel, tcp,
    };
    let cluster = mk_cluster(
        vec![
            ns("pay", &[]),
            ns("shop", &[("team", "shop")]),
            ns("other", &[]),
        ],
        vec![
            pod("pay", "auth-0", &[("app", "auth")], "10.0.0.1"),
            pod(
                "shop",
                "web-0",
                &[("app", "web"), ("tier", "front")],
                "10.0.1.1",
            ),
            pod(
                "shop",
                "api-0",
                &[("app", "api"), ("tier", "front")],
                "10.0.1.2",
            ),
            pod(
                "shop",
                "cart-0",
                &[("app", "cart"), ("tier", "front")],
                "10.0.1.3",
            ),
            pod("shop", "search-0", &[("app", "search")], "10.0.1.4"),
            pod(
                "shop",
                "batch-0",
                &[("app", "batch"), ("tier", "front")],
                "10.0.1.5",
            ),
            pod(
                "shop",
                "cron-0",
                &[("app", "cron"), ("tier", "front")],
                "10.0.1.6",
            ),
            pod(
                "shop",
                "sync-0",
                &[("app", "sync"), ("tier", "front")],
                "10.0.1.7",
            ),
            pod("other", "x-0", &[("app", "x")], "10.0.2.1"),
            pod("other", "y-0", &[("app", "y")], "10.0.2.2"),
        ],
        vec![
            mk_policy("pay", "auth", |p| {
                p.subject = sel(&[("app", "auth")]);
                let from = |app: &str| pods_in(sel(&[("team", "shop")]), sel(&[("app", app)]));
                p.ingress = Some(vec![rule(
                    ["web", "api", "cart", "batch", "cron", "sync"]
                        .into_iter()
                        .map(from)
                        .collect(),
                    vec![],
                )]);
            }),
            mk_policy("shop", "batch-https", |p| {
                p.subject = sel(&[("app", "batch")]);
                p.ingress = None;
                p.egress = Some(vec![rule(vec![ip_block("0.0.0.0/0", &[])], vec![tcp(443)])]);
            }),
            mk_policy("shop", "cron-deny", |p| {
                p.subject = sel(&[("app", "cron")]);
                p.ingress = None;
                p.egress = Some(vec![]);
            }),
            mk_policy("shop", "sync-deny", |p| {
                p.subject = sel(&[("app", "sync")]);
                p.ingress = None;
                p.egress = Some(vec![]);
            }),
        ],
    );
    let reach = Reachability::compute(&cluster, &[]);
    let summary = Summary::of(&reach, &cluster);
    let lines = named_lines(&summary);
    assert_eq!(
        lines,
        [
            "shop/batch-0 => other/[x-0, y-0] : TCP 443",
            "shop/* [no egress policy] => pay/auth-0 : all",
            "shop/batch-0 => pay/auth-0 : TCP 443",
            "shop/search-0 => pay/auth-0 : none",
            "shop/batch-0 => shop/* : TCP 443",
        ],
        "{lines:#?}"
    );
    assert_every_pair(&reach, &summary);
}

/// A pod isolated for egress is not covered by `ns/* [no egress policy]`: its lines towards a
/// namespace's groups are still written once as `ns/*` (docs/audit.md).
#[test]
fn a_source_isolated_for_egress_is_hoisted_past_lines_for_pods_without_egress_policy() {
    use palisade_test_support::builders::{
        ip_block, mk_cluster, mk_policy, ns, pod, pods, pods_in, rule, sel, tcp,
    };
    let shop = || sel(&[("team", "shop")]);
    let admit_shop = |name: &str, app: &'static str| {
        mk_policy("pay", name, move |p| {
            p.subject = sel(&[("app", app)]);
            p.ingress = Some(vec![rule(vec![pods_in(shop(), sel(&[]))], vec![])]);
        })
    };
    let open_ingress = |name: &str, app: &'static str| {
        mk_policy("shop", name, move |p| {
            p.subject = sel(&[("app", app)]);
            p.ingress = Some(vec![rule(vec![], vec![])]);
        })
    };
    let deny_egress = |name: &str, app: &'static str| {
        mk_policy("shop", name, move |p| {
            p.subject = sel(&[("app", app)]);
            p.ingress = None;
            p.egress = Some(vec![]);
        })
    };
    let cluster = mk_cluster(
        vec![ns("pay", &[]), ns("shop", &[("team", "shop")])],
        vec![
            pod("pay", "auth-0", &[("app", "auth")], "10.0.0.1"),
            pod("pay", "ledger-0", &[("app", "ledger")], "10.0.0.2"),
            pod("pay", "audit-0", &[("app", "audit")], "10.0.0.3"),
            pod("pay", "vault-0", &[("app", "vault")], "10.0.0.4"),
            pod("shop", "web-0", &[("app", "web")], "10.0.1.1"),
            pod("shop", "api-0", &[("app", "api")], "10.0.1.2"),
            pod("shop", "cart-0", &[("app", "cart")], "10.0.1.3"),
            pod("shop", "batch-0", &[("app", "batch")], "10.0.1.5"),
            pod("shop", "cron-0", &[("app", "cron")], "10.0.1.6"),
            pod("shop", "sync-0", &[("app", "sync")], "10.0.1.7"),
        ],
        vec![
            admit_shop("auth", "auth"),
            admit_shop("ledger", "ledger"),
            admit_shop("audit", "audit"),
            mk_policy("pay", "vault", |p| {
                p.subject = sel(&[("app", "vault")]);
                p.ingress = Some(vec![rule(
                    vec![pods_in(shop(), sel(&[("app", "web")]))],
                    vec![],
                )]);
            }),
            open_ingress("web", "web"),
            open_ingress("api", "api"),
            open_ingress("cart", "cart"),
            mk_policy("shop", "batch-https", |p| {
                p.subject = sel(&[("app", "batch")]);
                p.ingress = Some(vec![rule(vec![pods(sel(&[]))], vec![])]);
                p.egress = Some(vec![rule(
                    vec![ip_block("10.0.0.0/24", &[])],
                    vec![tcp(443)],
                )]);
            }),
            deny_egress("cron", "cron"),
            deny_egress("sync", "sync"),
        ],
    );
    let reach = Reachability::compute(&cluster, &[]);
    let summary = Summary::of(&reach, &cluster);
    let lines: Vec<String> = named_lines(&summary)
        .into_iter()
        .filter(|line| line.contains(" => pay/"))
        .collect();
    assert_eq!(
        lines,
        [
            "shop/batch-0 => pay/* : TCP 443",
            "shop/* [no egress policy] => pay/audit-0 : all",
            "shop/* [no egress policy] => pay/auth-0 : all",
            "shop/* [no egress policy] => pay/ledger-0 : all",
            "shop/batch-0 => pay/vault-0 : none",
            "shop/web-0 => pay/vault-0 : all",
        ],
        "{lines:#?}"
    );
    assert_every_pair(&reach, &summary);
}

/// The summary's lines as `from => to : ports`.
fn named_lines(summary: &Summary) -> Vec<String> {
    summary
        .lines
        .iter()
        .map(|l| {
            let (from, to) = (summary.side_name(l.from), summary.side_name(l.to));
            format!("{from} => {to} : {}", l.ports)
        })
        .collect()
}

/// Every pair read back from the summary is the engine's answer.
fn assert_every_pair(reach: &Reachability, summary: &Summary) {
    for i in 0..reach.len() {
        for j in 0..reach.len() {
            assert_eq!(&summary.ports(reach, i, j), reach.ports(i, j), "{i} -> {j}");
        }
    }
}
