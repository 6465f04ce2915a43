//! Failure safety of the agent: while probes run without pause, the agent of a node is killed
//! with SIGKILL and started again (it must adopt the table the dead one left in the kernel).
//!
//! What must hold, for the bundled shop example on two lab nodes with one real
//! `palisade agent` per node:
//! - no denied pair ever gets through (the table stays in the kernel while no agent runs, and
//!   the restarted agent adopts it without a gap);
//! - established allowed connections (one cross-node, one same-node) keep carrying messages;
//! - new allowed connections keep succeeding.
//!
//! Needs root, `nft` and `ip`. Without them the test says so and passes, unless
//! `PALISADE_REQUIRE_KERNEL_TESTS=1`, which turns the skip into a failure.
//! Run it: `sudo cargo test -p palisade-cli --test restart -- --nocapture`.

mod common;

use std::time::{Duration, Instant};

use palisade_core::eval::Probe;
use palisade_core::load::Input;
use palisade_core::reach::Reachability;
use palisade_lab::{CommandEnforcer, LabConfig, RunningLab};

use common::probing::{INTERVAL, Pair, Run, lab_available, probe_through_restarts};
use common::workspace;

fn probe(s: &str) -> Probe {
    s.parse().expect("probe literal")
}

fn agent() -> CommandEnforcer {
    let exe = env!("CARGO_BIN_EXE_palisade");
    CommandEnforcer::new(
        "palisade agent",
        move |node| {
            let mut cmd = node.command(exe);
            cmd.args(["agent", "--node", &node.name, "--manifests"])
                .arg(&node.manifests_dir);
            cmd
        },
        palisade_agent::READY_MESSAGE,
    )
}

#[test]
fn killing_and_restarting_agents_never_opens_a_gap_nor_cuts_connections() {
    if !lab_available("restart test") {
        return;
    }
    let analysis = palisade_core::analyze(&[Input::Path(workspace().join("examples/shop"))]);
    assert_eq!(analysis.error_count(), 0, "{:?}", analysis.diagnostics);
    let config = LabConfig {
        nodes: 2,
        probes: vec![probe("tcp/8080"), probe("tcp/5432"), probe("udp/53")],
        // A leak shows up within a millisecond; an allowed connect under load needs more.
        timeout: Duration::from_millis(300),
        ..LabConfig::default()
    };
    let plan = palisade_lab::plan(&analysis.cluster, &config).expect("plan");
    let reach = Reachability::compute(&plan.cluster, &plan.externals);
    let enforcer = agent();
    let t = Instant::now();
    let lab = RunningLab::up(plan, &config, &enforcer).expect("lab up");
    eprintln!("lab {} up in {} ms", lab.prefix(), t.elapsed().as_millis());
    let names: Vec<String> = lab
        .plan()
        .endpoints
        .iter()
        .map(|e| e.name.clone())
        .collect();
    let pods = lab.plan().cluster.pods.len();

    // Every ordered pair of distinct pods, for every probe, classified by the engine.
    let mut pairs = Vec::new();
    for &p in &config.probes {
        for from in 0..pods {
            for to in (0..pods).filter(|&to| to != from) {
                pairs.push(Pair {
                    from,
                    to,
                    probe: p,
                    allowed: reach.allowed(from, to, p),
                    cross_node: lab.node_of(from) != lab.node_of(to),
                });
            }
        }
    }
    let count = |allowed: bool, cross: bool| {
        pairs
            .iter()
            .filter(|p| p.allowed == allowed && p.cross_node == cross)
            .count()
    };
    eprintln!(
        "pairs: allowed {} same-node + {} cross-node, denied {} same-node + {} cross-node",
        count(true, false),
        count(true, true),
        count(false, false),
        count(false, true)
    );
    assert!(
        count(true, false) > 0 && count(true, true) > 0,
        "need allowed pairs of both kinds"
    );
    assert!(
        count(false, false) > 0 && count(false, true) > 0,
        "need denied pairs of both kinds"
    );

    // Before anything happens, the lab must agree with the engine, or the rest means nothing.
    let before: Vec<String> = std::thread::scope(|s| {
        let threads: Vec<_> = pairs
            .iter()
            .map(|pair| {
                let (lab, names) = (&lab, &names);
                s.spawn(move || {
                    let outcome = lab.probe_once(pair.from, pair.to, pair.probe);
                    (outcome.observed() != Some(pair.allowed)).then(|| {
                        format!(
                            "{} {} -> {}: {outcome}",
                            pair.probe, names[pair.from], names[pair.to]
                        )
                    })
                })
            })
            .collect();
        threads
            .into_iter()
            .filter_map(|t| t.join().expect("probe thread"))
            .collect()
    });
    assert!(
        before.is_empty(),
        "before any restart:\n{}",
        before.join("\n")
    );

    // Held connections: frontend -> backend (cross-node) and backend -> postgres (same node).
    let endpoint = |name: &str| {
        lab.endpoint(name)
            .unwrap_or_else(|| panic!("no endpoint {name}"))
    };
    let (frontend, backend, postgres) = (
        endpoint("production/frontend"),
        endpoint("production/backend"),
        endpoint("production/postgres"),
    );
    let held_pairs = [(frontend, backend, 8080), (backend, postgres, 5432)];
    let Run {
        tally,
        helds,
        restarts,
        chaos,
        elapsed,
    } = probe_through_restarts(&lab, &names, &pairs, &held_pairs);
    let health = lab.check_enforcers();
    let teardown = lab.down().expect("teardown");

    eprintln!(
        "{} ms of probing: {} probes of allowed pairs, {} of denied pairs ({} pairs, \
         one probe per pair in flight, {} ms apart)",
        elapsed.as_millis(),
        tally.sent_allowed,
        tally.sent_denied,
        pairs.len(),
        INTERVAL.as_millis()
    );
    for (node, r) in &restarts {
        eprintln!(
            "restart of node-{}'s agent: SIGKILL reaped in {} ms, 150 ms without agent, new agent ready in {} ms",
            node + 1,
            r.killed.as_millis(),
            r.ready.as_millis()
        );
    }
    for h in &helds {
        eprintln!(
            "held {}: {} messages echoed, slowest {} ms, {}",
            h.name,
            h.messages,
            h.slowest.as_millis(),
            h.failure.as_deref().unwrap_or("never failed")
        );
    }
    eprintln!(
        "leaks (denied pairs through): {}, allowed probes failed: {}, errors: {}; teardown {} ms",
        tally.leaks.len(),
        tally.failures.len(),
        tally.errors.len(),
        teardown.as_millis()
    );
    chaos.expect("killing and restarting agents");
    health.expect("agents healthy after the restarts");
    assert_eq!(restarts.len(), 3);
    assert!(
        tally.leaks.is_empty(),
        "denied pairs got through:\n{}",
        tally.leaks.join("\n")
    );
    for h in &helds {
        assert_eq!(h.failure, None, "held connection {} was cut", h.name);
        assert!(h.messages > 20, "held connection {} barely ran", h.name);
    }
    assert!(
        tally.failures.is_empty(),
        "allowed probes failed:\n{}",
        tally.failures.join("\n")
    );
    assert!(
        tally.errors.is_empty(),
        "probe errors:\n{}",
        tally.errors.join("\n")
    );
}
