//! Running scenario folders (expected.txt truth tables) through the command line.

#![allow(dead_code)]

pub mod drop_events;
pub mod probing;

use std::path::{Path, PathBuf};
use std::process::Command;

use palisade_test_support::truth_table::{self, Table};
use serde_json::Value;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn palisade(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("run palisade");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Folders under `root` (relative to the workspace) containing `marker`, sorted.
pub fn scenario_dirs(root: &str, marker: &str) -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(workspace().join(root))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().join(marker).is_file())
                .map(|e| format!("{root}/{}", e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Runs one scenario through `command` (`["reach"]` or `["lab", ...]`), which must print the
/// `reach --probe` JSON shape; `Err` describes every disagreement.
pub fn run_scenario(dir: &str, command: &[&str]) -> Result<(), String> {
    let text = std::fs::read_to_string(workspace().join(dir).join("expected.txt"))
        .map_err(|e| format!("cannot read expected.txt: {e}"))?;
    let expected = truth_table::parse(&text)?;
    let mut args: Vec<&str> = command.to_vec();
    args.extend(["--format", "json"]);
    for (probe, _) in &expected.tables {
        args.extend(["--probe", probe.as_str()]);
    }
    for ip in &expected.externals {
        args.extend(["--external", ip.as_str()]);
    }
    args.push(dir);
    let (code, stdout, stderr) = palisade(&args);
    if code != 0 {
        return Err(format!("exit code {code}\n{stderr}"));
    }
    let json: Value =
        serde_json::from_str(&stdout).map_err(|e| format!("bad JSON ({e}): {stdout}"))?;
    let names: Vec<String> = json["endpoints"]
        .as_array()
        .ok_or("no endpoints")?
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    let probes = json["probes"].as_array().ok_or("no probes")?;
    let mut report = String::new();
    for ((label, want), got) in expected.tables.iter().zip(probes) {
        let cells: Vec<Vec<bool>> = got["allowed"]
            .as_array()
            .ok_or("no allowed matrix")?
            .iter()
            .map(|row| {
                row.as_array()
                    .map(|r| r.iter().map(|c| c.as_bool().unwrap_or(false)).collect())
                    .unwrap_or_default()
            })
            .collect();
        let observed = Table {
            names: names.clone(),
            cells,
        };
        if let Some(diff) = truth_table::compare(want, &observed) {
            report.push_str(&format!(
                "probe {label}:\n{diff}observed:\n{}",
                truth_table::render(&observed)
            ));
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

/// Runs every scenario and fails with all disagreements at once.
pub fn run_all(dirs: &[String], command: &[&str]) {
    assert!(!dirs.is_empty(), "no scenarios found");
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|dir| {
            run_scenario(dir, command)
                .err()
                .map(|e| format!("== {dir}\n{e}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios disagree:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}
