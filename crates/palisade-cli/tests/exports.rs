//! Files written by `kubectl get -o yaml` go through the real binary: server-set metadata,
//! managedFields and status load, a NetworkPolicy's leftover `status: {}` is only a warning, and
//! the policy takes part in the answer.

mod common;

use common::palisade;
use serde_json::Value;

const EXPORT: &str = "crates/palisade-cli/tests/fixtures/kubectl-export";

#[test]
fn check_accepts_an_export_with_one_warning() {
    let (code, stdout, stderr) = palisade(&["check", "--format", "json", EXPORT]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let json: Value = serde_json::from_str(&stdout).expect("check json");
    let codes: Vec<&str> = json["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter_map(|d| d["code"].as_str())
        .filter(|c| c.starts_with('P'))
        .collect();
    assert_eq!(codes, ["P107"], "{stdout}");
}

#[test]
fn the_exported_policy_takes_part_in_the_answer() {
    let (code, stdout, stderr) =
        palisade(&["reach", "--format", "json", "--probe", "tcp/80", EXPORT]);
    assert_eq!(code, 0, "{stderr}");
    let json: Value = serde_json::from_str(&stdout).expect("reach json");
    assert_eq!(
        json["endpoints"],
        serde_json::json!(["shop/client", "shop/web-5d8f7c9b6d-q7x2m"])
    );
    // web-allow-none isolates the web pod for ingress and allows nothing.
    assert_eq!(
        json["probes"][0]["allowed"],
        serde_json::json!([[true, false], [true, true]])
    );
    assert!(stderr.contains("warning[P107]"), "{stderr}");
}

#[test]
fn group_by_workload_follows_owner_references() {
    let (code, stdout, stderr) = palisade(&[
        "reach",
        "--group-by",
        "workload",
        "--format",
        "json",
        "--probe",
        "tcp/80",
        EXPORT,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let json: Value = serde_json::from_str(&stdout).expect("grouped json");
    let text = json.to_string();
    assert!(text.contains("\"shop/web\""), "{stdout}");
    assert!(!text.contains("web-5d8f7c9b6d"), "{stdout}");
}

/// An answer given while some object was invalid says so on its first line, whatever the
/// command (text formats): the object is left out, never silently.
#[test]
fn answers_say_first_that_invalid_objects_were_left_out() {
    let mistakes = "crates/palisade-cli/tests/fixtures/mistakes";
    for args in [
        vec!["reach", mistakes],
        vec!["reach", "--group-by", "pod", mistakes],
        vec!["graph", mistakes],
        vec!["explain", mistakes],
        vec!["compile", "--node", "node-1", mistakes],
    ] {
        let (code, stdout, _) = palisade(&args);
        assert_eq!(code, 1, "{args:?}");
        let first = stdout.lines().next().unwrap_or_default();
        assert!(
            first.contains("warning:") && first.contains("left out"),
            "{args:?}: first line {first:?}"
        );
    }
    // A clean input has no such line.
    let (code, stdout, _) = palisade(&["reach", "examples/shop"]);
    assert_eq!(code, 0);
    assert!(!stdout.contains("left out"), "{stdout}");
}
