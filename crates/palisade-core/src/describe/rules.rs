//! The rules of one direction as one clause: "accept ingress only from A on TCP 80, and from B
//! on any port; all other ingress is denied". Shared by the policy and the pod descriptions.
//!
//! The rules of a direction are alternatives: a connection is allowed if any rule allows it
//! (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource>).
//! They are joined with ", and " because " or " already joins the peers inside one rule, and
//! commas already appear inside selectors; the different joiner keeps rule boundaries visible.

use super::{Describer, notes, words};
use crate::model::{Direction, Peer, Peers, Pod, PortSpec, Ports, Rule};

/// Who receives the traffic of an ingress rule, to check its named ports.
#[derive(Debug)]
pub(super) enum Target<'a> {
    /// The groups of pods the policy selects (policy description).
    Selected(Vec<usize>),
    /// The pod being described.
    ThisPod(&'a Pod),
}

/// One rule in words, with what the direction sentence needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Clause {
    /// "from pods app=web in shop on TCP 80".
    pub text: String,
    /// The rule has no `from`/`to`: every peer.
    pub any_peer: bool,
    /// The rule allows every peer on every port, i.e. the whole direction.
    pub everything: bool,
}

fn preposition(direction: Direction) -> &'static str {
    match direction {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    }
}

/// One rule of `direction` of a policy in namespace `own`.
pub(super) fn clause<'a>(
    d: &Describer<'a>,
    own: &'a str,
    direction: Direction,
    rule: &'a Rule,
    target: &Target<'_>,
) -> Clause {
    let prep = preposition(direction);
    let peers = match &rule.peers {
        Peers::Any => format!("{prep} anywhere (all pods and all addresses)"),
        // The model promises a non-empty list; an empty one would match no peer at all.
        Peers::OneOf(list) if list.is_empty() => format!("{prep} nowhere"),
        Peers::OneOf(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|peer| {
                    let text = words::peer(peer, own);
                    match notes::peer_note(d, own, peer) {
                        Some(note) => format!("{text} ({note})"),
                        None => text,
                    }
                })
                .collect();
            format!("{prep} {}", items.join(" or "))
        }
    };
    let mut text = format!("{peers} {}", words::ports(&rule.ports));
    let port_notes = named_port_notes(d, own, direction, rule, target);
    if !port_notes.is_empty() {
        text = format!("{text} ({})", port_notes.join("; "));
    }
    Clause {
        text,
        any_peer: rule.peers == Peers::Any,
        everything: rule.peers == Peers::Any && rule.ports == Ports::Any,
    }
}

/// Named ports that no possible destination pod declares: such an item never matches.
fn named_port_notes<'a>(
    d: &Describer<'a>,
    own: &'a str,
    direction: Direction,
    rule: &'a Rule,
    target: &Target<'_>,
) -> Vec<String> {
    let Ports::OneOf(list) = &rule.ports else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    // "to addresses in 0.0.0.0/0 on TCP port named http" reads as if any address were allowed,
    // but a named port is resolved on the destination pod and never matches a non-pod address.
    let reaches_addresses = match &rule.peers {
        Peers::Any => true,
        Peers::OneOf(peers) => peers.iter().any(|p| matches!(p, Peer::IpBlock { .. })),
    };
    if direction == Direction::Egress
        && reaches_addresses
        && list.iter().any(|pm| matches!(pm.port, PortSpec::Named(_)))
    {
        out.push("a named port matches pods only, never other addresses".to_owned());
    }
    for pm in list {
        let PortSpec::Named(name) = &pm.port else {
            continue;
        };
        let proto = pm.protocol;
        let note = match (direction, target) {
            (Direction::Ingress, Target::ThisPod(pod)) => {
                (!notes::has_named_port(pod, proto, name))
                    .then(|| format!("this pod has no {proto} port named {name}"))
            }
            (Direction::Ingress, Target::Selected(groups)) => (!groups.is_empty()
                && !notes::groups_have_port(d, groups, proto, name))
            .then(|| format!("no selected pod has a {proto} port named {name}")),
            (Direction::Egress, _) => {
                let any_dest = notes::destination_has_port(d, own, &rule.peers, proto, name);
                (!d.cluster.pods.is_empty() && !any_dest).then(|| {
                    format!("no destination pod of this rule has a {proto} port named {name}")
                })
            }
        };
        if let Some(note) = note
            && !out.contains(&note)
        {
            out.push(note);
        }
    }
    out
}

/// The sentence part for a direction with at least one rule, without subject and final period:
/// "accept ingress only from A on TCP 80; all other ingress is denied".
/// `singular` picks "accepts" for one pod over "accept" for a group of pods.
pub(super) fn allowed(direction: Direction, singular: bool, clauses: &[Clause]) -> String {
    let dir = direction.as_str();
    let verb = match (direction, singular) {
        (Direction::Ingress, false) => "accept ingress",
        (Direction::Ingress, true) => "accepts ingress",
        (Direction::Egress, _) => "may send egress",
    };
    // "only from anywhere" would be odd; the closing clause says what is denied anyway.
    let only = if direction == Direction::Ingress && !clauses.iter().any(|c| c.any_peer) {
        " only"
    } else {
        ""
    };
    let body = clauses
        .iter()
        .map(|c| c.text.as_str())
        .collect::<Vec<_>>()
        .join(", and ");
    let tail = if clauses.iter().any(|c| c.everything) {
        format!("all {dir} is allowed")
    } else {
        format!("all other {dir} is denied")
    };
    format!("{verb}{only} {body}; {tail}")
}
