//! `palisade diff` and `palisade graph` end to end: exit code, stdout and stderr in one
//! snapshot per invocation, plus the exit-code contract of `--fail-on` and a Graphviz check of
//! the DOT output when `dot` is installed.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{palisade, workspace};

/// What a user sees, in one block (paths are relative to the workspace root).
fn run(args: &[&str]) -> String {
    let (code, stdout, stderr) = palisade(args);
    format!(
        "$ palisade {}\nexit: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}",
        args.join(" ")
    )
}

const SHOP_PODS: &str = "examples/shop/cluster.yaml";
const SHOP_POLICIES: &str = "examples/shop/policies.yaml";
/// The shop plus frontend -> postgres on TCP 5432 (testdata/diff/README.md).
const SHOP_WIDENED: &str = "testdata/diff/shop-frontend-to-postgres";
const WORKLOADS: &str = "crates/palisade-cli/tests/fixtures/workloads";
const WORKLOAD_PODS: &str = "crates/palisade-cli/tests/fixtures/workloads/cluster.yaml";

/// Staging a default deny: the inventory without policies against the whole shop.
#[test]
fn diff_staging_a_default_deny() {
    insta::assert_snapshot!(run(&["diff", SHOP_PODS, "examples/shop"]));
}

/// Most groups of a namespace changing alike towards one destination are one `ns/*` line,
/// naming the groups it leaves out (testdata/diff/README.md); fewer stay one line each.
#[test]
fn diff_rolls_up_a_namespace() {
    let dir = "testdata/diff/namespace-roll-up";
    let (base, old, new) = (
        format!("{dir}/base.yaml"),
        format!("{dir}/old.yaml"),
        format!("{dir}/new.yaml"),
    );
    insta::assert_snapshot!(run(&["diff", "--base", &base, &old, &new]));
}

#[test]
fn diff_widening_fails_ci() {
    insta::assert_snapshot!(run(&[
        "diff",
        "--fail-on",
        "widen",
        "--base",
        SHOP_PODS,
        SHOP_POLICIES,
        SHOP_WIDENED
    ]));
}

#[test]
fn diff_json() {
    insta::assert_snapshot!(run(&[
        "diff",
        "--format",
        "json",
        "--base",
        SHOP_PODS,
        SHOP_POLICIES,
        SHOP_WIDENED
    ]));
}

#[test]
fn diff_csv() {
    insta::assert_snapshot!(run(&[
        "diff",
        "--format",
        "csv",
        SHOP_PODS,
        "examples/shop"
    ]));
}

#[test]
fn diff_group_by_workload() {
    insta::assert_snapshot!(run(&[
        "diff",
        "--group-by",
        "workload",
        WORKLOAD_PODS,
        WORKLOADS
    ]));
}

/// The default text groups pods whose connections change alike: the three web replicas are
/// one line, named by their Deployment, with their count; `--from` keeps one source.
#[test]
fn diff_grouped_by_connectivity() {
    insta::assert_snapshot!(run(&["diff", WORKLOAD_PODS, WORKLOADS]));
    insta::assert_snapshot!(
        "diff_grouped_by_connectivity_from_debug",
        run(&["diff", "--from", "shop/debug", WORKLOAD_PODS, WORKLOADS])
    );
}

#[test]
fn diff_added_and_removed_pods() {
    // The shop's pods against the workload fixture: no pod in common.
    insta::assert_snapshot!(run(&["diff", SHOP_PODS, WORKLOAD_PODS]));
}

#[test]
fn diff_fail_on_exit_codes() {
    let narrowing = ["diff", SHOP_PODS, "examples/shop"];
    let widening = ["diff", SHOP_POLICIES, SHOP_WIDENED];
    let same = ["diff", "examples/shop", "examples/shop"];
    for (label, args, fail_on, want) in [
        ("narrowing, widen", narrowing, "widen", 0),
        ("narrowing, narrow", narrowing, "narrow", 1),
        ("narrowing, change", narrowing, "change", 1),
        ("narrowing, never", narrowing, "never", 0),
        ("widening, widen", widening, "widen", 1),
        ("widening, narrow", widening, "narrow", 0),
        ("widening, change", widening, "change", 1),
        ("no change, change", same, "change", 0),
    ] {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--fail-on", fail_on]);
        if args == widening {
            full.extend(["--base", SHOP_PODS]);
        }
        let (code, stdout, stderr) = palisade(&full);
        assert_eq!(code, want, "{label}\n{stdout}{stderr}");
    }
}

#[test]
fn diff_reads_one_side_from_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args([
            "diff",
            "--base",
            SHOP_PODS,
            "-",
            "examples/shop/policies.yaml",
        ])
        .current_dir(workspace())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn palisade");
    // No policies on the old side.
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(b"");
    }
    let out = child.wait_with_output().expect("palisade runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.contains("to production/postgres (1 pod)\n")
            && stdout.contains("  - from production/backend (1 pod): all except TCP 5432\n"),
        "{stdout}"
    );
}

#[test]
fn diff_usage_errors_exit_two() {
    insta::assert_snapshot!(run(&["diff", "-", "-"]));
}

#[test]
fn graph_dot() {
    insta::assert_snapshot!(run(&["graph", "examples/shop"]));
}

#[test]
fn graph_mermaid_by_workload() {
    insta::assert_snapshot!(run(&[
        "graph",
        "--format",
        "mermaid",
        "--group-by",
        "workload",
        WORKLOADS
    ]));
}

#[test]
fn graph_mermaid_with_external() {
    insta::assert_snapshot!(run(&[
        "graph",
        "--format",
        "mermaid",
        "--external",
        "203.0.113.50",
        "examples/external-egress"
    ]));
}

/// Graphviz must accept the DOT. Optional: skipped when `dot` is not installed.
#[test]
fn graph_dot_is_valid_graphviz() {
    let Ok(mut dot) = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("SKIPPED: graphviz `dot` is not installed");
        return;
    };
    let (code, graph, stderr) = palisade(&["graph", "--group-by", "workload", WORKLOADS]);
    assert_eq!(code, 0, "{stderr}");
    if let Some(mut input) = dot.stdin.take() {
        input.write_all(graph.as_bytes()).expect("feed dot");
    }
    let out = dot.wait_with_output().expect("dot runs");
    assert!(
        out.status.success(),
        "dot rejected the graph: {}\n{graph}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = String::from_utf8_lossy(&out.stdout);
    assert!(svg.contains("web (3 pods)"), "node labels drawn");
    assert!(svg.contains("TCP 5432"), "edge labels drawn");
}
