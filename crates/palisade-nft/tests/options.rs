//! `compile_with` options: the nflog rule and its prefix, named counters, and the fail-closed
//! guard, through the interpreter, the diff and the real kernel (throwaway namespaces; skipped
//! without root or nft, see `common::kernel`).

mod common;

use std::net::IpAddr;

use common::example;
use common::kernel::{Netns, normalize, script_table};
use palisade_core::eval::Probe;
use palisade_core::model::{Cluster, Direction, Protocol};
use palisade_nft::{
    CompileOptions, CounterDef, Decision, LogOptions, Packet, Ruleset, Transport, compile,
    compile_with, diff, parse_log_prefix,
};
use palisade_test_support::builders::{ip, mk_pod};

fn all_options(cidrs: &[&str]) -> CompileOptions {
    CompileOptions {
        log: Some(LogOptions::new(100)),
        counters: true,
        guard_cidrs: cidrs
            .iter()
            .map(|c| c.parse().unwrap_or_else(|e| panic!("{c}: {e}")))
            .collect(),
        class_mask: palisade_nft::ClassMask::DEFAULT,
    }
}

fn tcp(src: &str, dst: &str, port: u16) -> Packet {
    Packet {
        src: ip(src),
        dst: ip(dst),
        transport: Transport::Port(Probe {
            protocol: Protocol::Tcp,
            port,
        }),
    }
}

/// `example()` with production/db-2 (pending on n1, isolated by production/default-deny)
/// given an address: nothing isolated is pending any more.
fn db2_running(mut cluster: Cluster) -> Cluster {
    for pod in &mut cluster.pods {
        if pod.key() == "production/db-2" {
            pod.ips = vec![ip("10.0.1.3")];
        }
    }
    cluster
}

/// The guard for new pods: "a new local pod in a namespace where policies isolate it must
/// not get traffic the policies deny before its rules are in place". Pod addresses come from
/// the node's pod CIDR; an address of it that no known pod owns may be the pending pod's.
#[test]
fn guard_drops_unknown_pod_cidr_addresses_only_while_an_isolated_pod_is_pending() {
    let cluster = example();
    let armed = compile_with(&cluster, "n1", &all_options(&["10.0.1.0/24"]));
    let plain = compile(&cluster, "n1");
    let guard = armed.guard.as_ref().expect("guard configured");
    assert_eq!(guard.pending_isolated, ["production/db-2"]);

    let cases = [
        // (label, packet, armed decision)
        (
            "unknown pod-CIDR source",
            tcp("10.0.1.77", "10.0.2.9", 80),
            Decision::Drop,
        ),
        (
            "unknown pod-CIDR destination",
            tcp("10.0.2.9", "10.0.1.77", 80),
            Decision::Drop,
        ),
        (
            "external to unknown",
            tcp("192.0.2.1", "10.0.1.78", 443),
            Decision::Drop,
        ),
        (
            "outside the CIDR is not guarded",
            tcp("10.0.3.5", "10.0.2.9", 80),
            Decision::Accept,
        ),
    ];
    for (label, packet, want) in cases {
        assert_eq!(armed.decide(&packet), want, "armed: {label}");
        assert_eq!(plain.decide(&packet), Decision::Accept, "no guard: {label}");
    }
    // Known pods keep exactly their policy verdicts.
    let known = ["10.0.1.1", "10.0.1.2", "10.0.2.1", "10.0.2.9", "192.0.2.1"];
    for src in known {
        for dst in known {
            for port in [80, 5432, 9090] {
                let packet = tcp(src, dst, port);
                assert_eq!(
                    armed.decide(&packet),
                    plain.decide(&packet),
                    "{src} -> {dst} port {port}"
                );
            }
        }
    }

    // Once db-2 has its address, nothing isolated is pending: the guard is disarmed.
    let running = db2_running(cluster.clone());
    let disarmed = compile_with(&running, "n1", &all_options(&["10.0.1.0/24"]));
    assert!(!disarmed.guard.as_ref().expect("guard configured").armed());
    assert_eq!(
        disarmed.decide(&tcp("10.0.1.77", "10.0.2.9", 80)),
        Decision::Accept
    );

    // A pending pod that no policy isolates does not arm it (monitoring has no policies).
    let mut other = running;
    other.pods.push(mk_pod("monitoring", "new", |p| {
        p.node = Some("n1".into());
    }));
    let not_armed = compile_with(&other, "n1", &all_options(&["10.0.1.0/24"]));
    assert!(!not_armed.guard.as_ref().expect("guard configured").armed());

    // Without guard CIDRs nothing changes at all.
    let no_cidrs = CompileOptions {
        guard_cidrs: Vec::new(),
        ..all_options(&[])
    };
    assert!(compile_with(&cluster, "n1", &no_cidrs).guard.is_none());
    assert_eq!(
        compile_with(&cluster, "n1", &CompileOptions::default()),
        plain
    );
}

#[test]
fn arming_and_disarming_the_guard_is_an_element_update() {
    let options = all_options(&["10.0.1.0/24", "fd00::1:0/112"]);
    let armed = compile_with(&example(), "n1", &options);
    let disarmed = compile_with(&db2_running(example()), "n1", &options);
    for (label, old, new) in [("disarm", &armed, &disarmed), ("arm", &disarmed, &armed)] {
        let d = diff(old, new);
        assert!(!d.is_replacement(), "{label}:\n{}", d.to_nft());
        assert_eq!(&d.apply(old), new, "{label}");
        let script = d.to_nft();
        let verb = if label == "arm" { "add" } else { "delete" };
        assert!(
            script.contains(&format!(
                "{verb} element inet palisade guard-net4 {{\n\t10.0.1.0/24\n}}"
            )),
            "{label}:\n{script}"
        );
    }
    // Turning the guard on or off changes the base chain: only a full load can.
    let without = compile_with(&example(), "n1", &all_options(&[]));
    assert!(diff(&without, &armed).is_replacement());
}

/// `example()` with one more isolated pod on n1.
fn with_new_pod(mut cluster: Cluster) -> Cluster {
    cluster.pods.push(mk_pod("production", "web-3", |p| {
        p.labels = palisade_test_support::builders::labels(&[("app", "web")]);
        p.ips = vec![ip("10.0.1.9")];
        p.node = Some("n1".into());
    }));
    cluster
}

#[test]
fn pod_churn_updates_the_counter_maps_in_place() {
    let options = all_options(&["10.0.1.0/24"]);
    let old = compile_with(&example(), "n1", &options);
    let new = compile_with(&with_new_pod(example()), "n1", &options);
    for (label, a, b) in [("pod added", &old, &new), ("pod removed", &new, &old)] {
        let d = diff(a, b);
        assert!(!d.is_replacement(), "{label}:\n{}", d.to_nft());
        assert_eq!(&d.apply(a), b, "{label}");
    }
    let script = diff(&old, &new).to_nft();
    for want in [
        "add counter inet palisade drops-production-web-3-",
        "add element inet palisade ingress-drops4 {\n\t10.0.1.9 : \"drops-production-web-3-",
    ] {
        assert!(script.contains(want), "{want} in\n{script}");
    }
    let back = diff(&new, &old).to_nft();
    let (elements, counter) = (
        back.find("delete element inet palisade ingress-drops4"),
        back.find("delete counter inet palisade drops-production-web-3-"),
    );
    assert!(
        matches!((elements, counter), (Some(e), Some(c)) if e < c),
        "the element goes before its counter:\n{back}"
    );
}

#[test]
fn counters_map_back_to_policy_rules() {
    let rs = compile_with(&example(), "n1", &all_options(&["10.0.1.0/24"]));
    let mut defs: Vec<String> = rs.counters.values().map(CounterDef::comment).collect();
    defs.sort();
    // Every allow rule of every policy isolating an n1 pod, a deny counter per isolating
    // policy and direction, and the guard's two.
    for want in [
        "deny production/default-deny ingress",
        "guard egress",
        "guard ingress",
    ] {
        assert!(defs.iter().any(|d| d == want), "{want} in {defs:#?}");
    }
    assert!(
        defs.iter()
            .any(|d| d.starts_with("allow production/allow-web ingress[")),
        "{defs:#?}"
    );
    // Every counter a rule names exists, and every counter is used.
    let mut used = std::collections::BTreeSet::new();
    for chain in rs.chains.values() {
        for rule in &chain.rules {
            for name in &rule.counters {
                assert!(rs.counters.contains_key(name), "{name}");
                used.insert(name.clone());
            }
        }
    }
    let pod_counters = rs
        .pod_counters
        .as_ref()
        .expect("counter maps with counters");
    for name in pod_counters.values() {
        assert!(
            matches!(rs.counters.get(name), Some(CounterDef::PodDenied { .. })),
            "{name}"
        );
        used.insert(name.clone());
    }
    assert_eq!(used.len(), rs.counters.len());
    // Every isolated local address has its pod's counter in the map of its direction.
    for (kind, map) in [
        (palisade_nft::MapKind::Egress, &rs.egress),
        (palisade_nft::MapKind::Ingress, &rs.ingress),
    ] {
        for (ip, entry) in map {
            let name = pod_counters.get(&(kind, *ip)).expect("a pod counter");
            let Some(CounterDef::PodDenied { namespace, pod, .. }) = rs.counters.get(name) else {
                panic!("{name}");
            };
            assert_eq!(format!("{namespace}/{pod}"), entry.pod);
        }
    }
}

#[test]
fn log_prefixes_name_the_dropping_chain_and_its_direction() {
    let rs = compile_with(&example(), "n1", &all_options(&["10.0.1.0/24"]));
    let mut logged = 0;
    for (name, chain) in &rs.chains {
        let logs: Vec<_> = chain.rules.iter().filter_map(|r| r.log.as_ref()).collect();
        assert_eq!(logs.len(), 1, "{name}: one log rule");
        let Some(log) = logs.first() else { continue };
        // iptables' NFLOG and ulogd cap prefixes at 64 bytes; stay inside that.
        assert!(log.prefix.len() < 64, "{}", log.prefix);
        let source = parse_log_prefix(&log.prefix).expect("palisade prefix");
        assert_eq!(&source.chain, name);
        let in_egress = rs.egress.values().any(|e| &e.chain == name);
        let in_ingress = rs.ingress.values().any(|e| &e.chain == name);
        let want = if source.guard {
            if name.ends_with("egress") {
                Direction::Egress
            } else {
                Direction::Ingress
            }
        } else if in_egress {
            Direction::Egress
        } else {
            assert!(in_ingress, "{name} is used");
            Direction::Ingress
        };
        assert_eq!(source.direction, want, "{name}");
        // The log rule comes right before the final drop.
        let n = chain.rules.len();
        assert!(n >= 2 && chain.rules[n - 2].log.is_some(), "{name}");
        logged += 1;
    }
    assert!(logged >= 3, "{logged}");
    assert_eq!(parse_log_prefix("someone else"), None);
    assert_eq!(parse_log_prefix("palisade p4-x"), None);
}

/// The kernel's listing without counter objects' values (`packets 0 bytes 0`), which the
/// script does not write.
fn listing(ns: &Netns) -> String {
    let text = normalize(&ns.list());
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("packets "))
        .collect();
    lines.join("\n") + "\n"
}

fn load_whole(ns: &Netns, rs: &Ruleset) -> String {
    let script = rs.to_nft();
    ns.load(&script)
        .unwrap_or_else(|e| panic!("nft rejected the script: {e}\n{script}"));
    let listed = listing(ns);
    assert_eq!(
        listed,
        normalize(&script_table(&script)),
        "the kernel holds something else than the script says"
    );
    listed
}

/// The options' statements load (log group, limit, counter objects, the guard) and list back
/// as written; arming and disarming by diff leaves what a full load leaves.
#[test]
fn kernel_accepts_every_option_and_the_guard_diffs() {
    let Some(ns) = Netns::for_test() else { return };
    let options = all_options(&["10.0.1.0/24", "fd00::1:0/112"]);
    let armed = compile_with(&example(), "n1", &options);
    let disarmed = compile_with(&db2_running(example()), "n1", &options);
    let grown = compile_with(&with_new_pod(db2_running(example())), "n1", &options);
    for (label, old, new) in [
        ("disarm", &armed, &disarmed),
        ("arm", &disarmed, &armed),
        ("pod added", &disarmed, &grown),
        ("pod removed", &grown, &disarmed),
    ] {
        load_whole(&ns, old);
        let script = diff(old, new).to_nft();
        ns.load(&script)
            .unwrap_or_else(|e| panic!("{label}: nft rejected the diff: {e}\n{script}"));
        let updated = listing(&ns);
        assert_eq!(updated, load_whole(&ns, new), "{label}:\n{script}");
    }
    let json = ns
        .nft(&["-j", "list", "counters", "table", "inet", "palisade"])
        .unwrap_or_else(|e| panic!("{e}"));
    for (name, def) in &armed.counters {
        let comment = def.comment();
        assert!(
            json.contains(&format!("\"name\": \"{name}\"")) && json.contains(&comment),
            "{name} ({comment}) in {json}"
        );
    }
    let addresses: Vec<IpAddr> = armed.ingress.keys().copied().collect();
    assert!(!addresses.is_empty());
}

/// Figures for docs/observability.md: what the options cost at 10,000 pods / 3,000 policies
/// (one node of 50). Ignored by default (a few seconds); run with
/// `cargo test -p palisade-nft --test options -- --ignored --nocapture`.
#[test]
#[ignore]
fn options_at_scale() {
    use palisade_test_support::synth::{SynthParams, generate};
    let Some(ns) = Netns::for_test() else { return };
    let mut cluster = generate(SynthParams {
        namespaces: 50,
        pods: 10_000,
        policies: 3_000,
        seed: 11,
    });
    let nodes = 50;
    for (i, pod) in cluster.pods.iter_mut().enumerate() {
        if !pod.host_network {
            pod.node = Some(format!("node-{}", i % nodes));
        }
    }
    let options = all_options(&["10.0.0.0/8"]);
    for (label, rs) in [
        ("plain", compile(&cluster, "node-3")),
        (
            "log+counters+guard",
            compile_with(&cluster, "node-3", &options),
        ),
    ] {
        let script = rs.to_nft();
        let t = std::time::Instant::now();
        ns.load(&script).unwrap_or_else(|e| panic!("{label}: {e}"));
        let load = t.elapsed();
        let t = std::time::Instant::now();
        let json = ns
            .nft(&["-j", "list", "counters", "table", "inet", "palisade"])
            .unwrap_or_else(|e| panic!("{e}"));
        let read = t.elapsed();
        eprintln!(
            "{label}: {:?}; {} counter objects; script {} KiB; load {} ms; list counters {} ms ({} KiB)",
            rs.stats(),
            rs.counters.len(),
            script.len() / 1024,
            load.as_millis(),
            read.as_millis(),
            json.len() / 1024
        );
    }
}
