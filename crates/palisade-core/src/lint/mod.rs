//! Lints: the mistakes the NetworkPolicy guides warn about, found by the engine over the actual
//! inventory (the valid objects of one run), each at the file and line of the item to change.
//!
//! ```text
//!   Analysis ──lint()──> Ctx { cluster, spans, Inventory (pods grouped, memoised peer matches) }
//!                          ├─ default_deny   L001 ingress, L002 egress
//!                          ├─ dns            L003
//!                          ├─ or_and         L004
//!                          ├─ selects        L005 namespace label, L006 empty peer, L007 empty subject
//!                          ├─ ip_blocks      L008 pod addresses, L015 metadata address
//!                          ├─ named_ports    L009
//!                          ├─ shadow         L010 rule, L011 policy
//!                          ├─ wide_open      L012 allow-all rule, L014 sensitive port
//!                          └─ host_network   L013
//!                        -> Vec<Diagnostic> sorted by position
//! ```
//!
//! Lints are warnings, or notes for the harmless ones (redundancy): the objects are valid, the
//! API server would take them, but they probably do not do what their author meant. Errors stay
//! for validation. Lints that talk about what
//! selectors match only speak when the inventory holds the objects they would be about (pods in
//! the namespaces concerned, declared Namespaces for namespace labels), so that checking a file
//! of policies alone does not flag every selector.
//!
//! Every code has a page, `docs/lints/CODE.md`, with an example that fires and one that does not;
//! the tests run both.

mod default_deny;
mod dns;
mod host_network;
mod ip_blocks;
mod named_ports;
mod or_and;
mod selects;
mod shadow;
mod wide_open;
mod yaml;

#[cfg(test)]
mod tests;

use crate::analysis::{Analysis, ObjectTrees, sort_by_position};
use crate::diag::{Code, Diagnostic, Severity};
use crate::model::{Cluster, Direction, Policy};
use crate::path::FieldPath;

use crate::index::Inventory;

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LintInfo {
    pub code: Code,
    /// kebab-case, stable, for SARIF `name` and `--allow`.
    pub name: &'static str,
    /// One line: what the lint is about.
    pub summary: &'static str,
    pub severity: Severity,
}

const fn info(code: Code, name: &'static str, summary: &'static str) -> LintInfo {
    LintInfo {
        code,
        name,
        summary,
        severity: Severity::Warning,
    }
}

/// A lint about something harmless as it stands (e.g. redundancy).
const fn note(code: Code, name: &'static str, summary: &'static str) -> LintInfo {
    LintInfo {
        severity: Severity::Note,
        ..info(code, name, summary)
    }
}

pub const NO_DEFAULT_DENY_INGRESS: Code = "L001";
pub const NO_DEFAULT_DENY_EGRESS: Code = "L002";
pub const DNS_UNREACHABLE: Code = "L003";
pub const OR_MEANT_AND: Code = "L004";
pub const UNKNOWN_NAMESPACE_LABEL: Code = "L005";
pub const PEER_SELECTS_NOTHING: Code = "L006";
pub const POLICY_SELECTS_NOTHING: Code = "L007";
pub const IP_BLOCK_COVERS_PODS: Code = "L008";
pub const UNDEFINED_NAMED_PORT: Code = "L009";
pub const SHADOWED_RULE: Code = "L010";
pub const SHADOWED_POLICY: Code = "L011";
pub const ALLOW_ALL_RULE: Code = "L012";
pub const HOST_NETWORK_ONLY: Code = "L013";
pub const SENSITIVE_PORT_OPEN: Code = "L014";
pub const METADATA_REACHABLE: Code = "L015";

/// Every lint, in code order.
pub const CATALOGUE: &[LintInfo] = &[
    info(
        NO_DEFAULT_DENY_INGRESS,
        "no-default-deny-ingress",
        "A namespace with pods has no default-deny ingress policy",
    ),
    info(
        NO_DEFAULT_DENY_EGRESS,
        "no-default-deny-egress",
        "A namespace with pods has no default-deny egress policy",
    ),
    info(
        DNS_UNREACHABLE,
        "dns-unreachable",
        "Egress is restricted but DNS (UDP and TCP 53) is not allowed",
    ),
    info(
        OR_MEANT_AND,
        "or-probably-meant-and",
        "A namespaceSelector item and a podSelector item (OR) that probably were meant as one item (AND)",
    ),
    info(
        UNKNOWN_NAMESPACE_LABEL,
        "unknown-namespace-label",
        "A namespaceSelector uses a label that no namespace carries",
    ),
    info(
        PEER_SELECTS_NOTHING,
        "peer-selects-nothing",
        "A from/to item matches no pod in the inventory",
    ),
    info(
        POLICY_SELECTS_NOTHING,
        "policy-selects-nothing",
        "A policy's podSelector matches no pod",
    ),
    info(
        IP_BLOCK_COVERS_PODS,
        "ip-block-covers-pods",
        "An ipBlock range contains pod addresses",
    ),
    info(
        UNDEFINED_NAMED_PORT,
        "undefined-named-port",
        "A named port that no destination pod defines",
    ),
    note(
        SHADOWED_RULE,
        "shadowed-rule",
        "A rule allows nothing that another rule does not already allow",
    ),
    note(
        SHADOWED_POLICY,
        "shadowed-policy",
        "A policy changes nothing that other policies do not already do",
    ),
    info(
        ALLOW_ALL_RULE,
        "allow-all-rule",
        "A rule allows all traffic in its direction",
    ),
    info(
        HOST_NETWORK_ONLY,
        "host-network-only",
        "A policy selects only hostNetwork pods, which NetworkPolicy does not apply to",
    ),
    info(
        SENSITIVE_PORT_OPEN,
        "sensitive-port-open",
        "A sensitive port (SSH, etcd, API server, kubelet) accepts connections from everywhere",
    ),
    info(
        METADATA_REACHABLE,
        "metadata-reachable",
        "Egress to 0.0.0.0/0 does not except the cloud metadata address 169.254.169.254",
    ),
];

/// The catalogue entry for `code` (also accepts the lint's name).
pub fn find(code_or_name: &str) -> Option<&'static LintInfo> {
    CATALOGUE
        .iter()
        .find(|l| l.code.eq_ignore_ascii_case(code_or_name) || l.name == code_or_name)
}

/// Every lint finding over the valid objects of `analysis`, sorted by position.
pub fn lint(analysis: &Analysis) -> Vec<Diagnostic> {
    lint_cluster(&analysis.cluster, &analysis.object_trees)
}

/// Same as [`lint`] for a cluster built in code; findings inside a policy point at the policy
/// itself or its rule when `trees` does not hold its document.
pub fn lint_cluster(cluster: &Cluster, trees: &ObjectTrees) -> Vec<Diagnostic> {
    let ctx = Ctx {
        cluster,
        trees,
        inv: Inventory::new(cluster),
    };
    let mut out = Vec::new();
    default_deny::check(&ctx, &mut out);
    dns::check(&ctx, &mut out);
    or_and::check(&ctx, &mut out);
    selects::check(&ctx, &mut out);
    ip_blocks::check(&ctx, &mut out);
    named_ports::check(&ctx, &mut out);
    shadow::check(&ctx, &mut out);
    wide_open::check(&ctx, &mut out);
    host_network::check(&ctx, &mut out);
    for d in &mut out {
        if let Some(info) = find(d.code) {
            d.severity = info.severity;
        }
    }
    out.retain(|d| !allowed_on_object(trees, d));
    sort_by_position(&mut out);
    out
}

/// The annotation that silences lints on one object (a policy, namespace or pod): codes or
/// names, separated by commas or spaces, e.g. `palisade.dev/allow-lints: "L004, L009"`. A
/// deliberate OR of two peers, or a port left open on purpose, is then documented where it is
/// written rather than silenced for the whole run with `--allow`.
pub const ALLOW_ANNOTATION: &str = "palisade.dev/allow-lints";

/// Whether the object a finding points into carries [`ALLOW_ANNOTATION`] naming its lint.
fn allowed_on_object(trees: &ObjectTrees, d: &Diagnostic) -> bool {
    let Some(span) = d.span else {
        return false;
    };
    let Some(list) = trees.annotation_at(span, ALLOW_ANNOTATION) else {
        return false;
    };
    let info = find(d.code);
    list.split([',', ' '])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .any(|item| item.eq_ignore_ascii_case(d.code) || info.is_some_and(|i| i.name == item))
}

/// What every lint reads.
struct Ctx<'a> {
    cluster: &'a Cluster,
    trees: &'a ObjectTrees,
    inv: Inventory<'a>,
}

impl Ctx<'_> {
    /// A finding about `path` inside `policy` (`spec.ingress[0].from[1]`).
    fn at_policy(
        &self,
        code: Code,
        policy: &Policy,
        path: &FieldPath,
        message: String,
    ) -> Diagnostic {
        let mut d = Diagnostic::warning(code, message)
            .with_object(format!("NetworkPolicy {}", policy.key()))
            .with_span(self.trees.span_in(policy.span, path));
        if !path.is_root() {
            d = d.with_field(path.to_string());
        }
        d
    }
}

/// `spec.ingress` / `spec.egress`.
fn rules_path(direction: Direction) -> FieldPath {
    FieldPath::root().field("spec").field(direction.as_str())
}

/// `spec.ingress[i]`.
fn rule_path(direction: Direction, i: usize) -> FieldPath {
    rules_path(direction).index(i)
}

/// `spec.ingress[i].from` / `spec.egress[i].to`.
fn peers_path(direction: Direction, i: usize) -> FieldPath {
    rule_path(direction, i).field(match direction {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    })
}

const DIRECTIONS: [Direction; 2] = [Direction::Ingress, Direction::Egress];

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}
