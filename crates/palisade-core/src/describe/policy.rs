//! A policy in sentences: whom it selects, then each direction it restricts, then the
//! directions it leaves alone ("Egress is not restricted by this policy": other policies may).

use super::rules::{self, Clause, Target};
use super::{Describer, capitalize, notes, words};
use crate::model::{Direction, NamespaceScope, Policy};

pub(super) fn describe<'a>(d: &Describer<'a>, policy: &'a Policy) -> String {
    let own = policy.namespace.as_str();
    let mut subject = if policy.subject.is_empty() {
        format!("All pods in {own}")
    } else {
        format!("Pods {} in {own}", words::selector(&policy.subject))
    };
    if let Some(note) = notes::pods_note(d, &NamespaceScope::Own, &policy.subject, own) {
        subject = format!("{subject} ({note})");
    }
    let target = Target::Selected(notes::selected_groups(d, policy));

    let mut sentences: Vec<String> = Vec::new();
    for direction in [Direction::Ingress, Direction::Egress] {
        let Some(rules) = policy.rules(direction) else {
            continue;
        };
        let first = sentences.is_empty();
        let sentence = if rules.is_empty() {
            let dir = direction.as_str();
            let denied = format!("all {dir} is denied (no {dir} rules)");
            if first {
                format!("{subject}: {denied}.")
            } else {
                format!("{}.", capitalize(&denied))
            }
        } else {
            let mut clauses: Vec<Clause> = Vec::with_capacity(rules.len());
            for rule in rules {
                let clause = rules::clause(d, own, direction, rule, &target);
                if !clauses.contains(&clause) {
                    clauses.push(clause);
                }
            }
            let text = rules::allowed(direction, false, &clauses);
            if first {
                format!("{subject} {text}.")
            } else {
                format!("They {text}.")
            }
        };
        sentences.push(sentence);
    }
    if sentences.is_empty() {
        // Conversion always puts Ingress in the effective policyTypes, but the model allows this.
        return format!("{subject}: this policy restricts neither ingress nor egress.");
    }
    for direction in [Direction::Ingress, Direction::Egress] {
        if policy.rules(direction).is_none() {
            let dir = capitalize(direction.as_str());
            sentences.push(format!("{dir} is not restricted by this policy."));
        }
    }
    sentences.join(" ")
}
