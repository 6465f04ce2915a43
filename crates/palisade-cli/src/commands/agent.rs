//! `palisade agent`: the node agent, here in local mode (a manifests directory).

use std::time::Duration;

use palisade_agent::{AgentError, FailurePolicy, LocalConfig, MetricsServer, NftSource, Observer};

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
    // Kept until the agent returns; dropping it stops the server.
    let _metrics = match args.metrics_address.0 {
        None => None,
        Some(address) => {
            let observer = Observer::new();
            config.observer = Some(observer.clone());
            match MetricsServer::start(address, observer) {
                Ok(server) => Some(server),
                Err(e) => {
                    tracing::error!(%address, error = %e, "cannot serve metrics (--metrics-address off disables them)");
                    return Exit::Usage;
                }
            }
        }
    };
    let (handle, shutdown) = palisade_agent::shutdown_channel();
    if let Err(e) = palisade_agent::shutdown_on_signals(handle) {
        tracing::warn!(%e, "cannot listen for SIGTERM/SIGINT; stop the agent with SIGKILL");
    }
    match palisade_agent::run_local(&config, &NftSource, shutdown) {
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
