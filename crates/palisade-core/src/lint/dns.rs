//! L003: egress is restricted but DNS is not reachable.
//!
//! Once a pod is isolated for egress, only what some policy selecting it allows may leave it
//! (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#the-two-sorts-of-pod-isolation>),
//! name lookups included. The allowance is searched across ALL policies isolating the pod, so a
//! separate allow-dns policy counts. DNS needs UDP 53 and TCP 53 (answers too large for UDP are
//! retried over TCP, RFC 7766). A probe counts as allowed when an egress rule lets it reach a
//! cluster DNS pod (`k8s-app=kube-dns` in `kube-system`, when the inventory has one), or an
//! address outside the pods (an ipBlock or every destination) on port 53; without DNS pods in
//! the inventory, any rule allowing port 53 counts.

use std::collections::BTreeMap;

use super::{Ctx, DNS_UNREACHABLE, plural, yaml};
use crate::diag::Diagnostic;
use crate::eval::matching::{peer_matches, port_matches};
use crate::eval::{Endpoint, Probe};
use crate::model::{Direction, Labels, Peer, Peers, PortSpec, Ports, Protocol, Rule};
use crate::path::FieldPath;

const DNS_NAMESPACE: &str = "kube-system";
const DNS_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

pub(super) fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    let cluster = ctx.cluster;
    let dns_pods: Vec<usize> = cluster
        .pods
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.namespace == DNS_NAMESPACE
                && !p.host_network
                && p.labels.get(DNS_LABEL.0).map(String::as_str) == Some(DNS_LABEL.1)
        })
        .map(|(i, _)| i)
        .collect();

    // Pods isolated for egress, grouped by the exact set of policies isolating them.
    let mut by_policies: BTreeMap<Vec<usize>, Vec<usize>> = BTreeMap::new();
    for (g, group) in ctx.inv.groups.iter().enumerate() {
        if group.host_network {
            continue;
        }
        let isolating: Vec<usize> = ctx
            .inv
            .policies_in(group.namespace)
            .iter()
            .copied()
            .filter(|&i| {
                cluster
                    .policies
                    .get(i)
                    .is_some_and(|p| p.egress.is_some() && p.subject.matches(group.labels))
            })
            .collect();
        if !isolating.is_empty() {
            by_policies.entry(isolating).or_default().push(g);
        }
    }

    for (policies, groups) in by_policies {
        let missing: Vec<Probe> = [Protocol::Udp, Protocol::Tcp]
            .into_iter()
            .map(|protocol| Probe { protocol, port: 53 })
            .filter(|&probe| {
                !policies.iter().any(|&p| {
                    cluster.policies.get(p).is_some_and(|policy| {
                        policy
                            .egress
                            .iter()
                            .flatten()
                            .any(|rule| allows_dns(ctx, policy, rule, probe, &dns_pods))
                    })
                })
            })
            .collect();
        if missing.is_empty() {
            continue;
        }
        let pods: Vec<usize> = groups
            .iter()
            .filter_map(|&g| ctx.inv.groups.get(g))
            .flat_map(|g| g.pods.iter().copied())
            .collect();
        let Some(policy) = policies.first().and_then(|&p| cluster.policies.get(p)) else {
            continue;
        };
        let which = match groups.as_slice() {
            [g] => ctx
                .inv
                .groups
                .get(*g)
                .map(|g| describe_labels(g.labels))
                .unwrap_or_default(),
            _ => String::new(),
        };
        let names: Vec<String> = policies
            .iter()
            .filter_map(|&p| cluster.policies.get(p))
            .map(|p| format!("`{}`", p.name))
            .collect();
        let missing_text: Vec<String> = missing.iter().map(Probe::to_string).collect();
        let example = pods
            .first()
            .and_then(|&i| cluster.pods.get(i))
            .map(|p| format!(" (e.g. {})", p.key()))
            .unwrap_or_default();
        let message = format!(
            "egress of {}{which} in `{}`{example} is restricted by {} but DNS is not reachable on {}",
            plural(pods.len(), "pod", "pods"),
            policy.namespace,
            names.join(", "),
            missing_text.join(" and "),
        );
        let spec = format!(
            "{{podSelector: {}, policyTypes: [Egress], egress: [{{to: [{{namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: kube-system}}}}, podSelector: {{matchLabels: {{k8s-app: kube-dns}}}}}}], ports: [{{protocol: UDP, port: 53}}, {{protocol: TCP, port: 53}}]}}]}}",
            yaml::selector(&policy.subject)
        );
        let path = FieldPath::root()
            .field("spec")
            .field(Direction::Egress.as_str());
        out.push(
            ctx.at_policy(DNS_UNREACHABLE, policy, &path, message)
                .with_label("egress restricted here")
                .with_help(format!(
                    "allow DNS to the cluster DNS pods, in this policy or a separate one: {}",
                    yaml::policy(&policy.namespace, "allow-dns", &spec)
                )),
        );
    }
}

fn describe_labels(labels: &Labels) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!(" {}", crate::describe::words::labels(labels))
    }
}

/// Whether `rule` lets `probe` out towards DNS.
fn allows_dns(
    ctx: &Ctx<'_>,
    policy: &crate::model::Policy,
    rule: &Rule,
    probe: Probe,
    dns_pods: &[usize],
) -> bool {
    let cluster = ctx.cluster;
    let port_ok_for = |dest: Endpoint| match &rule.ports {
        Ports::Any => true,
        Ports::OneOf(items) => items
            .iter()
            .any(|item| port_matches(cluster, item, dest, probe)),
    };
    // A number-only reading of the ports, for destinations that are not pods.
    let port_ok_numeric = || match &rule.ports {
        Ports::Any => true,
        Ports::OneOf(items) => items.iter().any(|item| {
            item.protocol == probe.protocol
                && match &item.port {
                    PortSpec::Any => true,
                    PortSpec::Range { first, last } => (*first..=*last).contains(&probe.port),
                    PortSpec::Named(_) => false,
                }
        }),
    };
    let to_pods = dns_pods.iter().any(|&d| {
        let dest = Endpoint::Pod(d);
        let peer_ok = match &rule.peers {
            Peers::Any => true,
            Peers::OneOf(peers) => peers
                .iter()
                .any(|peer| peer_matches(cluster, policy, peer, dest)),
        };
        peer_ok && port_ok_for(dest)
    });
    if to_pods {
        return true;
    }
    let outside = match &rule.peers {
        Peers::Any => true,
        Peers::OneOf(peers) => peers.iter().any(|p| matches!(p, Peer::IpBlock { .. })),
    };
    if outside && port_ok_numeric() {
        return true;
    }
    // Without DNS pods in the inventory, where the rule leads cannot be told apart from DNS.
    dns_pods.is_empty()
        && match &rule.ports {
            Ports::Any => true,
            Ports::OneOf(items) => items.iter().any(|item| {
                item.protocol == probe.protocol
                    && match &item.port {
                        PortSpec::Any | PortSpec::Named(_) => true,
                        PortSpec::Range { first, last } => (*first..=*last).contains(&probe.port),
                    }
            }),
        }
}
