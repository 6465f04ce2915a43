//! The scenario corpus, run through the command line contract.
//!
//! Every folder of `testdata/cases/` and `testdata/seeds/` (and `examples/`) holding an
//! `expected.txt` is given to `palisade reach --format json --probe ... --external ...`; the
//! JSON it prints must equal the expected truth tables. Folders with an `expect-errors.txt` are
//! broken guide examples: `palisade check --format json` must report an error at each listed
//! file:line and field.

mod common;

use common::{palisade, run_all, scenario_dirs, workspace};
use serde_json::Value;

#[test]
fn cases_match_their_truth_tables() {
    let dirs = scenario_dirs("testdata/cases", "expected.txt");
    assert!(dirs.len() >= 40, "the corpus has only {} cases", dirs.len());
    run_all(&dirs, &["reach"]);
}

#[test]
fn guide_examples_have_their_documented_outcome() {
    run_all(&scenario_dirs("testdata/seeds", "expected.txt"), &["reach"]);
}

#[test]
fn bundled_examples_match_their_truth_tables() {
    run_all(&scenario_dirs("examples", "expected.txt"), &["reach"]);
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
