//! Policies and pod isolation in plain words: the text of `palisade explain`.
//!
//! ```text
//!   policy(cluster, policy) ── subject ── per direction: rules::allowed ── rules::clause per rule
//!   pod(cluster, pod) ──────── selecting policies ── per direction: union of their clauses
//!                                   clause = peers (words::peer + notes) + ports (words::ports)
//!   pod_groups() ───────────── pods whose paragraphs differ only in their own name and labels
//! ```
//!
//! A [`Describer`] holds the index every description reads (pods grouped by namespace and
//! labels, selector matches memoised); `policy` and `pod` build a throwaway one.
//!
//! The text is exact: it says what the semantics say, no more, no less. Everything it reads is
//! in the order of the model (sorted maps, sorted policies, rules and ports as written), so the
//! same cluster always gives the same text. Where a selector matches nothing in the inputs, a
//! parenthesised note says so (the `notes` module says when). Plain ASCII only.

mod group;
mod notes;
mod pod;
mod policy;
mod rules;
pub(crate) mod words;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::index::Inventory;
use crate::model::{Cluster, Pod, Policy, Protocol};

pub use group::PodGroup;
pub use words::{ip_block, labels, namespace_scope, peer, port, ports, requirement, selector};

/// What every description takes for granted; `explain` prints it once rather than in every
/// sentence. These hold whatever the policies say.
pub const ALWAYS_ALLOWED: &str = "A pod may always reach itself, traffic between a pod and its \
own node is always allowed, and replies to an allowed connection are always allowed. A connection \
needs both the egress of its source and the ingress of its destination to allow it.";

/// Describes the policies and pods of one cluster. The index behind it is built once, so
/// describing every policy and pod costs what the distinct selectors and label sets cost, not
/// pods x rules x pods.
#[derive(Debug)]
pub struct Describer<'a> {
    cluster: &'a Cluster,
    inv: Inventory<'a>,
    /// Every named container port of the cluster, by protocol.
    named_ports: HashSet<(Protocol, &'a str)>,
    /// The names of UDP container ports numbered 53.
    dns_port_names: HashSet<&'a str>,
    /// Whether some pod an ipBlock matches declares a named port: (cidr, except, protocol, name).
    block_ports: RefCell<HashMap<BlockPortKey<'a>, bool>>,
}

type BlockPortKey<'a> = (&'a ipnet::IpNet, &'a [ipnet::IpNet], Protocol, &'a str);

impl<'a> Describer<'a> {
    pub fn new(cluster: &'a Cluster) -> Describer<'a> {
        let ports = cluster.pods.iter().flat_map(|p| &p.ports);
        Describer {
            cluster,
            inv: Inventory::new(cluster),
            named_ports: ports
                .clone()
                .filter_map(|p| Some((p.protocol, p.name.as_deref()?)))
                .collect(),
            dns_port_names: ports
                .filter(|p| p.protocol == Protocol::Udp && p.port == 53)
                .filter_map(|p| p.name.as_deref())
                .collect(),
            block_ports: RefCell::default(),
        }
    }

    /// What `policy` does, in sentences a careful colleague would write.
    pub fn policy(&self, policy: &'a Policy) -> String {
        policy::describe(self, policy)
    }

    /// The effective isolation of `pod`: which policies select it, what each direction accepts.
    pub fn pod(&self, pod: &'a Pod) -> String {
        pod::describe(self, pod)
    }

    /// The policies of `pod`'s namespace that select it, sorted by name (whether or not they
    /// isolate a direction).
    pub fn selecting_policies(&self, pod: &Pod) -> Vec<&'a Policy> {
        pod::selecting_policies(self, pod)
    }
}

/// What `policy` does, in sentences a careful colleague would write. To describe many policies
/// of one cluster, build one [`Describer`].
pub fn policy<'a>(cluster: &'a Cluster, policy: &'a Policy) -> String {
    Describer::new(cluster).policy(policy)
}

/// The effective isolation of `pod`: which policies select it, what each direction accepts.
/// To describe many pods of one cluster, build one [`Describer`].
pub fn pod<'a>(cluster: &'a Cluster, pod: &'a Pod) -> String {
    Describer::new(cluster).pod(pod)
}

/// The policies of `pod`'s namespace that select it, sorted by name (whether or not they
/// isolate a direction).
pub fn selecting_policies<'a>(cluster: &'a Cluster, pod: &Pod) -> Vec<&'a Policy> {
    Describer::new(cluster).selecting_policies(pod)
}

/// Upper-cases the first letter; sentences here start with ASCII words.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}
