//! L005 namespaceSelector on a label no namespace carries, L006 a from/to item that matches no
//! pod, L007 a policy whose podSelector matches no pod.
//!
//! A selector that matches nothing is valid and silent: the rule simply never applies. The
//! classic cause is a namespace label that was never set (`name: kube-system` where the API
//! server only sets `kubernetes.io/metadata.name`,
//! <https://kubernetes.io/docs/concepts/services-networking/network-policies/#targeting-a-namespace-by-its-name>).
//! These lints read the inventory, so they only speak about namespaces whose pods were loaded,
//! and about namespace labels only when Namespace objects were loaded.

use super::{
    Ctx, DIRECTIONS, PEER_SELECTS_NOTHING, POLICY_SELECTS_NOTHING, UNKNOWN_NAMESPACE_LABEL,
    peers_path, yaml,
};
use crate::describe::words;
use crate::diag::Diagnostic;
use crate::model::{
    Labels, NAMESPACE_NAME_LABEL, NamespaceScope, Operator, Peer, Peers, Policy, Selector,
};
use crate::path::FieldPath;

pub(super) fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    for policy in &ctx.cluster.policies {
        subject(ctx, policy, out);
        for direction in DIRECTIONS {
            for (r, rule) in policy.rules(direction).into_iter().flatten().enumerate() {
                let Peers::OneOf(items) = &rule.peers else {
                    continue;
                };
                for (k, peer) in items.iter().enumerate() {
                    let path = peers_path(direction, r).index(k);
                    let unknown_label = match peer {
                        Peer::Pods {
                            namespaces: NamespaceScope::Matching(sel),
                            ..
                        } => namespace_label(ctx, policy, sel, &path, out),
                        _ => false,
                    };
                    if !unknown_label {
                        empty_peer(ctx, policy, peer, &path, out);
                    }
                }
            }
        }
    }
}

/// Keys a selector needs an object to carry (matchLabels, In, Exists).
fn required_keys(sel: &Selector) -> Vec<(&str, Option<&str>)> {
    let mut keys: Vec<(&str, Option<&str>)> = sel
        .match_labels
        .iter()
        .map(|(k, v)| (k.as_str(), Some(v.as_str())))
        .collect();
    for req in &sel.expressions {
        match &req.operator {
            Operator::In(values) => {
                let only = (values.len() == 1)
                    .then(|| values.iter().next().map(String::as_str))
                    .flatten();
                keys.push((req.key.as_str(), only));
            }
            Operator::Exists => keys.push((req.key.as_str(), None)),
            Operator::NotIn(_) | Operator::DoesNotExist => {}
        }
    }
    keys
}

/// L005; true when it fired.
fn namespace_label(
    ctx: &Ctx<'_>,
    policy: &Policy,
    sel: &Selector,
    peer_path: &FieldPath,
    out: &mut Vec<Diagnostic>,
) -> bool {
    if !ctx.inv.namespaces_declared {
        return false;
    }
    let carried = |key: &str| {
        ctx.cluster
            .namespaces
            .iter()
            .any(|ns| ns.labels.contains_key(key))
    };
    let Some((key, value)) = required_keys(sel).into_iter().find(|(k, _)| !carried(k)) else {
        return false;
    };
    let names_a_namespace = value.filter(|v| ctx.cluster.namespaces.iter().any(|ns| ns.name == *v));
    let help = match names_a_namespace {
        Some(name) => {
            let fixed = Selector {
                match_labels: Labels::from([(NAMESPACE_NAME_LABEL.to_owned(), name.to_owned())]),
                expressions: Vec::new(),
            };
            format!(
                "every namespace carries `{NAMESPACE_NAME_LABEL}` (set by the API server); to select namespace `{name}` by name: namespaceSelector: {}",
                yaml::selector(&fixed)
            )
        }
        None => format!(
            "label the namespaces meant (`kubectl label namespace NAME {key}=...`), or select them by name with `{NAMESPACE_NAME_LABEL}`, which every namespace carries"
        ),
    };
    out.push(
        ctx.at_policy(
            UNKNOWN_NAMESPACE_LABEL,
            policy,
            &peer_path.field("namespaceSelector"),
            format!("namespaceSelector uses label `{key}`, which no namespace carries: this item matches nothing"),
        )
        .with_label(format!("no namespace has label `{key}`"))
        .with_help(help),
    );
    true
}

/// L006.
fn empty_peer<'a>(
    ctx: &Ctx<'a>,
    policy: &'a Policy,
    peer: &'a Peer,
    path: &FieldPath,
    out: &mut Vec<Diagnostic>,
) {
    let Peer::Pods { namespaces, .. } = peer else {
        // An ipBlock is meant for addresses outside the cluster: matching no pod is normal.
        return;
    };
    if !ctx.inv.has_pods() {
        return;
    }
    let scope = ctx.inv.scope_namespaces(&policy.namespace, namespaces);
    let message = if scope.is_empty() {
        // A namespace picked by name may simply not be in the inventory.
        let by_name = matches!(namespaces, NamespaceScope::Matching(sel)
            if required_keys(sel).iter().any(|(k, _)| *k == NAMESPACE_NAME_LABEL));
        if !ctx.inv.namespaces_declared || by_name {
            return;
        }
        "this item matches no namespace, so no pod".to_owned()
    } else {
        if !scope.iter().any(|ns| ctx.inv.is_loaded(ns)) {
            return;
        }
        if !ctx.inv.peer_pods(&policy.namespace, peer).is_empty() {
            return;
        }
        format!(
            "this item matches no pod: there are no {}",
            words::peer(peer, &policy.namespace).trim_start_matches("all ")
        )
    };
    out.push(
        ctx.at_policy(PEER_SELECTS_NOTHING, policy, path, message)
            .with_label("matches nothing in the inventory")
            .with_help("check the labels against the pods (`kubectl get pods --show-labels -A`); remove the item if the pods are gone"),
    );
}

/// L007.
fn subject(ctx: &Ctx<'_>, policy: &Policy, out: &mut Vec<Diagnostic>) {
    if !ctx.inv.is_loaded(&policy.namespace) {
        return;
    }
    if !ctx.inv.selected(policy).is_empty() || !ctx.inv.selected_host(policy).is_empty() {
        return;
    }
    let path = FieldPath::root().field("spec").field("podSelector");
    out.push(
        ctx.at_policy(
            POLICY_SELECTS_NOTHING,
            policy,
            &path,
            format!(
                "this policy selects no pod: no pod in `{}` has {}",
                policy.namespace,
                words::selector(&policy.subject)
            ),
        )
        .with_label("matches no pod")
        .with_help("fix the podSelector to match the pods' labels, or delete the policy"),
    );
}
