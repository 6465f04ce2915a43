//! L013: a policy that selects only hostNetwork pods.
//!
//! hostNetwork pods share their node's network namespace; NetworkPolicy does not apply to them
//! (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-and-hostnetwork-pods>:
//! "the behavior of NetworkPolicy ... is undefined", and in the common implementations they are
//! treated as node traffic). A policy whose podSelector matches only such pods therefore does
//! nothing.

use super::{Ctx, HOST_NETWORK_ONLY, plural};
use crate::diag::Diagnostic;
use crate::path::FieldPath;

pub(super) fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    for policy in &ctx.cluster.policies {
        let host = ctx.inv.selected_host(policy);
        if host.is_empty() || !ctx.inv.selected(policy).is_empty() {
            continue;
        }
        let selected: Vec<_> = host
            .iter()
            .filter_map(|&i| ctx.cluster.pods.get(i))
            .collect();
        let path = FieldPath::root().field("spec").field("podSelector");
        out.push(
            ctx.at_policy(
                HOST_NETWORK_ONLY,
                policy,
                &path,
                format!(
                    "this policy selects only hostNetwork pods ({}, e.g. {}), which NetworkPolicy does not apply to: it has no effect",
                    plural(selected.len(), "pod", "pods"),
                    selected.first().map(|p| p.key()).unwrap_or_default()
                ),
            )
            .with_label("selects hostNetwork pods only")
            .with_help("protect hostNetwork pods with host firewall rules; delete this policy or point it at pods with their own network"),
        );
    }
}
