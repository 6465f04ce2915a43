//! Property tests: the pod groups of `explain` are exact. Every pod is in exactly one group,
//! every member's own paragraph (`describe::pod`) is the group's paragraph with the header
//! replaced, and no two groups of a namespace share a paragraph.

use std::collections::BTreeSet;

use palisade_core::describe::{self, Describer};
use palisade_core::model::Cluster;
use palisade_core::model::Selector;
use palisade_test_support::arbitrary;
use palisade_test_support::builders::{labels, mk_cluster, mk_pod, mk_policy};
use proptest::prelude::*;

/// Replicas, so that groups have several members: every pod of the arbitrary cluster twice,
/// the copy with one more label of its own, as a StatefulSet gives each pod.
fn with_replicas(cluster: &Cluster) -> Cluster {
    let mut pods = cluster.pods.clone();
    for pod in &cluster.pods {
        pods.push(mk_pod(&pod.namespace, &format!("{}-copy", pod.name), |p| {
            *p = pod.clone();
            p.name = format!("{}-copy", pod.name);
            p.labels.insert(
                "statefulset.kubernetes.io/pod-name".to_owned(),
                p.name.clone(),
            );
            // Distinct addresses are not needed here: no ipBlock note reads them apart.
            p.ips.clear();
        }));
    }
    mk_cluster(cluster.namespaces.clone(), pods, cluster.policies.clone())
}

fn check(cluster: &Cluster) -> Result<(), TestCaseError> {
    let describer = Describer::new(cluster);
    let groups = describer.pod_groups();
    let mut seen = BTreeSet::new();
    let mut paragraphs = BTreeSet::new();
    for group in &groups {
        prop_assert!(!group.pods.is_empty(), "empty group");
        let namespace = &cluster.pods[group.pods[0]].namespace;
        prop_assert!(
            paragraphs.insert((namespace.clone(), group.body.clone())),
            "two groups of {} say {:?}",
            namespace,
            group.body
        );
        for &i in &group.pods {
            prop_assert!(seen.insert(i), "pod {} in two groups", i);
            let pod = &cluster.pods[i];
            prop_assert_eq!(&pod.namespace, namespace);
            let own = describe::pod(cluster, pod);
            let header = format!("{} ({})", pod.key(), describe::labels(&pod.labels));
            prop_assert_eq!(
                &own,
                &format!("{header}: {}", group.body),
                "pod {}",
                pod.key()
            );
            prop_assert_eq!(&own, &describer.pod(pod));
        }
        let paragraph = describer.pod_group(group);
        if let [one] = group.pods.as_slice() {
            prop_assert_eq!(paragraph, describe::pod(cluster, &cluster.pods[*one]));
        } else if !group.unselected {
            prop_assert_eq!(
                paragraph,
                format!("{}: {}", describer.group_header(group), group.body)
            );
        }
    }
    prop_assert_eq!(seen.len(), cluster.pods.len());
    for policy in &cluster.policies {
        prop_assert_eq!(describer.policy(policy), describe::policy(cluster, policy));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn groups_are_exact((cluster, _) in arbitrary::cluster(arbitrary::Addresses::MayRepeat)) {
        check(&cluster)?;
        check(&with_replicas(&cluster))?;
    }
}

/// How a group reads: replicas of one workload under its name, pods of several workloads under
/// their namespace, pods that no policy selects as one line per namespace, a single pod as
/// `describe::pod` writes it.
#[test]
fn group_headers() {
    let web = |name: &str, extra: (&str, &str)| {
        mk_pod("shop", name, |p| {
            p.labels = labels(&[("app", "web"), ("pod-template-hash", "7d9f"), extra]);
        })
    };
    let cluster = mk_cluster(
        vec![],
        vec![
            web("web-7d9f-a", ("zone", "a")),
            web("web-7d9f-b", ("zone", "b")),
            web("web-7d9f-c", ("zone", "a")),
            web("web-7d9f-d", ("zone", "a")),
            mk_pod("shop", "api-0", |p| p.labels = labels(&[("app", "api")])),
            mk_pod("shop", "api-1", |p| p.labels = labels(&[("app", "api")])),
            mk_pod("shop", "cron-x", |p| p.labels = labels(&[("app", "web")])),
            mk_pod("tools", "debug", |p| p.labels = labels(&[("run", "debug")])),
            mk_pod("tools", "shell", |_| {}),
            mk_pod("solo", "one", |p| p.labels = labels(&[("app", "one")])),
        ],
        vec![mk_policy("shop", "deny", |p| {
            p.subject = Selector::everything()
        })],
    );
    let describer = Describer::new(&cluster);
    let text: Vec<String> = describer
        .pod_groups()
        .iter()
        .map(|g| describer.pod_group(g))
        .collect();
    let deny = "ingress is isolated by deny; all ingress is denied (no ingress rules). Egress is \
                not isolated: it may send all egress.";
    assert_eq!(
        text,
        [
            format!(
                "shop (7 pods of 4 workloads: api-0, api-1, cron-x +4 more; no labels in common): \
                 {deny}"
            ),
            "solo/one (app=one): no policy selects it, so it is not isolated: it accepts all \
             ingress and may send all egress."
                .to_owned(),
            "tools: 2 pods that no policy selects (debug, shell) accept all ingress and may send \
             all egress."
                .to_owned(),
        ]
    );
    // Without the odd ones out, the replicas are one workload.
    let mut replicas = cluster.clone();
    replicas
        .pods
        .retain(|p| p.namespace == "shop" && p.name.starts_with("web-"));
    let describer = Describer::new(&replicas);
    let groups = describer.pod_groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        describer.group_header(&groups[0]),
        "shop/web (4 pods: web-7d9f-a, web-7d9f-b, web-7d9f-c +1 more; app=web, \
         pod-template-hash=7d9f)"
    );
}
