//! Every case of `testdata/cases` through the lab without an enforcer (root only).
//!
//! Two things must hold for each case, so that the agent-backed corpus run can only fail
//! on enforcement: the prediction on the lab's adjusted cluster equals the case's
//! `expected.txt` (placing pods on lab nodes changes nothing the policies see), and every pair
//! of every probe is observable and gets through when nothing enforces (no errors, nothing
//! untestable, IPv6 and externals included).

mod common;

use std::path::{Path, PathBuf};

use palisade_core::load::Input;
use palisade_lab::{LabConfig, NoEnforcer, run};
use palisade_test_support::truth_table;

use common::*;

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.join("expected.txt").exists());
    dirs.sort();
    dirs
}

#[test]
fn every_case_lays_out_and_every_pair_is_observable() {
    if !lab_available("every_case_lays_out_and_every_pair_is_observable") {
        return;
    }
    let dirs = cases();
    assert!(
        dirs.len() >= 50,
        "the corpus went missing: {} cases",
        dirs.len()
    );
    let mut failures = Vec::new();
    for dir in &dirs {
        let label = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let analysis = palisade_core::analyze(&[Input::Path(dir.clone())]);
        assert_eq!(
            analysis.error_count(),
            0,
            "{label}: {:#?}",
            analysis.diagnostics
        );
        let text = std::fs::read_to_string(dir.join("expected.txt")).expect("expected.txt");
        let expected = truth_table::parse(&text).unwrap_or_else(|e| panic!("{label}: {e}"));
        let config = LabConfig {
            probes: expected.tables.iter().map(|(p, _)| probe(p)).collect(),
            externals: expected.externals.iter().map(|e| ip(e)).collect(),
            timeout: std::time::Duration::from_millis(500),
            ..LabConfig::default()
        };
        let report = match run(&analysis.cluster, &config, &NoEnforcer) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{label}: {e}"));
                continue;
            }
        };
        for ((name, table), (_, predicted)) in expected.tables.iter().zip(&report.predicted) {
            let got = truth_table::Table {
                names: report.endpoints.clone(),
                cells: predicted.clone(),
            };
            if let Some(diff) = truth_table::compare(table, &got) {
                failures.push(format!(
                    "{label} {name}: prediction on the lab's cluster differs:\n{diff}"
                ));
            }
        }
        for table in &report.tables {
            if table.allowed().iter().flatten().any(|&a| !a) {
                failures.push(format!(
                    "{label}: blocked without an enforcer\n{}",
                    report.render_table()
                ));
                break;
            }
        }
        if !report.problems.is_empty() {
            failures.push(format!(
                "{label}: {} unobserved\n{}",
                report.problems.len(),
                report.render_table()
            ));
        }
        assert_eq!(
            leftovers(&report.run_prefix),
            Vec::<String>::new(),
            "{label}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
