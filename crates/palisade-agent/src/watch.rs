//! File events -> "the directory needs a scan, and when".
//!
//! The watcher (inotify through `notify`, recursive) only says that something changed; which
//! files changed is found by the scan, which reads them all. What events decide is timing:
//!
//! - a scan runs as soon as a relevant event arrives, but never sooner than `min_gap` after the
//!   previous scan started, so a burst of writes costs one scan per gap, not one per event;
//! - while a manifest is open for writing (data written, not yet closed) the scan waits for the
//!   close, up to `settle`: a file caught half-written might parse as valid with fewer objects
//!   (an empty file is a valid empty manifest) and open a hole for a moment;
//! - not relevant: the agent's own reads (open, close without writing), its ready file, and
//!   writes to files the scan does not read (hidden ones such as an editor's `.np.yaml.swp` or
//!   the temporary of an atomic write, other extensions). Renames, directory changes and
//!   watcher errors always are: a ConfigMap volume, for one, changes by renaming a hidden
//!   symlink. The price: an edit in place of a file inside a hidden directory that a visible
//!   symlink points to is seen at the next resync only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind};
use notify::{Event, EventKind};

use crate::scan::is_manifest_name;

/// Changes seen since the last scan started.
#[derive(Debug, Default)]
pub struct Pending {
    /// The watched directory, spelled as the watcher spells event paths (absolute).
    root: PathBuf,
    /// When the first change since the last scan arrived; `None`: nothing to do.
    since: Option<Instant>,
    /// Manifests written to and not closed yet.
    writing: BTreeSet<PathBuf>,
    /// Paths whose events are the agent's own doing (the ready file and its temporary).
    ignored: Vec<PathBuf>,
}

impl Pending {
    pub fn new(root: impl Into<PathBuf>, ignored: Vec<PathBuf>) -> Pending {
        Pending {
            root: root.into(),
            ignored,
            ..Pending::default()
        }
    }

    /// Takes one watcher event (or watcher error, which forces a scan).
    pub fn note(&mut self, event: &notify::Result<Event>, now: Instant) {
        let event = match event {
            Ok(event) => event,
            Err(err) => {
                tracing::warn!(%err, "file watcher error; rescanning");
                self.since.get_or_insert(now);
                return;
            }
        };
        // Events about one file's content or metadata; the rest (renames, directories,
        // overflows) may change what the scan finds anywhere.
        let file_event = matches!(
            event.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Metadata(_))
                | EventKind::Create(CreateKind::File)
                | EventKind::Remove(RemoveKind::File)
        );
        match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
                for path in &event.paths {
                    self.writing.remove(path);
                }
            }
            // Reads, including the scan's own: not a change.
            EventKind::Access(_) => return,
            EventKind::Modify(ModifyKind::Data(_)) | EventKind::Create(CreateKind::File) => {
                let scanned: Vec<PathBuf> = event
                    .paths
                    .iter()
                    .filter(|p| self.is_scanned(p))
                    .cloned()
                    .collect();
                self.writing.extend(scanned);
            }
            // Removed or renamed away: nobody will close it under this name.
            _ => {
                for path in &event.paths {
                    self.writing.remove(path);
                }
            }
        }
        let relevant = event.paths.is_empty()
            || event
                .paths
                .iter()
                .any(|p| !self.is_ignored(p) && (!file_event || self.is_scanned(p)));
        if relevant {
            tracing::trace!(kind = ?event.kind, paths = ?event.paths, "manifests changed");
            self.since.get_or_insert(now);
        }
    }

    /// Whether the scan reads this path: a manifest name, nothing hidden below the root.
    fn is_scanned(&self, path: &Path) -> bool {
        let Ok(relative) = path.strip_prefix(&self.root) else {
            return true;
        };
        is_manifest_name(path)
            && !relative
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
    }

    /// The same path, or the same name in the same directory however the two were spelled
    /// (the watcher joins names onto the directory as it was given, maybe relative).
    fn is_ignored(&self, path: &Path) -> bool {
        self.ignored.iter().any(|ignored| {
            ignored == path
                || (ignored.file_name() == path.file_name()
                    && canonical_parent(ignored).is_some()
                    && canonical_parent(ignored) == canonical_parent(path))
        })
    }

    /// Something changed that no event reported (e.g. the directory is watched again).
    pub fn touch(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    /// When the scan for the waiting change may run; `None` when nothing waits.
    pub fn due(
        &self,
        last_scan: Option<Instant>,
        min_gap: Duration,
        settle: Duration,
    ) -> Option<Instant> {
        let since = self.since?;
        let settled = if self.writing.is_empty() {
            since
        } else {
            since + settle
        };
        Some(match last_scan {
            Some(last) => settled.max(last + min_gap),
            None => settled,
        })
    }

    /// When the first change waiting for a scan arrived.
    pub fn since(&self) -> Option<Instant> {
        self.since
    }

    /// A scan is starting: what happens from now on is a new change.
    pub fn clear(&mut self) {
        self.since = None;
        self.writing.clear();
    }
}

fn canonical_parent(path: &Path) -> Option<PathBuf> {
    let parent = path.parent()?;
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    parent.canonicalize().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{DataChange, RenameMode};

    /// An event about `path` under the watched root `/r`.
    fn ev(kind: EventKind, path: &str) -> notify::Result<Event> {
        Ok(Event::new(kind).add_path(Path::new("/r").join(path)))
    }

    const GAP: Duration = Duration::from_millis(10);
    const SETTLE: Duration = Duration::from_millis(200);

    #[test]
    fn scan_timing_follows_the_events() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let data = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        let close_write = EventKind::Access(AccessKind::Close(AccessMode::Write));
        let open = EventKind::Access(AccessKind::Open(AccessMode::Any));
        let close_read = EventKind::Access(AccessKind::Close(AccessMode::Read));
        let rename = EventKind::Modify(ModifyKind::Name(RenameMode::To));
        let remove = EventKind::Remove(RemoveKind::File);
        let create_file = EventKind::Create(CreateKind::File);

        // (label, events at ms offsets, last scan, expected due)
        type Case<'a> = (
            &'a str,
            Vec<(u64, EventKind, &'a str)>,
            Option<u64>,
            Option<u64>,
        );
        let cases: Vec<Case> = vec![
            ("nothing", vec![], None, None),
            (
                "own reads are not changes",
                vec![(1, open, "d/a.yaml"), (2, close_read, "d/a.yaml")],
                None,
                None,
            ),
            (
                "rename into place: at once",
                vec![(5, rename, "d/a.yaml")],
                None,
                Some(5),
            ),
            (
                "rename soon after a scan: after the gap",
                vec![(5, rename, "d/a.yaml")],
                Some(0),
                Some(10),
            ),
            (
                "half-written: wait for settle",
                vec![(5, data, "d/a.yaml")],
                None,
                Some(205),
            ),
            (
                "written and closed: at once",
                vec![(5, data, "d/a.yaml"), (6, close_write, "d/a.yaml")],
                None,
                Some(5),
            ),
            (
                "one of two closed: still waiting",
                vec![
                    (5, data, "d/a.yaml"),
                    (6, data, "d/b.yaml"),
                    (7, close_write, "d/a.yaml"),
                ],
                None,
                Some(205),
            ),
            (
                "written then removed: at once",
                vec![(5, data, "d/a.yaml"), (6, remove, "d/a.yaml")],
                None,
                Some(5),
            ),
            (
                "editor swap file: not read by the scan, not a change",
                vec![
                    (5, data, "d/.a.yaml.swp"),
                    (6, close_write, "d/.a.yaml.swp"),
                ],
                None,
                None,
            ),
            (
                "other extension: not a change",
                vec![(5, create_file, "d/notes.txt"), (6, data, "d/notes.txt")],
                None,
                None,
            ),
            (
                "atomic write: the temporary is nothing, the rename is the change",
                vec![
                    (5, create_file, "d/.a.yaml.tmp"),
                    (6, data, "d/.a.yaml.tmp"),
                    (7, close_write, "d/.a.yaml.tmp"),
                    (8, rename, "d/a.yaml"),
                ],
                None,
                Some(8),
            ),
            (
                "ConfigMap volume: renaming the hidden ..data symlink is a change",
                vec![(5, create_file, "..data_tmp"), (6, rename, "..data")],
                None,
                Some(6),
            ),
            (
                "file in a hidden directory: not read, not a change",
                vec![(5, data, "..2026_01/a.yaml")],
                None,
                None,
            ),
            (
                "new directory: a change",
                vec![(5, EventKind::Create(CreateKind::Folder), "sub")],
                None,
                Some(5),
            ),
            (
                "ready file is ignored",
                vec![(5, data, "d/ready"), (6, close_write, "d/ready")],
                None,
                None,
            ),
        ];
        for (label, events, last, expected) in cases {
            let mut pending = Pending::new("/r", vec![PathBuf::from("/r/d/ready")]);
            for (at, kind, path) in events {
                pending.note(&ev(kind, path), ms(at));
            }
            assert_eq!(
                pending.due(last.map(ms), GAP, SETTLE),
                expected.map(ms),
                "{label}"
            );
        }
    }

    #[test]
    fn a_hidden_watched_directory_is_not_itself_hidden_content() {
        // Temporary directories are often hidden (`/tmp/.tmpAbc`): only what lies below the
        // root counts.
        let mut pending = Pending::new("/tmp/.tmpAbc", vec![]);
        let event = Event::new(EventKind::Modify(ModifyKind::Data(DataChange::Any)))
            .add_path(PathBuf::from("/tmp/.tmpAbc/np.yaml"));
        let t0 = Instant::now();
        pending.note(&Ok(event), t0);
        assert_eq!(
            pending.due(None, GAP, SETTLE),
            Some(t0 + SETTLE),
            "tracked as being written"
        );
    }

    #[test]
    fn clear_forgets_everything() {
        let t0 = Instant::now();
        let mut pending = Pending::new("/r", vec![]);
        pending.note(
            &ev(
                EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Any)),
                "a.yaml",
            ),
            t0,
        );
        assert_eq!(pending.due(None, GAP, SETTLE), Some(t0 + SETTLE));
        pending.clear();
        assert_eq!(pending.due(None, GAP, SETTLE), None);
    }

    #[test]
    fn a_watcher_error_forces_a_scan() {
        let t0 = Instant::now();
        let mut pending = Pending::new("/r", vec![]);
        pending.note(&Err(notify::Error::generic("queue overflow")), t0);
        assert_eq!(pending.due(None, GAP, SETTLE), Some(t0));
    }
}
