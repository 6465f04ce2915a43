//! `palisade agent`: the node agent, here in local mode (a manifests directory).

use std::time::Duration;

use palisade_agent::drops::DropConfig;
use palisade_agent::{
    AgentError, FailurePolicy, LocalConfig, MetricsServer, NftSourceWith, Observer,
};
use palisade_nft::{CompileOptions, LogOptions};

use crate::Exit;
use crate::cli::AgentArgs;

pub fn run(args: AgentArgs) -> Exit {
    palisade_agent::init_tracing();
    let mut config = LocalConfig::new(args.node, args.manifests);
    config.ready_file = args.ready_file;
    config.min_gap = Duration::from_millis(args.min_gap_ms);
    config.resync = Duration::from_secs(args.resync_secs.max(1));
    config.failure_policy = if args.fail_open {
        FailurePolicy::Open
    } else {
        FailurePolicy::Closed
    };
    config.cleanup_on_exit = args.cleanup_on_exit;
    let source = NftSourceWith {
        options: CompileOptions {
            log: (args.nflog_group != 0).then(|| LogOptions::new(args.nflog_group)),
            counters: true,
            guard_cidrs: args.pod_cidrs,
        },
    };
    let mut drops = DropConfig::new(args.nflog_group);
    // Group 0 turns logging off; counters are still read.
    drops.group = (args.nflog_group != 0).then_some(args.nflog_group);
    drops.nft = config.nft.clone();
    drops.counter_interval = Duration::from_secs(args.counter_interval_secs.max(1));
    drops.events_file = args.drop_events;
    config.drops = Some(drops);
    // Kept until the agent returns; dropping it stops the server.
    // The drop reader reports to the same observer as the loop.
    let observer = Observer::new();
    config.observer = Some(observer.clone());
    let _metrics = match args.metrics_address.0 {
        None => None,
        Some(address) => match MetricsServer::start(address, observer) {
            Ok(server) => Some(server),
            Err(e) => {
                tracing::error!(%address, error = %e, "cannot serve metrics (--metrics-address off disables them)");
                return Exit::Usage;
            }
        },
    };
    let (handle, shutdown) = palisade_agent::shutdown_channel();
    if let Err(e) = palisade_agent::shutdown_on_signals(handle) {
        tracing::warn!(%e, "cannot listen for SIGTERM/SIGINT; stop the agent with SIGKILL");
    }
    match palisade_agent::run_local(&config, &source, shutdown) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            tracing::error!(error = %e, "agent stopped");
            match e {
                AgentError::Dataplane(_) => Exit::Findings,
                _ => Exit::Usage,
            }
        }
    }
}
