//! One lab run, start to finish: [`RunningLab::up`] (a guard for every stage, so that any exit
//! path (error, panic, Ctrl-C) tears down in reverse order: enforcers, servers, namespaces, run
//! directory), every probe, teardown, report.
//!
//! ```text
//!   preconditions -> plan -> run dir (owner pid, manifests) -> topology -> servers
//!     -> enforcers (one per node, in parallel) -> probes -> enforcer health
//!     -> teardown (timed) -> report (observed, predicted, disagreements, problems)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::process::Command;
use std::time::Instant;

use nix::unistd::geteuid;
use palisade_core::eval::Probe;
use palisade_core::model::{Cluster, Protocol};
use palisade_core::reach::Reachability;

use crate::config::LabConfig;
use crate::enforcer::Enforcer;
use crate::error::{LabError, Result};
use crate::plan::{self, Placement, Plan};
use crate::probe::{self, Job};
use crate::report::{
    Attempt, Cell, Family, LabReport, ObservedTable, Outcome, Problem, Timings, VerifiedBy,
};
use crate::running::{RunningLab, interrupted};
use crate::servers::ServeSpec;
use crate::topology::Topology;

/// Fails with [`LabError::Precondition`] unless the lab can run here: root, `ip`, `nft`.
pub fn check_preconditions() -> Result<()> {
    if !geteuid().is_root() {
        return Err(LabError::Precondition(
            "the lab creates network namespaces and needs root: run it as root (e.g. with sudo)"
                .into(),
        ));
    }
    for (tool, arg, package) in [("ip", "-V", "iproute2"), ("nft", "--version", "nftables")] {
        match Command::new(tool).arg(arg).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                return Err(LabError::Precondition(format!(
                    "`{tool} {arg}` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            Err(_) => {
                return Err(LabError::Precondition(format!(
                    "`{tool}` is not installed: install the {package} package \
                     (e.g. `apt-get install {package}`)"
                )));
            }
        }
    }
    Ok(())
}

/// Lays out `cluster`, builds the lab, enforces with `enforcer`, probes every ordered pair for
/// every probe and compares with the engine's prediction on the adjusted cluster.
pub fn run(cluster: &Cluster, config: &LabConfig, enforcer: &dyn Enforcer) -> Result<LabReport> {
    check_preconditions()?;
    let plan = plan::plan(cluster, config)?;
    run_plan(&plan, config, enforcer)
}

/// What each namespace serves: its endpoints' addresses, every probed TCP/UDP port, their
/// declared containerPorts, and a raw receiver when SCTP is probed.
pub(crate) fn serve_specs(
    plan: &Plan,
    topology: &Topology,
    probes: &[Probe],
) -> BTreeMap<String, ServeSpec> {
    let mut specs: BTreeMap<String, ServeSpec> = BTreeMap::new();
    for (i, e) in plan.endpoints.iter().enumerate() {
        let Some(ns) = topology.endpoint_netns.get(i) else {
            continue;
        };
        let spec = specs.entry(ns.clone()).or_default();
        spec.ips.extend(e.ips.iter().copied());
        for p in probes {
            match p.protocol {
                Protocol::Tcp => {
                    spec.tcp.insert(p.port);
                }
                Protocol::Udp => {
                    spec.udp.insert(p.port);
                }
                Protocol::Sctp => spec.sctp = true,
            }
        }
        if let Placement::Pod { .. } | Placement::HostNetwork { .. } = e.placement
            && let Some(pod) = plan.cluster.pods.get(i)
        {
            for cp in &pod.ports {
                match cp.protocol {
                    Protocol::Tcp => {
                        spec.tcp.insert(cp.port);
                    }
                    Protocol::Udp => {
                        spec.udp.insert(cp.port);
                    }
                    Protocol::Sctp => {}
                }
            }
        }
    }
    specs
}

fn family(ip: &IpAddr) -> Family {
    if ip.is_ipv6() { Family::V6 } else { Family::V4 }
}

/// Runs an already laid-out plan (see [`plan::plan`]); [`run`] without the precondition check.
pub fn run_plan(plan: &Plan, config: &LabConfig, enforcer: &dyn Enforcer) -> Result<LabReport> {
    let probes = config.unique_probes();
    let mut lab = RunningLab::up(plan.clone(), config, enforcer)?;
    let [topology_time, servers_time, enforcers_time] = lab.setup;

    // Jobs: one per (probe, from, to, common family).
    let n = plan.endpoints.len();
    let mut tables: Vec<ObservedTable> = probes
        .iter()
        .map(|&probe| ObservedTable {
            probe,
            verified_by: if probe.protocol == Protocol::Sctp {
                VerifiedBy::RawPackets
            } else {
                VerifiedBy::Connections
            },
            cells: vec![vec![Cell::default(); n]; n],
        })
        .collect();
    let mut problems = Vec::new();
    let mut jobs = Vec::new();
    for (t_index, &probe) in probes.iter().enumerate() {
        for (from, src) in plan.endpoints.iter().enumerate() {
            let netns = lab.endpoint_ns(from);
            for (to, dst) in plan.endpoints.iter().enumerate() {
                let families: BTreeSet<Family> = src
                    .ips
                    .iter()
                    .map(family)
                    .filter(|f| dst.ips.iter().any(|ip| family(ip) == *f))
                    .collect();
                if probe.protocol == Protocol::Sctp
                    && let Some(why) = &lab.servers.sctp_unavailable
                {
                    problems.push(Problem {
                        probe,
                        from: src.name.clone(),
                        to: dst.name.clone(),
                        family: None,
                        outcome: Outcome::NotTestable(why.clone()),
                    });
                    continue;
                }
                if families.is_empty() {
                    problems.push(Problem {
                        probe,
                        from: src.name.clone(),
                        to: dst.name.clone(),
                        family: None,
                        outcome: Outcome::NotTestable(
                            "the two endpoints share no IP family".to_string(),
                        ),
                    });
                }
                for f in families {
                    let pick = |ips: &[IpAddr]| ips.iter().copied().find(|ip| family(ip) == f);
                    if let (Some(s), Some(d)) = (pick(&src.ips), pick(&dst.ips)) {
                        jobs.push(Job {
                            table: t_index,
                            from,
                            to,
                            probe,
                            netns,
                            src: s,
                            dst: d,
                        });
                    }
                }
            }
        }
    }
    let t = Instant::now();
    let results = probe::run(
        &jobs,
        lab.namespaces(),
        lab.settings(),
        config.parallelism,
        &lab.servers.seen,
    );
    let probes_time = t.elapsed();
    interrupted()?;
    lab.check_enforcers()?;

    for (job, outcome) in jobs.iter().zip(results) {
        let outcome = outcome.unwrap_or_else(|| Outcome::Error("not attempted".to_string()));
        let (Some(src), Some(dst)) = (plan.endpoints.get(job.from), plan.endpoints.get(job.to))
        else {
            continue;
        };
        if outcome.observed().is_none() {
            problems.push(Problem {
                probe: job.probe,
                from: src.name.clone(),
                to: dst.name.clone(),
                family: Some(family(&job.dst)),
                outcome: outcome.clone(),
            });
        }
        if let Some(cell) = tables
            .get_mut(job.table)
            .and_then(|t| t.cells.get_mut(job.from))
            .and_then(|r| r.get_mut(job.to))
        {
            cell.attempts.push(Attempt {
                family: family(&job.dst),
                outcome,
            });
        }
    }

    let teardown_time = lab.teardown()?;

    let reach = Reachability::compute(&plan.cluster, &plan.externals);
    let predicted: Vec<(Probe, Vec<Vec<bool>>)> = probes
        .iter()
        .map(|&p| (p, reach.allowed_matrix(p)))
        .collect();
    let mut report = LabReport {
        run_prefix: lab.prefix(),
        endpoints: plan.endpoints.iter().map(|e| e.name.clone()).collect(),
        cluster: plan.cluster.clone(),
        nodes: plan.nodes.clone(),
        placements: plan.endpoints.clone(),
        node_mapping: plan.node_mapping.clone(),
        tables,
        predicted,
        disagreements: Vec::new(),
        problems,
        attempts: jobs.len(),
        sockets: lab.servers.sockets,
        timings: Timings {
            topology: topology_time,
            servers: servers_time,
            enforcers: enforcers_time,
            probes: probes_time,
            teardown: teardown_time,
        },
    };
    report.disagreements = report.disagreements_with(&report.predicted);
    Ok(report)
}
