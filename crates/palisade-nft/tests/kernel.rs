//! Golden tests against the real kernel, each in a throwaway network namespace: the compiled
//! script loads, the kernel lists back exactly what the ruleset value says (so what the
//! interpreter proved about the value holds for the kernel's table), and a diff loaded on top
//! of an old ruleset leaves the same table as loading the new one whole.
//!
//! They skip with a note when not root or `nft`/`ip` are missing (see `common::kernel`).

mod common;

use common::kernel::{Netns, normalize, script_table};
use common::{NODES, cluster, example};
use palisade_core::model::{Cluster, Pod};
use palisade_nft::{Ruleset, compile, diff};
use palisade_test_support::builders::{ip, labels, mk_pod};
use palisade_test_support::synth::{SynthParams, generate};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Loads `rs` whole and checks the kernel's listing against the script's own table block.
fn load_whole(ns: &Netns, rs: &Ruleset) -> String {
    let script = rs.to_nft();
    ns.load(&script)
        .unwrap_or_else(|e| panic!("nft rejected the script: {e}\n{script}"));
    let listed = normalize(&ns.list());
    assert_eq!(
        listed,
        normalize(&script_table(&script)),
        "the kernel holds something else than the script says"
    );
    listed
}

#[test]
fn example_loads_and_lists_back_as_written() {
    let Some(ns) = Netns::for_test() else { return };
    let rs = compile(&example(), "n1");
    let listed = load_whole(&ns, &rs);
    insta::assert_snapshot!(listed);
    // Loading again replaces the existing table: same content, no error.
    assert_eq!(load_whole(&ns, &rs), listed);
}

/// Masks other than the default list back as written too (a middle run is listed as `&`, not as
/// a prefix), and a diff across a mask change replaces the table.
#[test]
fn other_class_masks_load_and_list_back() {
    let Some(ns) = Netns::for_test() else { return };
    let default = compile(&example(), "n1");
    for bits in [0xff00_0000u32, 0x00ff_0000, 0x0000_3fff, 0x0ff0_0000] {
        let options = palisade_nft::CompileOptions {
            class_mask: palisade_nft::ClassMask::new(bits).unwrap_or_else(|e| panic!("{e}")),
            ..Default::default()
        };
        let rs = palisade_nft::compile_with(&example(), "n1", &options);
        assert!(!rs.classes.is_empty());
        let listed = load_whole(&ns, &rs);
        assert!(
            listed.contains(&format!("0x{bits:08x}")),
            "{bits:#x}: {listed}"
        );
        diff_on_top(&ns, &format!("default -> {bits:#x}"), &default, &rs);
        diff_on_top(&ns, &format!("{bits:#x} -> default"), &rs, &default);
    }
}

#[test]
fn other_tables_are_left_alone() {
    let Some(ns) = Netns::for_test() else { return };
    let other = "table inet other {\n\tchain passthrough {\n\t\ttype filter hook forward priority 0; policy accept;\n\t\tip saddr 10.9.9.9 drop\n\t}\n}\n";
    ns.load(other).unwrap_or_else(|e| panic!("{e}"));
    let before = ns
        .nft(&["list", "table", "inet", "other"])
        .unwrap_or_else(|e| panic!("{e}"));
    load_whole(&ns, &compile(&example(), "n1"));
    load_whole(&ns, &compile(&example(), "n2"));
    let after = ns
        .nft(&["list", "table", "inet", "other"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(before, after);
    let tables = ns
        .nft(&["list", "tables"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        tables.lines().collect::<Vec<_>>(),
        ["table inet other", "table inet palisade"]
    );
}

/// Loads `old` whole, then `diff(old, new)`, and checks the table equals loading `new` whole.
fn diff_on_top(ns: &Netns, label: &str, old: &Ruleset, new: &Ruleset) {
    load_whole(ns, old);
    let d = diff(old, new);
    let script = d.to_nft();
    ns.load(&script)
        .unwrap_or_else(|e| panic!("{label}: nft rejected the diff: {e}\n{script}"));
    let updated = normalize(&ns.list());
    let whole = load_whole(ns, new);
    assert_eq!(updated, whole, "{label}: diff\n{script}");
}

fn web(name: &str, node: &str, address: &str) -> Pod {
    mk_pod("production", name, |p| {
        p.labels = labels(&[("app", "web")]);
        p.ips = vec![ip(address)];
        p.node = Some(node.to_string());
    })
}

#[test]
fn diffs_leave_the_same_table_as_a_full_load() {
    let Some(ns) = Netns::for_test() else { return };
    let base = example();
    let edit = |f: &dyn Fn(&mut Cluster)| {
        let mut c = base.clone();
        f(&mut c);
        c
    };
    let cases: Vec<(&str, Cluster)> = vec![
        (
            "replica added here",
            edit(&|c| c.pods.push(web("web-3", "n1", "10.0.1.3"))),
        ),
        (
            "remote replica added",
            edit(&|c| c.pods.push(web("web-4", "n2", "10.0.2.4"))),
        ),
        (
            "pod address changed",
            edit(&|c| {
                for p in &mut c.pods {
                    if p.name == "db-1" {
                        p.ips = vec![ip("10.0.1.22")];
                    }
                }
            }),
        ),
        (
            "pending pod got an address",
            edit(&|c| {
                for p in &mut c.pods {
                    if p.name == "db-2" {
                        p.ips = vec![ip("10.0.1.5")];
                    }
                }
            }),
        ),
        (
            "local pod removed",
            edit(&|c| c.pods.retain(|p| p.name != "db-1")),
        ),
        (
            "policy removed: chains and sets go",
            edit(&|c| c.policies.retain(|p| p.name != "allow-web")),
        ),
        (
            "everything removed",
            edit(&|c| {
                c.pods.clear();
                c.policies.clear();
            }),
        ),
    ];
    let old = compile(&base, "n1");
    for (label, cluster) in &cases {
        let new = compile(cluster, "n1");
        diff_on_top(&ns, label, &old, &new);
        diff_on_top(&ns, &format!("{label}, reversed"), &new, &old);
    }
}

/// Random clusters (IPv6, SCTP, port 0 and 65535, ranges, excepts, named ports...) load, list
/// back as written, and diff correctly between two of them.
#[test]
fn random_rulesets_load_and_diff() {
    let Some(ns) = Netns::for_test() else { return };
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    let result = runner.run(&(cluster(), cluster()), |((a, _), (b, _))| {
        for node in NODES {
            let (old, new) = (compile(&a, node), compile(&b, node));
            diff_on_top(&ns, node, &old, &new);
        }
        prop_assert!(true);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The kernel's own listing (`nft -j list ruleset`), interpreted by `kernel::verify`, agrees
/// with the engine for random clusters, with every compile option and several class masks; and
/// a flushed chain is caught.
#[test]
fn random_kernel_tables_verify_against_the_engine() {
    let Some(ns) = Netns::for_test() else { return };
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    let masks = [0xffff_0000u32, 0x00ff_0000, 0x0000_3fff];
    let count = std::cell::Cell::new(0usize);
    let result = runner.run(&cluster(), |(cluster, externals)| {
        let n = count.get() + 1;
        count.set(n);
        let options = palisade_nft::CompileOptions {
            log: n
                .is_multiple_of(2)
                .then(|| palisade_nft::LogOptions::new(5)),
            counters: n.is_multiple_of(3),
            guard_cidrs: Vec::new(),
            class_mask: palisade_nft::ClassMask::new(masks[n % masks.len()])
                .unwrap_or_else(|e| panic!("{e}")),
        };
        for node in NODES {
            let rs = palisade_nft::compile_with(&cluster, node, &options);
            // Counter objects list with their values, so no comparison with the script here.
            ns.load(&rs.to_nft())
                .unwrap_or_else(|e| panic!("nft rejected the script: {e}"));
            let json = ns
                .nft(&["-j", "list", "ruleset"])
                .unwrap_or_else(|e| panic!("{e}"));
            let kernel =
                palisade_nft::kernel::KernelRuleset::parse(&json).unwrap_or_else(|e| panic!("{e}"));
            let v = palisade_nft::kernel::verify(&cluster, &externals, node, &kernel);
            prop_assert!(v.verified(), "node {node}: {:#?}\n{}", v.drift, rs.to_nft());
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// A realistic ruleset (synthetic 2,000-pod cluster, 600 policies, 19 nodes) loads.
#[test]
fn synthetic_node_ruleset_loads() {
    let Some(ns) = Netns::for_test() else { return };
    let mut cluster = generate(SynthParams {
        namespaces: 10,
        pods: 2_000,
        policies: 600,
        seed: 7,
    });
    let nodes = 19;
    for (i, pod) in cluster.pods.iter_mut().enumerate() {
        if !pod.host_network {
            pod.node = Some(format!("node-{}", i % nodes));
        }
    }
    let rs = compile(&cluster, "node-3");
    assert!(rs.chains.len() > 5, "{:?}", rs.stats());
    load_whole(&ns, &rs);
}

/// Every number a cluster's policies and pods write, with its neighbours, plus the ends: each
/// port interval either the engine or the compiled rules can draw starts at one of them.
fn every_boundary(cluster: &Cluster) -> Vec<u16> {
    use palisade_core::model::{PortSpec, Ports};
    let mut numbers = std::collections::BTreeSet::from([0u16, 1, u16::MAX]);
    let mut add = |n: u16| {
        numbers.extend([n.saturating_sub(1), n, n.saturating_add(1)]);
    };
    for pod in &cluster.pods {
        pod.ports.iter().for_each(|p| add(p.port));
    }
    for policy in &cluster.policies {
        for rule in policy.ingress.iter().chain(&policy.egress).flatten() {
            if let Ports::OneOf(items) = &rule.ports {
                for item in items {
                    if let PortSpec::Range { first, last } = item.port {
                        add(first);
                        add(last);
                    }
                }
            }
        }
    }
    numbers.into_iter().collect()
}

/// The slow, complete check `kernel::verify` stands for: every endpoint pair crossing the node,
/// every family, every boundary port of every protocol and another protocol, the kernel's
/// decision against `eval::evaluate` (other protocols against `eval::side_ports`).
fn exhaustively_verified(
    cluster: &Cluster,
    externals: &[std::net::IpAddr],
    node: &str,
    kernel: &palisade_nft::kernel::KernelRuleset,
) -> bool {
    use palisade_core::eval::{Endpoint, Probe, evaluate, isolating_policies, side_ports};
    use palisade_core::model::{Direction, Protocol};
    use palisade_nft::{Decision, Packet, Transport};
    let endpoints: Vec<Endpoint> = (0..cluster.pods.len())
        .map(Endpoint::Pod)
        .chain(externals.iter().copied().map(Endpoint::External))
        .collect();
    let local = |e: Endpoint| match e {
        Endpoint::Pod(i) => {
            cluster.pods[i].node.as_deref() == Some(node) && !cluster.pods[i].host_network
        }
        Endpoint::External(_) => false,
    };
    let ips = |e: Endpoint| match e {
        Endpoint::Pod(i) => cluster.pods[i].ips.clone(),
        Endpoint::External(ip) => vec![ip],
    };
    let ports = every_boundary(cluster);
    for &from in &endpoints {
        for &to in &endpoints {
            if from == to
                || !(local(from) || local(to))
                || palisade_core::eval::same_node_host_traffic(cluster, from, to)
            {
                continue;
            }
            for v4 in [true, false] {
                let (Some(src), Some(dst)) = (
                    ips(from).into_iter().find(|ip| ip.is_ipv4() == v4),
                    ips(to).into_iter().find(|ip| ip.is_ipv4() == v4),
                ) else {
                    continue;
                };
                if src == dst {
                    continue;
                }
                let decide = |transport| {
                    kernel.decide(&Packet {
                        src,
                        dst,
                        transport,
                    })
                };
                for protocol in Protocol::ALL {
                    for &port in &ports {
                        let probe = Probe { protocol, port };
                        let v = evaluate(cluster, from, to, probe);
                        let want = (!local(from) || v.egress.allows())
                            && (!local(to) || v.ingress.allows());
                        let want = if want {
                            Decision::Accept
                        } else {
                            Decision::Drop
                        };
                        if decide(Transport::Port(probe)) != Ok(want) {
                            return false;
                        }
                    }
                }
                let side = |direction, subject: Endpoint, peer: Endpoint| {
                    let Endpoint::Pod(i) = subject else {
                        return true;
                    };
                    local(subject)
                        && !side_ports(
                            cluster,
                            direction,
                            subject,
                            &isolating_policies(cluster, i, direction),
                            peer,
                            to,
                        )
                        .is_all()
                };
                let denied = (local(from) && side(Direction::Egress, from, to))
                    || (local(to) && side(Direction::Ingress, to, from));
                let want = if denied {
                    Decision::Drop
                } else {
                    Decision::Accept
                };
                if decide(Transport::Other) != Ok(want) {
                    return false;
                }
            }
        }
    }
    true
}

/// `(chain, handle)` of every rule of `inet palisade`, in listing order.
fn rule_handles(ns: &Netns) -> Vec<(String, u64)> {
    let json = ns
        .nft(&["-a", "-j", "list", "table", "inet", "palisade"])
        .unwrap_or_else(|e| panic!("{e}"));
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    doc["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let rule = item.get("rule")?;
            Some((
                rule["chain"].as_str()?.to_string(),
                rule["handle"].as_u64()?,
            ))
        })
        .collect()
}

/// How a test changes the kernel's table behind the checker's back.
#[derive(Debug, Clone)]
enum Tamper {
    /// Delete a rule (one outside the base chain when there is one).
    Delete(String, u64),
    /// Put `tcp dport PORT return` at the head of a policy chain: a hole, or nothing new.
    Open(String, u16),
}

fn tampers(ns: &Netns, cluster: &Cluster, pick: &prop::sample::Index) -> Vec<Tamper> {
    let rules = rule_handles(ns);
    let inner: Vec<&(String, u64)> = rules.iter().filter(|(c, _)| c != "forward").collect();
    let mut out = Vec::new();
    if let Some((chain, handle)) = if inner.is_empty() {
        (!rules.is_empty()).then(|| pick.get(&rules))
    } else {
        Some(*pick.get(&inner))
    } {
        out.push(Tamper::Delete(chain.clone(), *handle));
    }
    let policy_chains: Vec<&String> = rules
        .iter()
        .map(|(c, _)| c)
        .filter(|c| c.starts_with("in-") || c.starts_with("eg-"))
        .collect();
    if !policy_chains.is_empty() {
        let ports = every_boundary(cluster);
        out.push(Tamper::Open(
            pick.get(&policy_chains).to_string(),
            *pick.get(&ports),
        ));
    }
    out
}

/// The representative check (`kernel::verify`: one address pair per key, one walk per port
/// interval) says "verified" exactly when the exhaustive one does, on the compiled table, with
/// a rule deleted behind its back, and with a hole opened: representatives lose nothing.
#[test]
fn representative_verify_agrees_with_the_exhaustive_check() {
    let Some(ns) = Netns::for_test() else { return };
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    let drifted = std::cell::Cell::new(0usize);
    let result = runner.run(
        &(cluster(), any::<prop::sample::Index>()),
        |((cluster, externals), pick)| {
            for node in NODES {
                let rs = compile(&cluster, node);
                let script = rs.to_nft();
                ns.load(&script)
                    .unwrap_or_else(|e| panic!("nft rejected the script: {e}"));
                let changes = tampers(&ns, &cluster, &pick);
                for tamper in std::iter::once(None).chain(changes.into_iter().map(Some)) {
                    ns.load(&script).unwrap_or_else(|e| panic!("{e}"));
                    match &tamper {
                        None => {}
                        Some(Tamper::Delete(chain, handle)) => {
                            ns.nft(&[
                                "delete",
                                "rule",
                                "inet",
                                "palisade",
                                chain,
                                "handle",
                                &handle.to_string(),
                            ])
                            .unwrap_or_else(|e| panic!("{e}"));
                        }
                        Some(Tamper::Open(chain, port)) => {
                            ns.nft(&[
                                "insert",
                                "rule",
                                "inet",
                                "palisade",
                                chain,
                                "tcp",
                                "dport",
                                &port.to_string(),
                                "return",
                            ])
                            .unwrap_or_else(|e| panic!("{e}"));
                        }
                    }
                    let json = ns
                        .nft(&["-j", "list", "ruleset"])
                        .unwrap_or_else(|e| panic!("{e}"));
                    let kernel = palisade_nft::kernel::KernelRuleset::parse(&json)
                        .unwrap_or_else(|e| panic!("{e}"));
                    let quick = palisade_nft::kernel::verify(&cluster, &externals, node, &kernel);
                    let full = exhaustively_verified(&cluster, &externals, node, &kernel);
                    if !full {
                        drifted.set(drifted.get() + 1);
                    }
                    prop_assert_eq!(
                        quick.verified(),
                        full,
                        "node {}, tampered {:?}: {:#?}\n{}",
                        node,
                        tamper,
                        quick.drift,
                        script
                    );
                }
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    // The changes must have made drift often enough for the agreement to mean something (about
    // one case in five has a policy chain that local pairs meet).
    assert!(drifted.get() >= 4, "only {} tables drifted", drifted.get());
}
