//! A pod's effective isolation: per direction, the policies that isolate it and the union of
//! their rules, each rule credited to its policy.
//!
//! A pod is isolated for a direction iff some policy of its namespace selects it and has that
//! direction in its effective policyTypes; the allowed traffic is then the union of those
//! policies' rules (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#the-two-sorts-of-pod-isolation>).

use super::rules::{self, Clause, Target};
use super::{capitalize, words};
use crate::model::{Cluster, Direction, Pod, Policy, PortSpec, Ports, Protocol};

pub(super) fn describe(cluster: &Cluster, pod: &Pod) -> String {
    let header = format!("{} ({})", pod.key(), words::labels(&pod.labels));
    if pod.host_network {
        return format!("{header}: uses the host network, so network policies do not apply to it.");
    }
    let selecting = selecting_policies(cluster, pod);
    if selecting.is_empty() {
        return format!(
            "{header}: no policy selects it, so it is not isolated: \
             it accepts all ingress and may send all egress."
        );
    }
    let ingress = direction(cluster, pod, &selecting, Direction::Ingress);
    let egress = direction(cluster, pod, &selecting, Direction::Egress);
    let mut text = format!("{header}: {ingress}. {}.", capitalize(&egress));
    if lacks_dns(cluster, &selecting) {
        text.push_str(" No egress rule allows UDP 53 (DNS).");
    }
    text
}

/// The policies of the pod's namespace whose subject selects it, sorted by name.
pub(super) fn selecting_policies<'a>(cluster: &'a Cluster, pod: &Pod) -> Vec<&'a Policy> {
    let mut out: Vec<&Policy> = cluster
        .policies
        .iter()
        .filter(|p| p.namespace == pod.namespace && p.subject.matches(&pod.labels))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn direction(cluster: &Cluster, pod: &Pod, selecting: &[&Policy], direction: Direction) -> String {
    let dir = direction.as_str();
    let isolating: Vec<&Policy> = selecting
        .iter()
        .copied()
        .filter(|p| p.rules(direction).is_some())
        .collect();
    if isolating.is_empty() {
        return match direction {
            Direction::Ingress => "ingress is not isolated: it accepts all ingress".to_owned(),
            Direction::Egress => "egress is not isolated: it may send all egress".to_owned(),
        };
    }
    let names: Vec<&str> = isolating.iter().map(|p| p.name.as_str()).collect();
    let names = names.join(", ");

    // Identical rules of several policies are listed once, credited to all of them.
    let mut entries: Vec<(Clause, Vec<String>)> = Vec::new();
    for policy in &isolating {
        let rules = policy.rules(direction).unwrap_or_default();
        for (index, rule) in rules.iter().enumerate() {
            let source = if rules.len() == 1 {
                policy.name.clone()
            } else {
                format!("{} rule {}", policy.name, index + 1)
            };
            let clause = rules::clause(
                cluster,
                &policy.namespace,
                direction,
                rule,
                &Target::ThisPod(pod),
            );
            match entries.iter_mut().find(|(c, _)| *c == clause) {
                Some((_, sources)) => sources.push(source),
                None => entries.push((clause, vec![source])),
            }
        }
    }
    if entries.is_empty() {
        return format!("{dir} is isolated by {names}; all {dir} is denied (no {dir} rules)");
    }
    let clauses: Vec<Clause> = entries
        .into_iter()
        .map(|(clause, sources)| Clause {
            text: format!("{} ({})", clause.text, sources.join(", ")),
            ..clause
        })
        .collect();
    format!(
        "{dir} is isolated by {names}; it {}",
        rules::allowed(direction, true, &clauses)
    )
}

/// Forgetting DNS after an egress default deny is the most common outage. True when egress is
/// isolated, some rule allows something, and no rule allows UDP 53 to any peer at all.
fn lacks_dns(cluster: &Cluster, selecting: &[&Policy]) -> bool {
    let rules: Vec<_> = selecting
        .iter()
        .filter_map(|p| p.rules(Direction::Egress))
        .flatten()
        .collect();
    !rules.is_empty() && !rules.iter().any(|r| allows_udp_53(cluster, &r.ports))
}

fn allows_udp_53(cluster: &Cluster, ports: &Ports) -> bool {
    const DNS: u16 = 53;
    let Ports::OneOf(list) = ports else {
        return true;
    };
    list.iter()
        .filter(|pm| pm.protocol == Protocol::Udp)
        .any(|pm| match &pm.port {
            PortSpec::Any => true,
            PortSpec::Range { first, last } => (*first..=*last).contains(&DNS),
            // A named port may resolve to 53 on some destination pod.
            PortSpec::Named(name) => cluster.pods.iter().any(|p| {
                p.ports.iter().any(|cp| {
                    cp.protocol == Protocol::Udp
                        && cp.port == DNS
                        && cp.name.as_deref() == Some(name.as_str())
                })
            }),
        })
}
