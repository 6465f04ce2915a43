//! The ready file: written after the first successful apply, rewritten after every later pass,
//! so a supervisor (the lab, a test) can wait for "rules in force" and for "this change is in
//! force" without talking to the agent.
//!
//! ```text
//!   generation: 7        passes completed since start (1 = first successful apply)
//!   ruleset: diff        what the last pass did: kept|replaced|created|full|diff|unchanged
//!   files: 3             manifest files seen
//!   rejected: 1          of which not in force as written (errors, unreadable)
//! ```
//!
//! Written to a temporary sibling and renamed, so a reader never sees half a file.

use std::io;
use std::path::{Path, PathBuf};

/// What the ready file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyInfo {
    pub generation: u64,
    pub ruleset: String,
    pub files: usize,
    pub rejected: usize,
}

impl ReadyInfo {
    fn render(&self) -> String {
        format!(
            "generation: {}\nruleset: {}\nfiles: {}\nrejected: {}\n",
            self.generation, self.ruleset, self.files, self.rejected
        )
    }

    fn parse(text: &str) -> Option<ReadyInfo> {
        let mut info = ReadyInfo {
            generation: 0,
            ruleset: String::new(),
            files: 0,
            rejected: 0,
        };
        let mut saw_generation = false;
        for line in text.lines() {
            let (key, value) = line.split_once(':')?;
            let value = value.trim();
            match key.trim() {
                "generation" => {
                    info.generation = value.parse().ok()?;
                    saw_generation = true;
                }
                "ruleset" => info.ruleset = value.to_string(),
                "files" => info.files = value.parse().ok()?,
                "rejected" => info.rejected = value.parse().ok()?,
                _ => {}
            }
        }
        saw_generation.then_some(info)
    }

    /// Reads a ready file; `None` if it does not exist (yet) or is not one.
    pub fn read(path: &Path) -> Option<ReadyInfo> {
        ReadyInfo::parse(&std::fs::read_to_string(path).ok()?)
    }

    pub(crate) fn write(&self, path: &Path) -> io::Result<()> {
        let tmp = temporary(path);
        std::fs::write(&tmp, self.render())?;
        std::fs::rename(&tmp, path)
    }
}

/// The sibling the ready file is written to before the rename.
pub(crate) fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_file_round_trips_and_rejects_garbage() {
        let info = ReadyInfo {
            generation: 7,
            ruleset: "diff".into(),
            files: 3,
            rejected: 1,
        };
        assert_eq!(ReadyInfo::parse(&info.render()), Some(info));
        for (label, text) in [
            ("empty", ""),
            ("no generation", "ruleset: full\n"),
            ("bad number", "generation: x\n"),
            ("not key-value", "generation 3\n"),
        ] {
            assert_eq!(ReadyInfo::parse(text), None, "{label}");
        }
    }

    #[test]
    fn write_replaces_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ready");
        for generation in 1..=3 {
            let info = ReadyInfo {
                generation,
                ruleset: "full".into(),
                files: 0,
                rejected: 0,
            };
            info.write(&path).expect("write");
            assert_eq!(
                ReadyInfo::read(&path).map(|i| i.generation),
                Some(generation)
            );
        }
        assert!(!temporary(&path).exists(), "temporary file renamed away");
    }
}
