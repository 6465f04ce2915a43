//! `palisade lab`: the prediction checked with real packets, and `palisade lab clean`.

use std::collections::BTreeSet;
use std::time::Duration;

use palisade_core::eval::Probe;
use palisade_core::model::{Cluster, Protocol};
use palisade_lab::{CommandEnforcer, LabConfig, LabError};

use crate::cli::{LabAction, LabArgs, LabFormat};
use crate::inputs::{analyze_for_answer, to_inputs};
use crate::{ColorChoice, Exit};

/// Default probes when none is given: the declared container ports are what the workloads serve.
const MAX_DEFAULT_PROBES: usize = 8;

pub fn run(args: LabArgs, color: ColorChoice) -> Exit {
    if let Some(LabAction::Clean) = args.action {
        return clean();
    }
    let analysis = match analyze_for_answer(&to_inputs(&args.paths), color) {
        Ok(a) => a,
        Err(exit) => return exit,
    };
    if analysis.error_count() > 0 {
        eprintln!(
            "error: the inputs have errors; fix them before running the lab (see `palisade check`)"
        );
        return Exit::Findings;
    }
    let probes = if args.probes.is_empty() {
        default_probes(&analysis.cluster)
    } else {
        args.probes.clone()
    };
    let config = LabConfig {
        nodes: usize::from(args.nodes),
        probes,
        externals: args.externals.clone(),
        timeout: Duration::from_millis(args.timeout_ms),
        ..LabConfig::default()
    };
    if let Err(e) = palisade_lab::install_signal_cleanup() {
        eprintln!(
            "warning: Ctrl-C will not clean up the lab: {e}; run `palisade lab clean` after an interruption"
        );
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("error: cannot find the palisade executable to start agents: {e}");
            return Exit::Usage;
        }
    };
    let agent = CommandEnforcer::new(
        "palisade agent",
        move |node| {
            let mut cmd = node.command(&exe);
            cmd.args(["agent", "--node", &node.name, "--manifests"])
                .arg(&node.manifests_dir);
            cmd
        },
        palisade_agent::READY_MESSAGE,
    );
    match palisade_lab::run(&analysis.cluster, &config, &agent) {
        Ok(report) => {
            let out = match args.format {
                LabFormat::Table => report.render_table(),
                LabFormat::Json => {
                    serde_json::to_string(&report.to_json()).unwrap_or_default() + "\n"
                }
            };
            super::print_stdout(&out);
            if args.format == LabFormat::Json {
                eprint!("{}", report.render_findings());
            }
            if report.passed() {
                Exit::Ok
            } else {
                Exit::Findings
            }
        }
        Err(LabError::Precondition(why)) => {
            eprintln!("error: the lab cannot run here: {why}");
            eprintln!(
                "help: run it as root on Linux with the `nftables` and `iproute2` packages \
                 (e.g. `sudo apt-get install -y nftables iproute2`)"
            );
            Exit::Usage
        }
        Err(e) => {
            eprintln!("error: lab failed: {e}");
            Exit::Findings
        }
    }
}

fn clean() -> Exit {
    match palisade_lab::clean() {
        Ok(report) => {
            println!("{report}");
            Exit::Ok
        }
        Err(LabError::Precondition(why)) => {
            eprintln!("error: cannot clean up: {why}");
            Exit::Usage
        }
        Err(e) => {
            eprintln!("error: clean-up failed: {e}");
            Exit::Findings
        }
    }
}

/// Every distinct declared TCP/UDP container port (SCTP cannot be probed with sockets here),
/// at most [`MAX_DEFAULT_PROBES`], else tcp/80 and udp/53.
fn default_probes(cluster: &Cluster) -> Vec<Probe> {
    let declared: BTreeSet<Probe> = cluster
        .pods
        .iter()
        .flat_map(|p| &p.ports)
        .filter(|p| p.protocol != Protocol::Sctp)
        .map(|p| Probe {
            protocol: p.protocol,
            port: p.port,
        })
        .collect();
    if declared.is_empty() {
        vec![
            Probe {
                protocol: Protocol::Tcp,
                port: 80,
            },
            Probe {
                protocol: Protocol::Udp,
                port: 53,
            },
        ]
    } else {
        declared.into_iter().take(MAX_DEFAULT_PROBES).collect()
    }
}
