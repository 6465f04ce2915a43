//! Validation: the API server's own rules for the objects palisade reads, so that what
//! `palisade check` accepts is what `kubectl apply` accepts. (stub: to be implemented)
//!
//! Works on Kubernetes types and reports [`FieldIssue`]s by field path; turning a path into a
//! file:line:column is the caller's job ([`crate::load::LoadedObject::span_of`]).

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

/// Every problem the API server would reject `object` for (and a few warnings it would print).
pub fn validate(object: &K8sObject) -> Vec<FieldIssue> {
    let _ = object;
    unimplemented!("validate")
}
