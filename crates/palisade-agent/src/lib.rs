//! palisade-agent: the node agent. A driver feeds an index of objects, the index makes a
//! cluster, a [`RulesetSource`] compiles it for this node, the dataplane puts it in the kernel.
//!
//! ```text
//!   manifests DIR ──scan──> ManifestIndex ──cluster()──> Cluster
//!     (inotify: watch::Pending                               │ RulesetSource::compile(cluster, node)
//!      says when to scan)                                     v
//!                                     Reconciler ── Start: adopt │ Resync: full │ Change: diff
//!                                         │                     (palisade-dataplane, one nft
//!                                         v                      transaction each)
//!                                     ready file (generation N)
//! ```
//!
//! Local mode ([`run_local`]) is the only driver so far; a Kubernetes API driver would feed the
//! same reconciler from watchers instead of files.
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

pub mod drops;
mod error;
mod http;
pub mod index;
mod local;
mod logging;
pub mod metrics;
pub mod ready;
pub mod reconcile;
pub mod scan;
mod shutdown;
mod source;
mod watch;

pub use error::AgentError;
pub use http::{METRICS_CONTENT_TYPE, MetricsServer};
pub use local::{LocalConfig, READY_MESSAGE, run_local};
pub use logging::{diagnostic as render_diagnostic, init_tracing};
pub use metrics::Observer;
pub use palisade_dataplane::FailurePolicy;
pub use ready::ReadyInfo;
pub use shutdown::{
    Shutdown, ShutdownHandle, channel as shutdown_channel, on_signals as shutdown_on_signals,
};
pub use source::{NftSource, NftSourceWith, RulesetSource};
