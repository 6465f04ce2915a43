//! The command line end to end: exit code, stdout and stderr in one snapshot per invocation.
//! Paths are relative to the workspace root, so snapshots carry no machine paths.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs palisade with `args` (and `stdin` if given) and renders everything a user would see.
fn run(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(workspace())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn palisade");
    {
        let mut input = child.stdin.take().expect("stdin is piped");
        let _ = input.write_all(stdin.unwrap_or("").as_bytes());
    }
    let out = child.wait_with_output().expect("palisade runs");
    format!(
        "$ palisade {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const MISTAKES: &str = "crates/palisade-cli/tests/fixtures/mistakes";

#[test]
fn check_valid_example_exits_zero() {
    insta::assert_snapshot!(run(&["check", "examples/shop"], None));
}

#[test]
fn check_reports_every_mistake_at_its_line() {
    insta::assert_snapshot!(run(&["check", MISTAKES], None));
}

#[test]
fn check_json() {
    insta::assert_snapshot!(run(&["check", "--format", "json", MISTAKES], None));
}

#[test]
fn check_sarif() {
    let out = run(&["check", "--format", "sarif", MISTAKES], None);
    insta::assert_snapshot!(out);
}

/// Lints come after validation, at the line of the item to change, with the fix as help.
#[test]
fn check_lints_a_guide_example() {
    insta::assert_snapshot!(run(
        &["check", "testdata/seeds/012-blog-allow-prometheus-scraping"],
        None
    ));
}

/// `--deny warnings` is how CI fails on findings: same report, errors, exit 1.
#[test]
fn check_deny_warnings_exits_one() {
    insta::assert_snapshot!(run(
        &[
            "check",
            "--deny",
            "warnings",
            "--allow",
            "L001",
            "--allow",
            "no-default-deny-egress",
            "testdata/seeds/012-blog-allow-prometheus-scraping"
        ],
        None
    ));
}

/// Notes (redundancy) never fail a run under `--deny warnings`; `--deny CODE` can make them.
#[test]
fn check_notes_fail_only_when_denied_by_code() {
    let seed = "testdata/seeds/013-recipes-default-deny-trio";
    let quiet = ["--allow", "L001", "--allow", "L002", "--allow", "L003"];
    let warned = run(
        &[&["check", "--deny", "warnings"][..], &quiet, &[seed]].concat(),
        None,
    );
    assert!(
        warned.contains("exit: 0") && warned.contains("note[L011]"),
        "{warned}"
    );
    assert!(warned.contains("0 errors, 0 warnings, 2 notes"), "{warned}");
    let denied = run(
        &[&["check", "--deny", "L011"][..], &quiet, &[seed]].concat(),
        None,
    );
    assert!(
        denied.contains("exit: 1") && denied.contains("error[L011]"),
        "{denied}"
    );
}

#[test]
fn check_allow_silences_a_lint_and_unknown_lints_are_usage_errors() {
    let seed = "testdata/seeds/012-blog-allow-prometheus-scraping";
    let allowed = run(&["check", "--allow", "L004", seed], None);
    assert!(
        allowed.contains("exit: 0") && allowed.contains("warning[L001]"),
        "{allowed}"
    );
    assert!(!allowed.contains("[L004]"), "{allowed}");
    let validated = run(&["check", "--no-lints", seed], None);
    assert!(validated.contains(": 0 errors, 0 warnings"), "{validated}");
    insta::assert_snapshot!(run(&["check", "--allow", "L999", "examples/shop"], None));
}

#[test]
fn check_missing_file_is_an_io_error() {
    insta::assert_snapshot!(run(&["check", "no/such/dir.yaml"], None));
}

#[test]
fn check_reads_stdin() {
    let doc = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec:\n  podSelector: {}\n  policyTypes: [Ingres]\n";
    insta::assert_snapshot!(run(&["check", "-"], Some(doc)));
}

#[test]
fn usage_errors_exit_two() {
    insta::assert_snapshot!(run(&["reach", "--probe", "icmp/1", "examples/shop"], None));
}

#[test]
fn reach_truth_tables() {
    insta::assert_snapshot!(run(
        &[
            "reach",
            "--probe",
            "tcp/8080",
            "--probe",
            "tcp/5432",
            "--probe",
            "udp/53",
            "examples/shop"
        ],
        None
    ));
}

#[test]
fn reach_port_summary() {
    insta::assert_snapshot!(run(&["reach", "--group-by", "pod", "examples/shop"], None));
}

/// The default text groups endpoints by connectivity and lists only what isolation does not
/// imply; `--to` focuses it.
#[test]
fn reach_grouped_by_connectivity() {
    insta::assert_snapshot!(run(&["reach", "examples/shop"], None));
    insta::assert_snapshot!(
        "reach_focused",
        run(
            &[
                "reach",
                "--to",
                "production/*",
                "--from",
                "ingress-nginx/*",
                "examples/shop"
            ],
            None
        )
    );
}

#[test]
fn reach_json_with_external() {
    insta::assert_snapshot!(run(
        &[
            "reach",
            "--format",
            "json",
            "--probe",
            "tcp/80",
            "--probe",
            "udp/81",
            "--external",
            "192.0.2.10",
            "examples/shop"
        ],
        None
    ));
}

#[test]
fn reach_csv() {
    insta::assert_snapshot!(run(
        &[
            "reach",
            "--format",
            "csv",
            "--probe",
            "tcp/5432",
            "examples/shop"
        ],
        None
    ));
}

#[test]
fn explain_example() {
    insta::assert_snapshot!(run(&["explain", "examples/shop"], None));
}

#[test]
fn why_denied() {
    insta::assert_snapshot!(run(
        &[
            "why",
            "--from",
            "production/frontend",
            "--to",
            "production/postgres",
            "--probe",
            "tcp/5432",
            "examples/shop"
        ],
        None
    ));
}

#[test]
fn why_allowed() {
    insta::assert_snapshot!(run(
        &[
            "why",
            "--from",
            "production/backend",
            "--to",
            "production/postgres",
            "--probe",
            "tcp/5432",
            "examples/shop"
        ],
        None
    ));
}

#[test]
fn why_unknown_pod() {
    insta::assert_snapshot!(run(
        &[
            "why",
            "--from",
            "postgres",
            "--to",
            "production/backend",
            "--probe",
            "tcp/80",
            "examples/shop"
        ],
        None
    ));
}

#[test]
fn help_lists_the_commands() {
    insta::assert_snapshot!(run(&["--help"], None));
}

/// `--log-format json`: every stderr line is one JSON object with level, message and fields
/// flattened, what log collectors parse without a pattern.
#[test]
fn agent_json_logs_are_one_object_per_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args([
            "agent",
            "--node",
            "n1",
            "--manifests",
            "no-such-directory",
            "--metrics-address",
            "off",
            "--log-format",
            "json",
        ])
        .current_dir(workspace())
        .env_remove("RUST_LOG")
        .output()
        .expect("run palisade");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines");
    let mut saw_error = false;
    for line in lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}"));
        assert!(event["level"].is_string(), "{line}");
        assert!(event["message"].is_string(), "{line}");
        if event["level"] == "ERROR" {
            saw_error = true;
            assert!(
                event["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("no-such-directory")),
                "the error is a field of its own: {line}"
            );
        }
    }
    assert!(saw_error, "{stderr}");
}

/// `--class-mark-mask` is refused at start, with the reason, unless it is one run of at least
/// eight bits clear of kube-proxy's marks.
#[test]
fn agent_refuses_class_mark_masks_that_cannot_work() {
    for (mask, reason) in [
        ("0x0000ff00", "kube-proxy"),
        ("0xff0f0000", "contiguous"),
        ("0xfe000000", "fewer than 8 bits"),
        ("mask", "not a 32-bit mask"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args([
                "agent",
                "--node",
                "n1",
                "--manifests",
                "no-such-directory",
                "--metrics-address",
                "off",
                "--class-mark-mask",
                mask,
            ])
            .current_dir(workspace())
            .env_remove("PALISADE_CLASS_MARK_MASK")
            .output()
            .expect("run palisade");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{mask}: {stderr}");
        assert!(
            stderr.contains("--class-mark-mask") && stderr.contains(reason),
            "{mask}: {stderr}"
        );
    }
}
