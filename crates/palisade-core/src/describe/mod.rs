//! Policies and pod isolation in plain words: the text of `palisade explain`.
//!
//! ```text
//!   policy(cluster, policy) ── subject ── per direction: rules::allowed ── rules::clause per rule
//!   pod(cluster, pod) ──────── selecting policies ── per direction: union of their clauses
//!                                   clause = peers (words::peer + notes) + ports (words::ports)
//! ```
//!
//! The text is exact: it says what the semantics say, no more, no less. Everything it reads is
//! in the order of the model (sorted maps, sorted policies, rules and ports as written), so the
//! same cluster always gives the same text. Where a selector matches nothing in the inputs, a
//! parenthesised note says so (the `notes` module says when). Plain ASCII only.

mod notes;
mod pod;
mod policy;
mod rules;
pub(crate) mod words;

#[cfg(test)]
mod tests;

use crate::model::{Cluster, Pod, Policy};

pub use words::{ip_block, labels, namespace_scope, peer, port, ports, requirement, selector};

/// What every description takes for granted; `explain` prints it once rather than in every
/// sentence. These hold whatever the policies say.
pub const ALWAYS_ALLOWED: &str = "A pod may always reach itself, traffic between a pod and its \
own node is always allowed, and replies to an allowed connection are always allowed. A connection \
needs both the egress of its source and the ingress of its destination to allow it.";

/// What `policy` does, in sentences a careful colleague would write.
pub fn policy(cluster: &Cluster, policy: &Policy) -> String {
    policy::describe(cluster, policy)
}

/// The effective isolation of `pod`: which policies select it, what each direction accepts.
pub fn pod(cluster: &Cluster, pod: &Pod) -> String {
    pod::describe(cluster, pod)
}

/// The policies of `pod`'s namespace that select it, sorted by name (whether or not they
/// isolate a direction).
pub fn selecting_policies<'a>(cluster: &'a Cluster, pod: &Pod) -> Vec<&'a Policy> {
    pod::selecting_policies(cluster, pod)
}

/// Upper-cases the first letter; sentences here start with ASCII words.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}
