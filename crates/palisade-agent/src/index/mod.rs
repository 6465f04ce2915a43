//! The manifest index: for each file, the objects of its last good version. Cluster mode's
//! index of API objects, [`ClusterIndex`], shares its incremental cluster (`merged.rs`).
//!
//! A plain struct with `apply` / `delete` / `unreadable` per file, so tests drive it directly
//! and the directory watcher is only an adapter. The rule that keeps a half-written or broken
//! file from opening a hole: a file's objects are replaced only by a version that loads and
//! validates without a single error. Until then the previous good objects stay in force, and a
//! file that was never good contributes nothing (as the API server would have refused it).
//!
//! Each file's objects are converted to the model once, when the file changes, and the cluster
//! is updated in place ([`merged`]): converting every object of a 10,000-pod directory on every
//! change would cost more than the whole change budget.

mod cluster;
mod merged;
mod objects;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use palisade_core::diag::{Diagnostic, Severity};
use palisade_core::load::{self, LoadedObject};
use palisade_core::model::convert::build_cluster;

pub use cluster::ClusterIndex;
use merged::{FileModel, Merged};
pub use objects::{Effect, Kind, Rejection};
use palisade_core::model::Cluster;

/// Where a file stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    /// Its current text loaded cleanly; these are its objects.
    Good { objects: usize },
    /// Its current text has errors; the objects of its last good version (if any) stay.
    Rejected { errors: usize, kept: usize },
    /// It could not be read; the objects of its last good version (if any) stay.
    Unreadable { kept: usize },
}

/// What one call to [`ManifestIndex::apply`] did.
#[derive(Debug, Clone)]
pub enum FileOutcome {
    /// Same text as last time: nothing to do.
    Unchanged,
    /// The file's objects were replaced; warnings, if any, come along.
    Updated { warnings: Vec<Diagnostic> },
    /// The text has errors: previous objects kept. All diagnostics, errors first.
    Rejected { diagnostics: Vec<Diagnostic> },
}

#[derive(Debug)]
struct FileEntry {
    /// The text last seen, good or not, so the same text is never parsed (or reported) twice.
    text: Option<String>,
    /// Objects of the last version that had no error.
    good: Arc<Vec<LoadedObject>>,
    /// `good` converted to the model on its own, with the diagnostics of that conversion.
    model: FileModel,
    status: FileStatus,
}

/// Manifest files by path, and the cluster their good objects make.
#[derive(Debug, Default)]
pub struct ManifestIndex {
    files: BTreeMap<PathBuf, FileEntry>,
    /// Bumped whenever the set of objects in force changes.
    revision: u64,
    merged: Merged,
}

impl ManifestIndex {
    pub fn new() -> ManifestIndex {
        ManifestIndex::default()
    }

    /// Takes the current text of `path`.
    pub fn apply(&mut self, path: &Path, text: String) -> FileOutcome {
        if self
            .files
            .get(path)
            .is_some_and(|e| e.text.as_deref() == Some(&text))
        {
            return FileOutcome::Unchanged;
        }
        let parsed = parse(&path.display().to_string(), &text);
        let entry = self
            .files
            .entry(path.to_path_buf())
            .or_insert_with(FileEntry::empty);
        entry.text = Some(text);
        let errors = parsed.diagnostics.iter().filter(|d| d.is_error()).count();
        if errors > 0 {
            entry.status = FileStatus::Rejected {
                errors,
                kept: entry.good.len(),
            };
            let mut diagnostics = parsed.diagnostics;
            diagnostics.sort_by_key(|d| d.severity != Severity::Error);
            return FileOutcome::Rejected { diagnostics };
        }
        entry.status = FileStatus::Good {
            objects: parsed.objects.len(),
        };
        let objects: Vec<&LoadedObject> = parsed.objects.iter().collect();
        let model: FileModel = Arc::new(build_cluster(&objects));
        let before = std::mem::replace(&mut entry.model, model.clone());
        entry.good = Arc::new(parsed.objects);
        self.merged.changed(before, model);
        self.revision += 1;
        FileOutcome::Updated {
            warnings: parsed.diagnostics,
        }
    }

    /// The file is gone: its objects go too. Returns whether it was known.
    pub fn delete(&mut self, path: &Path) -> bool {
        let Some(entry) = self.files.remove(path) else {
            return false;
        };
        if !entry.good.is_empty() {
            self.revision += 1;
        }
        self.merged.changed(entry.model, FileModel::default());
        true
    }

    /// The file exists but cannot be read right now: keep what it had, and read it afresh
    /// next time even if the text turns out the same as before.
    pub fn unreadable(&mut self, path: &Path) {
        if let Some(entry) = self.files.get_mut(path) {
            entry.text = None;
            entry.status = FileStatus::Unreadable {
                kept: entry.good.len(),
            };
        } else {
            let mut entry = FileEntry::empty();
            entry.status = FileStatus::Unreadable { kept: 0 };
            self.files.insert(path.to_path_buf(), entry);
        }
    }

    /// Paths of every known file, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.keys().map(PathBuf::as_path)
    }

    pub fn status(&self, path: &Path) -> Option<&FileStatus> {
        self.files.get(path).map(|e| &e.status)
    }

    /// Files whose current text is not in force (rejected or unreadable).
    pub fn rejected(&self) -> usize {
        self.files
            .values()
            .filter(|e| !matches!(e.status, FileStatus::Good { .. }))
            .count()
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Changes whenever the objects in force change; equal revisions mean equal clusters.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The cluster made of every file's good objects, and the model's diagnostics (e.g. the same
    /// policy defined twice: one wins, deterministically).
    pub fn cluster(&mut self) -> (&Cluster, &[Diagnostic]) {
        let files = &self.files;
        self.merged
            .get(files.values().map(|e| &e.model), || rebuild(files))
    }

    /// [`ManifestIndex::cluster`], and what changed in it since the last call of this one
    /// (`Unknown` the first time, or when it was merged from scratch): what the incremental
    /// compiler needs to compare.
    pub fn cluster_and_changes(&mut self) -> (&Cluster, &[Diagnostic], palisade_nft::Changes) {
        let files = &self.files;
        self.merged
            .get_and_take(files.values().map(|e| &e.model), || rebuild(files))
    }

    /// `build_cluster` over every good object: what [`ManifestIndex::cluster`] must equal.
    pub fn rebuilt(&self) -> (Cluster, Vec<Diagnostic>) {
        rebuild(&self.files)
    }
}

fn rebuild(files: &BTreeMap<PathBuf, FileEntry>) -> (Cluster, Vec<Diagnostic>) {
    let objects: Vec<&LoadedObject> = files.values().flat_map(|e| e.good.iter()).collect();
    build_cluster(&objects)
}

impl FileEntry {
    fn empty() -> FileEntry {
        FileEntry {
            text: None,
            good: Arc::default(),
            model: Arc::default(),
            status: FileStatus::Good { objects: 0 },
        }
    }
}

struct Parsed {
    objects: Vec<LoadedObject>,
    diagnostics: Vec<Diagnostic>,
}

/// Load and validate one file's text the way `palisade check` does, keeping every object:
/// whether the file counts is decided for the file as a whole.
fn parse(name: &str, text: &str) -> Parsed {
    let loaded = load::load_text(name, text);
    let mut diagnostics = loaded.io_errors;
    diagnostics.extend(loaded.diagnostics);
    for object in &loaded.objects {
        diagnostics.extend(palisade_core::analysis::validate_object(object));
    }
    Parsed {
        objects: loaded.objects,
        diagnostics,
    }
}
