//! palisade-lab: a small cluster made of network namespaces on one machine, real packets between
//! every pair of endpoints, and the observed truth tables next to the engine's prediction.
//!
//! ```text
//!   Cluster + LabConfig ── plan ──> Plan (adjusted Cluster: node + IPs on every pod)
//!        │                              │
//!        │          topology: fabric, node and pod namespaces, veths, /32 routes   (topology)
//!        │          servers:  TCP + UDP echo per port per address, raw SCTP        (servers)
//!        │          enforcer: one per node, on the adjusted cluster's manifests    (enforcer)
//!        │          probes:   every ordered pair x probe x IP family, in parallel  (probe)
//!        └────────> LabReport: observed tables, predicted tables, disagreements    (report)
//! ```
//!
//! Enforcers: [`NoEnforcer`], [`NftEnforcer`] (fixed rulesets, for tests) and [`CommandEnforcer`]
//! (a process per node inside its namespace, e.g. `palisade agent --node N --manifests DIR`,
//! ready when it prints a marker line).
//!
//! [`RunningLab`] keeps a lab up for tests that probe while something changes (an enforcer
//! killed and restarted); [`run`] is `up`, probe every pair, tear down.
//!
//! Every namespace and link is named `pl-<run id>-...`; guards remove them on every exit path,
//! [`install_signal_cleanup`] covers Ctrl-C, and [`clean`] removes what a killed run left.
//! Traffic never leaves the namespaces a run created: nothing is added to the root namespace.

pub mod cleanup;
pub mod config;
pub mod enforcer;
pub mod error;
pub mod manifests;
pub mod names;
pub mod netns;
pub mod plan;
mod probe;
pub mod report;
mod run;
mod running;
pub mod sctp;
mod servers;
pub mod topology;

pub use cleanup::{CleanReport, cancelled, clean, install_signal_cleanup};
pub use config::LabConfig;
pub use enforcer::{
    CommandEnforcer, Enforcer, NftEnforcer, NoEnforcer, NodeHandle, RunningEnforcer, load_nft,
};
pub use error::{EnforcerError, LabError, Result};
pub use plan::{Plan, plan};
pub use report::{LabReport, Outcome, VerifiedBy};
pub use run::{check_preconditions, run, run_plan};
pub use running::{Restart, RunningLab};
