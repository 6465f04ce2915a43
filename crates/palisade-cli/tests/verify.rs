//! `palisade verify` against a real kernel, in a throwaway network namespace: the compiled
//! table verifies; a rule deleted, a rule added or the table flushed behind palisade's back is
//! reported as drift (exit 1), naming the connections; foreign base chains are listed.
//!
//! Needs root and `nft`; without them the test says so and passes, unless
//! `PALISADE_REQUIRE_KERNEL_TESTS=1`.

mod common;

use std::process::{Command, Output};

use common::workspace;
use palisade_dataplane::netns::ScratchNetns;

const FIXTURE: &str = "crates/palisade-cli/tests/fixtures/verify";

fn palisade(ns: &ScratchNetns, args: &[&str]) -> Output {
    ns.command(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("run palisade")
}

fn nft(ns: &ScratchNetns, args: &[&str], stdin: Option<&str>) {
    use std::io::Write;
    let mut cmd = ns.command("nft");
    cmd.args(args).stdin(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run nft");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("nft");
    assert!(out.status.success(), "nft {args:?}: {out:?}");
}

fn verify(ns: &ScratchNetns, extra: &[&str]) -> (i32, String) {
    let mut args = vec![
        "verify",
        "--node",
        "n1",
        "--external",
        "192.0.2.1",
        "--external",
        "192.0.2.200",
    ];
    args.extend_from_slice(extra);
    args.push(FIXTURE);
    let out = palisade(ns, &args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), stdout)
}

/// The handle of the rule of `chain` whose text contains `needle`.
fn handle(ns: &ScratchNetns, chain_prefix: &str, needle: &str) -> (String, String) {
    let out = ns
        .command("nft")
        .args(["-a", "list", "table", "inet", "palisade"])
        .output()
        .expect("nft list");
    let listing = String::from_utf8_lossy(&out.stdout);
    let mut chain = None;
    for line in listing.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("chain ") {
            chain = name.split_whitespace().next().map(str::to_string);
        } else if let Some(c) = &chain
            && c.starts_with(chain_prefix)
            && line.contains(needle)
            && let Some((_, h)) = line.rsplit_once("# handle ")
        {
            return (c.clone(), h.trim().to_string());
        }
    }
    panic!("no rule with {needle} in a chain {chain_prefix}*:\n{listing}");
}

#[test]
fn verify_proves_the_table_and_reports_drift_and_foreign_chains() {
    let Some(ns) = ScratchNetns::for_test("pl-test-verify") else {
        return;
    };
    let compiled = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["compile", "--node", "n1", FIXTURE])
        .current_dir(workspace())
        .output()
        .expect("compile");
    assert!(compiled.status.success(), "{compiled:?}");
    let script = String::from_utf8_lossy(&compiled.stdout).into_owned();
    let load = |ns: &ScratchNetns| nft(ns, &["-f", "-"], Some(&script));
    load(&ns);

    let (code, out) = verify(&ns, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("verified: node n1 enforces the policies"),
        "{out}"
    );

    // An allow rule deleted: the connections it allowed are now dropped.
    let (chain, h) = handle(&ns, "in-shop-db-from-web", "return");
    nft(
        &ns,
        &["delete", "rule", "inet", "palisade", &chain, "handle", &h],
        None,
    );
    let (code, out) = verify(&ns, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "shop/web-1 (10.0.1.1) -> shop/db-1 (10.0.1.2) TCP 5432: kernel drop, policies accept"
        ),
        "{out}"
    );

    // A rule added: a leak.
    load(&ns);
    let (chain, _) = handle(&ns, "eg-shop-web", "return");
    nft(
        &ns,
        &[
            "insert", "rule", "inet", "palisade", &chain, "udp", "dport", "53", "return",
        ],
        None,
    );
    let (code, out) = verify(&ns, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("shop/web-1 (10.0.1.1) -> 192.0.2.200 (192.0.2.200) UDP 53: kernel accept, policies drop"),
        "{out}"
    );

    // The table flushed: everything isolated is open.
    nft(&ns, &["flush", "table", "inet", "palisade"], None);
    let (code, out) = verify(&ns, &["--format", "json"]);
    assert_eq!(code, 1, "{out}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(doc["verified"], false);
    // `flush table` keeps the (now empty) chains.
    assert_eq!(doc["table_present"], true);
    // Most of the fixture's protocol/port intervals are denied somewhere; all now pass.
    let (drift, atoms) = (doc["drift_count"].as_u64(), doc["atoms"].as_u64());
    assert!(drift.zip(atoms).is_some_and(|(d, a)| d * 2 > a), "{out}");

    // Reloaded, with a foreign table around it.
    load(&ns);
    nft(
        &ns,
        &["-f", "-"],
        Some(
            "table ip other {\n\tchain f { type filter hook forward priority 0; policy accept; ip saddr 10.9.9.9 drop; }\n\tchain p { type filter hook prerouting priority -300; policy accept; }\n}\n",
        ),
    );
    let (code, out) = verify(&ns, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "foreign: ip other chain f (hook forward, priority 0) runs after palisade and can drop"
        ),
        "{out}"
    );
    assert!(
        !out.contains("chain p "),
        "a chain that can neither drop nor accept: {out}"
    );
}

/// Without nft's permission or with unreadable inputs: exit 2.
#[test]
fn verify_usage_errors_exit_two() {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["verify", "--node", "n1", "no/such/dir"])
        .current_dir(workspace())
        .output()
        .expect("run palisade");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
