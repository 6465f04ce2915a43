//! One whole command, measured from outside: wall time, and the peak RSS of that process alone.
//!
//! `getrusage(RUSAGE_CHILDREN)` reports the largest child ever waited for, so each command is
//! run from a fresh `palisade-bench measure` process whose only child it is.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nix::sys::resource::{Resource, UsageWho, getrusage, setrlimit};
use serde_json::{Value, json};

/// What one run of a command cost.
#[derive(Debug, Clone)]
pub struct Measured {
    pub wall: Duration,
    pub peak_rss_kib: u64,
    pub exit: Option<i32>,
    pub output_bytes: u64,
    pub timed_out: bool,
}

/// In the `measure` process: runs `argv` with stdout to `stdout`, kills it after `timeout`, and
/// prints the figures as one JSON object.
pub fn measure_here(
    stdout: &Path,
    timeout: Duration,
    memory_limit: Option<u64>,
    argv: &[String],
) -> anyhow::Result<()> {
    let (program, args) = argv.split_first().context("no command to measure")?;
    // A command that would need more address space than the limit fails (and is reported)
    // rather than pushing the machine into swap or the OOM killer.
    if let Some(bytes) = memory_limit {
        setrlimit(Resource::RLIMIT_AS, bytes, bytes)?;
    }
    let out = File::create(stdout).with_context(|| format!("creating {}", stdout.display()))?;
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = start.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    let report = json!({
        "wall_s": wall.as_secs_f64(),
        // ru_maxrss is in KiB on Linux.
        "peak_rss_kib": usage.max_rss(),
        "exit": status.code(),
        "timed_out": timed_out,
    });
    println!("{report}");
    Ok(())
}

/// In the harness: measures `argv` through a fresh `measure` process.
pub fn measure(
    stdout: &Path,
    timeout: Duration,
    memory_limit: Option<u64>,
    argv: &[String],
) -> anyhow::Result<Measured> {
    let me: PathBuf = std::env::current_exe()?;
    let mut command = Command::new(me);
    command.arg("measure");
    if let Some(bytes) = memory_limit {
        command.arg("--memory-limit").arg(bytes.to_string());
    }
    let output = command
        .arg("--stdout")
        .arg(stdout)
        .arg("--timeout")
        .arg(timeout.as_secs().to_string())
        .arg("--")
        .args(argv)
        .stdin(Stdio::null())
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "measure failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let v: Value = serde_json::from_slice(&output.stdout)?;
    Ok(Measured {
        wall: Duration::from_secs_f64(v["wall_s"].as_f64().unwrap_or(0.0)),
        peak_rss_kib: v["peak_rss_kib"].as_u64().unwrap_or(0),
        exit: v["exit"].as_i64().map(|c| c as i32),
        output_bytes: std::fs::metadata(stdout).map(|m| m.len()).unwrap_or(0),
        timed_out: v["timed_out"].as_bool().unwrap_or(false),
    })
}
