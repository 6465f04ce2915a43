//! Reading the manifests directory into the index.
//!
//! The directory is read the way the loader reads one (`*.yaml`, `*.yml`, `*.json`, recursive,
//! hidden entries skipped, symlinked directories not followed), so `palisade reach DIR` and the
//! agent see the same files. Skipping hidden entries also keeps a Kubernetes ConfigMap volume
//! from being read twice (its `..data` directories hold the real files).
//!
//! Every scan reads every file and lets the index compare texts: timestamps are too coarse to
//! notice two writes within one clock tick, and reading a few megabytes is cheap next to
//! compiling.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use crate::index::{FileOutcome, ManifestIndex};
use crate::logging;

const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// What a scan found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    pub files: usize,
    pub updated: usize,
    pub rejected: usize,
    pub removed: usize,
    pub unreadable: usize,
}

/// Brings `index` up to date with `dir`. If the directory itself cannot be listed, nothing is
/// changed: a vanished or unreadable directory is an outage, not an instruction to drop every
/// policy.
pub fn scan(dir: &Path, index: &mut ManifestIndex) -> io::Result<ScanReport> {
    let files = list(dir)?;
    let mut report = ScanReport {
        files: files.len(),
        ..ScanReport::default()
    };
    let gone: Vec<PathBuf> = index
        .paths()
        .filter(|p| !files.contains(*p))
        .map(Path::to_path_buf)
        .collect();
    for path in gone {
        index.delete(&path);
        report.removed += 1;
        tracing::info!(file = %path.display(), "manifest removed; its objects are withdrawn");
    }
    for path in &files {
        match read(path) {
            Ok(text) => match index.apply(path, text) {
                FileOutcome::Unchanged => {}
                FileOutcome::Updated { warnings } => {
                    report.updated += 1;
                    tracing::info!(file = %path.display(), warnings = warnings.len(), "manifest loaded");
                    for d in &warnings {
                        tracing::warn!("{}", logging::diagnostic(path, d));
                    }
                }
                FileOutcome::Rejected { diagnostics } => {
                    report.rejected += 1;
                    tracing::error!(
                        file = %path.display(),
                        "manifest rejected; its previous good objects stay in force"
                    );
                    for d in &diagnostics {
                        tracing::error!("{}", logging::diagnostic(path, d));
                    }
                }
            },
            // Deleted between listing and reading: the next scan (an event is on its way)
            // withdraws it; until then keep what it had.
            Err(err) => {
                report.unreadable += 1;
                index.unreadable(path);
                tracing::error!(
                    file = %path.display(),
                    %err,
                    "cannot read manifest; its previous good objects stay in force"
                );
            }
        }
    }
    Ok(report)
}

/// Manifest files under `dir`, sorted.
pub fn list(dir: &Path) -> io::Result<BTreeSet<PathBuf>> {
    let mut files = BTreeSet::new();
    walk(dir, &mut files, true)?;
    Ok(files)
}

fn walk(dir: &Path, files: &mut BTreeSet<PathBuf>, top: bool) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if top => return Err(err),
        // A subdirectory removed while we walk: its files are simply not there.
        Err(err) => {
            tracing::debug!(dir = %dir.display(), %err, "skipping unreadable directory");
            return Ok(());
        }
    };
    for entry in entries {
        let Ok(entry) = entry else { continue };
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        if file_type.is_dir() {
            walk(&path, files, false)?;
        } else if is_manifest_name(&path) && (file_type.is_file() || path.is_file()) {
            files.insert(path);
        }
    }
    Ok(())
}

/// Whether a path has a manifest's name (hidden components are the walker's business).
pub fn is_manifest_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e))
}

fn read(path: &Path) -> io::Result<String> {
    let bytes = std::fs::read(path)?;
    String::from_utf8(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        )
    })
}
