//! L001/L002: a namespace with pods and no default deny.
//!
//! "By default, a pod is non-isolated for egress/ingress; all outbound/inbound connections are
//! allowed" and the usual fix is a policy selecting every pod of the namespace
//! (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-policies>).
//! A policy counts as the namespace's default deny for a direction when its podSelector is
//! empty (every pod, now and later), the direction is in its policyTypes, and none of its rules
//! in that direction allows everything. Allow rules next to the deny (e.g. DNS egress) are fine:
//! the namespace is still closed by default. Isolating each pod with its own policy does not
//! count, because a new pod would start open.

use super::{Ctx, DIRECTIONS, NO_DEFAULT_DENY_EGRESS, NO_DEFAULT_DENY_INGRESS, plural, yaml};
use crate::diag::Diagnostic;
use crate::model::{Direction, Peers, Ports};
use crate::path::FieldPath;

pub(super) fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    for ns in &ctx.cluster.namespaces {
        let pods: Vec<_> = ctx
            .cluster
            .pods
            .iter()
            .filter(|p| p.namespace == ns.name && !p.host_network)
            .collect();
        let Some(first) = pods.first() else {
            continue;
        };
        for direction in DIRECTIONS {
            let denied = ctx.cluster.policies.iter().any(|p| {
                p.namespace == ns.name
                    && p.subject.is_empty()
                    && p.rules(direction).is_some_and(|rules| {
                        !rules
                            .iter()
                            .any(|r| r.peers == Peers::Any && r.ports == Ports::Any)
                    })
            });
            if denied {
                continue;
            }
            let (code, kind, dir) = match direction {
                Direction::Ingress => (NO_DEFAULT_DENY_INGRESS, "Ingress", "incoming"),
                Direction::Egress => (NO_DEFAULT_DENY_EGRESS, "Egress", "outgoing"),
            };
            let name = format!("default-deny-{}", direction.as_str());
            let fix = yaml::policy(
                &ns.name,
                &name,
                &format!("{{podSelector: {{}}, policyTypes: [{kind}]}}"),
            );
            // The namespace's name, or where the first pod names its namespace.
            let (span, object) = if ns.declared {
                (
                    ctx.trees
                        .span_in(ns.span, &FieldPath::parse("metadata.name")),
                    format!("Namespace {}", ns.name),
                )
            } else {
                (
                    ctx.trees
                        .span_in(first.span, &FieldPath::parse("metadata.namespace")),
                    format!("Pod {}", first.key()),
                )
            };
            out.push(
                Diagnostic::warning(
                    code,
                    format!(
                        "namespace `{}` has {} but no default-deny {} policy: {} connections are allowed unless a policy selects the pod",
                        ns.name,
                        plural(pods.len(), "pod", "pods"),
                        direction.as_str(),
                        dir
                    ),
                )
                .with_object(object)
                .with_span(span)
                .with_help(format!(
                    "add a policy that selects every pod of the namespace, then allow what is needed: {fix}"
                )),
            );
        }
    }
}
