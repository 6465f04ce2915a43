//! L009: a named port that no destination pod defines.
//!
//! A named port is resolved on each destination pod, by name and protocol, against its
//! containers' ports (<https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/#NetworkPolicySpec>,
//! `NetworkPolicyPort.port`). Where no destination defines it, the item allows nothing. The
//! destinations are the selected pods for ingress and the pods the `to` items match for egress;
//! the lint waits until those pods are in the inventory.

use std::collections::BTreeSet;

use super::{Ctx, DIRECTIONS, UNDEFINED_NAMED_PORT, plural, rule_path};
use crate::diag::Diagnostic;
use crate::model::{Direction, Peers, PortSpec, Ports};

pub(super) fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    let cluster = ctx.cluster;
    for policy in &cluster.policies {
        for direction in DIRECTIONS {
            for (r, rule) in policy.rules(direction).into_iter().flatten().enumerate() {
                let Ports::OneOf(items) = &rule.ports else {
                    continue;
                };
                if !items.iter().any(|i| matches!(i.port, PortSpec::Named(_))) {
                    continue;
                }
                let destinations: BTreeSet<usize> = match direction {
                    Direction::Ingress => {
                        if !ctx.inv.is_loaded(&policy.namespace) {
                            continue;
                        }
                        ctx.inv.selected(policy).into_iter().collect()
                    }
                    Direction::Egress => match &rule.peers {
                        Peers::Any => ctx
                            .inv
                            .groups
                            .iter()
                            .filter(|g| !g.host_network)
                            .flat_map(|g| g.pods.iter().copied())
                            .collect(),
                        Peers::OneOf(peers) => peers
                            .iter()
                            .flat_map(|peer| ctx.inv.peer_pods(&policy.namespace, peer).to_vec())
                            .collect(),
                    },
                };
                if destinations.is_empty() {
                    continue;
                }
                for (k, item) in items.iter().enumerate() {
                    let PortSpec::Named(name) = &item.port else {
                        continue;
                    };
                    let pods = || destinations.iter().filter_map(|&i| cluster.pods.get(i));
                    let defined = pods().any(|p| {
                        p.ports.iter().any(|cp| {
                            cp.protocol == item.protocol && cp.name.as_deref() == Some(name)
                        })
                    });
                    if defined {
                        continue;
                    }
                    let other_protocol = pods()
                        .flat_map(|p| &p.ports)
                        .find(|cp| cp.name.as_deref() == Some(name))
                        .map(|cp| cp.protocol);
                    let mut message = format!(
                        "no destination pod defines a {} port named `{name}` ({} checked): this item allows nothing",
                        item.protocol,
                        plural(destinations.len(), "pod", "pods")
                    );
                    if let Some(p) = other_protocol {
                        message.push_str(&format!("; `{name}` is defined for {p}"));
                    }
                    let path = rule_path(direction, r).field("ports").index(k);
                    out.push(
                        ctx.at_policy(UNDEFINED_NAMED_PORT, policy, &path, message)
                            .with_label("unresolved named port")
                            .with_help(match other_protocol {
                                Some(p) => format!("set `protocol: {p}` on this item, or name the container port for {}", item.protocol),
                                None => format!("use the port number, or add `name: {name}` to the destination containers' ports"),
                            }),
                    );
                }
            }
        }
    }
}
