//! `palisade cleanup` in the kernel: in a scratch network namespace, `--check` sees a table,
//! `cleanup` removes it and only it, and `--check` then passes.

use std::io::Write;
use std::process::Stdio;

use palisade_dataplane::netns::ScratchNetns;

fn run(netns: &ScratchNetns, args: &[&str]) -> (i32, String) {
    let out = netns
        .command(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .output()
        .expect("run palisade in the namespace");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn nft(netns: &ScratchNetns, script: &str) {
    let mut child = netns
        .command("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("nft");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write");
    assert!(child.wait().expect("nft").success(), "nft -f {script}");
}

fn tables(netns: &ScratchNetns) -> String {
    let out = netns
        .command("nft")
        .args(["list", "tables"])
        .output()
        .expect("nft list tables");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn cleanup_removes_the_palisade_table_and_nothing_else() {
    let Some(netns) = ScratchNetns::for_test("pcleanup") else {
        return;
    };
    nft(
        &netns,
        "table inet palisade {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n  }\n}\n\
         table inet someone-else {\n}\n",
    );
    let (code, stderr) = run(&netns, &["cleanup", "--check"]);
    assert_eq!(code, 1, "--check with the table in force: {stderr}");
    assert!(tables(&netns).contains("table inet palisade"));

    let (code, stderr) = run(&netns, &["cleanup"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("removed table inet palisade"), "{stderr}");
    let left = tables(&netns);
    assert!(!left.contains("table inet palisade"), "{left}");
    assert!(left.contains("table inet someone-else"), "{left}");

    let (code, stderr) = run(&netns, &["cleanup", "--check"]);
    assert_eq!(code, 0, "{stderr}");
    // Idempotent: a second cleanup finds nothing and succeeds.
    let (code, stderr) = run(&netns, &["cleanup"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("nothing to remove"), "{stderr}");
}
