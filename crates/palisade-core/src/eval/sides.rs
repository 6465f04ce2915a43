//! One side of a connection as a port set: every protocol/port the side allows at once, for
//! checks that cover the whole port space of a pair (the kernel readback) rather than one probe.
//!
//! ```text
//!   side_ports(cluster, direction, subject, isolating, peer, dest)
//!     subject not a policy pod, or not isolated  -> every port of every protocol
//!     else  ∪ over isolating policies, rules whose peers match `peer`:
//!             ports Any -> all;  item: protocol (all ports) | range | named port on `dest`
//! ```
//!
//! The same rules as [`super::evaluate`]'s sides, without the reasons; the property test
//! `side_ports_agree_with_evaluate` holds them together on every probe.

use crate::model::{Cluster, Direction, Peers, PortSpec, Ports};

use super::matching::{endpoint_pod, peer_matches, resolve_named_port};
use super::{Endpoint, PortSet};

/// What `subject`'s `direction` policies allow between it and `peer`, ports resolved on `dest`
/// (the destination: `peer` for egress, `subject` for ingress). `isolating` must be
/// [`super::isolating_policies`] of the subject for `direction`: callers that ask for many
/// peers compute it once. Own-pod and own-node exemptions are the caller's (see
/// [`super::evaluate`]).
pub fn side_ports(
    cluster: &Cluster,
    direction: Direction,
    subject: Endpoint,
    isolating: &[usize],
    peer: Endpoint,
    dest: Endpoint,
) -> PortSet {
    let isolated = endpoint_pod(cluster, subject).is_some_and(|p| !p.host_network);
    if !isolated || isolating.is_empty() {
        return PortSet::all();
    }
    let mut allowed = PortSet::none();
    for policy in isolating.iter().filter_map(|&i| cluster.policies.get(i)) {
        for rule in policy.rules(direction).unwrap_or_default() {
            let peers_match = match &rule.peers {
                Peers::Any => true,
                Peers::OneOf(items) => items
                    .iter()
                    .any(|item| peer_matches(cluster, policy, item, peer)),
            };
            if !peers_match {
                continue;
            }
            allowed = allowed.union(&rule_ports(cluster, &rule.ports, dest));
            if allowed.is_all() {
                return allowed;
            }
        }
    }
    allowed
}

/// The protocol/ports one rule's `ports` list admits towards `dest`.
fn rule_ports(cluster: &Cluster, ports: &Ports, dest: Endpoint) -> PortSet {
    let items = match ports {
        Ports::Any => return PortSet::all(),
        Ports::OneOf(items) => items,
    };
    let mut set = PortSet::none();
    for item in items {
        match &item.port {
            PortSpec::Any => set.insert_range(item.protocol, 0, u16::MAX),
            PortSpec::Range { first, last } => set.insert_range(item.protocol, *first, *last),
            PortSpec::Named(name) => {
                for port in resolve_named_port(cluster, dest, name, item) {
                    set.insert_range(item.protocol, port, port);
                }
            }
        }
    }
    set
}
