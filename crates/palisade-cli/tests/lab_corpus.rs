//! The lab over the scenario corpus: real packets between network namespaces, enforced by one
//! real `palisade agent` per node, must show exactly the expected truth tables.
//!
//! Needs root, `nft` and `ip`. Without them the tests say so and pass, unless
//! `PALISADE_REQUIRE_KERNEL_TESTS=1` (set by `.ci/run`), which turns the skip into a failure.

mod common;

use common::{run_all, scenario_dirs};

/// Two nodes so that pods are spread and cross-node traffic is exercised; a short timeout
/// keeps blocked probes cheap.
const LAB: &[&str] = &["lab", "--nodes", "2", "--timeout-ms", "500"];

fn kernel_available() -> bool {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let tools = [("nft", "--version"), ("ip", "-V")]
        .iter()
        .all(|(tool, flag)| {
            std::process::Command::new(tool)
                .arg(flag)
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if root && tools {
        return true;
    }
    let why = if root {
        "nft or ip missing"
    } else {
        "not root"
    };
    assert!(
        std::env::var_os("PALISADE_REQUIRE_KERNEL_TESTS").is_none(),
        "kernel tests required but unavailable: {why}"
    );
    eprintln!("SKIPPED lab corpus: {why}");
    false
}

#[test]
fn lab_observes_the_expected_truth_tables_for_every_case() {
    if kernel_available() {
        run_all(&scenario_dirs("testdata/cases", "expected.txt"), LAB);
    }
}

#[test]
fn lab_observes_the_guides_documented_outcomes() {
    if kernel_available() {
        run_all(&scenario_dirs("testdata/seeds", "expected.txt"), LAB);
    }
}

#[test]
fn lab_runs_the_bundled_examples_green() {
    if kernel_available() {
        run_all(&scenario_dirs("examples", "expected.txt"), LAB);
    }
}
