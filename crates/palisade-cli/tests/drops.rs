//! Drop attribution in the lab, with one real `palisade agent` per node: every denied probe of
//! the bundled shop example is reported by the agent of the node that dropped it, with the
//! source and destination pods, protocol, port, direction, and the policies `evaluate` names
//! for the denying side.
//!
//! Needs root, `nft` and `ip`. Without them the test says so and passes, unless
//! `PALISADE_REQUIRE_KERNEL_TESTS=1`, which turns the skip into a failure.
//! Run it: `sudo cargo test -p palisade-cli --test drops -- --nocapture`.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use palisade_core::eval::Probe;
use palisade_core::load::Input;
use palisade_core::reach::Reachability;
use palisade_lab::{CommandEnforcer, LabConfig, RunningLab};

use common::drop_events::{Expected, as_expected, drop_events, events_file, expected_drop};
use common::probing::lab_available;
use common::workspace;

fn agent(dir: PathBuf) -> CommandEnforcer {
    let exe = env!("CARGO_BIN_EXE_palisade");
    CommandEnforcer::new(
        "palisade agent",
        move |node| {
            let mut cmd = node.command(exe);
            cmd.args(["agent", "--node", &node.name, "--manifests"])
                .arg(&node.manifests_dir)
                .arg("--drop-events")
                .arg(events_file(&dir, &node.name))
                .args(["--metrics-address", "off"]);
            cmd
        },
        palisade_agent::READY_MESSAGE,
    )
}

#[test]
fn every_denied_probe_is_reported_with_its_pods_port_direction_and_policies() {
    if !lab_available("drops test") {
        return;
    }
    let analysis = palisade_core::analyze(&[Input::Path(workspace().join("examples/shop"))]);
    assert_eq!(analysis.error_count(), 0, "{:?}", analysis.diagnostics);
    let probes: Vec<Probe> = ["tcp/8080", "tcp/5432", "udp/53"]
        .iter()
        .map(|p| p.parse().expect("probe literal"))
        .collect();
    let config = LabConfig {
        nodes: 2,
        probes: probes.clone(),
        timeout: Duration::from_millis(300),
        ..LabConfig::default()
    };
    let plan = palisade_lab::plan(&analysis.cluster, &config).expect("plan");
    let reach = Reachability::compute(&plan.cluster, &plan.externals);
    let dir = tempfile::tempdir().expect("tempdir");
    let enforcer = agent(dir.path().to_path_buf());
    let lab = RunningLab::up(plan, &config, &enforcer).expect("lab up");
    let cluster = lab.plan().cluster.clone();
    let names: Vec<String> = lab
        .plan()
        .endpoints
        .iter()
        .map(|e| e.name.clone())
        .collect();
    let pods = cluster.pods.len();

    let mut expected = BTreeSet::new();
    for &probe in &probes {
        for from in 0..pods {
            for to in (0..pods).filter(|&to| to != from) {
                if reach.allowed(from, to, probe) {
                    continue;
                }
                let outcome = lab.probe_once(from, to, probe);
                assert_eq!(
                    outcome.observed(),
                    Some(false),
                    "{probe} {} -> {} must be blocked: {outcome}",
                    names[from],
                    names[to]
                );
                expected.insert(expected_drop(&cluster, &names, from, to, probe));
            }
        }
    }
    assert!(
        expected.len() >= 5,
        "the example has denied pairs: {expected:#?}"
    );

    // The reader thread tells a drop within milliseconds; allow for a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(10);
    let reported = loop {
        let reported: BTreeSet<Expected> = drop_events(dir.path())
            .iter()
            .filter_map(as_expected)
            .collect();
        if expected.is_subset(&reported) || Instant::now() > deadline {
            break reported;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let health = lab.check_enforcers();
    lab.down().expect("teardown");
    health.expect("agents ran throughout");
    let missing: Vec<&Expected> = expected.difference(&reported).collect();
    assert!(
        missing.is_empty(),
        "{} of {} denied probes not reported as expected:\n{missing:#?}\nreported:\n{reported:#?}",
        missing.len(),
        expected.len()
    );
    // Nothing is reported that was not denied (each event is one of the probes above).
    let extra: Vec<&Expected> = reported.difference(&expected).collect();
    assert!(
        extra.is_empty(),
        "reported but not a denied probe: {extra:#?}"
    );
    eprintln!(
        "{} denied probes, each reported with its attribution",
        expected.len()
    );
}
