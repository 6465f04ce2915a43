//! Throwaway network namespaces, for tests that need a real kernel without touching the
//! machine's own networking.
//!
//! A [`ScratchNetns`] is created with `ip netns add` under a name made of a prefix, the process
//! id and a counter, and deleted on drop, which also runs while a failing test unwinds. Names
//! left behind by a killed process are removed the next time a namespace with the same prefix
//! is created, once that process is gone.
//!
//! setns(2) is per thread, so [`ScratchNetns::run`] runs its closure on a fresh thread that
//! enters the namespace and ends with it; processes that thread starts (such as `nft`) run in the
//! namespace too. No thread of the calling process is ever moved.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sched::{CloneFlags, setns};

/// A named network namespace that is deleted when dropped.
#[derive(Debug)]
pub struct ScratchNetns {
    name: String,
}

impl ScratchNetns {
    /// Creates `PREFIX-PID-N`. `prefix` should say who made it (e.g. `pl-test-dp`).
    pub fn create(prefix: &str) -> io::Result<ScratchNetns> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        remove_stale(prefix);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name])?;
        Ok(ScratchNetns { name })
    }

    /// For kernel tests: a namespace, or `None` (with a note on stderr) when this machine cannot
    /// give one or has no `nft`, e.g. an unprivileged CI runner. With
    /// `PALISADE_REQUIRE_KERNEL_TESTS=1` in the environment that panics instead, so a runner
    /// that is meant to run them cannot pass by skipping.
    pub fn for_test(prefix: &str) -> Option<ScratchNetns> {
        let reason = match Command::new("nft").arg("--version").output() {
            Ok(out) if out.status.success() => match ScratchNetns::create(prefix) {
                Ok(netns) => return Some(netns),
                Err(err) => format!("cannot create a network namespace: {err}"),
            },
            Ok(_) => "`nft --version` failed".to_string(),
            Err(err) => format!("cannot run nft: {err}"),
        };
        assert!(
            std::env::var_os("PALISADE_REQUIRE_KERNEL_TESTS").is_none(),
            "kernel test required but {reason}"
        );
        eprintln!("skipping kernel test: {reason} (needs root, iproute2 and nftables)");
        None
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where iproute2 keeps the namespace handle.
    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// Runs `f` on a new thread inside the namespace and returns its result; a panic in `f` is
    /// passed on to the caller (after the thread has ended, so the namespace can be dropped).
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        let handle = File::open(self.path())?;
        std::thread::scope(|scope| {
            let thread = scope.spawn(move || {
                setns(&handle, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
                Ok(f())
            });
            match thread.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// `ip netns exec NAME program`: a command that runs inside the namespace.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec"]).arg(&self.name).arg(program);
        command
    }
}

impl Drop for ScratchNetns {
    fn drop(&mut self) {
        if let Err(err) = ip(&["netns", "del", &self.name]) {
            tracing::warn!(netns = %self.name, %err, "could not delete scratch namespace");
        }
    }
}

fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Deletes `PREFIX-PID-N` namespaces whose process no longer exists.
fn remove_stale(prefix: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    let listing = String::from_utf8_lossy(&out.stdout);
    for name in listing.lines().filter_map(|l| l.split_whitespace().next()) {
        if let Some(pid) = stale_owner(prefix, name)
            && !Path::new("/proc").join(pid.to_string()).exists()
        {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// The pid in `PREFIX-PID-N`, if `name` has that shape.
fn stale_owner(prefix: &str, name: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('-')?;
    let (pid, counter) = rest.split_once('-')?;
    counter.parse::<u32>().ok()?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_of_the_exact_shape_are_considered_stale() {
        let cases = [
            ("ours", "pl-test-dp-123-4", Some(123)),
            ("other prefix", "pl-test-agent-123-4", None),
            ("prefix continues", "pl-test-dpx-123-4", None),
            ("no counter", "pl-test-dp-123", None),
            ("not numbers", "pl-test-dp-abc-4", None),
            ("extra part", "pl-test-dp-1-2-3", None),
        ];
        for (label, name, expected) in cases {
            assert_eq!(stale_owner("pl-test-dp", name), expected, "{label}");
        }
    }
}
