//! A pod's effective isolation: per direction, the policies that isolate it and the union of
//! their rules, each rule credited to its policy.
//!
//! A pod is isolated for a direction iff some policy of its namespace selects it and has that
//! direction in its effective policyTypes; the allowed traffic is then the union of those
//! policies' rules (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#the-two-sorts-of-pod-isolation>).

use super::rules::{self, Clause, Target};
use super::{Describer, capitalize, notes, words};
use crate::model::{Direction, Pod, Policy, PortSpec, Ports, Protocol};

pub(super) fn describe<'a>(d: &Describer<'a>, pod: &'a Pod) -> String {
    format!(
        "{}: {}",
        header(pod),
        body(d, pod, &selecting_policies(d, pod))
    )
}

/// "shop/web (app=web)": who the paragraph is about.
pub(super) fn header(pod: &Pod) -> String {
    format!("{} ({})", pod.key(), words::labels(&pod.labels))
}

/// The paragraph after the header, given the policies selecting `pod`. It reads nothing of the
/// pod but its hostNetwork flag and which named ports of `selecting`'s ingress rules it
/// declares, so pods agreeing on those get the same text.
pub(super) fn body<'a>(d: &Describer<'a>, pod: &'a Pod, selecting: &[&'a Policy]) -> String {
    if pod.host_network {
        return "uses the host network, so network policies do not apply to it.".to_owned();
    }
    if selecting.is_empty() {
        return "no policy selects it, so it is not isolated: \
             it accepts all ingress and may send all egress."
            .to_owned();
    }
    let ingress = direction(d, pod, selecting, Direction::Ingress);
    let egress = direction(d, pod, selecting, Direction::Egress);
    let mut text = format!("{ingress}. {}.", capitalize(&egress));
    if lacks_dns(d, selecting) {
        text.push_str(" No egress rule allows UDP 53 (DNS).");
    }
    text
}

/// Indices of the policies of the pod's namespace whose subject selects it, sorted by name.
pub(super) fn selecting_indices(d: &Describer<'_>, pod: &Pod) -> Vec<usize> {
    let policies = &d.cluster.policies;
    let mut out: Vec<usize> = d
        .inv
        .policies_in(&pod.namespace)
        .iter()
        .copied()
        .filter(|&i| {
            policies
                .get(i)
                .is_some_and(|p| p.subject.matches(&pod.labels))
        })
        .collect();
    out.sort_by(|&a, &b| {
        let name = |i: usize| policies.get(i).map(|p| p.name.as_str());
        name(a).cmp(&name(b))
    });
    out
}

/// The policies of the pod's namespace whose subject selects it, sorted by name.
pub(super) fn selecting_policies<'a>(d: &Describer<'a>, pod: &Pod) -> Vec<&'a Policy> {
    selecting_indices(d, pod)
        .into_iter()
        .filter_map(|i| d.cluster.policies.get(i))
        .collect()
}

/// Which named ports of the ingress rules of `selecting` the pod declares, in rule order: the
/// only thing about the pod itself its [`body`] depends on, apart from hostNetwork.
pub(super) fn named_port_resolution(pod: &Pod, selecting: &[&Policy]) -> Vec<bool> {
    selecting
        .iter()
        .filter_map(|p| p.ingress.as_deref())
        .flatten()
        .filter_map(|rule| match &rule.ports {
            Ports::OneOf(list) => Some(list),
            Ports::Any => None,
        })
        .flatten()
        .filter_map(|pm| match &pm.port {
            PortSpec::Named(name) => Some(notes::has_named_port(pod, pm.protocol, name)),
            _ => None,
        })
        .collect()
}

fn direction<'a>(
    d: &Describer<'a>,
    pod: &'a Pod,
    selecting: &[&'a Policy],
    direction: Direction,
) -> String {
    let dir = direction.as_str();
    let isolating: Vec<&'a Policy> = selecting
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
            let clause =
                rules::clause(d, &policy.namespace, direction, rule, &Target::ThisPod(pod));
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
fn lacks_dns(d: &Describer<'_>, selecting: &[&Policy]) -> bool {
    let rules: Vec<_> = selecting
        .iter()
        .filter_map(|p| p.rules(Direction::Egress))
        .flatten()
        .collect();
    !rules.is_empty() && !rules.iter().any(|r| allows_udp_53(d, &r.ports))
}

fn allows_udp_53(d: &Describer<'_>, ports: &Ports) -> bool {
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
            PortSpec::Named(name) => d.dns_port_names.contains(name.as_str()),
        })
}
