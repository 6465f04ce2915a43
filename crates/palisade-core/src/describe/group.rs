//! Pods described alike, described once. On a real cluster most pods are replicas: their
//! paragraphs differ only in the pod's own name and labels, so `explain` prints each distinct
//! paragraph once, headed by the pods it is about.
//!
//! A group is exact: its members are the pods of one namespace whose paragraph after the header
//! is the same text. That text reads nothing of the pod but its namespace, the policies that
//! select it, which named ports of their ingress rules it declares, and its hostNetwork flag
//! (see [`super::pod::body`]), so it is computed once per distinct combination of those.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use super::{Describer, pod, words};
use crate::model::{Labels, Pod, Policy};
use crate::reach::workload_name;

/// How many member names a group's header lists before "+N more".
const NAMES_SHOWN: usize = 3;

/// Pods of one namespace that [`Describer::pod`] describes with the same paragraph apart from
/// its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodGroup {
    /// Indices into [`crate::model::Cluster::pods`], ascending, all of one namespace.
    pub pods: Vec<usize>,
    /// What [`Describer::pod`] says of every member after `namespace/name (labels): `.
    pub body: String,
    /// No policy selects these pods and they are not on the host network: they accept all
    /// ingress and may send all egress.
    pub unselected: bool,
}

type BodyKey<'a> = (&'a str, bool, Rc<[usize]>, Vec<bool>);

impl<'a> Describer<'a> {
    /// Every pod of the cluster in exactly one group, groups ordered by their first pod.
    pub fn pod_groups(&self) -> Vec<PodGroup> {
        let pods = &self.cluster.pods;
        let mut bodies: HashMap<BodyKey<'a>, Rc<str>> = HashMap::new();
        let mut index: HashMap<(&str, Rc<str>), usize> = HashMap::new();
        let mut groups: Vec<PodGroup> = Vec::new();
        // Pods of one inventory group share namespace, labels and hostNetwork, hence the
        // policies selecting them.
        for group in &self.inv.groups {
            let Some(first) = group.pods.first().and_then(|&i| pods.get(i)) else {
                continue;
            };
            let indices: Rc<[usize]> = if group.host_network {
                Rc::from([])
            } else {
                pod::selecting_indices(self, first).into()
            };
            let selecting: Vec<&'a Policy> = indices
                .iter()
                .filter_map(|&i| self.cluster.policies.get(i))
                .collect();
            let unselected = !group.host_network && selecting.is_empty();
            for &i in &group.pods {
                let Some(member) = pods.get(i) else {
                    continue;
                };
                let resolution = if group.host_network {
                    Vec::new()
                } else {
                    pod::named_port_resolution(member, &selecting)
                };
                let key = (
                    group.namespace,
                    group.host_network,
                    indices.clone(),
                    resolution,
                );
                let body = bodies
                    .entry(key)
                    .or_insert_with(|| pod::body(self, member, &selecting).into())
                    .clone();
                let g = *index
                    .entry((group.namespace, body.clone()))
                    .or_insert_with(|| {
                        groups.push(PodGroup {
                            pods: Vec::new(),
                            body: body.to_string(),
                            unselected,
                        });
                        groups.len() - 1
                    });
                if let Some(g) = groups.get_mut(g) {
                    g.pods.push(i);
                }
            }
        }
        for g in &mut groups {
            g.pods.sort_unstable();
        }
        groups.sort_by_key(|g| g.pods.first().copied());
        groups
    }

    /// The paragraph for `group`: [`Describer::pod`]'s for a single pod; for several, the
    /// shared paragraph under a header naming them ([`Describer::group_header`]), or one line
    /// for pods that no policy selects.
    pub fn pod_group(&self, group: &PodGroup) -> String {
        let members = self.members(group);
        match members.as_slice() {
            [] => String::new(),
            [one] => format!("{}: {}", pod::header(one), group.body),
            [first, ..] if group.unselected => format!(
                "{}: {} pods that no policy selects ({}) accept all ingress and may send all \
                 egress.",
                first.namespace,
                members.len(),
                names(&members)
            ),
            _ => format!("{}: {}", self.group_header(group), group.body),
        }
    }

    /// Who a group's paragraph is about: "shop/web (3 pods: web-a, web-b, web-c; app=web)",
    /// named by the workload when all members belong to one ("shop (5 pods of 2 workloads:
    /// ...)" otherwise), with the labels they all carry. A single pod's header is the one [`Describer::pod`] writes.
    pub fn group_header(&self, group: &PodGroup) -> String {
        let members = self.members(group);
        let [first, rest @ ..] = members.as_slice() else {
            return String::new();
        };
        if rest.is_empty() {
            return pod::header(first);
        }
        let workloads: BTreeSet<String> = members.iter().map(|p| workload_name(p)).collect();
        let (name, count) = match workloads.into_iter().collect::<Vec<_>>().as_slice() {
            [one] => (one.clone(), format!("{} pods", members.len())),
            many => (
                first.namespace.clone(),
                format!("{} pods of {} workloads", members.len(), many.len()),
            ),
        };
        let mut common: Labels = first.labels.clone();
        for p in rest {
            common.retain(|k, v| p.labels.get(k) == Some(v));
        }
        let labels = if common.is_empty() && members.iter().any(|p| !p.labels.is_empty()) {
            "no labels in common".to_owned()
        } else {
            words::labels(&common)
        };
        format!("{name} ({count}: {}; {labels})", names(&members))
    }

    fn members(&self, group: &PodGroup) -> Vec<&'a Pod> {
        group
            .pods
            .iter()
            .filter_map(|&i| self.cluster.pods.get(i))
            .collect()
    }
}

/// "a, b, c +7 more".
fn names(pods: &[&Pod]) -> String {
    let shown: Vec<&str> = pods
        .iter()
        .take(NAMES_SHOWN)
        .map(|p| p.name.as_str())
        .collect();
    let mut text = shown.join(", ");
    if pods.len() > NAMES_SHOWN {
        text.push_str(&format!(" +{} more", pods.len() - NAMES_SHOWN));
    }
    text
}
