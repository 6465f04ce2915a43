//! Kubernetes objects -> palisade's model, once, with every API default spelled out.
//!
//! ```text
//!   k8s Namespace ──namespace()──────> Namespace (+ kubernetes.io/metadata.name)
//!   k8s Pod ────────pod()────────────> Pod { ips from status, ports of containers and sidecars,
//!                                            owner: the controller ownerReference }
//!   workload ───────workload_pod()───> Pod { origin: Template { kind } } standing for every replica
//!   NetworkPolicy ──policy()─────────> Policy { effective policyTypes, Peers, Ports }
//!   &[&LoadedObject] ──build_cluster()──> Cluster (sorted, duplicates resolved, namespaces completed)
//! ```
//!
//! The per-object functions take k8s-openapi types and an optional span, and know nothing of
//! files, so the agent can call them on objects from the API. They never fail: they expect
//! objects that passed [`crate::validate`], and where an invalid value slips through anyway they
//! fall back to the reading that allows less (an unreadable port or peer item is dropped from a
//! non-empty list, so the list can only match less; an invalid selector requirement matches
//! nothing).
//!
//! Diagnostics: `P301` (error) two objects define the same namespace, pod or policy.

mod cluster;
mod pod;
mod policy;

pub use cluster::build_cluster;
pub use pod::{controller_of, is_terminal, namespace, pod, referenced_namespace, workload_pod};
pub use policy::{effective_policy_types, policy, selector};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Two objects define the same namespace, pod (a Pod and a workload count) or policy.
pub const DUPLICATE_OBJECT: crate::diag::Code = "P301";

/// `metadata.namespace`, or `default` when it is missing or empty: kubectl sends such objects
/// to the context's namespace, which palisade takes to be `default`.
fn namespace_of(metadata: &ObjectMeta) -> String {
    metadata
        .namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
        .unwrap_or(crate::DEFAULT_NAMESPACE)
        .to_string()
}

fn name_of(metadata: &ObjectMeta) -> String {
    metadata.name.clone().unwrap_or_default()
}
