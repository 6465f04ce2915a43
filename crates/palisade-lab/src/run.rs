//! One lab run, start to finish, with a guard for every stage so that any exit path (error,
//! panic, Ctrl-C) tears down in reverse order: enforcers, servers, namespaces, run directory.
//!
//! ```text
//!   preconditions -> plan -> run dir (owner pid, manifests) -> topology -> servers
//!     -> enforcers (one per node, in parallel) -> probes -> enforcer health
//!     -> teardown (timed) -> report (observed, predicted, disagreements, problems)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use nix::unistd::geteuid;
use palisade_core::eval::Probe;
use palisade_core::model::{Cluster, Protocol};
use palisade_core::reach::Reachability;

use crate::cleanup;
use crate::config::LabConfig;
use crate::enforcer::{Enforcer, NodeHandle, RunningEnforcer};
use crate::error::{LabError, Result};
use crate::manifests;
use crate::names::{self, RunNames};
use crate::netns;
use crate::plan::{self, Placement, Plan};
use crate::probe::{self, Job, Settings};
use crate::report::{
    Attempt, Cell, Family, LabReport, ObservedTable, Outcome, Problem, Timings, VerifiedBy,
};
use crate::servers::{ServeSpec, Servers};
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

fn interrupted() -> Result<()> {
    if cleanup::cancelled() {
        Err(LabError::Interrupted)
    } else {
        Ok(())
    }
}

/// The run's directory: owner pid (so `clean` leaves a live run alone) and the manifests.
#[derive(Debug)]
struct RunDir {
    names: RunNames,
    path: PathBuf,
    manifests: PathBuf,
}

impl RunDir {
    fn claim() -> Result<(RunNames, RunDir)> {
        let root = PathBuf::from(names::RUN_DIR);
        std::fs::create_dir_all(&root)
            .map_err(|e| LabError::io(format!("creating {}", root.display()), e))?;
        loop {
            let names = RunNames::fresh(&netns::list());
            let path = names.run_dir();
            // Registered before anything exists, so a `clean` in this process never mistakes
            // a run being set up for a leftover.
            cleanup::register(&names);
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    let dir = RunDir {
                        names: names.clone(),
                        manifests: path.join("manifests"),
                        path,
                    };
                    std::fs::write(dir.path.join("owner"), std::process::id().to_string())
                        .map_err(|e| LabError::io("writing the run's owner file", e))?;
                    std::fs::create_dir(&dir.manifests)
                        .map_err(|e| LabError::io("creating the manifests directory", e))?;
                    return Ok((names, dir));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    cleanup::unregister(&names);
                    continue;
                }
                Err(e) => {
                    cleanup::unregister(&names);
                    return Err(LabError::io(format!("creating {}", path.display()), e));
                }
            }
        }
    }

    fn remove(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LabError::io(format!("removing {}", self.path.display()), e)),
        }
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = self.remove();
        cleanup::unregister(&self.names);
    }
}

/// Running enforcers; dropping the guard drops (stops) them.
#[derive(Debug, Default)]
struct Enforcers {
    running: Vec<(String, Box<dyn RunningEnforcer>)>,
}

impl Enforcers {
    fn start(
        plan: &Plan,
        topology: &Topology,
        manifests_dir: &std::path::Path,
        enforcer: &dyn Enforcer,
    ) -> Result<Enforcers> {
        let handles: Vec<NodeHandle> = plan
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeHandle {
                name: n.name.clone(),
                index: n.index,
                netns: topology.node_ns(i).unwrap_or_default().to_string(),
                manifests_dir: manifests_dir.to_path_buf(),
                pods: n
                    .pods
                    .iter()
                    .filter_map(|&p| plan.cluster.pods.get(p).map(|p| p.key()))
                    .collect(),
            })
            .collect();
        let results: Vec<_> = std::thread::scope(|s| {
            let threads: Vec<_> = handles
                .iter()
                .map(|h| s.spawn(move || enforcer.start_node(h, &plan.cluster)))
                .collect();
            threads.into_iter().map(|t| t.join()).collect()
        });
        let mut started = Enforcers::default();
        let mut first_error = None;
        for (handle, result) in handles.iter().zip(results) {
            match result {
                Ok(Ok(running)) => started.running.push((handle.name.clone(), running)),
                Ok(Err(e)) => {
                    first_error.get_or_insert(LabError::Enforcer {
                        node: handle.name.clone(),
                        message: e.to_string(),
                    });
                }
                // Re-raise after the other nodes' enforcers are owned by `started`, so they
                // are stopped while unwinding.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(started),
        }
    }

    fn check(&mut self) -> Result<()> {
        for (node, running) in &mut self.running {
            running.check().map_err(|e| LabError::Enforcer {
                node: node.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    fn stop(&mut self) -> Result<()> {
        let mut first_error = None;
        for (node, running) in self.running.drain(..) {
            if let Err(e) = running.stop() {
                first_error.get_or_insert(LabError::Enforcer {
                    node,
                    message: format!("stopping: {e}"),
                });
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// What each namespace serves: its endpoints' addresses, every probed TCP/UDP port, their
/// declared containerPorts, and a raw receiver when SCTP is probed.
fn serve_specs(plan: &Plan, topology: &Topology, probes: &[Probe]) -> BTreeMap<String, ServeSpec> {
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
    config.validate()?;
    let probes = config.unique_probes();
    let t = Instant::now();
    let (names, run_dir) = RunDir::claim()?;
    std::fs::write(
        run_dir.manifests.join("cluster.json"),
        manifests::to_string(&plan.cluster),
    )
    .map_err(|e| LabError::io("writing the lab's manifests", e))?;
    let mut topology = Topology::build(plan, names)?;
    let topology_time = t.elapsed();
    interrupted()?;

    let t = Instant::now();
    let mut servers = Servers::start(&serve_specs(plan, &topology, &probes))?;
    let servers_time = t.elapsed();
    interrupted()?;

    let t = Instant::now();
    let mut enforcers = Enforcers::start(plan, &topology, &run_dir.manifests, enforcer)?;
    let enforcers_time = t.elapsed();
    std::thread::sleep(config.settle);
    interrupted()?;

    // Jobs: one per (probe, from, to, common family).
    let mut namespaces: Vec<(String, File)> = Vec::new();
    let mut ns_index: BTreeMap<&str, usize> = BTreeMap::new();
    for ns in &topology.endpoint_netns {
        if !ns_index.contains_key(ns.as_str()) {
            ns_index.insert(ns, namespaces.len());
            namespaces.push((ns.clone(), netns::open(ns)?));
        }
    }
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
            let netns = topology
                .endpoint_netns
                .get(from)
                .and_then(|ns| ns_index.get(ns.as_str()))
                .copied()
                .unwrap_or(usize::MAX);
            for (to, dst) in plan.endpoints.iter().enumerate() {
                let families: BTreeSet<Family> = src
                    .ips
                    .iter()
                    .map(family)
                    .filter(|f| dst.ips.iter().any(|ip| family(ip) == *f))
                    .collect();
                if probe.protocol == Protocol::Sctp
                    && let Some(why) = &servers.sctp_unavailable
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
    let settings = Settings {
        timeout: config.timeout,
        refused_is_blocked: config.refused_is_blocked,
    };
    let results = probe::run(
        &jobs,
        &namespaces,
        settings,
        config.parallelism,
        &servers.seen,
    );
    let probes_time = t.elapsed();
    interrupted()?;
    enforcers.check()?;

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

    let t = Instant::now();
    drop(namespaces);
    let stopped = enforcers.stop();
    servers.stop();
    topology.remove()?;
    run_dir.remove()?;
    stopped?;
    let teardown_time = t.elapsed();

    let reach = Reachability::compute(&plan.cluster, &plan.externals);
    let predicted: Vec<(Probe, Vec<Vec<bool>>)> = probes
        .iter()
        .map(|&p| (p, reach.allowed_matrix(p)))
        .collect();
    let mut report = LabReport {
        run_prefix: topology.names.prefix(),
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
        sockets: servers.sockets,
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
