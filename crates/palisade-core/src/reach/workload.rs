//! Which workload a pod belongs to, so that large clusters can be shown one line per
//! Deployment rather than one per replica (`--group-by workload`).
//!
//! The evidence, strongest first:
//!
//! 1. The pod's controller (`metadata.ownerReferences`, the entry with `controller: true`),
//!    followed up the chain by the model when the input holds the owner object. A StatefulSet,
//!    DaemonSet, Job, CronJob or Deployment owner is the workload. A ReplicaSet owner not found
//!    in the input is still known to belong to a Deployment when its name is `NAME-HASH` and the
//!    pod carries `pod-template-hash: HASH`: "The Deployment controller adds this label to
//!    every ReplicaSet that a Deployment creates or adopts", and the ReplicaSet is named
//!    `[DEPLOYMENT-NAME]-[HASH]` (Deployments concept page, "Pod-template-hash label",
//!    "Creating a Deployment"); otherwise the ReplicaSet itself is the workload.
//! 2. Without owner references (hand-written or trimmed manifests), the labels controllers
//!    put on the pods they create: `pod-template-hash` with a pod named `NAME-HASH-xxxxx`
//!    (the hash is alphanumeric today and was a decimal number before Kubernetes 1.11), the
//!    StatefulSet pod-name label with a pod named `NAME-ORDINAL`, `controller-revision-hash`
//!    with a DaemonSet pod's `NAME-xxxxx`, and a Job's job-name label.
//! 3. Otherwise the pod is its own workload. A name alone is never evidence: `db-1` and `db-2`,
//!    or `account` and `account-query`, stay apart unless a controller says otherwise.
//!
//! A workload template is already its workload.

use crate::model::{Pod, PodOrigin};

/// `namespace/workload` for `pod`.
pub fn workload_name(pod: &Pod) -> String {
    format!("{}/{}", pod.namespace, workload_base(pod))
}

/// The workload's name without its namespace; allocation-free, so that callers comparing many
/// pods against one name (`--from shop/web`) need not format a string per pod.
pub(crate) fn workload_base(pod: &Pod) -> &str {
    if matches!(pod.origin, PodOrigin::Template { .. }) {
        return &pod.name;
    }
    let label = |key: &str| pod.labels.get(key).map(String::as_str);
    let hash = label("pod-template-hash").filter(|h| !h.is_empty());
    if let Some(owner) = &pod.owner {
        if owner.kind == "ReplicaSet"
            && let Some(hash) = hash
            && let Some(deployment) = owner
                .name
                .strip_suffix(hash)
                .and_then(|n| n.strip_suffix('-'))
                .filter(|n| !n.is_empty())
        {
            return deployment;
        }
        return &owner.name;
    }
    // Deployment -> ReplicaSet `NAME-HASH` -> pods `NAME-HASH-xxxxx`, each labelled
    // `pod-template-hash: HASH`.
    if let Some(hash) = hash
        && let Some(at) = find_dashed(&pod.name, hash)
        && at > 0
    {
        return &pod.name[..at];
    }
    // StatefulSet pods are `NAME-ORDINAL` and carry their own name in
    // `statefulset.kubernetes.io/pod-name` (StatefulSets concept page, "Pod Name Label").
    let ordinal = label("statefulset.kubernetes.io/pod-name") == Some(pod.name.as_str())
        || label("apps.kubernetes.io/pod-index").is_some();
    if ordinal
        && let Some(base) = strip_suffix(&pod.name, |s| s.bytes().all(|b| b.is_ascii_digit()))
    {
        return base;
    }
    // DaemonSet pods: generateName `NAME-` plus five random characters, and a
    // controller-revision-hash label.
    if label("controller-revision-hash").is_some()
        && let Some(base) = strip_suffix(&pod.name, |s| {
            s.len() == 5
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
    {
        return base;
    }
    // Job pods carry the Job's name (batch.kubernetes.io/job-name, or the legacy job-name).
    if let Some(job) = label("batch.kubernetes.io/job-name")
        .or_else(|| label("job-name"))
        .filter(|j| !j.is_empty())
    {
        return job;
    }
    &pod.name
}

/// Where `-{segment}-` first occurs in `name`.
fn find_dashed(name: &str, segment: &str) -> Option<usize> {
    name.match_indices('-').map(|(at, _)| at).find(|&at| {
        name[at + 1..]
            .strip_prefix(segment)
            .is_some_and(|rest| rest.starts_with('-'))
    })
}

/// `name` without its last `-segment` when the segment satisfies `is_generated`.
fn strip_suffix(name: &str, is_generated: impl Fn(&str) -> bool) -> Option<&str> {
    let (base, suffix) = name.rsplit_once('-')?;
    (!base.is_empty() && !suffix.is_empty() && is_generated(suffix)).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, Owner};

    fn pod(name: &str, labels: &[(&str, &str)], origin: PodOrigin) -> Pod {
        Pod {
            namespace: "shop".to_string(),
            name: name.to_string(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Labels>(),
            ips: Vec::new(),
            node: None,
            host_network: false,
            ports: Vec::new(),
            origin,
            owner: None,
            span: None,
        }
    }

    fn owned(mut pod: Pod, kind: &str, name: &str) -> Pod {
        pod.owner = Some(Owner {
            kind: kind.to_string(),
            name: name.to_string(),
        });
        pod
    }

    /// Owner references first (Garbage collection concept page, "Owners and dependents":
    /// "ReplicaSets are the owners of a set of Pods", `ownerReferences.controller`), then the
    /// labels controllers set (Deployments concept page, "Pod-template-hash label";
    /// StatefulSets concept page, "Pod Name Label").
    #[test]
    fn workloads_from_owners_and_controller_labels() {
        let template = PodOrigin::Template {
            kind: "Deployment".to_string(),
        };
        let hash = ("pod-template-hash", "5d8f7c9b6d");
        let cases: Vec<(&str, Pod, &str)> = vec![
            (
                "replicaset owner with the hash: its deployment",
                owned(
                    pod("web-5d8f7c9b6d-q7x2m", &[hash], PodOrigin::Pod),
                    "ReplicaSet",
                    "web-5d8f7c9b6d",
                ),
                "shop/web",
            ),
            (
                "replicaset owner, pod renamed: the owner decides, not the pod name",
                owned(
                    pod("frontend-abc", &[hash], PodOrigin::Pod),
                    "ReplicaSet",
                    "api-gw-5d8f7c9b6d",
                ),
                "shop/api-gw",
            ),
            (
                "bare replicaset (no hash label): the replicaset",
                owned(
                    pod("frontend-b2zdv", &[("tier", "frontend")], PodOrigin::Pod),
                    "ReplicaSet",
                    "frontend",
                ),
                "shop/frontend",
            ),
            (
                "replicaset whose name does not end in the hash: the replicaset",
                owned(
                    pod("cache-x", &[("pod-template-hash", "77f")], PodOrigin::Pod),
                    "ReplicaSet",
                    "cache-5d8f",
                ),
                "shop/cache-5d8f",
            ),
            (
                "deployment already resolved by the model",
                owned(
                    pod("web-5d8f7c9b6d-q7x2m", &[hash], PodOrigin::Pod),
                    "Deployment",
                    "web",
                ),
                "shop/web",
            ),
            (
                "statefulset owner",
                owned(pod("db-1", &[], PodOrigin::Pod), "StatefulSet", "db"),
                "shop/db",
            ),
            (
                "daemonset owner",
                owned(
                    pod("agent-x7k2p", &[], PodOrigin::Pod),
                    "DaemonSet",
                    "agent",
                ),
                "shop/agent",
            ),
            (
                "job owner",
                owned(pod("migrate-28h4z", &[], PodOrigin::Pod), "Job", "migrate"),
                "shop/migrate",
            ),
            (
                "no owner: pod-template-hash in the name",
                pod(
                    "web-7d9f8c6b5-x2x4k",
                    &[("pod-template-hash", "7d9f8c6b5")],
                    PodOrigin::Pod,
                ),
                "shop/web",
            ),
            (
                "no owner: the numeric hash of old releases",
                pod(
                    "nginx-3959356812-k1h4w",
                    &[("pod-template-hash", "3959356812")],
                    PodOrigin::Pod,
                ),
                "shop/nginx",
            ),
            (
                "no owner: deployment name with dashes",
                pod(
                    "api-gw-5c7d9-abcde",
                    &[("pod-template-hash", "5c7d9")],
                    PodOrigin::Pod,
                ),
                "shop/api-gw",
            ),
            (
                "no owner: hash label not in the name",
                pod("web", &[("pod-template-hash", "5c7d9")], PodOrigin::Pod),
                "shop/web",
            ),
            (
                "no owner: statefulset pod-name label",
                pod(
                    "db-12",
                    &[("statefulset.kubernetes.io/pod-name", "db-12")],
                    PodOrigin::Pod,
                ),
                "shop/db",
            ),
            (
                "no owner: pod-name label of another pod is no evidence",
                pod(
                    "db-12",
                    &[("statefulset.kubernetes.io/pod-name", "db-0")],
                    PodOrigin::Pod,
                ),
                "shop/db-12",
            ),
            (
                "no owner: daemonset suffix",
                pod(
                    "agent-x7k2p",
                    &[("controller-revision-hash", "6b4f")],
                    PodOrigin::Pod,
                ),
                "shop/agent",
            ),
            (
                "no owner: job pod",
                pod(
                    "migrate-28h4z",
                    &[("batch.kubernetes.io/job-name", "migrate")],
                    PodOrigin::Pod,
                ),
                "shop/migrate",
            ),
            (
                "bare pod keeps its name",
                pod("debug-12", &[("app", "debug")], PodOrigin::Pod),
                "shop/debug-12",
            ),
            (
                "template is the workload",
                pod("web", &[("app", "web")], template),
                "shop/web",
            ),
        ];
        for (label, pod, want) in cases {
            assert_eq!(workload_name(&pod), want, "{label}");
        }
    }

    /// Names that look alike are never merged without a controller's word.
    #[test]
    fn look_alike_bare_pods_stay_apart() {
        let groups = [
            ["account", "account-query"],
            ["db-1", "db-2"],
            ["web-abcde", "web-fghij"],
        ];
        for [a, b] in groups {
            let (a, b) = (pod(a, &[], PodOrigin::Pod), pod(b, &[], PodOrigin::Pod));
            assert_ne!(
                workload_name(&a),
                workload_name(&b),
                "{} / {}",
                a.name,
                b.name
            );
        }
    }
}
