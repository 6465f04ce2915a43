//! Object metadata and label selectors: `ValidateObjectMeta` (core validation), `ValidateLabels`,
//! `ValidateLabelSelector` and `ValidateLabelSelectorRequirement`
//! (apimachinery `pkg/apis/meta/v1/validation`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::FieldIssue;
use super::codes;
use super::names;
use crate::path::FieldPath;

/// How a kind's `metadata.name` is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameRule {
    /// `NameIsDNSLabel` for a cluster-scoped Namespace (`ValidateNamespaceName`).
    Namespace,
    /// `NameIsDNSSubdomain`: Pod, NetworkPolicy, Deployment, ReplicaSet, DaemonSet,
    /// ReplicationController.
    Subdomain(&'static str),
    /// `NameIsDNSLabel` for a namespaced kind (StatefulSet, `ValidateStatefulSetName`).
    Label(&'static str),
    /// A DNS subdomain with a tighter length limit and the reason for it.
    SubdomainMax(&'static str, usize, &'static str),
}

impl NameRule {
    pub(super) fn for_workload(kind: &str) -> NameRule {
        match kind {
            "StatefulSet" => NameRule::Label("StatefulSet"),
            // ValidateCronJobCreate: the controller appends an 11-character `-<timestamp>`
            // suffix to name each Job, and Job names must stay within 63 characters.
            "CronJob" => NameRule::SubdomainMax(
                "CronJob",
                52,
                "the CronJob controller names each Job `<name>-<timestamp>` (11 more characters) \
                 and a Job name may not exceed 63",
            ),
            // The Job strategy labels the template with `batch.kubernetes.io/job-name: <name>`
            // and that label value is then validated (at most 63 characters).
            "Job" => NameRule::SubdomainMax(
                "Job",
                63,
                "the name becomes the value of the pods' `batch.kubernetes.io/job-name` label",
            ),
            "Deployment" => NameRule::Subdomain("Deployment"),
            "ReplicaSet" => NameRule::Subdomain("ReplicaSet"),
            "DaemonSet" => NameRule::Subdomain("DaemonSet"),
            "ReplicationController" => NameRule::Subdomain("ReplicationController"),
            _ => NameRule::Subdomain("workload"),
        }
    }

    fn kind(self) -> &'static str {
        match self {
            NameRule::Namespace => "Namespace",
            NameRule::Subdomain(k) | NameRule::Label(k) | NameRule::SubdomainMax(k, ..) => k,
        }
    }

    fn is_label(self) -> bool {
        matches!(self, NameRule::Namespace | NameRule::Label(_))
    }
}

/// Annotations may hold at most 256 KiB in total (`TotalAnnotationSizeLimitB`).
const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

fn join(reasons: &[String]) -> String {
    reasons.join("; ")
}

fn did_you_mean(suggestion: Option<String>, fallback: &str) -> String {
    match suggestion {
        Some(s) => format!("did you mean `{s}`? {fallback}"),
        None => fallback.to_string(),
    }
}

pub(super) fn object_meta(
    out: &mut Vec<FieldIssue>,
    meta: &ObjectMeta,
    rule: NameRule,
    path: &FieldPath,
) {
    name(out, meta, rule, path);
    let namespace = meta.namespace.as_deref().unwrap_or("");
    if rule == NameRule::Namespace {
        if !namespace.is_empty() {
            // Cluster-scoped objects have their namespace cleared on create
            // (rest.BeforeCreate / EnsureObjectNamespaceMatchesRequestNamespace).
            out.push(
                FieldIssue::warning(
                    codes::INVALID_NAMESPACE,
                    path.field("namespace"),
                    format!(
                        "a Namespace is not namespaced: `metadata.namespace: {namespace}` is ignored"
                    ),
                )
                .with_label("ignored")
                .with_help("remove `metadata.namespace` from the Namespace"),
            );
        }
    } else if !namespace.is_empty() {
        let reasons = names::dns1123_label(namespace);
        if !reasons.is_empty() {
            out.push(
                FieldIssue::error(
                    codes::INVALID_NAMESPACE,
                    path.field("namespace"),
                    format!("invalid namespace \"{namespace}\": {}", join(&reasons)),
                )
                .with_label("invalid namespace name")
                .with_help(did_you_mean(
                    names::suggest_dns1123_label(namespace),
                    "namespace names are DNS-1123 labels: at most 63 lower case letters, digits \
                     and '-', starting and ending with a letter or digit",
                )),
            );
        }
    }
    labels_and_annotations(out, meta, path);
}

/// The part of `ValidateObjectMeta` a pod template gets (`ValidatePodTemplateSpec`).
pub(super) fn labels_and_annotations(
    out: &mut Vec<FieldIssue>,
    meta: &ObjectMeta,
    path: &FieldPath,
) {
    if let Some(labels) = &meta.labels {
        label_map(out, labels, &path.field("labels"), "label");
    }
    if let Some(annotations) = &meta.annotations {
        annotation_map(out, annotations, &path.field("annotations"));
    }
}

fn name(out: &mut Vec<FieldIssue>, meta: &ObjectMeta, rule: NameRule, path: &FieldPath) {
    let kind = rule.kind();
    let at = path.field("name");
    let name = meta.name.as_deref().unwrap_or("");
    if name.is_empty() {
        let generate = meta.generate_name.as_deref().unwrap_or("");
        let issue = if generate.is_empty() {
            FieldIssue::error(
                codes::NAME_REQUIRED,
                at,
                format!("the {kind} has no metadata.name"),
            )
            .with_label("name required")
            .with_help("add `name: <name>` under `metadata`")
        } else {
            FieldIssue::error(
                codes::NAME_REQUIRED,
                at,
                format!("the {kind} has only `generateName: {generate}`, no metadata.name"),
            )
            .with_label("name required")
            .with_help(format!(
                "palisade needs the final name (and `kubectl apply` refuses objects without \
                 one): write `name: {generate}1` instead of `generateName`"
            ))
        };
        out.push(issue);
        return;
    }
    let (reasons, suggestion, format_help) = if rule.is_label() {
        (
            names::dns1123_label(name),
            names::suggest_dns1123_label(name),
            "this name must be a DNS-1123 label: at most 63 lower case letters, digits and '-', \
             starting and ending with a letter or digit",
        )
    } else {
        (
            names::dns1123_subdomain(name),
            names::suggest_dns1123_subdomain(name),
            "this name must be a DNS-1123 subdomain: at most 253 lower case letters, digits, '-' \
             and '.', each dot-separated part starting and ending with a letter or digit",
        )
    };
    if !reasons.is_empty() {
        out.push(
            FieldIssue::error(
                codes::INVALID_NAME,
                at.clone(),
                format!("invalid {kind} name \"{name}\": {}", join(&reasons)),
            )
            .with_label("invalid name")
            .with_help(did_you_mean(suggestion, format_help)),
        );
    }
    if let NameRule::SubdomainMax(_, max, why) = rule
        && name.len() > max
    {
        let shorter: String = name.chars().take(max).collect();
        let shorter = shorter.trim_end_matches(['-', '.']);
        out.push(
            FieldIssue::error(
                codes::INVALID_NAME,
                at,
                format!(
                    "{kind} name \"{name}\" is {} characters long; a {kind} name may have at most {max}",
                    name.len()
                ),
            )
            .with_label(format!("more than {max} characters"))
            .with_help(format!(
                "{why}; shorten it, e.g. `name: {shorter}`"
            )),
        );
    }
}

/// `ValidateLabels`: every key a qualified name, every value a label value. `what` names the
/// map in messages (`label`, `matchLabels`).
pub(super) fn label_map(
    out: &mut Vec<FieldIssue>,
    labels: &BTreeMap<String, String>,
    path: &FieldPath,
    what: &str,
) {
    for (key, value) in labels {
        let at = path.field(key);
        let key_reasons = names::qualified_name(key);
        if !key_reasons.is_empty() {
            out.push(
                FieldIssue::error(
                    codes::INVALID_LABEL_KEY,
                    at.clone(),
                    format!("invalid {what} key \"{key}\": {}", join(&key_reasons)),
                )
                .with_label("invalid label key")
                .with_help(did_you_mean(
                    names::suggest_qualified_name(key),
                    "label keys are an optional DNS subdomain prefix and '/', then a name of at \
                     most 63 letters, digits, '-', '_' or '.' (e.g. `app.kubernetes.io/name`)",
                )),
            );
        }
        let value_reasons = names::label_value(value);
        if !value_reasons.is_empty() {
            out.push(
                FieldIssue::error(
                    codes::INVALID_LABEL_VALUE,
                    at,
                    format!(
                        "invalid value \"{value}\" for {what} key \"{key}\": {}",
                        join(&value_reasons)
                    ),
                )
                .with_label("invalid label value")
                .with_help(match names::suggest_label_value(value) {
                    Some(s) => format!("did you mean `{key}: {s}`?"),
                    None => "label values are empty or at most 63 letters, digits, '-', '_' or \
                             '.', starting and ending with a letter or digit"
                        .to_string(),
                }),
            );
        }
    }
}

/// `ValidateAnnotations`: keys are qualified names once lower-cased; 256 KiB in total.
fn annotation_map(
    out: &mut Vec<FieldIssue>,
    annotations: &BTreeMap<String, String>,
    path: &FieldPath,
) {
    let mut total = 0usize;
    for (key, value) in annotations {
        total = total.saturating_add(key.len()).saturating_add(value.len());
        let reasons = names::qualified_name(&key.to_ascii_lowercase());
        if !reasons.is_empty() {
            out.push(
                FieldIssue::error(
                    codes::INVALID_ANNOTATION,
                    path.field(key),
                    format!("invalid annotation key \"{key}\": {}", join(&reasons)),
                )
                .with_label("invalid annotation key")
                .with_help(did_you_mean(
                    names::suggest_qualified_name(key),
                    "annotation keys have the same format as label keys \
                     (e.g. `example.com/owner`)",
                )),
            );
        }
    }
    if total > ANNOTATIONS_MAX_BYTES {
        out.push(
            FieldIssue::error(
                codes::INVALID_ANNOTATION,
                path.clone(),
                format!(
                    "annotations total {total} bytes; at most {ANNOTATIONS_MAX_BYTES} are allowed"
                ),
            )
            .with_label("too large")
            .with_help("move large data into a ConfigMap and keep a reference in the annotation"),
        );
    }
}

/// Which objects a selector chooses, for help texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Selects {
    Pods,
    Namespaces,
}

const OPERATORS: [&str; 4] = ["In", "NotIn", "Exists", "DoesNotExist"];

fn operator_suggestion(op: &str) -> Option<&'static str> {
    if let Some(exact) = OPERATORS.iter().find(|o| o.eq_ignore_ascii_case(op)) {
        return Some(exact);
    }
    match op.trim() {
        "=" | "==" | "in" | "Equals" | "equals" => Some("In"),
        "!=" | "notin" | "NotEquals" | "not in" | "Not In" => Some("NotIn"),
        "NotExists" | "notexists" | "DoesNotExists" | "!" => Some("DoesNotExist"),
        "Exist" | "exist" => Some("Exists"),
        _ => None,
    }
}

/// `ValidateLabelSelector` with `AllowInvalidLabelValueInSelector` false (a new object).
pub(super) fn label_selector(
    out: &mut Vec<FieldIssue>,
    selector: &LabelSelector,
    path: &FieldPath,
    selects: Selects,
) {
    if let Some(labels) = &selector.match_labels {
        label_map(out, labels, &path.field("matchLabels"), "matchLabels");
    }
    let what = match selects {
        Selects::Pods => "pods",
        Selects::Namespaces => "namespaces",
    };
    for (i, req) in selector.match_expressions.iter().flatten().enumerate() {
        let at = path.field("matchExpressions").index(i);
        let values = req.values.as_deref().unwrap_or(&[]);
        let key = req.key.as_str();
        match req.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    let op = req.operator.as_str();
                    out.push(
                        FieldIssue::error(
                            codes::SELECTOR_VALUES,
                            at.field("values"),
                            format!("operator `{op}` on key \"{key}\" needs at least one value"),
                        )
                        .with_label("values required")
                        .with_help(if op == "In" {
                            format!(
                                "list the values to match (`values: [\"...\"]`), or use \
                                 `operator: Exists` to select {what} that have the key \"{key}\" \
                                 with any value"
                            )
                        } else {
                            format!(
                                "list the values to exclude (`values: [\"...\"]`), or use \
                                 `operator: DoesNotExist` to select {what} without the key \"{key}\""
                            )
                        }),
                    );
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    let op = req.operator.as_str();
                    let listed = values
                        .iter()
                        .map(|v| format!("\"{v}\""))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let instead = if op == "Exists" { "In" } else { "NotIn" };
                    out.push(
                        FieldIssue::error(
                            codes::SELECTOR_VALUES,
                            at.field("values"),
                            format!("operator `{op}` takes no values, but {listed} given"),
                        )
                        .with_label("values not allowed")
                        .with_help(format!(
                            "remove `values`, or use `operator: {instead}` to match on these values"
                        )),
                    );
                }
            }
            other => {
                let help = match operator_suggestion(other) {
                    Some(s) => format!(
                        "did you mean `operator: {s}`? Operators are case-sensitive: In, NotIn, \
                         Exists, DoesNotExist"
                    ),
                    None => {
                        "use one of In, NotIn, Exists, DoesNotExist (case-sensitive)".to_string()
                    }
                };
                out.push(
                    FieldIssue::error(
                        codes::INVALID_OPERATOR,
                        at.field("operator"),
                        format!("invalid selector operator \"{other}\""),
                    )
                    .with_label("unknown operator")
                    .with_help(help),
                );
            }
        }
        let key_reasons = names::qualified_name(key);
        if !key_reasons.is_empty() {
            out.push(
                FieldIssue::error(
                    codes::INVALID_LABEL_KEY,
                    at.field("key"),
                    format!("invalid selector key \"{key}\": {}", join(&key_reasons)),
                )
                .with_label("invalid label key")
                .with_help(did_you_mean(
                    names::suggest_qualified_name(key),
                    "label keys are an optional DNS subdomain prefix and '/', then a name of at \
                     most 63 letters, digits, '-', '_' or '.' (e.g. `app.kubernetes.io/name`)",
                )),
            );
        }
        for (j, value) in values.iter().enumerate() {
            let reasons = names::label_value(value);
            if !reasons.is_empty() {
                out.push(
                    FieldIssue::error(
                        codes::INVALID_LABEL_VALUE,
                        at.field("values").index(j),
                        format!("invalid selector value \"{value}\": {}", join(&reasons)),
                    )
                    .with_label("invalid label value")
                    .with_help(did_you_mean(
                        names::suggest_label_value(value),
                        "no label can carry this value, so it can never match",
                    )),
                );
            }
        }
    }
}
