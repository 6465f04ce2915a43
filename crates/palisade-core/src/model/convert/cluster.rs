//! Loaded objects -> one [`Cluster`]: duplicates resolved, referenced namespaces added,
//! everything sorted. The result depends on the set of objects only, never on their order.

use std::collections::{BTreeMap, BTreeSet};

use super::{DUPLICATE_OBJECT, name_of, namespace_of, pod, policy};
use crate::diag::Diagnostic;
use crate::load::{K8sObject, LoadedObject};
use crate::model::{Cluster, Namespace, Owner, Pod, Policy};
use crate::path::FieldPath;

/// What an object becomes in the model; two objects with the same identity clash.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Identity {
    Namespace(String),
    /// Pods and workloads share one name space: a workload's pod is named after the workload.
    Pod {
        namespace: String,
        name: String,
    },
    Policy {
        namespace: String,
        name: String,
    },
}

impl Identity {
    fn describe(&self) -> String {
        match self {
            Identity::Namespace(name) => format!("namespace `{name}`"),
            Identity::Pod { namespace, name } => format!("pod `{namespace}/{name}`"),
            Identity::Policy { namespace, name } => {
                format!("NetworkPolicy `{namespace}/{name}`")
            }
        }
    }
}

enum Item {
    Namespace(Namespace),
    Pod { pod: Pod, terminal: bool },
    Policy(Policy),
}

/// Orders the candidates for one identity; the first one wins. Built from the objects' content
/// and position in their file, never from their order in the input slice.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    /// A pod that still runs beats a finished one.
    terminal: bool,
    /// A Pod object (0) beats a workload template (1), then by kind name.
    origin: (u8, String),
    /// The object as canonical JSON, filled only when identities clash ([`content_of`]).
    content: String,
    /// Last resort for identical objects: where they were written.
    location: (u32, usize),
}

struct Candidate<'a> {
    object: &'a LoadedObject,
    identity: Identity,
    rank: Rank,
    item: Item,
}

/// Builds the cluster from objects that passed validation. Objects are given in input order;
/// the result is sorted and independent of that order. Returns diagnostics for conflicts
/// (e.g. two objects with the same kind, namespace and name).
pub fn build_cluster(objects: &[&LoadedObject]) -> (Cluster, Vec<Diagnostic>) {
    let mut slots: Vec<Option<Candidate<'_>>> =
        objects.iter().map(|o| Some(candidate(o))).collect();
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (slots[a].as_ref(), slots[b].as_ref());
        a.map(|c| &c.identity).cmp(&b.map(|c| &c.identity))
    });

    let mut cluster = Cluster::default();
    let mut diagnostics = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut candidates: Vec<Candidate<'_>> = Vec::with_capacity(1);
        let mut end = start;
        while end < order.len()
            && slots[order[end]].as_ref().map(|c| &c.identity)
                == slots[order[start]].as_ref().map(|c| &c.identity)
        {
            end += 1;
        }
        candidates.extend(order[start..end].iter().filter_map(|&i| slots[i].take()));
        start = end;
        if candidates.len() > 1 {
            // Only a clash needs the content tie-break: serialising every object would cost
            // a tenth of the loading time.
            for c in &mut candidates {
                c.rank.content = content_of(c.object);
            }
            candidates.sort_by(|a, b| a.rank.cmp(&b.rank));
        }
        let mut candidates = candidates.into_iter();
        let Some(winner) = candidates.next() else {
            continue;
        };
        for loser in candidates {
            diagnostics.push(clash(&winner.identity, &winner, &loser));
        }
        match winner.item {
            Item::Namespace(ns) => cluster.namespaces.push(ns),
            Item::Pod { pod, terminal } => {
                if !terminal {
                    cluster.pods.push(pod);
                }
            }
            Item::Policy(policy) => cluster.policies.push(policy),
        }
    }

    let declared: BTreeSet<String> = cluster.namespaces.iter().map(|n| n.name.clone()).collect();
    let referenced: BTreeSet<String> = cluster
        .pods
        .iter()
        .map(|p| p.namespace.clone())
        .chain(cluster.policies.iter().map(|p| p.namespace.clone()))
        .filter(|ns| !declared.contains(ns))
        .collect();
    cluster
        .namespaces
        .extend(referenced.iter().map(|ns| super::referenced_namespace(ns)));

    follow_owners(objects, &mut cluster.pods);

    cluster.namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    cluster
        .pods
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    cluster
        .policies
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    (cluster, diagnostics)
}

fn candidate(object: &LoadedObject) -> Candidate<'_> {
    let span = object.span_of(&FieldPath::root());
    let location = span.map_or((u32::MAX, usize::MAX), |s| (s.file.0, s.start));
    let meta = object.object.metadata();
    let (namespace, name) = (namespace_of(meta), name_of(meta));
    let pod_identity = || Identity::Pod {
        namespace: namespace.clone(),
        name: name.clone(),
    };
    let (identity, origin, item) = match &object.object {
        K8sObject::Namespace(ns) => (
            Identity::Namespace(name.clone()),
            (0, String::new()),
            Item::Namespace(super::namespace(ns, span)),
        ),
        K8sObject::Pod(p) => (
            pod_identity(),
            (0, String::new()),
            Item::Pod {
                pod: pod(p, span),
                terminal: super::is_terminal(p),
            },
        ),
        K8sObject::Workload {
            kind,
            metadata,
            template,
            ..
        } => (
            pod_identity(),
            (1, kind.clone()),
            Item::Pod {
                pod: super::workload_pod(kind, metadata, template, span),
                terminal: false,
            },
        ),
        K8sObject::NetworkPolicy(np) => {
            let mut converted = policy(np, span);
            fill_rule_spans(object, &mut converted);
            (
                Identity::Policy {
                    namespace: namespace.clone(),
                    name: name.clone(),
                },
                (0, String::new()),
                Item::Policy(converted),
            )
        }
    };
    let terminal = matches!(item, Item::Pod { terminal: true, .. });
    Candidate {
        object,
        identity,
        rank: Rank {
            terminal,
            origin,
            content: String::new(),
            location,
        },
        item,
    }
}

/// The object as canonical JSON: equal content ranks equal whatever the input order.
/// Serialising k8s-openapi types cannot fail in practice; an empty string only weakens the
/// tie-break to the location.
fn content_of(object: &LoadedObject) -> String {
    match &object.object {
        K8sObject::Namespace(ns) => serde_json::to_string(ns),
        K8sObject::Pod(p) => serde_json::to_string(p),
        K8sObject::Workload {
            metadata, template, ..
        } => serde_json::to_string(&(metadata, template)),
        K8sObject::NetworkPolicy(np) => serde_json::to_string(np),
    }
    .unwrap_or_default()
}

/// Each model rule is `spec.ingress[i]` / `spec.egress[i]` of the object, in order.
fn fill_rule_spans(object: &LoadedObject, policy: &mut Policy) {
    let spec = FieldPath::root().field("spec");
    for (field, rules) in [
        ("ingress", &mut policy.ingress),
        ("egress", &mut policy.egress),
    ] {
        for (i, rule) in rules.iter_mut().flatten().enumerate() {
            rule.span = object.span_of(&spec.field(field).index(i));
        }
    }
}

fn clash(identity: &Identity, winner: &Candidate<'_>, loser: &Candidate<'_>) -> Diagnostic {
    let (kept, dropped) = (winner.object.describe(), loser.object.describe());
    let message = if kept == dropped {
        format!("duplicate {dropped}: it is defined more than once")
    } else {
        format!("{dropped} and {kept} both define {}", identity.describe())
    };
    let name_path = FieldPath::root().field("metadata").field("name");
    let kept_at = match (
        winner.object.span_of(&name_path),
        loser.object.span_of(&name_path),
    ) {
        (Some(w), Some(l)) if w.file == l.file => format!(" (line {})", w.line),
        (Some(_), Some(_)) => " (in another file)".to_string(),
        _ => String::new(),
    };
    let help = match identity {
        Identity::Pod { .. } if kept != dropped => format!(
            "palisade models a workload as one pod named after it, so names must not collide; \
             rename one of them. palisade uses {kept}{kept_at} and ignores this one"
        ),
        _ => format!(
            "remove or rename one of them; palisade uses the definition of {kept}{kept_at} and \
             ignores this one"
        ),
    };
    Diagnostic::error(DUPLICATE_OBJECT, message)
        .with_object(dropped)
        .with_field(name_path.to_string())
        .with_span(loser.object.span_of(&name_path))
        .with_label("duplicate")
        .with_help(help)
}

/// Replaces a pod's owner by the owner's own controller when the input holds the owner object:
/// a Deployment's pods are owned by a ReplicaSet, which the Deployment owns; a CronJob's pods
/// by a Job, which the CronJob owns (Garbage collection concept page, "Owners and
/// dependents"). A chain is followed a few steps at most, so a cycle in bad input ends.
fn follow_owners(objects: &[&LoadedObject], pods: &mut [Pod]) {
    let mut owners: BTreeMap<(String, String, String), Owner> = BTreeMap::new();
    for object in objects {
        if let K8sObject::Workload { kind, metadata, .. } = &object.object
            && let Some(owner) = super::controller_of(metadata)
        {
            owners.insert(
                (namespace_of(metadata), kind.clone(), name_of(metadata)),
                owner,
            );
        }
    }
    if owners.is_empty() {
        return;
    }
    for pod in pods {
        for _ in 0..4 {
            let Some(current) = &pod.owner else { break };
            let key = (
                pod.namespace.clone(),
                current.kind.clone(),
                current.name.clone(),
            );
            match owners.get(&key) {
                Some(next) => pod.owner = Some(next.clone()),
                None => break,
            }
        }
    }
}
