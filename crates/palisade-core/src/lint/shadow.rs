//! L010 a rule, L011 a whole policy, that allows nothing other rules do not already allow.
//!
//! Allows of all policies selecting a pod add up, in any order
//! (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource>:
//! "policies are additive"), so a rule whose traffic another rule already allows, to at least the
//! same pods, can be removed without changing anything. Coverage is decided on the written
//! selectors, not on the inventory: rule B covers rule A when B's policy selects every pod A's
//! does (same namespace, a podSelector implied by A's), every item of A's from/to lies inside
//! an item of B's (a selector implied by A's, an ipBlock containing A's range) and every port
//! item of A's lies inside one of B's. So a finding stays true when pods come and go.
//!
//! Two rules that cover each other are equal in effect: only the later one (by policy, then
//! rule position) is reported. A policy is reported as a whole (and its rules are then not
//! reported one by one) when one other policy isolates the same pods in the same directions and
//! covers each of its rules; a pure deny is only covered by another pure deny, so a default
//! deny is never reported as redundant next to an allow policy that happens to select every
//! pod.

use std::collections::BTreeSet;

use ipnet::IpNet;

use super::{Ctx, DIRECTIONS, SHADOWED_POLICY, SHADOWED_RULE, rule_path};
use crate::diag::Diagnostic;
use crate::model::{
    Labels, NAMESPACE_NAME_LABEL, NamespaceScope, Operator, Peer, Peers, Policy, PortMatch,
    PortSpec, Ports, Requirement, Rule, Selector,
};
use crate::path::FieldPath;

pub(super) fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    let policies = &ctx.cluster.policies;
    let mut namespaces: Vec<&str> = policies.iter().map(|p| p.namespace.as_str()).collect();
    namespaces.dedup();
    for ns in namespaces {
        let members = ctx.inv.policies_in(ns);
        let mut redundant: BTreeSet<usize> = BTreeSet::new();
        for &p in members {
            let Some(policy) = policies.get(p) else {
                continue;
            };
            let cover = members.iter().copied().find(|&q| {
                q != p
                    && policies.get(q).is_some_and(|other| {
                        policy_covers(ctx, other, policy)
                            && (q < p || !policy_covers(ctx, policy, other))
                    })
            });
            let Some(other) = cover.and_then(|q| policies.get(q)) else {
                continue;
            };
            redundant.insert(p);
            out.push(
                ctx.at_policy(
                    SHADOWED_POLICY,
                    policy,
                    &FieldPath::root().field("metadata").field("name"),
                    format!(
                        "NetworkPolicy `{}` already isolates every pod this policy selects and allows everything it allows: this policy changes nothing",
                        other.name
                    ),
                )
                .with_label("redundant policy")
                .with_help(format!(
                    "delete it (`kubectl delete networkpolicy -n {} {}`), or merge what it was meant to add into `{}`",
                    policy.namespace, policy.name, other.name
                )),
            );
        }
        for direction in DIRECTIONS {
            let rules: Vec<(usize, usize, &Policy, &Rule)> = members
                .iter()
                .filter(|p| !redundant.contains(p))
                .filter_map(|&p| policies.get(p).map(|policy| (p, policy)))
                .flat_map(|(p, policy)| {
                    policy
                        .rules(direction)
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .map(move |(r, rule)| (p, r, policy, rule))
                })
                .collect();
            for &(p, r, policy, rule) in &rules {
                let cover = rules.iter().find(|&&(q, s, other, other_rule)| {
                    (q, s) != (p, r)
                        && rule_covers(ctx, other, other_rule, policy, rule)
                        && ((q, s) < (p, r) || !rule_covers(ctx, policy, rule, other, other_rule))
                });
                let Some(&(q, s, other, _)) = cover else {
                    continue;
                };
                let by = if q == p {
                    format!("{} of this policy", rule_path(direction, s))
                } else {
                    format!(
                        "{} of NetworkPolicy `{}`",
                        rule_path(direction, s),
                        other.name
                    )
                };
                let path = rule_path(direction, r);
                out.push(
                    ctx.at_policy(
                        SHADOWED_RULE,
                        policy,
                        &path,
                        format!(
                            "this {} rule allows nothing that {by} does not already allow to the same pods",
                            direction.as_str()
                        ),
                    )
                    .with_label("redundant rule")
                    .with_help(format!("remove {path} from this policy")),
                );
            }
        }
    }
}

/// Policy `b` makes `a` useless: it isolates at least `a`'s pods in each of `a`'s directions,
/// each rule of `a` is covered by a rule of `b`, and where `a` only denies, so does `b`.
fn policy_covers(ctx: &Ctx<'_>, b: &Policy, a: &Policy) -> bool {
    b.namespace == a.namespace
        && sel_covers(&b.subject, &a.subject)
        && DIRECTIONS
            .into_iter()
            .all(|d| match (a.rules(d), b.rules(d)) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some([]), Some(b_rules)) => b_rules.is_empty(),
                (Some(a_rules), Some(b_rules)) => a_rules.iter().all(|ra| {
                    b_rules.iter().any(|rb| {
                        peers_cover(ctx, &a.namespace, &rb.peers, &ra.peers)
                            && ports_cover(&rb.ports, &ra.ports)
                    })
                }),
            })
}

/// Rule `rb` of `b` allows at least what rule `ra` of `a` allows, to at least the same pods.
fn rule_covers(ctx: &Ctx<'_>, b: &Policy, rb: &Rule, a: &Policy, ra: &Rule) -> bool {
    b.namespace == a.namespace
        && sel_covers(&b.subject, &a.subject)
        && ports_cover(&rb.ports, &ra.ports)
        && peers_cover(ctx, &a.namespace, &rb.peers, &ra.peers)
}

fn peers_cover(ctx: &Ctx<'_>, own: &str, b: &Peers, a: &Peers) -> bool {
    match (b, a) {
        (Peers::Any, _) => true,
        (Peers::OneOf(_), Peers::Any) => false,
        (Peers::OneOf(bs), Peers::OneOf(as_)) => as_
            .iter()
            .all(|pa| bs.iter().any(|pb| peer_covers(ctx, own, pb, pa))),
    }
}

fn peer_covers(ctx: &Ctx<'_>, own: &str, b: &Peer, a: &Peer) -> bool {
    match (b, a) {
        (
            Peer::Pods {
                namespaces: nb,
                pods: pb,
            },
            Peer::Pods {
                namespaces: na,
                pods: pa,
            },
        ) => scope_covers(ctx, own, nb, na) && sel_covers(pb, pa),
        (
            Peer::IpBlock {
                cidr: cb,
                except: eb,
            },
            Peer::IpBlock {
                cidr: ca,
                except: ea,
            },
        ) => block_covers(cb, eb, ca, ea),
        _ => false,
    }
}

fn scope_covers(ctx: &Ctx<'_>, own: &str, b: &NamespaceScope, a: &NamespaceScope) -> bool {
    match (b, a) {
        (NamespaceScope::Own, NamespaceScope::Own) => true,
        (NamespaceScope::Matching(sb), NamespaceScope::Own) => {
            sb.matches(&ctx.inv.namespace_labels(own))
        }
        (NamespaceScope::Matching(sb), NamespaceScope::Matching(sa)) => sel_covers(sb, sa),
        // Only a selector that names this namespace and nothing else lies inside it.
        (NamespaceScope::Own, NamespaceScope::Matching(sa)) => {
            let by_name = Selector {
                match_labels: Labels::from([(NAMESPACE_NAME_LABEL.to_owned(), own.to_owned())]),
                expressions: Vec::new(),
            };
            sel_covers(&by_name, sa)
        }
    }
}

/// `cidr_a - except_a` lies inside `cidr_b - except_b`.
fn block_covers(cb: &IpNet, eb: &[IpNet], ca: &IpNet, ea: &[IpNet]) -> bool {
    cb.contains(ca)
        && eb.iter().all(|e| {
            let overlaps = e.contains(&ca.network()) || ca.contains(&e.network());
            !overlaps || ea.iter().any(|x| x.contains(e))
        })
}

fn ports_cover(b: &Ports, a: &Ports) -> bool {
    match (b, a) {
        (Ports::Any, _) => true,
        (Ports::OneOf(_), Ports::Any) => false,
        (Ports::OneOf(bs), Ports::OneOf(as_)) => {
            as_.iter().all(|pa| bs.iter().any(|pb| port_covers(pb, pa)))
        }
    }
}

fn port_covers(b: &PortMatch, a: &PortMatch) -> bool {
    b.protocol == a.protocol
        && match (&b.port, &a.port) {
            (PortSpec::Any, _) => true,
            (
                PortSpec::Range {
                    first: bf,
                    last: bl,
                },
                PortSpec::Range {
                    first: af,
                    last: al,
                },
            ) => bf <= af && al <= bl,
            (PortSpec::Named(bn), PortSpec::Named(an)) => bn == an,
            _ => false,
        }
}

/// Every label set `a` matches, `b` matches too, judged on the selectors alone.
pub(super) fn sel_covers(b: &Selector, a: &Selector) -> bool {
    b.match_labels.iter().all(|(k, v)| {
        a.match_labels.get(k) == Some(v)
            || a.expressions.iter().any(|r| {
                r.key == *k
                    && matches!(&r.operator, Operator::In(s) if s.len() == 1 && s.contains(v))
            })
    }) && b.expressions.iter().all(|e| implies(a, e))
}

/// Every label set `a` matches satisfies `e`.
fn implies(a: &Selector, e: &Requirement) -> bool {
    if a.expressions.contains(e) {
        return true;
    }
    let fixed = a.match_labels.get(&e.key);
    let on_key = || a.expressions.iter().filter(|r| r.key == e.key);
    match &e.operator {
        Operator::In(set) => {
            fixed.is_some_and(|v| set.contains(v))
                || on_key().any(|r| matches!(&r.operator, Operator::In(s) if s.is_subset(set)))
        }
        Operator::NotIn(set) => {
            fixed.is_some_and(|v| !set.contains(v))
                || on_key().any(|r| match &r.operator {
                    Operator::In(s) => s.is_disjoint(set),
                    Operator::NotIn(s) => set.is_subset(s),
                    Operator::DoesNotExist => true,
                    Operator::Exists => false,
                })
        }
        Operator::Exists => {
            fixed.is_some()
                || on_key().any(|r| matches!(r.operator, Operator::In(_) | Operator::Exists))
        }
        Operator::DoesNotExist => on_key().any(|r| r.operator == Operator::DoesNotExist),
    }
}
