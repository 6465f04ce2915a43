//! [`Dataplane`]: full loads, updates, adoption and the fail-safe, each one nft transaction.

use std::path::PathBuf;

use crate::TABLE;
use crate::error::{Error, Result, ScriptKind};
use crate::libnft::{self, Api, Flags};
use crate::marker::{self, TableState};
use crate::nft::{self, Output};

/// Makes the table exist and then removes it, so that what follows starts from nothing whether
/// or not a table was there. Inside one transaction this is a replacement: the old table stays
/// in force until the kernel commits the new one.
const PREAMBLE: &str = "table inet palisade\ndelete table inet palisade\n";
const PREAMBLE_LINES: usize = 2;

/// The table [`FailurePolicy::Closed`] installs: forwarded traffic (everything between pods,
/// and between pods and the outside) is dropped unless it belongs to a connection that already
/// exists. Traffic between a pod and its own node does not cross `forward` and keeps flowing,
/// so the node can still reach and heal its pods.
pub const LOCKDOWN_SCRIPT: &str = "table inet palisade {
\tchain forward {
\t\ttype filter hook forward priority filter; policy drop;
\t\tct state established,related accept
\t}
}
";

/// What to enforce when no ruleset could be loaded and none is in force: the first full load
/// after a start failed (nft refused the compiled script, or nft is broken).
///
/// It does not apply when a load fails while a table is in force: that table stays, because it
/// was correct a moment ago and replacing it by anything would be a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Leave the node without palisade's table: traffic flows as if no policy existed. Choose
    /// this when availability matters more than isolation.
    Open,
    /// Install [`LOCKDOWN_SCRIPT`]: no new forwarded connection until a real ruleset loads.
    /// The default, because a NetworkPolicy is a promise that some traffic does not get
    /// through, and a failure must not silently break it.
    #[default]
    Closed,
}

/// What [`Dataplane::fail_safe`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailSafe {
    /// A table was in force and stays.
    KeptPrevious,
    /// Nothing was in force; the lockdown table now is.
    Lockdown,
    /// Nothing was in force and nothing is.
    Open,
}

/// What [`Dataplane::adopt`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adoption {
    /// The table in force was loaded from this very script and not changed since: untouched.
    Kept,
    /// A different table was in force; it was replaced in one transaction.
    Replaced,
    /// No table was in force; it was created.
    Created,
}

/// The nftables side of one network namespace: the one of the calling thread.
#[derive(Debug, Clone)]
pub struct Dataplane {
    nft: PathBuf,
    /// libnftables, when scripts run in process rather than through the `nft` program.
    library: Option<&'static Api>,
}

impl Default for Dataplane {
    fn default() -> Self {
        Dataplane::new()
    }
}

impl Dataplane {
    /// Runs nft in process through libnftables when the library loads (the `nftables`
    /// package installs it), otherwise the `nft` program from `PATH`. Both parse the same
    /// scripts and send each as one netlink batch.
    pub fn new() -> Dataplane {
        Dataplane {
            nft: PathBuf::from("nft"),
            library: libnft::api(),
        }
    }

    /// Always starts `program`, one process per call (a test's stand-in, another nft build).
    pub fn with_nft(program: impl Into<PathBuf>) -> Dataplane {
        Dataplane {
            nft: program.into(),
            library: None,
        }
    }

    /// Whether scripts run in process (libnftables) rather than through a program.
    pub fn in_process(&self) -> bool {
        self.library.is_some()
    }

    /// One nft command line (`words`, e.g. `list tables inet`) or, with `script`, a whole
    /// script as `nft -f -` reads it.
    fn nft(&self, words: &[&str], script: Option<&str>, flags: Flags) -> Result<Output> {
        if let Some(library) = self.library {
            return Ok(match script {
                Some(text) => library.script(text, flags),
                None => library.command(&words.join(" "), flags),
            });
        }
        let mut args: Vec<&str> = Vec::new();
        if flags.json {
            args.push("-j");
        }
        if flags.dry_run {
            args.push("-c");
        }
        match script {
            Some(_) => args.extend(["-f", "-"]),
            None => args.extend(words),
        }
        nft::run(&self.nft, &args, script)
    }

    /// Makes `table inet palisade` exactly what `script` declares, in one transaction: the old
    /// table (if any) is in force until the new one is, and if nft refuses any part of the
    /// script nothing changes. `script` may or may not start by deleting the table itself.
    pub fn apply_full(&self, script: &str) -> Result<()> {
        self.load_full(
            script,
            TableState::Full {
                digest: marker::digest(script),
            },
        )
    }

    /// Applies an update (element adds and deletes, chain changes) to the table in force, in
    /// one transaction. If nft refuses it (e.g. the table is not what the update expects),
    /// nothing changes; the caller should fall back to [`Dataplane::apply_full`].
    pub fn apply_diff(&self, script: &str) -> Result<()> {
        let mut text = String::with_capacity(script.len() + 256);
        text.push_str(script);
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        let script_lines = text.lines().count();
        text.push_str(&marker::lines(&TableState::Modified));
        self.load(ScriptKind::Diff, &text, 0, script_lines, script)
    }

    /// Loads `script` as given, in one transaction, adding nothing (golden tests, experiments).
    pub fn apply_script(&self, script: &str) -> Result<()> {
        let lines = script.lines().count();
        self.load(ScriptKind::Script, script, 0, lines, script)
    }

    /// Asks nft whether [`Dataplane::apply_full`] would succeed, without changing anything.
    pub fn check_full(&self, script: &str) -> Result<()> {
        let state = TableState::Full {
            digest: marker::digest(script),
        };
        let (text, lines) = full_text(script, &state);
        self.run_script(
            Flags {
                dry_run: true,
                ..Flags::default()
            },
            ScriptKind::Full,
            &text,
            PREAMBLE_LINES,
            lines,
            script,
        )
    }

    /// `nft list table inet palisade`, or `None` when there is no such table.
    pub fn current_table(&self) -> Result<Option<String>> {
        let out = self.nft(
            &["list", "table", "inet", "palisade"],
            None,
            Flags::default(),
        )?;
        if out.success {
            return Ok(Some(out.stdout));
        }
        if out.stderr.contains("No such file or directory") {
            return Ok(None);
        }
        Err(command_error("list table inet palisade", &out.stderr))
    }

    /// `nft -j list ruleset`: every table of the namespace as the kernel holds it, in nft's
    /// JSON schema, for reading back what is really enforced (palisade_nft::kernel).
    pub fn list_ruleset_json(&self) -> Result<String> {
        let flags = Flags {
            json: true,
            ..Flags::default()
        };
        let out = self.nft(&["list", "ruleset"], None, flags)?;
        if !out.success {
            return Err(command_error("-j list ruleset", &out.stderr));
        }
        Ok(out.stdout)
    }

    /// Whether `table inet palisade` exists (cheaper than listing it).
    pub fn table_exists(&self) -> Result<bool> {
        let out = self.nft(&["list", "tables", "inet"], None, Flags::default())?;
        if !out.success {
            return Err(command_error("list tables inet", &out.stderr));
        }
        Ok(out
            .stdout
            .lines()
            .any(|l| l.trim().strip_prefix("table ") == Some(TABLE)))
    }

    /// What the marker of the table in force says, or `None` without a table.
    pub fn state(&self) -> Result<Option<TableState>> {
        Ok(self.current_table()?.map(|listing| marker::read(&listing)))
    }

    /// Removes palisade's table if it exists; nothing else is touched.
    pub fn remove_table(&self) -> Result<()> {
        self.load(ScriptKind::Script, PREAMBLE, 0, PREAMBLE_LINES, PREAMBLE)
    }

    /// Start-up: keeps the table in force if it was loaded from exactly `script` and not
    /// changed since (a restart after `kill -9`), otherwise loads `script` with
    /// [`Dataplane::apply_full`]. Either way the node is never without a table that was in
    /// force before.
    pub fn adopt(&self, script: &str) -> Result<Adoption> {
        let digest = marker::digest(script);
        let outcome = match self.state()? {
            Some(TableState::Full { digest: found }) if found == digest => {
                return Ok(Adoption::Kept);
            }
            Some(_) => Adoption::Replaced,
            None => Adoption::Created,
        };
        self.load_full(script, TableState::Full { digest })?;
        Ok(outcome)
    }

    /// After a failed first load: keeps a table in force if there is one, otherwise applies
    /// `policy` (see [`FailurePolicy`]).
    pub fn fail_safe(&self, policy: FailurePolicy) -> Result<FailSafe> {
        if self.table_exists()? {
            return Ok(FailSafe::KeptPrevious);
        }
        match policy {
            FailurePolicy::Open => Ok(FailSafe::Open),
            FailurePolicy::Closed => {
                self.load_full(LOCKDOWN_SCRIPT, TableState::Lockdown)?;
                Ok(FailSafe::Lockdown)
            }
        }
    }

    fn load_full(&self, script: &str, state: TableState) -> Result<()> {
        let (text, lines) = full_text(script, &state);
        self.load(ScriptKind::Full, &text, PREAMBLE_LINES, lines, script)
    }

    fn load(
        &self,
        kind: ScriptKind,
        text: &str,
        offset: usize,
        script_lines: usize,
        script: &str,
    ) -> Result<()> {
        self.run_script(Flags::default(), kind, text, offset, script_lines, script)
    }

    /// Runs `text`, in which the caller's `script` occupies lines `offset+1 ..= offset+lines`,
    /// and maps nft's complaint back to a line of `script`.
    fn run_script(
        &self,
        flags: Flags,
        kind: ScriptKind,
        text: &str,
        offset: usize,
        script_lines: usize,
        script: &str,
    ) -> Result<()> {
        let started = std::time::Instant::now();
        tracing::trace!(%kind, script = text, "nft transaction");
        let out = self.nft(&[], Some(text), flags)?;
        if out.success {
            let elapsed_us = started.elapsed().as_micros() as u64;
            let in_process = self.in_process();
            tracing::debug!(%kind, bytes = text.len(), elapsed_us, in_process, "nft transaction committed");
            return Ok(());
        }
        if nft::is_permission_denied(&out.stderr) {
            return Err(Error::PermissionDenied {
                message: first_line(&out.stderr),
            });
        }
        let complaint = nft::first_complaint(&out.stderr);
        let message = complaint
            .as_ref()
            .map_or_else(|| first_line(&out.stderr), |c| c.message.clone());
        let line = complaint
            .and_then(|c| c.line)
            .and_then(|l| l.checked_sub(offset))
            .filter(|l| (1..=script_lines).contains(l));
        let text = line.and_then(|l| script.lines().nth(l - 1)).map(shorten);
        Err(Error::Rejected {
            kind,
            line,
            text,
            message,
            stderr: out.stderr,
        })
    }
}

/// Preamble + script + marker, and how many lines the script has.
fn full_text(script: &str, state: &TableState) -> (String, usize) {
    let mut text = String::with_capacity(script.len() + 512);
    text.push_str(PREAMBLE);
    text.push_str(script);
    if !script.is_empty() && !script.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&marker::lines(state));
    (text, script.lines().count())
}

fn command_error(command: &str, stderr: &str) -> Error {
    if nft::is_permission_denied(stderr) {
        return Error::PermissionDenied {
            message: first_line(stderr),
        };
    }
    Error::Command {
        command: command.to_string(),
        message: first_line(stderr),
    }
}

fn first_line(stderr: &str) -> String {
    let line = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let line = line.strip_prefix("Error: ").unwrap_or(line).trim();
    if line.is_empty() {
        "nft failed without a message".to_string()
    } else {
        line.to_string()
    }
}

/// A script line as quoted in an error: trimmed, at most 100 characters.
fn shorten(line: &str) -> String {
    let line = line.trim();
    match line.char_indices().nth(100) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_text_keeps_the_script_between_preamble_and_marker() {
        let (text, lines) = full_text("table inet palisade {\n}", &TableState::Modified);
        assert_eq!(lines, 2);
        let all: Vec<&str> = text.lines().collect();
        assert_eq!(all.get(PREAMBLE_LINES), Some(&"table inet palisade {"));
        assert_eq!(all.get(PREAMBLE_LINES + 1), Some(&"}"));
        assert_eq!(all.len(), PREAMBLE_LINES + 2 + marker::LINES);
    }

    #[test]
    fn long_lines_are_shortened_on_a_char_boundary() {
        let line = "é".repeat(150);
        let short = shorten(&line);
        assert_eq!(short.chars().count(), 103);
        assert_eq!(
            shorten("  ip daddr 1.2.3.4 drop  "),
            "ip daddr 1.2.3.4 drop"
        );
    }

    #[test]
    fn first_line_drops_the_error_prefix() {
        assert_eq!(first_line("\nError: boom\nmore"), "boom");
        assert_eq!(first_line(""), "nft failed without a message");
    }
}
