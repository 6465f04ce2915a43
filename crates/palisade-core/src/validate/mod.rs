//! Validation: the API server's own rules for the objects palisade reads, so that what
//! `palisade check` accepts is what `kubectl apply` accepts.
//!
//! Works on Kubernetes types and reports [`FieldIssue`]s by field path; turning a path into a
//! file:line:column is the caller's job ([`crate::load::LoadedObject::span_of`]).
//!
//! ```text
//!   validate(object)
//!     ├─ meta.rs    ValidateObjectMeta: name, namespace, labels, annotations; label selectors
//!     ├─ policy.rs  ValidateNetworkPolicySpec: policyTypes, ports, peers, ipBlock
//!     └─ pod.rs     container ports, status.podIP(s), workload pod templates
//!   names.rs  value formats (DNS-1123, qualified names, label values, IANA port names)
//!   ip.rs     IP/CIDR parsing as the API server does it (shared with model::convert)
//! ```
//!
//! Every problem is reported, not just the first: one issue per offending field and rule.
//! Errors are what the API server rejects (Kubernetes 1.33, `k8s.io/kubernetes/pkg/apis/.../
//! validation`); warnings are what it accepts but warns about, plus a few palisade lints that
//! are marked as such below.
//!
//! # Codes
//!
//! | code | severity | rule family |
//! |------|----------|-------------|
//! | P201 | error    | `metadata.name` missing (`ValidateObjectMeta`) |
//! | P202 | error    | `metadata.name` not in the format of its kind (DNS-1123 subdomain or label; CronJob <= 52, Job <= 63 characters) |
//! | P203 | error / warning | `metadata.namespace` not a DNS-1123 label; warning: set on a Namespace, where it is ignored |
//! | P204 | error    | label key not a qualified name (labels, `matchLabels`, `matchExpressions[].key`) |
//! | P205 | error    | label value invalid (labels, `matchLabels`, `matchExpressions[].values`) |
//! | P206 | error    | annotation key invalid, or annotations larger than 256 KiB |
//! | P207 | error    | selector operator not `In`, `NotIn`, `Exists` or `DoesNotExist` |
//! | P208 | error    | selector `values` missing for `In`/`NotIn`, or present for `Exists`/`DoesNotExist` |
//! | P210 | error    | `policyTypes` entry not `Ingress`/`Egress`, or more than two entries |
//! | P211 | warning  | `policyTypes` lists a type twice (the API server accepts it) |
//! | P212 | warning  | palisade lint: `ingress`/`egress` rules present but their type is not in `policyTypes`, so they have no effect |
//! | P220 | error    | protocol not `TCP`, `UDP` or `SCTP` |
//! | P221 | error    | port number missing or outside 1-65535 (`port`, `endPort`, `containerPort`, `hostPort`) |
//! | P222 | error    | port name not an IANA_SVC_NAME |
//! | P223 | error    | `endPort` without a numeric `port`, or below `port` |
//! | P230 | error    | peer empty, or `ipBlock` combined with a selector |
//! | P231 | error    | `ipBlock.cidr` missing, or a `cidr`/`except` entry that is not a CIDR |
//! | P232 | error    | `except` entry not strictly inside `cidr` |
//! | P233 | warning  | CIDR with host bits set, leading zeros, IPv4-mapped IPv6 or non-canonical IPv6 (`GetWarningsForCIDR`) |
//! | P240 | error / warning | container port name used twice in one container; warning: in two containers of a pod (ambiguous for named ports) |
//! | P241 | warning  | the same container port and protocol declared twice in a pod (`GetWarningsForPod`) |
//! | P245 | error    | `status.podIP(s)` not an IP address, or more than one address per family |
//! | P246 | warning  | pod IP with leading zeros, IPv4-mapped IPv6 or non-canonical IPv6 (`GetWarningsForIP`) |
//! | P247 | warning  | `status.podIP` differs from `status.podIPs[0]`; the API server keeps `podIP` |

pub mod ip;
mod meta;
pub mod names;
mod pod;
mod policy;

use crate::diag::{Code, Severity};
use crate::load::K8sObject;
use crate::path::FieldPath;

/// One problem with one field of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIssue {
    pub path: FieldPath,
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl FieldIssue {
    pub fn error(code: Code, path: FieldPath, message: impl Into<String>) -> FieldIssue {
        FieldIssue::new(Severity::Error, code, path, message)
    }

    pub fn warning(code: Code, path: FieldPath, message: impl Into<String>) -> FieldIssue {
        FieldIssue::new(Severity::Warning, code, path, message)
    }

    fn new(severity: Severity, code: Code, path: FieldPath, message: impl Into<String>) -> Self {
        FieldIssue {
            path,
            severity,
            code,
            message: message.into(),
            label: None,
            help: None,
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Stable codes, one per rule family (see the table above).
pub mod codes {
    use crate::diag::Code;

    pub const NAME_REQUIRED: Code = "P201";
    pub const INVALID_NAME: Code = "P202";
    pub const INVALID_NAMESPACE: Code = "P203";
    pub const INVALID_LABEL_KEY: Code = "P204";
    pub const INVALID_LABEL_VALUE: Code = "P205";
    pub const INVALID_ANNOTATION: Code = "P206";
    pub const INVALID_OPERATOR: Code = "P207";
    pub const SELECTOR_VALUES: Code = "P208";
    pub const INVALID_POLICY_TYPE: Code = "P210";
    pub const DUPLICATE_POLICY_TYPE: Code = "P211";
    pub const IGNORED_RULES: Code = "P212";
    pub const INVALID_PROTOCOL: Code = "P220";
    pub const INVALID_PORT_NUMBER: Code = "P221";
    pub const INVALID_PORT_NAME: Code = "P222";
    pub const INVALID_END_PORT: Code = "P223";
    pub const INVALID_PEER: Code = "P230";
    pub const INVALID_CIDR: Code = "P231";
    pub const EXCEPT_OUTSIDE_CIDR: Code = "P232";
    pub const NON_STANDARD_CIDR: Code = "P233";
    pub const DUPLICATE_PORT_NAME: Code = "P240";
    pub const DUPLICATE_PORT: Code = "P241";
    pub const INVALID_POD_IP: Code = "P245";
    pub const NON_STANDARD_POD_IP: Code = "P246";
    pub const POD_IP_MISMATCH: Code = "P247";

    /// Every code this module emits, in order.
    pub const ALL: [Code; 24] = [
        NAME_REQUIRED,
        INVALID_NAME,
        INVALID_NAMESPACE,
        INVALID_LABEL_KEY,
        INVALID_LABEL_VALUE,
        INVALID_ANNOTATION,
        INVALID_OPERATOR,
        SELECTOR_VALUES,
        INVALID_POLICY_TYPE,
        DUPLICATE_POLICY_TYPE,
        IGNORED_RULES,
        INVALID_PROTOCOL,
        INVALID_PORT_NUMBER,
        INVALID_PORT_NAME,
        INVALID_END_PORT,
        INVALID_PEER,
        INVALID_CIDR,
        EXCEPT_OUTSIDE_CIDR,
        NON_STANDARD_CIDR,
        DUPLICATE_PORT_NAME,
        DUPLICATE_PORT,
        INVALID_POD_IP,
        NON_STANDARD_POD_IP,
        POD_IP_MISMATCH,
    ];
}

/// Every problem the API server would reject `object` for (and a few warnings it would print).
pub fn validate(object: &K8sObject) -> Vec<FieldIssue> {
    match object {
        K8sObject::Namespace(ns) => validate_namespace(ns),
        K8sObject::Pod(p) => validate_pod(p),
        K8sObject::Workload {
            kind,
            metadata: object_metadata,
            template,
            template_path,
        } => {
            let mut out = Vec::new();
            meta::object_meta(
                &mut out,
                object_metadata,
                meta::NameRule::for_workload(kind),
                &FieldPath::root().field("metadata"),
            );
            pod::template(&mut out, template, template_path);
            out
        }
        K8sObject::NetworkPolicy(np) => validate_network_policy(np),
    }
}

/// [`validate`] for a Namespace, without wrapping it in a [`K8sObject`] (the agent validates
/// objects from the API by reference).
pub fn validate_namespace(ns: &k8s_openapi::api::core::v1::Namespace) -> Vec<FieldIssue> {
    let mut out = Vec::new();
    let metadata = FieldPath::root().field("metadata");
    meta::object_meta(&mut out, &ns.metadata, meta::NameRule::Namespace, &metadata);
    out
}

/// [`validate`] for a Pod.
pub fn validate_pod(p: &k8s_openapi::api::core::v1::Pod) -> Vec<FieldIssue> {
    let mut out = Vec::new();
    let metadata = FieldPath::root().field("metadata");
    meta::object_meta(
        &mut out,
        &p.metadata,
        meta::NameRule::Subdomain("Pod"),
        &metadata,
    );
    if let Some(spec) = &p.spec {
        pod::pod_spec(&mut out, spec, &FieldPath::root().field("spec"));
    }
    if let Some(status) = &p.status {
        pod::pod_status(&mut out, status, &FieldPath::root().field("status"));
    }
    out
}

/// [`validate`] for a NetworkPolicy.
pub fn validate_network_policy(
    np: &k8s_openapi::api::networking::v1::NetworkPolicy,
) -> Vec<FieldIssue> {
    let mut out = Vec::new();
    let metadata = FieldPath::root().field("metadata");
    meta::object_meta(
        &mut out,
        &np.metadata,
        meta::NameRule::Subdomain("NetworkPolicy"),
        &metadata,
    );
    policy::network_policy(&mut out, np);
    out
}
