//! Reading the manifests directory into the index.
//!
//! The directory is read the way the loader reads one (`*.yaml`, `*.yml`, `*.json`, recursive,
//! hidden entries skipped, symlinked directories not followed), so `palisade reach DIR` and the
//! agent see the same files. Skipping hidden entries also keeps a Kubernetes ConfigMap volume
//! from being read twice (its `..data` directories hold the real files).
//!
//! Which files to read: a [`Scanner`] remembers each file's identity, size and change times
//! (following symlinks) from when it last read it, and skips a file whose stamp is unchanged and
//! was already a second old at that read. Timestamps are too coarse to tell two writes within
//! one clock tick apart, so a file changed shortly before it was read is read again next time
//! ("racily clean", as git calls it); the index compares texts anyway, so a needless read
//! costs only the read. The free [`scan`] reads everything.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::index::{FileOutcome, ManifestIndex};
use crate::logging;

const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// What a scan found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    pub files: usize,
    /// Files actually read (the others were unchanged since their last read).
    pub read: usize,
    pub updated: usize,
    pub rejected: usize,
    pub removed: usize,
    pub unreadable: usize,
}

/// Brings `index` up to date with `dir`, reading every file. If the directory itself cannot be
/// listed, nothing is changed: a vanished or unreadable directory is an outage, not an
/// instruction to drop every policy.
pub fn scan(dir: &Path, index: &mut ManifestIndex) -> io::Result<ScanReport> {
    Scanner::default().scan(dir, index)
}

/// A file as `stat` saw it when it was last read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        })
    }

    /// Whether the file last changed at least [`SETTLED`] before `read_at`.
    fn settled_before(&self, read_at: SystemTime) -> bool {
        let changed = SystemTime::UNIX_EPOCH
            .checked_add(Duration::new(
                u64::try_from(self.ctime.0).unwrap_or(0),
                u32::try_from(self.ctime.1).unwrap_or(0),
            ))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        changed
            .checked_add(SETTLED)
            .is_some_and(|settled| settled <= read_at)
    }
}

/// Far longer than any filesystem's timestamp granularity.
const SETTLED: Duration = Duration::from_secs(1);

/// Reads only the files that may have changed since it last read them.
#[derive(Debug, Default)]
pub struct Scanner {
    /// For files whose current text the index has: their stamp when read, if it had settled.
    read: BTreeMap<PathBuf, Stamp>,
}

impl Scanner {
    /// Forget every stamp: the next scan reads everything (periodic resync).
    pub fn forget(&mut self) {
        self.read.clear();
    }

    /// Brings `index` up to date with `dir`; see [`scan`].
    pub fn scan(&mut self, dir: &Path, index: &mut ManifestIndex) -> io::Result<ScanReport> {
        scan_with(dir, index, &mut self.read)
    }
}

fn scan_with(
    dir: &Path,
    index: &mut ManifestIndex,
    stamps: &mut BTreeMap<PathBuf, Stamp>,
) -> io::Result<ScanReport> {
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
    stamps.retain(|p, _| files.contains(p));
    for path in gone {
        index.delete(&path);
        report.removed += 1;
        tracing::info!(file = %path.display(), "manifest removed; its objects are withdrawn");
    }
    for path in &files {
        let stamp = Stamp::of(path);
        if stamp.is_some() && stamps.get(path) == stamp.as_ref() {
            continue;
        }
        let read_at = SystemTime::now();
        let text = read(path);
        report.read += 1;
        // Trust the stamp next time only if the file had settled before this read began and
        // was not touched during it.
        match (&text, stamp) {
            (Ok(_), Some(stamp))
                if stamp.settled_before(read_at) && Stamp::of(path).as_ref() == Some(&stamp) =>
            {
                stamps.insert(path.clone(), stamp);
            }
            _ => {
                stamps.remove(path);
            }
        }
        match text {
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

#[cfg(test)]
mod tests {
    use super::*;

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  namespace: x\n";

    #[test]
    fn a_fresh_file_is_read_again_even_with_an_unchanged_stamp_look() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.yaml");
        let mut index = ManifestIndex::new();
        let mut scanner = Scanner::default();
        std::fs::write(&path, POD).expect("write");
        assert_eq!(scanner.scan(dir.path(), &mut index).expect("scan").read, 1);
        // Same length, same second: a stamp could look the same, so it must be read again.
        std::fs::write(&path, POD.replace("name: a", "name: b")).expect("write");
        let report = scanner.scan(dir.path(), &mut index).expect("scan");
        assert_eq!((report.read, report.updated), (1, 1), "{report:?}");
        let (cluster, _) = index.cluster();
        assert_eq!(cluster.pods.first().map(|p| p.name.as_str()), Some("b"));
    }

    #[test]
    fn only_a_stamp_older_than_the_read_by_a_second_is_trusted() {
        // Kernels with coarse timestamps give two writes in one tick the same ctime; newer
        // ones (multigrain timestamps) may not, so pin the rule itself.
        let read_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let stamp_at = |secs: i64, nanos: i64| Stamp {
            dev: 1,
            ino: 2,
            size: 3,
            mtime: (secs, nanos),
            ctime: (secs, nanos),
        };
        let cases = [
            (
                "changed during the read's second",
                stamp_at(1_000_000, 0),
                false,
            ),
            (
                "changed just under a second before",
                stamp_at(999_999, 1),
                false,
            ),
            ("changed a second before", stamp_at(999_999, 0), true),
            ("changed long before", stamp_at(10, 0), true),
            (
                "changed after the read began",
                stamp_at(1_000_001, 0),
                false,
            ),
            ("nonsense time", stamp_at(-5, -1), true),
        ];
        for (label, stamp, trusted) in cases {
            assert_eq!(stamp.settled_before(read_at), trusted, "{label}");
        }
    }

    #[test]
    fn a_settled_file_is_not_read_again_until_it_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.yaml");
        std::fs::write(&path, POD).expect("write");
        std::thread::sleep(SETTLED + Duration::from_millis(100));
        let mut index = ManifestIndex::new();
        let mut scanner = Scanner::default();
        assert_eq!(scanner.scan(dir.path(), &mut index).expect("scan").read, 1);
        assert_eq!(
            scanner.scan(dir.path(), &mut index).expect("scan").read,
            0,
            "skipped"
        );
        std::fs::write(&path, POD.replace("name: a", "name: b")).expect("write");
        let report = scanner.scan(dir.path(), &mut index).expect("scan");
        assert_eq!((report.read, report.updated), (1, 1), "{report:?}");
        scanner.forget();
        std::thread::sleep(SETTLED + Duration::from_millis(100));
        assert_eq!(
            scanner.scan(dir.path(), &mut index).expect("scan").read,
            1,
            "forgotten"
        );
    }
}
