//! Throwaway network namespaces and `nft` runs for the kernel golden tests.
//!
//! A [`Netns`] is `pl-test-<pid>-<n>`, created with `ip netns add` and deleted on drop (which
//! also runs while a failing test unwinds). Tests skip, with a note on stderr, when the machine
//! cannot give one (not root, no `ip` or `nft`), unless `PALISADE_REQUIRE_KERNEL_TESTS` is set:
//! then they fail, so a runner meant to run them cannot pass by skipping.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug)]
pub struct Netns {
    name: String,
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Netns {
    /// A fresh namespace, or `None` when kernel tests cannot run here.
    pub fn for_test() -> Option<Netns> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "pl-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let reason = if !is_root() {
            "not running as root".to_string()
        } else if !works("nft", &["--version"]) {
            "`nft` is not installed (apt-get install nftables)".to_string()
        } else {
            match Command::new("ip").args(["netns", "add", &name]).output() {
                Ok(out) if out.status.success() => return Some(Netns { name }),
                Ok(out) => format!(
                    "`ip netns add` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                Err(e) => format!("`ip` cannot run ({e}): apt-get install iproute2"),
            }
        };
        assert!(
            std::env::var_os("PALISADE_REQUIRE_KERNEL_TESTS").is_none(),
            "kernel test required but {reason}"
        );
        // Straight to stderr: libtest hides `eprintln!` output of passing tests.
        let _ = writeln!(std::io::stderr(), "SKIPPED kernel test: {reason}");
        None
    }

    /// Runs `nft -f -` with `script` inside the namespace.
    pub fn load(&self, script: &str) -> Result<(), String> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn nft: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(script.as_bytes())
                .map_err(|e| format!("write script: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("wait nft: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// `nft <args>` inside the namespace; stdout.
    pub fn nft(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft"])
            .args(args)
            .output()
            .map_err(|e| format!("spawn nft: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// `nft list table inet palisade`.
    pub fn list(&self) -> String {
        self.nft(&["list", "table", "inet", "palisade"])
            .unwrap_or_else(|e| panic!("list table: {e}"))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A listing in a canonical form: element lists one per line and sorted (hash sets list in
/// hash order), counter values dropped, and the blocks of the table (sets, maps, chains) sorted
/// by their header (the kernel lists them in creation order, which differs after updates).
pub fn normalize(listing: &str) -> String {
    let text = listing.replace("counter packets 0 bytes 0 ", "counter ");
    let mut lines: Vec<String> = Vec::new();
    let mut pending: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(acc) = pending.as_mut() {
            acc.push(' ');
            acc.push_str(line);
            if line.ends_with('}') {
                lines.extend(elements(acc));
                pending = None;
            }
            continue;
        }
        if line.starts_with("elements = {") {
            if line.ends_with('}') {
                lines.extend(elements(line));
            } else {
                pending = Some(line.to_string());
            }
            continue;
        }
        lines.push(anonymous_sets_sorted(line));
    }
    // The table line, its blocks (sets, maps, chains: grouped by brace depth), its `}`.
    let lines: Vec<String> = lines.into_iter().filter(|l| !l.is_empty()).collect();
    let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
        return String::new();
    };
    let inner = lines.get(1..lines.len() - 1).unwrap_or(&[]);
    let mut blocks: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    for line in inner {
        let closes = line.starts_with('}');
        let indent = (depth - i32::from(closes)).max(0) as usize + 1;
        current.push_str(&"  ".repeat(indent));
        current.push_str(line);
        current.push('\n');
        // Braces inside quoted comments do not count.
        let code: String = line.split('"').step_by(2).collect();
        depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
        if depth == 0 {
            blocks.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks.sort();
    format!("{first}\n{}{last}\n", blocks.concat())
}

/// A rule with the items of its anonymous sets (`{ tcp . 80, udp . 53 }`) sorted: the kernel
/// lists them in its own order.
fn anonymous_sets_sorted(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find("{ ") {
        let Some(len) = rest[open..].find(" }") else {
            break;
        };
        let inner = &rest[open + 2..open + len];
        let mut items: Vec<&str> = inner.split(", ").collect();
        items.sort_unstable();
        out.push_str(&rest[..open]);
        out.push_str("{ ");
        out.push_str(&items.join(", "));
        out.push_str(" }");
        rest = &rest[open + len + 2..];
    }
    out.push_str(rest);
    out
}

/// `elements = { a, b }` as sorted lines.
fn elements(line: &str) -> Vec<String> {
    let inner = line
        .trim_start_matches("elements = {")
        .trim_end_matches('}')
        .trim();
    let mut items: Vec<String> = inner
        .split(',')
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect();
    items.sort();
    let mut out = vec!["elements = {".to_string()];
    out.extend(items);
    out.push("}".to_string());
    out
}

/// The table block of a script `Ruleset::to_nft` wrote (the last `table ... {` to the end), to
/// compare with what the kernel lists.
pub fn script_table(script: &str) -> String {
    let start = script.rfind("table inet palisade {\n").unwrap_or(0);
    script[start..].to_string()
}
