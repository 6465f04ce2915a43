//! `palisade agent`: the node agent, fed by a manifests directory (local mode) or by the
//! Kubernetes API (cluster mode). Both modes share the loop, the compiler options and the drop
//! reader; only the source of objects differs.

use std::convert::Infallible;
use std::time::Duration;

use futures::StreamExt;
use palisade_agent::drops::DropConfig;
use palisade_agent::{
    AgentError, ClusterConfig, FailurePolicy, LocalConfig, LogFormat, MetricsServer, NftSourceWith,
    Observer, Streams,
};
use palisade_kube::{ClusterTarget, WatchOptions};
use palisade_nft::{CompileOptions, LogOptions};

use crate::Exit;
use crate::cli::{AgentArgs, LogFormatArg};

pub fn run(args: AgentArgs) -> Exit {
    palisade_agent::init_tracing_as(match args.log_format {
        LogFormatArg::Text => LogFormat::Text,
        LogFormatArg::Json => LogFormat::Json,
    });
    let source = NftSourceWith::new(CompileOptions {
        log: (args.nflog_group != 0).then(|| LogOptions::new(args.nflog_group)),
        counters: true,
        guard_cidrs: args.pod_cidrs.clone(),
        class_mask: args.class_mark_mask,
    });
    let mut drops = DropConfig::new(args.nflog_group);
    // Group 0 turns logging off; counters are still read.
    drops.group = (args.nflog_group != 0).then_some(args.nflog_group);
    drops.counter_interval = Duration::from_secs(args.counter_interval_secs.max(1));
    drops.events_file = args.drop_events.clone();
    // The drop reader reports to the same observer as the loop.
    let observer = Observer::new();
    // Kept until the agent returns; dropping it stops the server.
    let _metrics = match args.metrics_address.0 {
        None => None,
        Some(address) => match MetricsServer::start(address, observer.clone()) {
            Ok(server) => Some(server),
            Err(e) => {
                tracing::error!(%address, error = %e, "cannot serve metrics (--metrics-address off disables them)");
                return Exit::Usage;
            }
        },
    };
    let result = match args.manifests.clone() {
        Some(dir) => run_local(&args, dir, &source, drops, observer),
        None => run_cluster(&args, &source, drops, observer),
    };
    match result {
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

/// `--verify-interval`: 0 turns the readback off.
fn verify_interval(args: &AgentArgs) -> Option<Duration> {
    (args.verify_interval != 0).then(|| Duration::from_secs(args.verify_interval))
}

fn failure_policy(args: &AgentArgs) -> FailurePolicy {
    if args.fail_open {
        FailurePolicy::Open
    } else {
        FailurePolicy::Closed
    }
}

fn run_local(
    args: &AgentArgs,
    dir: std::path::PathBuf,
    source: &NftSourceWith,
    mut drops: DropConfig,
    observer: Observer,
) -> Result<(), AgentError> {
    let mut config = LocalConfig::new(args.node.clone(), dir);
    config.ready_file = args.ready_file.clone();
    config.min_gap = Duration::from_millis(args.min_gap_ms);
    config.resync = Duration::from_secs(args.resync_secs.max(1));
    config.failure_policy = failure_policy(args);
    config.cleanup_on_exit = args.cleanup_on_exit;
    config.verify_interval = verify_interval(args);
    if let Some(nft) = &config.nft {
        drops.nft = nft.clone();
    }
    config.drops = Some(drops);
    config.observer = Some(observer);
    let (handle, shutdown) = palisade_agent::shutdown_channel();
    if let Err(e) = palisade_agent::shutdown_on_signals(handle) {
        tracing::warn!(%e, "cannot listen for SIGTERM/SIGINT; stop the agent with SIGKILL");
    }
    palisade_agent::run_local(&config, source, shutdown)
}

fn run_cluster(
    args: &AgentArgs,
    source: &NftSourceWith,
    mut drops: DropConfig,
    observer: Observer,
) -> Result<(), AgentError> {
    let mut config = ClusterConfig::new(args.node.clone());
    config.pod_cidrs = args.pod_cidrs.clone();
    config.ready_file = args.ready_file.clone();
    config.min_gap = Duration::from_millis(args.min_gap_ms);
    config.resync = Duration::from_secs(args.resync_secs.max(1));
    config.failure_policy = failure_policy(args);
    config.cleanup_on_exit = args.cleanup_on_exit;
    config.verify_interval = verify_interval(args);
    if let Some(nft) = &config.nft {
        drops.nft = nft.clone();
    }
    config.drops = Some(drops);
    config.observer = Some(observer);
    let target = ClusterTarget {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("palisade-kube")
        .build()
        .map_err(|e| AgentError::Setup(format!("cannot start the async runtime: {e}")))?;
    let shutdown = palisade_agent::shutdown_signals_future()
        .map_err(|e| AgentError::Setup(format!("cannot listen for SIGTERM/SIGINT: {e}")))?;
    // The loop runs on this thread (block_on), which is in the network namespace to program;
    // the runtime's workers only do the API's network I/O.
    runtime.block_on(async {
        let resolved = target
            .resolve()
            .await
            .map_err(|e| AgentError::Setup(e.to_string()))?;
        tracing::info!(cluster = %resolved.name, "connecting to the Kubernetes API");
        let watch = palisade_kube::watch_cluster(&resolved, &WatchOptions::default())
            .await
            .map_err(|e| AgentError::Setup(e.to_string()))?;
        let streams = Streams {
            pods: watch.pods.map(Ok::<_, Infallible>),
            namespaces: watch.namespaces.map(Ok::<_, Infallible>),
            policies: watch.network_policies.map(Ok::<_, Infallible>),
        };
        palisade_agent::run_cluster(
            &config,
            source,
            streams,
            palisade_agent::kube_health::health_stream(watch.health),
            shutdown,
        )
        .await
    })
}
