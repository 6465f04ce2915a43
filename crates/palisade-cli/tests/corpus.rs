//! The scenario corpus, run through the command line contract.
//!
//! Every folder of `testdata/cases/` and `testdata/seeds/` (and `examples/`) holding an
//! `expected.txt` is given to `palisade reach --format json --probe ... --external ...`; the
//! JSON it prints must equal the expected truth tables. Folders with an `expect-errors.txt` are
//! broken guide examples: `palisade check --format json` must report an error at each listed
//! file:line and field.

use std::path::{Path, PathBuf};
use std::process::Command;

use palisade_test_support::truth_table::{self, Table};
use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn palisade(args: &[&str]) -> (i32, String, String) {
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
fn scenario_dirs(root: &str, marker: &str) -> Vec<String> {
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

/// Runs one scenario; `Err` describes every disagreement.
fn run_scenario(dir: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(workspace().join(dir).join("expected.txt"))
        .map_err(|e| format!("cannot read expected.txt: {e}"))?;
    let expected = truth_table::parse(&text)?;
    let mut args = vec!["reach", "--format", "json"];
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

fn run_all(dirs: &[String]) {
    assert!(!dirs.is_empty(), "no scenarios found");
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|dir| run_scenario(dir).err().map(|e| format!("== {dir}\n{e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios disagree:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}

#[test]
fn cases_match_their_truth_tables() {
    let dirs = scenario_dirs("testdata/cases", "expected.txt");
    assert!(dirs.len() >= 40, "the corpus has only {} cases", dirs.len());
    run_all(&dirs);
}

#[test]
fn guide_examples_have_their_documented_outcome() {
    run_all(&scenario_dirs("testdata/seeds", "expected.txt"));
}

#[test]
fn bundled_examples_match_their_truth_tables() {
    run_all(&scenario_dirs("examples", "expected.txt"));
}

/// `FILE:LINE FIELD` (or `syntax`) per line of `expect-errors.txt`.
#[test]
fn broken_guide_examples_are_rejected_at_the_right_line() {
    let dirs = scenario_dirs("testdata/seeds", "expect-errors.txt");
    assert!(!dirs.is_empty(), "no broken examples found");
    let mut failures = Vec::new();
    for dir in &dirs {
        let (code, stdout, _) = palisade(&["check", "--format", "json", dir]);
        if code != 1 {
            failures.push(format!("{dir}: exit code {code}, expected 1"));
        }
        let json: Value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        let errors: Vec<&Value> = json["diagnostics"]
            .as_array()
            .map(|a| a.iter().filter(|d| d["severity"] == "error").collect())
            .unwrap_or_default();
        let wanted = std::fs::read_to_string(workspace().join(dir).join("expect-errors.txt"))
            .unwrap_or_default();
        for line in wanted
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (place, field) = line.split_once(' ').unwrap_or((line, ""));
            let (file, line_no) = place.rsplit_once(':').unwrap_or((place, "0"));
            let found = errors.iter().any(|d| {
                d["file"].as_str().is_some_and(|f| f.ends_with(file))
                    && d["line"].as_u64().map(|l| l.to_string()).as_deref() == Some(line_no)
                    && (field.is_empty()
                        || field == "syntax"
                        || d["field"]
                            .as_str()
                            .is_some_and(|f| f.starts_with(field.trim())))
            });
            if !found {
                failures.push(format!(
                    "{dir}: no error at {place} {field}; got:\n{stdout}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
