//! Evaluation of one connection: which side isolates, which rule allows, and why.
//! (stub: to be implemented)

pub mod ports;

use std::net::IpAddr;

use crate::model::{Cluster, Direction, Protocol};
pub use ports::PortSet;

/// One side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// Index into [`Cluster::pods`].
    Pod(usize),
    /// A non-pod address.
    External(IpAddr),
}

/// A connection attempt to a numeric port (`tcp/80`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Probe {
    pub protocol: Protocol,
    pub port: u16,
}

/// The answer to "may `from` open a connection to `to` on `probe`?", with its reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// The source's side (its egress policies).
    pub egress: SideVerdict,
    /// The destination's side (its ingress policies).
    pub ingress: SideVerdict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideVerdict {
    /// This side imposes nothing, for the given reason.
    Unrestricted(Unrestricted),
    /// Policies isolate this side and these rules allow the connection.
    Allowed { by: Vec<RuleRef> },
    /// These policies (indices into [`Cluster::policies`]) isolate this side and none of their
    /// rules allows the connection; `near_misses` explains the rules that came closest.
    Denied {
        isolated_by: Vec<usize>,
        near_misses: Vec<NearMiss>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrestricted {
    /// No policy in the pod's namespace selects it for this direction.
    NotIsolated,
    /// The endpoint is not a pod: a non-pod side imposes nothing.
    NotAPod,
    /// hostNetwork pods are not subject to NetworkPolicy.
    HostNetwork,
    /// A pod may always reach itself.
    SamePod,
}

/// One rule of one policy, and the peer and port items of it that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleRef {
    /// Index into [`Cluster::policies`].
    pub policy: usize,
    pub direction: Direction,
    /// Index into the policy's rules for `direction`.
    pub rule: usize,
    /// Index of the matching `from`/`to` item; `None` when the rule has no peers (all match).
    pub peer: Option<usize>,
    /// Index of the matching `ports` item; `None` when the rule has no ports (all match).
    pub port: Option<usize>,
}

/// A rule that did not allow the connection, and what was missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    pub rule: RuleRef,
    /// e.g. "the peer matches but the rule allows only TCP 5432".
    pub reason: String,
}

/// Decides one connection with every reason. Exact, slow path: used by `why` and as the oracle
/// the fast all-pairs computation in [`crate::reach`] is tested against.
pub fn evaluate(cluster: &Cluster, from: Endpoint, to: Endpoint, probe: Probe) -> Verdict {
    let _ = (cluster, from, to, probe);
    unimplemented!("evaluate")
}
