//! L012 a rule that allows everything, L014 a sensitive port open to every source.
//!
//! A rule with no `from`/`to` and no `ports` "matches all sources/destinations" on all ports
//! (<https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/#NetworkPolicySpec>).
//! Since allows of all policies add up, such a rule cancels every other policy's restriction
//! on the pods it selects, in that direction. Written on purpose it is the "allow all" pattern;
//! written by accident (an empty `- {}` or a `from:` whose items were deleted) it silently
//! opens the pods.
//!
//! Ports that control a node or the cluster (SSH, etcd, the API server, the kubelet and the
//! control-plane components' secure ports) should not accept connections from every address:
//! L014 fires on an ingress rule whose sources are everything (`from` missing or empty, or an
//! ipBlock of /0) and whose ports name one of them, by number, range or named port.

use super::{ALLOW_ALL_RULE, Ctx, DIRECTIONS, SENSITIVE_PORT_OPEN, rule_path};
use crate::diag::Diagnostic;
use crate::model::{Direction, Peer, Peers, PortSpec, Ports};

/// Ports and what listens there.
const SENSITIVE: &[(u16, &str)] = &[
    (22, "SSH"),
    (2379, "etcd client"),
    (2380, "etcd peer"),
    (6443, "Kubernetes API server"),
    (10250, "kubelet API"),
    (10255, "kubelet read-only API"),
    (10257, "kube-controller-manager"),
    (10259, "kube-scheduler"),
];

pub(super) fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    for policy in &ctx.cluster.policies {
        for direction in DIRECTIONS {
            for (r, rule) in policy.rules(direction).into_iter().flatten().enumerate() {
                let path = rule_path(direction, r);
                if rule.peers == Peers::Any && rule.ports == Ports::Any {
                    let (side, what) = match direction {
                        Direction::Ingress => ("from", "source"),
                        Direction::Egress => ("to", "destination"),
                    };
                    out.push(
                        ctx.at_policy(
                            ALLOW_ALL_RULE,
                            policy,
                            &path,
                            format!(
                                "this {} rule allows all traffic (no `{side}`, no `ports`): every {what} on every port, whatever other policies say",
                                direction.as_str()
                            ),
                        )
                        .with_label("allows everything")
                        .with_help(format!(
                            "list the allowed {what}s in `{side}` and the ports in `ports`; if allowing everything is intended, say so in the policy's name (e.g. allow-all-{})",
                            direction.as_str()
                        )),
                    );
                    continue;
                }
                if direction != Direction::Ingress {
                    continue;
                }
                let open = match &rule.peers {
                    Peers::Any => true,
                    Peers::OneOf(items) => items
                        .iter()
                        .any(|p| matches!(p, Peer::IpBlock { cidr, except } if cidr.prefix_len() == 0 && except.is_empty())),
                };
                let Ports::OneOf(items) = &rule.ports else {
                    continue;
                };
                if !open {
                    continue;
                }
                for (k, item) in items.iter().enumerate() {
                    let hits: Vec<String> = SENSITIVE
                        .iter()
                        .filter(|(port, _)| match &item.port {
                            PortSpec::Any => true,
                            PortSpec::Range { first, last } => (*first..=*last).contains(port),
                            PortSpec::Named(name) => ctx
                                .inv
                                .selected(policy)
                                .iter()
                                .filter_map(|&i| ctx.cluster.pods.get(i))
                                .any(|p| {
                                    p.ports.iter().any(|cp| {
                                        cp.name.as_deref() == Some(name.as_str())
                                            && cp.protocol == item.protocol
                                            && cp.port == *port
                                    })
                                }),
                        })
                        .map(|(port, what)| format!("{port} ({what})"))
                        .collect();
                    if hits.is_empty() {
                        continue;
                    }
                    out.push(
                        ctx.at_policy(
                            SENSITIVE_PORT_OPEN,
                            policy,
                            &path.field("ports").index(k),
                            format!(
                                "sensitive port {} accepts connections from every source",
                                hits.join(", ")
                            ),
                        )
                        .with_label("open to everything")
                        .with_help("restrict `from` to the clients that need it (podSelector/namespaceSelector, or an ipBlock of the admin network)"),
                    );
                }
            }
        }
    }
}
