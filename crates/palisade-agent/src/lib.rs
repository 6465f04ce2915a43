//! palisade-agent: the node agent. A driver feeds an index of objects, the index makes a
//! cluster, a [`RulesetSource`] compiles it for this node, the dataplane puts it in the kernel.
//!
//! ```text
//!   manifests DIR ──scan──> ManifestIndex ──cluster()──> Cluster
//!     (inotify: watch::Pending                               │
//!      says when to scan)                                    │
//!   watcher::Event<Pod|Namespace|NetworkPolicy>              │
//!     ──event()──> ClusterIndex ──cluster()─────────> Cluster│ RulesetSource::compile(cluster, node)
//!                                                             v
//!                                     Reconciler ── Start: adopt │ Resync: full │ Change: diff
//!                                         │                     (palisade-dataplane, one nft
//!                                         v                      transaction each)
//!                                     ready file (generation N)
//! ```
//!
//! Two drivers share the passes (`pass.rs`: scheduling, reconcile, reporting): local mode
//! ([`run_local`]) reads a manifests directory into a [`index::ManifestIndex`]; cluster mode
//! ([`run_cluster`]) feeds `kube::runtime::watcher` events for Pods, Namespaces and
//! NetworkPolicies into an [`index::ClusterIndex`] and waits for all three first lists before
//! its first apply.
//!
//! Failure rules: a manifest that does not load or validate keeps its previous good objects;
//! a refused update falls back to a full load; a failed load keeps the table in force; with
//! nothing in force the [`FailurePolicy`] decides. Stopping leaves the rules in the kernel unless
//! asked otherwise, and a restarted agent adopts them without a gap.
//!
//! Observability: the loop reports to an [`Observer`]; a [`MetricsServer`] serves it as
//! `/metrics`, `/healthz` and `/readyz` (docs/observability.md). With
//! [`LocalConfig::drops`], a [`drops::DropMonitor`] reads the nflog group of the compiled drop
//! rules and tells each drop with its pods and policies, and exports the per-policy counters.

mod cluster;
pub mod drops;
mod error;
mod http;
pub mod index;
pub mod kube_health;
mod local;
mod logging;
pub mod metrics;
mod pass;
pub mod ready;
pub mod reconcile;
pub mod scan;
mod shutdown;
mod source;
mod verifier;
mod watch;

pub use cluster::{ApiHealth, ClusterConfig, Streams, run_cluster};
pub use error::AgentError;
pub use http::{METRICS_CONTENT_TYPE, MetricsServer};
pub use local::{LocalConfig, run_local};
pub use logging::{LogFormat, diagnostic as render_diagnostic, init_tracing, init_tracing_as};
pub use metrics::Observer;
pub use palisade_dataplane::FailurePolicy;
pub use pass::READY_MESSAGE;
pub use ready::ReadyInfo;
pub use shutdown::{
    Shutdown, ShutdownHandle, channel as shutdown_channel, on_signals as shutdown_on_signals,
    signals_future as shutdown_signals_future,
};
pub use source::{NftSource, NftSourceWith, RulesetSource};
