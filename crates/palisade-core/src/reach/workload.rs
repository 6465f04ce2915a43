//! Which workload a pod belongs to, so that large clusters can be shown one line per
//! Deployment rather than one per replica (`--group-by workload`).
//!
//! The model keeps no owner references, so the workload is recovered from what controllers
//! write on every pod they create: the `pod-template-hash` label and the `NAME-HASH-xxxxx` name
//! of Deployment pods, the ordinal name of StatefulSet pods, the `-xxxxx` suffix next to
//! `controller-revision-hash` on DaemonSet pods, and the job-name label of Job pods. A pod none
//! of these apply to is its own workload; a workload template is already one.

use crate::model::{Pod, PodOrigin};

/// `namespace/workload` for `pod`.
pub fn workload_name(pod: &Pod) -> String {
    format!("{}/{}", pod.namespace, workload_base(pod))
}

fn workload_base(pod: &Pod) -> &str {
    if matches!(pod.origin, PodOrigin::Template { .. }) {
        return &pod.name;
    }
    let label = |key: &str| pod.labels.get(key).map(String::as_str);
    // Deployment -> ReplicaSet `NAME-HASH` -> pods `NAME-HASH-xxxxx`, each labelled
    // `pod-template-hash: HASH` (Deployments concept page, "Pod-template-hash label").
    if let Some(hash) = label("pod-template-hash").filter(|h| !h.is_empty())
        && let Some(at) = pod.name.find(&format!("-{hash}-"))
        && at > 0
    {
        return &pod.name[..at];
    }
    // StatefulSet pods are `NAME-ORDINAL` and carry their own name in
    // `statefulset.kubernetes.io/pod-name` (StatefulSets concept page, "Pod Name Label").
    let ordinal = label("statefulset.kubernetes.io/pod-name")
        .or_else(|| label("apps.kubernetes.io/pod-index"))
        .is_some();
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

/// `name` without its last `-segment` when the segment satisfies `is_generated`.
fn strip_suffix(name: &str, is_generated: impl Fn(&str) -> bool) -> Option<&str> {
    let (base, suffix) = name.rsplit_once('-')?;
    (!base.is_empty() && !suffix.is_empty() && is_generated(suffix)).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;

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
            span: None,
        }
    }

    #[test]
    fn workloads_from_controller_conventions() {
        let template = PodOrigin::Template {
            kind: "Deployment".to_string(),
        };
        let cases: Vec<(&str, Pod, &str)> = vec![
            (
                "deployment replica",
                pod(
                    "web-7d9f8c6b5-x2x4k",
                    &[("app", "web"), ("pod-template-hash", "7d9f8c6b5")],
                    PodOrigin::Pod,
                ),
                "shop/web",
            ),
            (
                "deployment name with dashes",
                pod(
                    "api-gw-5c7d9-abcde",
                    &[("pod-template-hash", "5c7d9")],
                    PodOrigin::Pod,
                ),
                "shop/api-gw",
            ),
            (
                "hash label not in the name",
                pod("web", &[("pod-template-hash", "5c7d9")], PodOrigin::Pod),
                "shop/web",
            ),
            (
                "statefulset ordinal",
                pod(
                    "db-12",
                    &[("statefulset.kubernetes.io/pod-name", "db-12")],
                    PodOrigin::Pod,
                ),
                "shop/db",
            ),
            (
                "daemonset suffix",
                pod(
                    "agent-x7k2p",
                    &[("controller-revision-hash", "6b4f")],
                    PodOrigin::Pod,
                ),
                "shop/agent",
            ),
            (
                "job pod",
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
}
