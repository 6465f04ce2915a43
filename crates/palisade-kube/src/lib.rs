//! palisade-kube: the only place in palisade that talks to a Kubernetes API server.
//!
//! ```text
//!   ClusterTarget {kubeconfig?, context?} --resolve--> Resolved {kube::Config, name}
//!        |                                                   |
//!        |  snapshot()   list Namespaces, Pods, NetworkPolicies once
//!        |               -> Snapshot { name: "cluster:<context>", text: one `kind: List` }
//!        |               -> palisade-core's loader (the CLI's `--cluster` input)
//!        |
//!        '  watch_cluster()  one kube watcher per kind, default backoff, bookmarks on
//!                            -> ClusterWatch { pods, namespaces, network_policies: Stream<Event<K>> }
//!                            -> ApiHealth on a tokio watch channel (the agent's readiness)
//! ```
//!
//! Verbs used: `list` and `watch` on pods, namespaces and networkpolicies, cluster-wide; nothing
//! else, which is what `deploy/clusterrole.yaml` grants. Objects are trimmed ([`trim`]) to the
//! fields palisade reads before they are handed on, to keep a 10,000-pod view small.
//!
//! With the `fake-api` feature, [`fake`] serves recorded API server responses on loopback so that
//! this crate and its users can test through kube's real client.

pub mod error;
#[cfg(feature = "fake-api")]
pub mod fake;
pub mod health;
pub mod snapshot;
pub mod target;
pub mod trim;
pub mod watch;

pub use error::{Error, Result};
pub use health::{ApiHealth, KindHealth, ResourceKind};
pub use snapshot::{Snapshot, snapshot, snapshot_blocking, snapshot_from_config};
pub use target::{ClusterTarget, Resolved};
pub use watch::{ClusterWatch, WatchOptions, watch_cluster};

/// Re-exported so users name the same `Event` type the streams carry without depending on kube.
pub use kube::runtime::watcher::Event;
