//! API objects -> what the cluster index keeps, converted once per new version and validated.
//!
//! ```text
//!   k8s Namespace ──validate, convert::namespace──> NsIn    (used as converted; errors reported)
//!   k8s Pod ────────validate, convert::pod────────> PodIn   (used as converted; errors reported)
//!   NetworkPolicy ──validate, convert::policy─────> PolicyIn: Ok(policy) | Err(quarantine)
//! ```
//!
//! Why pods and namespaces are used even when they fail validation: the API server has
//! already accepted them, so a failure means palisade's rules are stricter than the server's
//! (a version skew). Leaving such a pod out would leave it unpoliced, which widens; the
//! conversion already reads anything invalid the narrow way (an unreadable IP or port is
//! dropped). A policy is different: leaving it out un-isolates the pods it selects, so a policy
//! that fails validation is replaced by its last good version or, if it never had one, by a
//! quarantine ([`quarantine`]).

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use palisade_core::model::{Namespace, Pod, Policy, Selector, convert};
use palisade_core::validate::{self, FieldIssue};

/// The kinds the index keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Namespace,
    Pod,
    NetworkPolicy,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Namespace, Kind::Pod, Kind::NetworkPolicy];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Pod => "Pod",
            Kind::NetworkPolicy => "NetworkPolicy",
        }
    }

    pub(crate) fn slot(self) -> usize {
        match self {
            Kind::Namespace => 0,
            Kind::Pod => 1,
            Kind::NetworkPolicy => 2,
        }
    }
}

/// The identity of an object in the index. Pods go by uid: a pod deleted and created again
/// under the same name is another pod, and must not inherit anything of the first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Key {
    Namespace(String),
    Pod(String),
    Policy(String, String),
}

#[derive(Debug)]
pub(super) struct NsIn {
    pub name: String,
    pub rv: Option<String>,
    pub model: Namespace,
}

#[derive(Debug)]
pub(super) struct PodIn {
    pub uid: String,
    pub rv: Option<String>,
    pub created: Option<Time>,
    /// Phase Succeeded or Failed: the pod leaves the index.
    pub terminal: bool,
    pub model: Pod,
}

#[derive(Debug)]
pub(super) struct PolicyIn {
    pub namespace: String,
    pub name: String,
    pub rv: Option<String>,
    /// The converted policy, or the quarantine standing in for one that failed validation.
    pub converted: Result<Policy, Policy>,
}

/// One object's new version, converted.
#[derive(Debug)]
pub(super) enum Incoming {
    /// The same resourceVersion as the version the index holds: nothing to convert.
    Same(Key),
    Namespace(NsIn),
    Pod(PodIn),
    Policy(PolicyIn),
}

impl Incoming {
    pub(super) fn key(&self) -> Key {
        match self {
            Incoming::Same(key) => key.clone(),
            Incoming::Namespace(ns) => Key::Namespace(ns.name.clone()),
            Incoming::Pod(pod) => Key::Pod(pod.uid.clone()),
            Incoming::Policy(p) => Key::Policy(p.namespace.clone(), p.name.clone()),
        }
    }
}

/// An object that failed validation, and what the index did with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub kind: Kind,
    /// `namespace/name` (or `name` for a namespace).
    pub object: String,
    /// The code of the first error (e.g. `P230`): the metric's `reason` label.
    pub reason: &'static str,
    /// Every error, one per line: `field: message`.
    pub message: String,
    pub effect: Effect,
}

/// What stands in force for an object that failed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// A pod or namespace, used as converted (see the module doc).
    UsedAsConverted,
    /// A policy: its last version that passed stays in force.
    KeptLastGood,
    /// A policy that never passed: its pods are isolated with nothing allowed.
    Quarantined,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::UsedAsConverted => "used as converted",
            Effect::KeptLastGood => "last good version kept",
            Effect::Quarantined => "quarantined: its pods isolated, nothing allowed",
        }
    }
}

pub(super) fn pod_key(pod: &core::Pod) -> Key {
    Key::Pod(pod_uid(pod))
}

/// `metadata.uid`, which the API server always sets; objects built by hand may lack it, and
/// then namespace/name stands in.
fn pod_uid(pod: &core::Pod) -> String {
    match pod.metadata.uid.as_deref() {
        Some(uid) if !uid.is_empty() => uid.to_string(),
        _ => format!("{}/{}", namespace_of(&pod.metadata), name_of(&pod.metadata)),
    }
}

pub(super) fn namespace_key(ns: &core::Namespace) -> Key {
    Key::Namespace(name_of(&ns.metadata))
}

pub(super) fn policy_key(np: &net::NetworkPolicy) -> Key {
    Key::Policy(namespace_of(&np.metadata), name_of(&np.metadata))
}

fn namespace_of(meta: &ObjectMeta) -> String {
    meta.namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
        .unwrap_or(palisade_core::DEFAULT_NAMESPACE)
        .to_string()
}

fn name_of(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn errors(issues: &[FieldIssue]) -> Option<(&'static str, String)> {
    let mut errors = issues.iter().filter(|i| i.is_error()).peekable();
    let code = errors.peek()?.code;
    let message = errors
        .map(|i| format!("{}: {}", i.path, i.message))
        .collect::<Vec<_>>()
        .join("\n");
    Some((code, message))
}

fn rejection(
    kind: Kind,
    object: String,
    issues: &[FieldIssue],
    effect: Effect,
) -> Option<Rejection> {
    let (reason, message) = errors(issues)?;
    Some(Rejection {
        kind,
        object,
        reason,
        message,
        effect,
    })
}

pub(super) fn namespace(ns: &core::Namespace) -> (NsIn, Option<Rejection>) {
    let model = convert::namespace(ns, None);
    let issues = validate::validate_namespace(ns);
    let rejected = rejection(
        Kind::Namespace,
        model.name.clone(),
        &issues,
        Effect::UsedAsConverted,
    );
    (
        NsIn {
            name: model.name.clone(),
            rv: ns.metadata.resource_version.clone(),
            model,
        },
        rejected,
    )
}

pub(super) fn pod(pod: &core::Pod) -> (PodIn, Option<Rejection>) {
    let model = convert::pod(pod, None);
    let terminal = convert::is_terminal(pod);
    // A finished pod leaves whatever it says; no point in judging it.
    let issues = if terminal {
        Vec::new()
    } else {
        validate::validate_pod(pod)
    };
    let rejected = rejection(Kind::Pod, model.key(), &issues, Effect::UsedAsConverted);
    (
        PodIn {
            uid: pod_uid(pod),
            rv: pod.metadata.resource_version.clone(),
            created: pod.metadata.creation_timestamp.clone(),
            terminal,
            model,
        },
        rejected,
    )
}

/// The policy converted, or its quarantine. The caller decides between the quarantine and a
/// last good version, so the rejection's effect is filled in there.
pub(super) fn policy(np: &net::NetworkPolicy) -> (PolicyIn, Option<Rejection>) {
    let issues = validate::validate_network_policy(np);
    let converted = convert::policy(np, None);
    let rejected = rejection(
        Kind::NetworkPolicy,
        converted.key(),
        &issues,
        Effect::Quarantined,
    );
    let converted = if rejected.is_some() {
        Err(quarantine(converted, &issues))
    } else {
        Ok(converted)
    };
    (
        PolicyIn {
            namespace: namespace_of(&np.metadata),
            name: name_of(&np.metadata),
            rv: np.metadata.resource_version.clone(),
            converted,
        },
        rejected,
    )
}

/// What a policy that never passed validation enforces: the pods its podSelector selects (every
/// pod of the namespace if the selector itself is broken) isolated in the directions it
/// declares (both if its policyTypes are broken or name neither), with no rule.
///
/// The API server would have refused such an object, so it can only reach the agent through a
/// version skew; isolating is then the reading that cannot open anything the author meant to
/// close, and a pod it over-isolates shows up as drops and a warning, not as a silent hole.
pub(super) fn quarantine(converted: Policy, issues: &[FieldIssue]) -> Policy {
    let broken = |field: &str| {
        issues
            .iter()
            .any(|i| i.is_error() && i.path.to_string().starts_with(field))
    };
    let subject = if broken("spec.podSelector") {
        Selector::everything()
    } else {
        converted.subject
    };
    let declared = (converted.ingress.is_some(), converted.egress.is_some());
    let (ingress, egress) = if broken("spec.policyTypes") || declared == (false, false) {
        (true, true)
    } else {
        declared
    };
    Policy {
        subject,
        ingress: ingress.then(Vec::new),
        egress: egress.then(Vec::new),
        ..converted
    }
}

/// The object's resourceVersion, to skip converting a version the index already holds.
pub(super) trait Versioned {
    fn resource_version(&self) -> Option<&str>;
}

impl Versioned for core::Pod {
    fn resource_version(&self) -> Option<&str> {
        self.metadata.resource_version.as_deref()
    }
}

impl Versioned for core::Namespace {
    fn resource_version(&self) -> Option<&str> {
        self.metadata.resource_version.as_deref()
    }
}

impl Versioned for net::NetworkPolicy {
    fn resource_version(&self) -> Option<&str> {
        self.metadata.resource_version.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn np(spec: NetworkPolicySpec) -> NetworkPolicy {
        NetworkPolicy {
            metadata: ObjectMeta {
                name: Some("np".into()),
                namespace: Some("shop".into()),
                ..ObjectMeta::default()
            },
            spec: Some(spec),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn quarantine_isolates_what_the_policy_declares_or_everything() {
        let db = LabelSelector {
            match_labels: Some(labels(&[("app", "db")])),
            ..LabelSelector::default()
        };
        let bad_selector = LabelSelector {
            match_labels: Some(labels(&[("app", "not a label value!")])),
            ..LabelSelector::default()
        };
        for (label, spec, want_subject_empty, want) in [
            (
                "egress only, bad port protocol",
                NetworkPolicySpec {
                    pod_selector: Some(db.clone()),
                    policy_types: Some(vec!["Egress".into()]),
                    egress: Some(vec![net::NetworkPolicyEgressRule {
                        ports: Some(vec![net::NetworkPolicyPort {
                            protocol: Some("ICMP".into()),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }]),
                    ..Default::default()
                },
                false,
                (false, true),
            ),
            (
                "policyTypes broken",
                NetworkPolicySpec {
                    pod_selector: Some(db.clone()),
                    policy_types: Some(vec!["Ingres".into()]),
                    ..Default::default()
                },
                false,
                (true, true),
            ),
            (
                "podSelector broken",
                NetworkPolicySpec {
                    pod_selector: Some(bad_selector),
                    ..Default::default()
                },
                true,
                (true, false),
            ),
        ] {
            let (incoming, rejected) = policy(&np(spec));
            assert!(rejected.is_some(), "{label}: rejected");
            let Err(q) = incoming.converted else {
                panic!("{label}: quarantined");
            };
            assert_eq!(q.subject.is_empty(), want_subject_empty, "{label}: subject");
            assert_eq!(
                (q.ingress.clone(), q.egress.clone()),
                (want.0.then(Vec::new), want.1.then(Vec::new)),
                "{label}: directions isolated with no rule"
            );
        }
    }
}
