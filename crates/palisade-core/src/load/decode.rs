//! Document trees -> typed Kubernetes objects.
//!
//! ```text
//!   document ─┬─ not a map / no apiVersion or kind ──────────> P103
//!             ├─ List, *List ── items[i] (typed lists lend their kind) ──> again, per item
//!             ├─ known kind, wrong Kubernetes apiVersion ────> P106
//!             ├─ known kind ── JSON (json.rs) ── `status` reduced (see below)
//!             │                  └─ serde_path_to_error(serde_ignored(..))
//!             │                  ├─ unknown keys ───────────> P104 at the key, with a suggestion
//!             │                  ├─ wrong shapes/types ─────> P105 at the value
//!             │                  └─ ok ─────────────────────> LoadedObject
//!             └─ anything else ─────────────────────────────> Loaded::skipped[kind] += 1
//! ```
//!
//! A known kind name in a group Kubernetes never used for it (Calico's
//! `crd.projectcalico.org/v1` NetworkPolicy) is a different resource: it is skipped and counted
//! as `NetworkPolicy (crd.projectcalico.org/v1)` so that the summary does not mislead.
//!
//! An object whose only problems are unknown fields is still returned (the errors stay in the
//! diagnostics), so validation can report everything else that is wrong with it in the same
//! run. Workloads are decoded in full, strictly, and then reduced to their pod template.
//!
//! `status` is written by the cluster, not by the user: `kubectl get -o yaml` exports it, and
//! the API server resets it when such a file is applied. palisade reads only a Pod's
//! `status.phase`, `status.podIP` and `status.podIPs` (decoded strictly); everything else under
//! a Pod's, a Namespace's or a workload's `status` is dropped before decoding, so that whatever
//! an API server of any release puts there (conditions, container statuses, fields newer than
//! palisade's types) never makes an export fail. A NetworkPolicy has no `status` in the API
//! palisade speaks (an alpha one existed from Kubernetes 1.24 to 1.27 and was withdrawn): it is
//! dropped too, with a P107 warning, since the API server of a current release would refuse it
//! on apply.

use std::sync::{Arc, OnceLock};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, Pod, PodTemplateSpec, ReplicationController};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use super::explain::{self, ObjectCtx};
use super::json;
use super::schema::Schema;
use super::tree::{Node, Value};
use super::{K8sObject, Loaded, LoadedObject};
use crate::diag::Diagnostic;
use crate::path::{FieldPath, Segment};
use crate::source::{FileId, Span};

/// Decodes every object in `doc` into `loaded`.
pub fn decode_document(loaded: &mut Loaded, file: FileId, doc: Node) {
    let out = decode(file, &loaded.sources.get(file).text, doc);
    out.add_to(loaded);
}

/// What one document decodes to, before it joins a [`Loaded`]: decoding needs nothing else,
/// so the documents of a file can be decoded side by side.
pub fn decode(file: FileId, text: &str, doc: Node) -> Output {
    let doc = Arc::new(doc);
    let mut out = Output::default();
    Decoder {
        file,
        doc: &doc,
        text,
        out: &mut out,
    }
    .object(FieldPath::root(), None);
    out
}

impl Output {
    pub fn add_to(mut self, loaded: &mut Loaded) {
        // A List of thousands of objects is most of a load: moved, not copied.
        if loaded.objects.is_empty() {
            std::mem::swap(&mut loaded.objects, &mut self.objects);
        }
        loaded.objects.append(&mut self.objects);
        loaded.diagnostics.extend(self.diagnostics);
        for kind in self.skipped {
            *loaded.skipped.entry(kind).or_default() += 1;
        }
    }
}

/// Objects, diagnostics and skipped kinds of one document.
#[derive(Debug, Default)]
pub struct Output {
    objects: Vec<LoadedObject>,
    diagnostics: Vec<Diagnostic>,
    skipped: Vec<String>,
}

struct Decoder<'a> {
    file: FileId,
    doc: &'a Arc<Node>,
    text: &'a str,
    out: &'a mut Output,
}

/// Lists shorter than this decode on one thread.
const PARALLEL_ITEMS_MIN: usize = 512;

/// apiVersion and kind a typed list (`NetworkPolicyList`) lends to items that omit them.
type Inherited = Option<(String, String)>;

/// The kinds palisade reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Namespace,
    Pod,
    NetworkPolicy,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    ReplicationController,
    Job,
    CronJob,
}

impl Known {
    fn from_kind(kind: &str) -> Option<Known> {
        Some(match kind {
            "Namespace" => Known::Namespace,
            "Pod" => Known::Pod,
            "NetworkPolicy" => Known::NetworkPolicy,
            "Deployment" => Known::Deployment,
            "StatefulSet" => Known::StatefulSet,
            "DaemonSet" => Known::DaemonSet,
            "ReplicaSet" => Known::ReplicaSet,
            "ReplicationController" => Known::ReplicationController,
            "Job" => Known::Job,
            "CronJob" => Known::CronJob,
            _ => return None,
        })
    }

    fn api_version(self) -> &'static str {
        match self {
            Known::Namespace | Known::Pod | Known::ReplicationController => "v1",
            Known::NetworkPolicy => "networking.k8s.io/v1",
            Known::Deployment | Known::StatefulSet | Known::DaemonSet | Known::ReplicaSet => {
                "apps/v1"
            }
            Known::Job | Known::CronJob => "batch/v1",
        }
    }

    /// The release that stopped serving a once-valid apiVersion of this kind
    /// (https://kubernetes.io/docs/reference/using-api/deprecation-guide/).
    fn removed_in(self, api_version: &str) -> Option<&'static str> {
        match (self, api_version) {
            (Known::NetworkPolicy, "extensions/v1beta1") => Some("1.16"),
            (
                Known::Deployment | Known::DaemonSet | Known::ReplicaSet,
                "extensions/v1beta1" | "apps/v1beta1" | "apps/v1beta2",
            ) => Some("1.16"),
            (Known::StatefulSet, "apps/v1beta1" | "apps/v1beta2") => Some("1.16"),
            (Known::CronJob, "batch/v1beta1") => Some("1.25"),
            (Known::CronJob, "batch/v2alpha1") => Some("1.21"),
            _ => None,
        }
    }
}

/// API groups whose kinds these names are; the same kind name in another group (Calico's
/// `crd.projectcalico.org/v1` NetworkPolicy, say) is a different resource and is skipped.
fn is_kubernetes_group(api_version: &str) -> bool {
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    matches!(
        group,
        "" | "extensions" | "apps" | "batch" | "networking.k8s.io"
    )
}

macro_rules! schema_of {
    ($t:ty) => {{
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(Schema::of::<$t>)
    }};
}

impl Decoder<'_> {
    fn object(&mut self, base: FieldPath, inherited: Inherited) {
        let doc = Arc::clone(self.doc);
        let Some(node) = doc.lookup(&base) else {
            return;
        };
        let Value::Map(entries) = &node.value else {
            let d = Diagnostic::error(
                "P103",
                format!(
                    "expected a Kubernetes object (a map with `apiVersion` and `kind`), found {}",
                    node.type_name()
                ),
            )
            .with_span(Some(node.span))
            .with_label("not an object")
            .with_help("each YAML document (separated by `---`) must be one object");
            self.push(with_field(d, &base));
            return;
        };
        let first_key = entries.first().map(|(k, _)| k.span).unwrap_or(node.span);
        let (Ok(kind), Ok(api_version)) = (
            self.string_field(node, "kind", &base),
            self.string_field(node, "apiVersion", &base),
        ) else {
            return;
        };
        let inherited_kind = inherited.as_ref().map(|(_, k)| k.clone());
        let inherited_api = inherited.as_ref().map(|(a, _)| a.clone());
        let kind_given = kind.is_some();
        let api_given = api_version.is_some();
        let kind = match kind.or(inherited_kind.map(|k| (k, first_key))) {
            Some((k, _)) => k,
            None => {
                self.missing_type(node, first_key, &base, !api_given);
                return;
            }
        };
        let (api_version, api_span) = match api_version.or(inherited_api.map(|a| (a, first_key))) {
            Some(a) => a,
            None => {
                self.missing_type(node, first_key, &base, false);
                return;
            }
        };

        if kind == "List" || kind.ends_with("List") {
            self.list(node, &base, &api_version, &kind);
            return;
        }
        let object = describe(&kind, node);
        let Some(known) = Known::from_kind(&kind) else {
            self.out.skipped.push(kind);
            return;
        };
        if api_version != known.api_version() {
            if is_kubernetes_group(&api_version) {
                self.wrong_api_version(known, &kind, &api_version, api_span, &base, object);
            } else {
                self.out.skipped.push(format!("{kind} ({api_version})"));
            }
            return;
        }
        let inject = (!kind_given || !api_given).then(|| (api_version.clone(), kind.clone()));
        let ctx = ObjectCtx {
            doc: self.doc,
            text: self.text,
            base: base.clone(),
            object,
            schema: schema_for(known),
        };
        let errors_before = self.error_count();
        if let Some(object) = self.decode_known(known, &ctx, node, inject) {
            let load_errors = self.error_count() - errors_before;
            self.out.objects.push(LoadedObject {
                file: self.file,
                document: Arc::clone(self.doc),
                base,
                object,
                load_errors,
            });
        }
    }

    fn error_count(&self) -> usize {
        self.out.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// `Ok(None)` when absent, null or empty; `Err` when present with the wrong type
    /// (already reported).
    fn string_field(
        &mut self,
        node: &Node,
        name: &str,
        base: &FieldPath,
    ) -> Result<Option<(String, Span)>, ()> {
        match node.get(name).map(|n| (&n.value, n)) {
            None | Some((Value::Null, _)) => Ok(None),
            Some((Value::Str(s), _)) if s.is_empty() => Ok(None),
            Some((Value::Str(s), n)) => Ok(Some((s.clone(), n.span))),
            Some((_, n)) => {
                let d = Diagnostic::error(
                    "P103",
                    format!("`{name}` must be a string, found {}", n.type_name()),
                )
                .with_span(Some(n.span))
                .with_label("not a string")
                .with_help(format!(
                    "write `{name}` as text, for example `{}`",
                    example(name)
                ));
                self.push(with_field(d, &base.field(name)));
                Err(())
            }
        }
    }

    fn missing_type(&mut self, node: &Node, at: Span, base: &FieldPath, both: bool) {
        let has_kind = node.get("kind").is_some_and(|n| n.value != Value::Null);
        let (message, help) = if both {
            (
                "missing `apiVersion` and `kind`: this is not a Kubernetes object".to_string(),
                "a manifest starts with `apiVersion:` and `kind:`; if this is a fragment of a \
                 larger object, put it back inside that object"
                    .to_string(),
            )
        } else if has_kind {
            (
                "missing `apiVersion`".to_string(),
                "add `apiVersion:` (for example `apiVersion: networking.k8s.io/v1` for a \
                 NetworkPolicy)"
                    .to_string(),
            )
        } else {
            (
                "missing `kind`".to_string(),
                "add `kind:` (for example `kind: NetworkPolicy`)".to_string(),
            )
        };
        let d = Diagnostic::error("P103", message)
            .with_span(Some(at))
            .with_label("object starts here")
            .with_help(help);
        self.push(with_field(d, base));
    }

    fn wrong_api_version(
        &mut self,
        known: Known,
        kind: &str,
        api_version: &str,
        span: Span,
        base: &FieldPath,
        object: String,
    ) {
        let want = known.api_version();
        let help = match known.removed_in(api_version) {
            Some(release) => format!(
                "use `apiVersion: {want}`; {kind} in `{api_version}` was removed in Kubernetes {release}"
            ),
            None => format!("use `apiVersion: {want}`"),
        };
        let d = Diagnostic::error("P106", format!("{kind} is not served as `{api_version}`"))
            .with_span(Some(span))
            .with_object(object)
            .with_label(format!("should be {want}"))
            .with_help(help);
        self.push(with_field(d, &base.field("apiVersion")));
    }

    fn list(&mut self, node: &Node, base: &FieldPath, api_version: &str, kind: &str) {
        const LIST_FIELDS: [&str; 4] = ["apiVersion", "kind", "metadata", "items"];
        if let Value::Map(entries) = &node.value {
            for (key, _) in entries {
                if LIST_FIELDS.contains(&key.name.as_str()) {
                    continue;
                }
                let help = match explain::closest(&key.name, &LIST_FIELDS) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => "a list has only apiVersion, kind, metadata and items".to_string(),
                };
                let d =
                    Diagnostic::error("P104", format!("unknown field `{}` in a {kind}", key.name))
                        .with_span(Some(key.span))
                        .with_label("unknown field")
                        .with_help(help);
                self.push(with_field(d, &base.field(&key.name)));
            }
        }
        let inherited = kind
            .strip_suffix("List")
            .filter(|k| !k.is_empty())
            .map(|k| (api_version.to_string(), k.to_string()));
        match node.get("items") {
            None => {}
            Some(Node {
                value: Value::Null, ..
            }) => {}
            Some(Node {
                value: Value::Seq(items),
                ..
            }) => {
                if items.len() < PARALLEL_ITEMS_MIN {
                    for i in 0..items.len() {
                        self.object(base.field("items").index(i), inherited.clone());
                    }
                    return;
                }
                // A big List (`kubectl get -o yaml` of a whole cluster) decodes its items side
                // by side, each run into its own output, added back in order.
                let threads = crate::parallel::threads();
                let per = items.len().div_ceil(threads);
                let runs: Vec<std::ops::Range<usize>> = (0..items.len())
                    .step_by(per.max(1))
                    .map(|start| start..(start + per).min(items.len()))
                    .collect();
                let (file, doc, text) = (self.file, self.doc, self.text);
                let outputs = crate::parallel::map(runs, |run| {
                    let mut out = Output::default();
                    let mut decoder = Decoder {
                        file,
                        doc,
                        text,
                        out: &mut out,
                    };
                    for i in run {
                        decoder.object(base.field("items").index(i), inherited.clone());
                    }
                    out
                });
                for out in outputs {
                    self.out.objects.extend(out.objects);
                    self.out.diagnostics.extend(out.diagnostics);
                    self.out.skipped.extend(out.skipped);
                }
            }
            Some(other) => {
                let d = Diagnostic::error(
                    "P105",
                    format!(
                        "field `items`: expected a list of objects, found {}",
                        other.type_name()
                    ),
                )
                .with_span(Some(other.span))
                .with_label("expected a list")
                .with_help("write each object of the list as an item starting with `- `");
                self.push(with_field(d, &base.field("items")));
            }
        }
    }

    fn decode_known(
        &mut self,
        known: Known,
        ctx: &ObjectCtx<'_>,
        node: &Node,
        inject: Inherited,
    ) -> Option<K8sObject> {
        let template = FieldPath::parse("spec.template");
        let status = StatusUse::of(known);
        match known {
            Known::Namespace => self
                .typed::<Namespace>(ctx, node, inject, status)
                .map(K8sObject::Namespace),
            Known::Pod => self
                .typed::<Pod>(ctx, node, inject, status)
                .map(K8sObject::Pod),
            Known::NetworkPolicy => self
                .typed::<NetworkPolicy>(ctx, node, inject, status)
                .map(K8sObject::NetworkPolicy),
            Known::Deployment => {
                let o = self.typed::<Deployment>(ctx, node, inject, status)?;
                let t = self.require(ctx, o.spec.map(|s| s.template), "spec")?;
                Some(workload("Deployment", o.metadata, t, template))
            }
            Known::StatefulSet => {
                let o = self.typed::<StatefulSet>(ctx, node, inject, status)?;
                let t = self.require(ctx, o.spec.map(|s| s.template), "spec")?;
                Some(workload("StatefulSet", o.metadata, t, template))
            }
            Known::DaemonSet => {
                let o = self.typed::<DaemonSet>(ctx, node, inject, status)?;
                let t = self.require(ctx, o.spec.map(|s| s.template), "spec")?;
                Some(workload("DaemonSet", o.metadata, t, template))
            }
            Known::ReplicaSet => {
                let o = self.typed::<ReplicaSet>(ctx, node, inject, status)?;
                let spec = self.require(ctx, o.spec, "spec")?;
                let t = self.require(ctx, spec.template, "spec.template")?;
                Some(workload("ReplicaSet", o.metadata, t, template))
            }
            Known::ReplicationController => {
                let o = self.typed::<ReplicationController>(ctx, node, inject, status)?;
                let spec = self.require(ctx, o.spec, "spec")?;
                let t = self.require(ctx, spec.template, "spec.template")?;
                Some(workload("ReplicationController", o.metadata, t, template))
            }
            Known::Job => {
                let o = self.typed::<Job>(ctx, node, inject, status)?;
                let t = self.require(ctx, o.spec.map(|s| s.template), "spec")?;
                Some(workload("Job", o.metadata, t, template))
            }
            Known::CronJob => {
                let o = self.typed::<CronJob>(ctx, node, inject, status)?;
                let spec = self.require(ctx, o.spec, "spec")?;
                let job = self.require(ctx, spec.job_template.spec, "spec.jobTemplate.spec")?;
                Some(workload(
                    "CronJob",
                    o.metadata,
                    job.template,
                    FieldPath::parse("spec.jobTemplate.spec.template"),
                ))
            }
        }
    }

    /// A part the API server requires but the Rust type leaves optional.
    fn require<T>(&mut self, ctx: &ObjectCtx<'_>, value: Option<T>, path: &str) -> Option<T> {
        if value.is_none() {
            let path = FieldPath::parse(path);
            let mut parent = path.clone();
            let name = match parent.0.pop() {
                Some(Segment::Field(n)) => n,
                _ => String::new(),
            };
            let d = explain::type_error(ctx, &parent, &format!("missing field `{name}`"));
            self.out.diagnostics.push(d);
        }
        value
    }

    fn typed<T: DeserializeOwned>(
        &mut self,
        ctx: &ObjectCtx<'_>,
        node: &Node,
        inject: Inherited,
        status: StatusUse,
    ) -> Option<T> {
        let mut not_json = Vec::new();
        let mut value = json::to_json_omitting(node, ctx.schema, &mut not_json, status.omit());
        let dropped = self.reduce_status(ctx, node, &mut value, status);
        not_json.retain(|p| !dropped.iter().any(|d| p.path.0.starts_with(&d.0)));
        if !not_json.is_empty() {
            for p in &not_json {
                self.out.diagnostics.push(explain::not_json(ctx, &p.path));
            }
            return None;
        }
        if let (Some((api, kind)), Json::Object(map)) = (inject, &mut value) {
            map.entry("apiVersion").or_insert(Json::String(api));
            map.entry("kind").or_insert(Json::String(kind));
        }
        let mut unknown = Vec::new();
        let result = {
            let mut record = |p: serde_ignored::Path<'_>| unknown.push(ignored_path(&p));
            serde_path_to_error::deserialize::<_, T>(serde_ignored::Deserializer::new(
                value,
                &mut record,
            ))
        };
        for path in &unknown {
            self.out.diagnostics.push(explain::unknown_field(ctx, path));
        }
        match result {
            Ok(v) => Some(v),
            Err(err) => {
                let path = error_path(err.path());
                let message = err.inner().to_string();
                self.out
                    .diagnostics
                    .push(explain::type_error(ctx, &path, &message));
                None
            }
        }
    }

    /// Removes from `value` what of `status` palisade does not read (see the module doc) and
    /// returns the paths removed.
    fn reduce_status(
        &mut self,
        ctx: &ObjectCtx<'_>,
        node: &Node,
        value: &mut Json,
        status: StatusUse,
    ) -> Vec<FieldPath> {
        let Json::Object(object) = value else {
            return Vec::new();
        };
        let root = FieldPath::root().field("status");
        match status {
            StatusUse::Keep(kept) => match object.get_mut("status") {
                // A status that is not a map is left to the decoder, which reports its shape.
                Some(Json::Object(fields)) => {
                    let gone: Vec<String> = fields
                        .keys()
                        .filter(|k| !kept.contains(&k.as_str()))
                        .cloned()
                        .collect();
                    for key in &gone {
                        fields.remove(key);
                    }
                    gone.iter().map(|k| root.field(k)).collect()
                }
                _ => Vec::new(),
            },
            StatusUse::Ignore => match object.remove("status") {
                Some(_) => vec![root],
                None => Vec::new(),
            },
            StatusUse::IgnoreWithWarning => {
                if object.remove("status").is_none() {
                    return Vec::new();
                }
                let span = node.key_span("status");
                let d = Diagnostic::warning(
                    STATUS_IGNORED,
                    "ignored (a NetworkPolicy has no status field)",
                )
                .with_object(ctx.object.clone())
                .with_span(span)
                .with_label("ignored")
                .with_help(
                    "exports from Kubernetes 1.24 to 1.27 carry the `status: {}` of a withdrawn \
                     alpha field; palisade reads the policy without it. Remove it before applying \
                     the file to a current cluster: kubectl's strict field validation refuses it",
                );
                self.push(with_field(d, &root));
                vec![root]
            }
        }
    }

    fn push(&mut self, d: Diagnostic) {
        self.out.diagnostics.push(d);
    }
}

/// Warning: a `status` palisade ignores where the API has none (a NetworkPolicy's).
pub const STATUS_IGNORED: crate::diag::Code = "P107";

/// What of an object's `status` is decoded.
#[derive(Debug, Clone, Copy)]
enum StatusUse {
    /// Only these fields (a Pod: its phase and addresses); the others are dropped silently.
    Keep(&'static [&'static str]),
    /// Dropped silently: the kind has a status, palisade does not read it.
    Ignore,
    /// Dropped with a [`STATUS_IGNORED`] warning: the kind has no status in the API.
    IgnoreWithWarning,
}

impl StatusUse {
    /// What the conversion to JSON may leave out: what is dropped silently anyway.
    fn omit(self) -> json::Omit {
        match self {
            StatusUse::Keep(kept) => json::Omit::StatusExcept(kept),
            StatusUse::Ignore => json::Omit::Status,
            StatusUse::IgnoreWithWarning => json::Omit::Nothing,
        }
    }

    fn of(known: Known) -> StatusUse {
        match known {
            Known::Pod => StatusUse::Keep(&["phase", "podIP", "podIPs"]),
            Known::NetworkPolicy => StatusUse::IgnoreWithWarning,
            Known::Namespace
            | Known::Deployment
            | Known::StatefulSet
            | Known::DaemonSet
            | Known::ReplicaSet
            | Known::ReplicationController
            | Known::Job
            | Known::CronJob => StatusUse::Ignore,
        }
    }
}

fn schema_for(known: Known) -> &'static Schema {
    match known {
        Known::Namespace => schema_of!(Namespace),
        Known::Pod => schema_of!(Pod),
        Known::NetworkPolicy => schema_of!(NetworkPolicy),
        Known::Deployment => schema_of!(Deployment),
        Known::StatefulSet => schema_of!(StatefulSet),
        Known::DaemonSet => schema_of!(DaemonSet),
        Known::ReplicaSet => schema_of!(ReplicaSet),
        Known::ReplicationController => schema_of!(ReplicationController),
        Known::Job => schema_of!(Job),
        Known::CronJob => schema_of!(CronJob),
    }
}

fn workload(
    kind: &str,
    metadata: ObjectMeta,
    template: PodTemplateSpec,
    template_path: FieldPath,
) -> K8sObject {
    K8sObject::Workload {
        kind: kind.to_string(),
        metadata,
        template,
        template_path,
    }
}

fn with_field(d: Diagnostic, path: &FieldPath) -> Diagnostic {
    if path.is_root() {
        d
    } else {
        d.with_field(path.to_string())
    }
}

fn example(field: &str) -> &'static str {
    if field == "kind" {
        "kind: NetworkPolicy"
    } else {
        "apiVersion: networking.k8s.io/v1"
    }
}

/// `NetworkPolicy production/db`, read from the tree so that it is available even when
/// decoding fails.
fn describe(kind: &str, node: &Node) -> String {
    let meta = node.get("metadata");
    let text = |name: &str| match meta.and_then(|m| m.get(name)).map(|n| &n.value) {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let name = text("name").unwrap_or_else(|| "<unnamed>".to_string());
    if kind == "Namespace" {
        return format!("Namespace {name}");
    }
    let ns = text("namespace").unwrap_or_else(|| crate::DEFAULT_NAMESPACE.to_string());
    format!("{kind} {ns}/{name}")
}

fn ignored_path(path: &serde_ignored::Path<'_>) -> FieldPath {
    use serde_ignored::Path as P;
    match path {
        P::Root => FieldPath::root(),
        P::Seq { parent, index } => ignored_path(parent).index(*index),
        P::Map { parent, key } => ignored_path(parent).field(key),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}

fn error_path(path: &serde_path_to_error::Path) -> FieldPath {
    use serde_path_to_error::Segment as S;
    let mut out = FieldPath::root();
    for seg in path {
        match seg {
            S::Seq { index } => out.0.push(Segment::Index(*index)),
            S::Map { key } => out.0.push(Segment::Field(key.clone())),
            S::Enum { variant } => out.0.push(Segment::Field(variant.clone())),
            S::Unknown => {}
        }
    }
    out
}
