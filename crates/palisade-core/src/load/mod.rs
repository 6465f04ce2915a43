//! Loading: files, directories and stdin -> YAML/JSON documents with a span on every node ->
//! typed Kubernetes objects.
//!
//! ```text
//!   Input ──read──> Sources (text kept for diagnostics)
//!     └─parse (yaml.rs)──> Node tree per document (spans, duplicate keys rejected,
//!        │                   scalars typed the way kubectl's YAML->JSON does it)
//!        └ plain JSON (json_text.rs) and the block YAML of exports (block_yaml.rs) are read
//!          to the same tree without the YAML parser
//!         └─decode (decode.rs)──> LoadedObject { tree, base path, K8sObject }
//!                                  (List items unwrapped, unknown fields and wrong shapes reported)
//! ```
//!
//! Loading never stops at the first problem: every document of every file is tried and every
//! problem becomes a [`Diagnostic`]. Nothing here panics on any input.

mod block_yaml;
pub mod decode;
mod explain;
mod flow_indent;
pub mod inputs;
mod json;
mod json_text;
mod quoted;
mod scalar;
mod schema;
mod syntax;
pub mod tree;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Pod, PodTemplateSpec};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::diag::Diagnostic;
use crate::path::FieldPath;
use crate::source::{FileId, Sources, Span};
pub use tree::{Key, Node, Value};

/// One thing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file, or a directory searched recursively for `*.yaml`, `*.yml` and `*.json`.
    Path(PathBuf),
    /// Standard input (`-` on the command line).
    Stdin,
    /// A text already in memory (a live cluster's snapshot), read as a file called `name`.
    Text { name: String, text: String },
}

/// Everything one load produced.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: Sources,
    pub objects: Vec<LoadedObject>,
    /// Syntax errors, wrong shapes, unknown fields, duplicate keys...
    pub diagnostics: Vec<Diagnostic>,
    /// Inputs that could not be read at all (missing file, permission denied, not UTF-8).
    pub io_errors: Vec<Diagnostic>,
    /// Kinds palisade does not use, with how many objects of each were skipped.
    pub skipped: BTreeMap<String, usize>,
}

/// A Kubernetes object palisade understands, still in Kubernetes' own types.
#[derive(Debug, Clone)]
pub enum K8sObject {
    Namespace(Namespace),
    Pod(Pod),
    /// The pod template of a Deployment, StatefulSet, DaemonSet, ReplicaSet,
    /// ReplicationController, Job or CronJob.
    Workload {
        kind: String,
        metadata: ObjectMeta,
        template: PodTemplateSpec,
        /// Where the template sits in the object (`spec.template`, or
        /// `spec.jobTemplate.spec.template` for a CronJob).
        template_path: FieldPath,
    },
    NetworkPolicy(NetworkPolicy),
}

impl K8sObject {
    pub fn kind(&self) -> &str {
        match self {
            K8sObject::Namespace(_) => "Namespace",
            K8sObject::Pod(_) => "Pod",
            K8sObject::Workload { kind, .. } => kind,
            K8sObject::NetworkPolicy(_) => "NetworkPolicy",
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            K8sObject::Namespace(o) => &o.metadata,
            K8sObject::Pod(o) => &o.metadata,
            K8sObject::Workload { metadata, .. } => metadata,
            K8sObject::NetworkPolicy(o) => &o.metadata,
        }
    }
}

/// A decoded object and the document it came from, so any field path can be turned back into
/// a span.
#[derive(Debug, Clone)]
pub struct LoadedObject {
    pub file: FileId,
    /// The whole document the object was read from.
    pub document: Arc<Node>,
    /// Where the object sits in `document`: root, or `items[3]` inside a List.
    pub base: FieldPath,
    pub object: K8sObject,
    /// Errors found while decoding it (e.g. unknown fields). Such an object is still decoded so
    /// that validation can report its other problems, but it must not reach the model: the API
    /// server would refuse it, and a misspelt `podSelecter` must not read as "every pod".
    pub load_errors: usize,
}

impl LoadedObject {
    /// Span of `path` (relative to the object); falls back to the nearest ancestor that exists,
    /// so a missing field points at its parent.
    pub fn span_of(&self, path: &FieldPath) -> Option<Span> {
        self.document
            .lookup_nearest(&self.base.join(path))
            .map(|n| n.span)
    }

    /// `NetworkPolicy production/db-policy`, `Namespace staging`.
    pub fn describe(&self) -> String {
        let meta = self.object.metadata();
        let name = meta.name.as_deref().unwrap_or("<unnamed>");
        match (&self.object, meta.namespace.as_deref()) {
            (K8sObject::Namespace(_), _) => format!("Namespace {name}"),
            (_, ns) => format!(
                "{} {}/{}",
                self.object.kind(),
                ns.unwrap_or(crate::DEFAULT_NAMESPACE),
                name
            ),
        }
    }
}

/// Reads every input and decodes every document in it.
pub fn load(inputs: &[Input]) -> Loaded {
    inputs::load(inputs)
}

/// Reads `inputs` after what `loaded` holds, as if they followed its inputs (one shared
/// base read once, then each side of a comparison on its own copy).
pub fn load_onto(loaded: Loaded, inputs: &[Input]) -> Loaded {
    inputs::load_onto(loaded, inputs)
}

/// Decodes one in-memory text as if it were a file named `name` (tests, stdin).
pub fn load_text(name: &str, text: &str) -> Loaded {
    let mut loaded = Loaded::default();
    inputs::load_one_text(&mut loaded, name, text.to_string());
    loaded
}
