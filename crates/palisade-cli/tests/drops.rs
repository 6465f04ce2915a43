//! Drop attribution in the lab, with one real `palisade agent` per node: every denied probe of
//! the bundled shop example is reported by the agent of the node that dropped it, with the
//! source and destination pods, protocol, port, direction, and the policies `evaluate` names
//! for the denying side (issue 4, item 3).
//!
//! Needs root, `nft` and `ip`. Without them the test says so and passes, unless
//! `PALISADE_REQUIRE_KERNEL_TESTS=1`, which turns the skip into a failure.
//! Run it: `sudo cargo test -p palisade-cli --test drops -- --nocapture`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use palisade_core::eval::{Endpoint, Probe, SideVerdict, evaluate};
use palisade_core::load::Input;
use palisade_core::reach::Reachability;
use palisade_lab::{CommandEnforcer, LabConfig, RunningLab};

use common::workspace;

fn kernel_available() -> bool {
    let why = match palisade_lab::check_preconditions() {
        Ok(()) => return true,
        Err(e) => e.to_string(),
    };
    assert!(
        std::env::var_os("PALISADE_REQUIRE_KERNEL_TESTS").is_none(),
        "kernel tests required but unavailable: {why}"
    );
    eprintln!("SKIPPED drops test: {why}");
    false
}

fn events_file(dir: &Path, node: &str) -> PathBuf {
    dir.join(format!("{node}.jsonl"))
}

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

/// What the agent must say about one denied probe.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Expected {
    direction: String,
    src: String,
    dst: String,
    protocol: String,
    port: u16,
    policies: Vec<String>,
}

fn events(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        out.extend(
            text.lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|v| v.get("summary").is_none()),
        );
    }
    out
}

fn as_expected(v: &serde_json::Value) -> Option<Expected> {
    let s = |k: &str| v.get(k)?.as_str().map(str::to_string);
    Some(Expected {
        direction: s("direction")?,
        src: s("src")?,
        dst: s("dst")?,
        protocol: s("protocol")?,
        port: u16::try_from(v.get("port")?.as_u64()?).ok()?,
        policies: v
            .get("policies")?
            .as_array()?
            .iter()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect(),
    })
}

#[test]
fn every_denied_probe_is_reported_with_its_pods_port_direction_and_policies() {
    if !kernel_available() {
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
                // The source's egress is checked first; the destination's ingress only if
                // egress let it out.
                let verdict = evaluate(&cluster, Endpoint::Pod(from), Endpoint::Pod(to), probe);
                let (direction, side) = if verdict.egress.allows() {
                    ("ingress", verdict.ingress.clone())
                } else {
                    ("egress", verdict.egress.clone())
                };
                let SideVerdict::Denied { isolated_by, .. } = side else {
                    panic!("denied pair without a denying side: {verdict:?}");
                };
                let mut policies: Vec<String> = isolated_by
                    .iter()
                    .filter_map(|&i| cluster.policies.get(i).map(|p| p.key()))
                    .collect();
                policies.sort();
                expected.insert(Expected {
                    direction: direction.into(),
                    src: names[from].clone(),
                    dst: names[to].clone(),
                    protocol: probe.protocol.to_string().to_lowercase(),
                    port: probe.port,
                    policies,
                });
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
        let reported: BTreeSet<Expected> =
            events(dir.path()).iter().filter_map(as_expected).collect();
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
