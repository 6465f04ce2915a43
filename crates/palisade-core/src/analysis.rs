//! The front half of every command: load -> validate -> model, in one call.
//!
//! An object with a validation error is left out of the model, exactly as the API server would
//! refuse to store it; its diagnostics say so. Everything else goes on, so one run reports every
//! problem in every file.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::diag::{Diagnostic, Severity};
use crate::load::{self, Input, LoadedObject, Node};
use crate::model::{Cluster, convert};
use crate::path::FieldPath;
use crate::source::{FileId, Sources, Span};
use crate::validate;

#[derive(Debug, Default)]
pub struct Analysis {
    pub sources: Sources,
    pub cluster: Cluster,
    /// Every load, validation and model problem, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// Inputs that could not be read at all.
    pub io_errors: Vec<Diagnostic>,
    /// Kinds palisade does not use, with how many objects of each were skipped.
    pub skipped: BTreeMap<String, usize>,
    /// How many objects of each understood kind were read (valid or not).
    pub read: BTreeMap<String, usize>,
    /// Objects left out of the model because they are invalid.
    pub rejected: usize,
    /// The document trees of the valid objects, so that a finding about one field (a peer or
    /// port item, a namespace's name) can point at it; the model keeps spans down to rules only.
    pub object_trees: ObjectTrees,
}

/// Document trees of objects, keyed by where each object starts (the span the model gives the
/// namespace, pod or policy), which tells apart two objects with the same name.
#[derive(Debug, Clone, Default)]
pub struct ObjectTrees {
    trees: BTreeMap<(FileId, usize), (Arc<Node>, FieldPath)>,
}

impl ObjectTrees {
    fn insert(&mut self, object: &LoadedObject) {
        if let Some(span) = object.span_of(&FieldPath::root()) {
            self.trees.insert(
                (span.file, span.start),
                (object.document.clone(), object.base.clone()),
            );
        }
    }

    /// The value of annotation `key` on the object that contains `span` (the object starting
    /// last at or before it in its file), if that object has one and it is a string.
    pub fn annotation_at(&self, span: Span, key: &str) -> Option<&str> {
        let ((file, _), (document, base)) =
            self.trees.range(..=(span.file, span.start)).next_back()?;
        if *file != span.file {
            return None;
        }
        let object = document.lookup(base)?;
        let annotations = object.get("metadata")?.get("annotations")?;
        match &annotations.get(key)?.value {
            crate::load::Value::Str(text) => Some(text),
            _ => None,
        }
    }

    /// The span of `path` inside the object that starts at `object` (a model object's span),
    /// or of its nearest ancestor that exists; without a tree (an object built in code), the
    /// object's own span.
    pub fn span_in(&self, object: Option<Span>, path: &FieldPath) -> Option<Span> {
        let span = object?;
        match self.trees.get(&(span.file, span.start)) {
            Some((document, base)) => document.lookup_nearest(&base.join(path)).map(|n| n.span),
            None => Some(span),
        }
    }
}

impl Analysis {
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.count(Severity::Warning)
    }

    pub fn note_count(&self) -> usize {
        self.count(Severity::Note)
    }

    fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }
}

/// Loads, validates and models `inputs`.
pub fn analyze(inputs: &[Input]) -> Analysis {
    from_loaded(load::load(inputs))
}

/// The analyses of `base` + `old` and of `base` + `new`, each what [`analyze`] gives for those
/// inputs, with the shared base read and validated once and its objects shared by both sides
/// (the two sides of a diff: on a large cluster the base is most of the bytes, and a copy of
/// its decoded pods would be most of the memory).
pub fn analyze_pair(base: &[Input], old: &[Input], new: &[Input]) -> (Analysis, Analysis) {
    let base = load::load(base);
    let base_verdicts = validate_all(&base.objects);
    let side = |inputs: &[Input]| {
        let start = load::Loaded {
            sources: base.sources.clone(),
            ..Default::default()
        };
        let side = load::load_onto(start, inputs);
        let verdicts = validate_all(&side.objects);
        let mut diagnostics = base.diagnostics.clone();
        diagnostics.extend(side.diagnostics);
        let mut io_errors = base.io_errors.clone();
        io_errors.extend(side.io_errors);
        let mut skipped = base.skipped.clone();
        for (kind, count) in side.skipped {
            *skipped.entry(kind).or_default() += count;
        }
        let objects = base
            .objects
            .iter()
            .zip(base_verdicts.iter().cloned())
            .chain(side.objects.iter().zip(verdicts));
        assemble(side.sources, diagnostics, io_errors, skipped, objects)
    };
    std::thread::scope(|s| {
        let old_side = s.spawn(|| side(old));
        let new = side(new);
        let old = old_side
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (old, new)
    })
}

/// Same as [`analyze`] for one in-memory text (tests, embedding).
pub fn analyze_text(name: &str, text: &str) -> Analysis {
    from_loaded(load::load_text(name, text))
}

fn from_loaded(loaded: load::Loaded) -> Analysis {
    let verdicts = validate_all(&loaded.objects);
    assemble(
        loaded.sources,
        loaded.diagnostics,
        loaded.io_errors,
        loaded.skipped,
        loaded.objects.iter().zip(verdicts),
    )
}

/// Each object validated on its own: on every core, the verdicts kept in input order.
fn validate_all(objects: &[LoadedObject]) -> Vec<Vec<Diagnostic>> {
    crate::parallel::map(objects.iter().collect(), validate_object)
}

/// The analysis of loaded objects and their validation findings, in input order: the valid
/// ones modelled, the others counted as rejected.
fn assemble<'l>(
    sources: Sources,
    mut diagnostics: Vec<Diagnostic>,
    io_errors: Vec<Diagnostic>,
    skipped: BTreeMap<String, usize>,
    objects: impl Iterator<Item = (&'l LoadedObject, Vec<Diagnostic>)>,
) -> Analysis {
    let mut read = BTreeMap::new();
    let mut valid: Vec<&LoadedObject> = Vec::new();
    let mut rejected = 0;
    let mut object_trees = ObjectTrees::default();
    for (object, found) in objects {
        *read.entry(object.object.kind().to_string()).or_insert(0) += 1;
        let has_error = object.load_errors > 0 || found.iter().any(Diagnostic::is_error);
        diagnostics.extend(found);
        if has_error {
            rejected += 1;
        } else {
            object_trees.insert(object);
            valid.push(object);
        }
    }
    let (cluster, model_diagnostics) = convert::build_cluster(&valid);
    diagnostics.extend(model_diagnostics);
    sort_by_position(&mut diagnostics);
    Analysis {
        sources,
        cluster,
        diagnostics,
        io_errors,
        skipped,
        read,
        rejected,
        object_trees,
    }
}

/// The API server's verdict on one loaded object, as diagnostics placed in its file.
pub fn validate_object(object: &LoadedObject) -> Vec<Diagnostic> {
    validate::validate(&object.object)
        .into_iter()
        .map(|issue| field_issue_to_diagnostic(object, issue))
        .collect()
}

fn field_issue_to_diagnostic(object: &LoadedObject, issue: validate::FieldIssue) -> Diagnostic {
    let mut d = Diagnostic {
        severity: issue.severity,
        code: issue.code,
        message: issue.message,
        object: Some(object.describe()),
        field: (!issue.path.is_root()).then(|| issue.path.to_string()),
        span: object.span_of(&issue.path),
        label: issue.label,
        help: issue.help,
    };
    if d.span.is_none() {
        d.span = object.span_of(&crate::path::FieldPath::root());
    }
    d
}

/// Diagnostics in reading order: by file, then position; problems without a place come first.
/// The sort is stable so that problems at one spot keep the order they were found in.
pub fn sort_by_position(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| d.span.map(|s| (s.file, s.start)));
}
