//! L004: a namespaceSelector item and a podSelector item, side by side in one from/to list.
//!
//! Items of a from/to list are ORed; a namespaceSelector and a podSelector in ONE item are
//! ANDed (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors>).
//! A `-` too many turns "pods app=x in namespaces y" into "every pod of namespaces y, or pods
//! app=x of my own namespace". The lint fires on a list holding an item with only a
//! namespaceSelector and an item with only a podSelector, and says what each reading allows;
//! when the inventory shows both readings allow the same pods it stays quiet.

use super::{Ctx, DIRECTIONS, OR_MEANT_AND, peers_path, plural, yaml};
use crate::describe::words;
use crate::diag::Diagnostic;
use crate::model::{NamespaceScope, Peer, Peers};

pub(super) fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    for policy in &ctx.cluster.policies {
        for direction in DIRECTIONS {
            for (r, rule) in policy.rules(direction).into_iter().flatten().enumerate() {
                let Peers::OneOf(items) = &rule.peers else {
                    continue;
                };
                let ns_only = items.iter().position(|p| {
                    matches!(p, Peer::Pods { namespaces: NamespaceScope::Matching(_), pods } if pods.is_empty())
                });
                let pods_only = items.iter().position(|p| {
                    matches!(p, Peer::Pods { namespaces: NamespaceScope::Own, pods } if !pods.is_empty())
                });
                let (Some(n), Some(p)) = (ns_only, pods_only) else {
                    continue;
                };
                let (
                    Some(
                        ns_peer @ Peer::Pods {
                            namespaces: ns_scope @ NamespaceScope::Matching(ns_sel),
                            ..
                        },
                    ),
                    Some(pod_peer @ Peer::Pods { pods: pod_sel, .. }),
                ) = (items.get(n), items.get(p))
                else {
                    continue;
                };
                let and_peer = Peer::Pods {
                    namespaces: ns_scope.clone(),
                    pods: pod_sel.clone(),
                };
                let counts = if ctx.inv.has_pods() {
                    let mut written: Vec<usize> =
                        ctx.inv.peer_pods(&policy.namespace, ns_peer).to_vec();
                    written.extend(ctx.inv.peer_pods(&policy.namespace, pod_peer).iter());
                    written.sort_unstable();
                    written.dedup();
                    let anded = and_pods(ctx, &policy.namespace, &and_peer);
                    if written == anded {
                        continue;
                    }
                    Some((written.len(), anded.len()))
                } else {
                    None
                };
                let written_words = format!(
                    "{}, or {}",
                    words::peer(ns_peer, &policy.namespace),
                    words::peer(pod_peer, &policy.namespace)
                );
                let and_words = words::peer(&and_peer, &policy.namespace);
                let message = match counts {
                    Some((w, a)) => format!(
                        "separate items are ORed: as written this allows {} ({written_words}); as one item it would allow {} ({and_words})",
                        plural(w, "pod", "pods"),
                        plural(a, "pod", "pods"),
                    ),
                    None => format!(
                        "separate items are ORed: as written this allows {written_words}; as one item it would allow only {and_words}"
                    ),
                };
                let path = peers_path(direction, r).index(p);
                out.push(
                    ctx.at_policy(OR_MEANT_AND, policy, &path, message)
                        .with_label("a separate item: ORed with the namespaceSelector item")
                        .with_help(format!(
                            "if both conditions must hold, write them in ONE item (drop the `-` before `podSelector`): {{namespaceSelector: {}, podSelector: {}}}",
                            yaml::selector(ns_sel),
                            yaml::selector(pod_sel),
                        )),
                );
            }
        }
    }
}

fn and_pods<'a>(ctx: &Ctx<'a>, own: &'a str, peer: &Peer) -> Vec<usize> {
    let Peer::Pods { namespaces, pods } = peer else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for ns in ctx.inv.scope_namespaces(own, namespaces) {
        for g in ctx.inv.groups_in(ns, pods) {
            if let Some(group) = ctx.inv.groups.get(g) {
                found.extend(&group.pods);
            }
        }
    }
    found.sort_unstable();
    found
}
