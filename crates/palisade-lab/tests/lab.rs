//! The lab against the real kernel (root only; each test skips with a message otherwise).
//!
//! What must hold: the topology leaves nothing behind; with no enforcer every pair gets through
//! on TCP, UDP and (raw) SCTP; a hand-written nft rule blocks exactly the pairs it names and the
//! report lists exactly those as disagreements; a panic mid-run still removes everything.

mod common;

use std::sync::Mutex;
use std::time::Instant;

use palisade_core::model::Cluster;
use palisade_lab::report::{BlockReason, Outcome, VerifiedBy};
use palisade_lab::topology::Topology;
use palisade_lab::{
    CommandEnforcer, Enforcer, EnforcerError, LabError, LabReport, NftEnforcer, NoEnforcer,
    NodeHandle, RunningEnforcer, names::RunNames, plan, run,
};
use palisade_test_support::builders::mk_pod;
use palisade_test_support::truth_table;

use common::*;

fn assert_all(report: &LabReport, allowed: bool) {
    for table in &report.tables {
        for (i, row) in table.allowed().iter().enumerate() {
            for (j, &cell) in row.iter().enumerate() {
                assert_eq!(
                    cell,
                    allowed,
                    "{} {} -> {}\n{}",
                    table.probe,
                    report.endpoints[i],
                    report.endpoints[j],
                    report.render_table()
                );
            }
        }
    }
}

#[test]
fn topology_up_and_down_leaves_nothing() {
    if !lab_available("topology_up_and_down_leaves_nothing") {
        return;
    }
    // Six pods over two nodes, one external: the size the setup time is quoted for.
    let mut cluster = four_pods(["", "", "", ""]);
    cluster.pods.push(mk_pod("z", "a", |_| {}));
    cluster.pods.push(mk_pod("z", "b", |_| {}));
    let config = config(&["tcp/80"], &["192.0.2.10"]);
    let plan = plan(&cluster, &config).expect("plan");
    let names = RunNames::fresh(&palisade_lab::netns::list());
    let prefix = names.prefix();
    let started = Instant::now();
    let mut topology = Topology::build(&plan, names).expect("topology");
    let built = started.elapsed();
    // fabric + 2 nodes + 6 pods + 1 external
    assert_eq!(leftovers(&prefix).len(), 10, "{:?}", leftovers(&prefix));
    // Every link name fits IFNAMSIZ, or `ip` would have failed above; links exist where planned.
    let out = std::process::Command::new("ip")
        .args(["-n", &topology.node_netns[0], "-o", "link", "show"])
        .output()
        .expect("ip link");
    let links = String::from_utf8_lossy(&out.stdout);
    assert!(links.contains(&format!("{prefix}u1")), "{links}");
    let started = Instant::now();
    topology.remove().expect("teardown");
    eprintln!(
        "topology for 6 pods, 2 nodes, 1 external: up {} ms, down {} ms",
        built.as_millis(),
        started.elapsed().as_millis()
    );
    assert_eq!(leftovers(&prefix), Vec::<String>::new());
}

#[test]
fn no_enforcer_lets_every_pair_through() {
    if !lab_available("no_enforcer_lets_every_pair_through") {
        return;
    }
    let cluster = four_pods(["", "", "", ""]);
    let config = config(&["tcp/80", "udp/53", "sctp/9"], &["192.0.2.10"]);
    let report = run(&cluster, &config, &NoEnforcer).expect("lab run");
    eprintln!("{}", report.render_table());
    assert_eq!(report.endpoints, ["x/a", "x/b", "y/a", "y/b", "192.0.2.10"]);
    // Round robin in cluster order puts x/a and y/a on node-1, the b pods on node-2.
    let nodes: Vec<_> = report
        .cluster
        .pods
        .iter()
        .map(|p| p.node.clone().unwrap_or_default())
        .collect();
    assert_eq!(nodes, ["node-1", "node-2", "node-1", "node-2"]);
    assert_all(&report, true);
    assert!(report.passed(), "{}", report.render_table());
    let sctp = report.tables.iter().find(|t| t.probe == probe("sctp/9"));
    assert_eq!(sctp.map(|t| t.verified_by), Some(VerifiedBy::RawPackets));
    // The rendered tables are an `expected.txt` of their own.
    let parsed = truth_table::parse(&report.render_tables()).expect("rendered tables parse");
    assert_eq!(parsed.externals, ["192.0.2.10"]);
    for ((name, table), observed) in parsed.tables.iter().zip(&report.tables) {
        assert_eq!(name, &palisade_lab::report::probe_name(observed.probe));
        assert_eq!(table.cells, observed.allowed());
    }
    let json = report.to_json();
    assert_eq!(json["endpoints"][4], "192.0.2.10");
    assert_eq!(json["probes"][1]["protocol"], "UDP");
    assert_eq!(json["probes"][1]["port"], 53);
    assert_eq!(json["probes"][1]["allowed"][3][0], true);
    assert_eq!(leftovers(&report.run_prefix), Vec::<String>::new());
}

/// Drops on node-1: TCP 80 to x/a. On node-2: UDP 53 from y/b, SCTP 9 to x/b.
fn hand_written_rules(report_ips: &Cluster) -> NftEnforcer {
    let ip_of = |key: &str| {
        report_ips
            .pods
            .iter()
            .find(|p| p.key() == key)
            .and_then(|p| p.ips.first())
            .map(ToString::to_string)
            .expect("pod IP")
    };
    let table = |rules: String| {
        format!(
            "table inet labtest {{\n  chain filter_forward {{\n    \
             type filter hook forward priority 0;\n{rules}  }}\n}}\n"
        )
    };
    let node1 = table(format!("    ip daddr {} tcp dport 80 drop\n", ip_of("x/a")));
    let node2 = table(format!(
        "    ip saddr {} udp dport 53 drop\n    ip daddr {} sctp dport 9 drop\n",
        ip_of("y/b"),
        ip_of("x/b")
    ));
    NftEnforcer::new([("node-1".to_string(), node1), ("node-2".to_string(), node2)])
}

#[test]
fn nft_drop_rules_block_exactly_the_named_pairs() {
    if !lab_available("nft_drop_rules_block_exactly_the_named_pairs") {
        return;
    }
    let cluster = four_pods(["10.1.0.10", "10.1.0.11", "10.2.0.10", ""]);
    let config = config(&["tcp/80", "udp/53", "sctp/9", "tcp/443"], &["192.0.2.10"]);
    let laid_out = plan(&cluster, &config).expect("plan");
    let report = run(&cluster, &config, &hand_written_rules(&laid_out.cluster)).expect("lab run");
    eprintln!("{}", report.render_table());
    let (xa, xb, yb) = (0, 1, 3);
    let expect = |name: &str, blocked: &dyn Fn(usize, usize) -> bool| {
        let table = report
            .tables
            .iter()
            .find(|t| t.probe == probe(name))
            .expect("table");
        for (i, row) in table.allowed().iter().enumerate() {
            for (j, &allowed) in row.iter().enumerate() {
                assert_eq!(
                    allowed,
                    !blocked(i, j),
                    "{name} {} -> {}\n{}",
                    report.endpoints[i],
                    report.endpoints[j],
                    report.render_table()
                );
            }
        }
    };
    // Self traffic never leaves the pod's namespace, so the diagonal stays allowed.
    expect("tcp/80", &|i, j| j == xa && i != xa);
    expect("udp/53", &|i, j| i == yb && j != yb);
    expect("sctp/9", &|i, j| j == xb && i != xb);
    expect("tcp/443", &|_, _| false);
    // No policies: the prediction is all-allowed, so the disagreements are exactly the drops.
    let n = report.endpoints.len();
    assert_eq!(
        report.disagreements.len(),
        3 * (n - 1),
        "{:#?}",
        report.disagreements
    );
    assert!(report.disagreements.iter().all(|d| d.predicted));
    let tcp_blocked = report
        .disagreements
        .iter()
        .find(|d| d.probe == probe("tcp/80"))
        .expect("a tcp disagreement");
    assert_eq!(
        tcp_blocked.observed,
        Outcome::Blocked(BlockReason::TimedOut)
    );
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert!(!report.passed());
    assert_eq!(leftovers(&report.run_prefix), Vec::<String>::new());
}

#[test]
fn dual_stack_and_host_network_endpoints_are_probed_per_family() {
    if !lab_available("dual_stack_and_host_network_endpoints_are_probed_per_family") {
        return;
    }
    let mut cluster = four_pods(["", "", "", ""]);
    cluster.pods.push(mk_pod("z", "host", |p| {
        p.host_network = true;
        p.node = Some("node-2".to_string());
    }));
    // An IPv6 external makes the cluster dual stack: allocated pods get both families.
    let config = config(&["tcp/8080", "udp/8080"], &["192.0.2.10", "2001:db8::10"]);
    let report = run(&cluster, &config, &NoEnforcer).expect("lab run");
    eprintln!("{}", report.render_table());
    let xa = &report.cluster.pods[0];
    assert_eq!(xa.ips.len(), 2, "{:?}", xa.ips);
    let host = &report.cluster.pods[4];
    assert_eq!(host.node.as_deref(), Some("node-2"));
    assert_eq!(host.ips, report.nodes[1].ips);
    // Pod to pod: both families tried.
    let cell = &report.tables[0].cells[0][1];
    assert_eq!(cell.attempts.len(), 2, "{cell:?}");
    // Every pair sharing a family gets through; the two externals share none and are reported
    // as not testable rather than passed.
    let (v4_ext, v6_ext) = (5, 6);
    for table in &report.tables {
        for (i, row) in table.cells.iter().enumerate() {
            for (j, cell) in row.iter().enumerate() {
                let untestable = (i, j) == (v4_ext, v6_ext) || (i, j) == (v6_ext, v4_ext);
                let want = if untestable { None } else { Some(true) };
                assert_eq!(cell.observed(), want, "{} {i} -> {j}", table.probe);
            }
        }
    }
    assert_eq!(report.problems.len(), 4, "{:#?}", report.problems);
    assert!(
        report
            .problems
            .iter()
            .all(|p| matches!(p.outcome, Outcome::NotTestable(_)))
    );
    assert!(
        report.disagreements.is_empty(),
        "{:#?}",
        report.disagreements
    );
    assert!(!report.passed(), "untestable pairs never count as passed");
    assert_eq!(leftovers(&report.run_prefix), Vec::<String>::new());
}

/// Records the namespaces it was given, then panics like a buggy agent wrapper.
#[derive(Default)]
struct PanickingEnforcer {
    seen: Mutex<Vec<String>>,
}

impl Enforcer for PanickingEnforcer {
    fn describe(&self) -> String {
        "panics".into()
    }

    fn start_node(
        &self,
        node: &NodeHandle,
        _cluster: &Cluster,
    ) -> Result<Box<dyn RunningEnforcer>, EnforcerError> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(node.netns.clone());
        }
        assert!(node.manifests_dir.join("cluster.json").exists());
        panic!("enforcer blew up on {}", node.name);
    }
}

#[test]
fn a_panic_mid_run_still_removes_everything() {
    if !lab_available("a_panic_mid_run_still_removes_everything") {
        return;
    }
    let enforcer = PanickingEnforcer::default();
    let cluster = four_pods(["", "", "", ""]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(&cluster, &config(&["tcp/80"], &[]), &enforcer)
    }));
    assert!(result.is_err(), "the enforcer's panic must propagate");
    let seen = enforcer.seen.lock().map(|s| s.clone()).unwrap_or_default();
    let prefix = seen
        .first()
        .and_then(|ns| ns.rsplit_once('-'))
        .map(|(p, _)| format!("{p}-"))
        .expect("the enforcer saw a node");
    assert_eq!(leftovers(&prefix), Vec::<String>::new());
    let id = prefix.trim_start_matches("pl-").trim_end_matches('-');
    assert!(
        !std::path::Path::new(palisade_lab::names::RUN_DIR)
            .join(id)
            .exists()
    );
}

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .map(|c| String::from_utf8_lossy(&c).contains(marker))
                        .unwrap_or(false)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn command_enforcer_runs_in_the_node_namespace_and_is_stopped() {
    if !lab_available("command_enforcer_runs_in_the_node_namespace_and_is_stopped") {
        return;
    }
    // A stand-in for `palisade agent`: loads rules into the namespace it runs in, says ready,
    // then stays up. Blocking observed on node-1's pods proves it ran in node-1's namespace.
    let marker = "61.98765";
    let cluster = four_pods(["10.1.0.10", "10.1.0.11", "10.2.0.10", "10.2.0.11"]);
    let agent = CommandEnforcer::new(
        "fake agent",
        move |node: &NodeHandle| {
            let rules = if node.name == "node-1" {
                "table inet fake { chain f { type filter hook forward priority 0; ip daddr 10.1.0.10 tcp dport 80 drop; }; }"
            } else {
                ""
            };
            let mut cmd = node.command("sh");
            cmd.args([
                "-c",
                &format!("test -f \"$1/cluster.json\" || exit 9; echo \"{rules}\" | nft -f - && echo agent ready && exec sleep {marker}"),
                "sh",
            ])
            .arg(&node.manifests_dir);
            cmd
        },
        "agent ready",
    );
    let report = run(&cluster, &config(&["tcp/80"], &[]), &agent).expect("lab run");
    let blocked: Vec<(usize, usize)> = report.tables[0]
        .allowed()
        .iter()
        .enumerate()
        .flat_map(|(i, row)| {
            row.iter()
                .enumerate()
                .filter(|(_, a)| !**a)
                .map(move |(j, _)| (i, j))
        })
        .collect();
    assert_eq!(
        blocked,
        vec![(1, 0), (2, 0), (3, 0)],
        "{}",
        report.render_table()
    );
    assert_eq!(
        processes_with(marker),
        Vec::<u32>::new(),
        "the agents were stopped"
    );

    // An agent that dies before it is ready fails the run with its own words.
    let broken = CommandEnforcer::new(
        "broken agent",
        |node: &NodeHandle| {
            let mut cmd = node.command("sh");
            cmd.args(["-c", "echo cannot parse manifests >&2; exit 3"]);
            cmd
        },
        "agent ready",
    );
    match run(&cluster, &config(&["tcp/80"], &[]), &broken) {
        Err(LabError::Enforcer { node, message }) => {
            assert!(node.starts_with("node-"), "{node}");
            assert!(message.contains("exited before it was ready"), "{message}");
            assert!(message.contains("cannot parse manifests"), "{message}");
        }
        other => panic!("expected an enforcer error, got {other:?}"),
    }
}
