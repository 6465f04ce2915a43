//! Leaving nothing behind when the process itself goes away (root only): `clean` after a killed
//! run, Ctrl-C during a run, and the refusal to start without root.
//!
//! The Ctrl-C and non-root cases re-run this test binary as a child process (selected by an
//! environment variable), because a signal handler and a changed uid are process-wide.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use palisade_core::model::Cluster;
use palisade_lab::names::{RUN_DIR, RunNames};
use palisade_lab::{
    Enforcer, EnforcerError, LabError, NodeHandle, RunningEnforcer, cancelled, clean,
    install_signal_cleanup, run,
};

use common::*;

const CHILD: &str = "PALISADE_LAB_TEST_CHILD";

fn ip_netns(args: &[&str]) {
    let status = Command::new("ip")
        .arg("netns")
        .args(args)
        .status()
        .expect("ip netns");
    assert!(status.success(), "ip netns {args:?}");
}

#[test]
fn clean_removes_a_dead_runs_namespaces_and_processes_but_not_a_live_run() {
    if std::env::var(CHILD).is_ok() || !lab_available("clean_removes_a_dead_run") {
        return;
    }
    // A run whose process was killed: namespaces, a process inside one, an owner that is gone.
    let dead = RunNames::fresh(&palisade_lab::netns::list());
    let (dead_node, dead_pod) = (dead.node(1), dead.pod(0));
    ip_netns(&["add", &dead_node]);
    ip_netns(&["add", &dead_pod]);
    let mut sleeper = Command::new("ip")
        .args(["netns", "exec", &dead_pod, "sleep", "60"])
        .spawn()
        .expect("sleep in the namespace");
    let mut gone = Command::new("true").spawn().expect("true");
    let gone_pid = gone.id();
    gone.wait().expect("true exits");
    let dead_dir = dead.run_dir();
    std::fs::create_dir_all(&dead_dir).expect("run dir");
    std::fs::write(dead_dir.join("owner"), gone_pid.to_string()).expect("owner");

    // A run owned by a live process (another lab): must be left alone.
    let live = RunNames::fresh(&palisade_lab::netns::list());
    let live_ns = live.node(1);
    ip_netns(&["add", &live_ns]);
    let mut owner = Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("owner process");
    std::fs::create_dir_all(live.run_dir()).expect("run dir");
    std::fs::write(live.run_dir().join("owner"), owner.id().to_string()).expect("owner");

    // Let `ip netns exec` reach `sleep` before cleaning.
    std::thread::sleep(Duration::from_millis(100));
    let report = clean().expect("clean");
    eprintln!("{report}");

    assert!(report.namespaces.contains(&dead_node), "{report:?}");
    assert!(report.namespaces.contains(&dead_pod), "{report:?}");
    assert!(
        report.processes.contains(&(sleeper.id() as i32)),
        "{report:?}"
    );
    assert_eq!(leftovers(&dead.prefix()), Vec::<String>::new());
    assert!(!dead_dir.exists());
    let status = sleeper.wait().expect("sleeper reaped");
    assert!(
        !status.success(),
        "the process in the namespace was killed: {status}"
    );

    assert!(
        report
            .skipped
            .contains(&(live.id().to_string(), owner.id() as i32)),
        "{report:?}"
    );
    assert_eq!(leftovers(&live.prefix()), vec![live_ns.clone()]);

    let _ = owner.kill();
    let _ = owner.wait();
    ip_netns(&["del", &live_ns]);
    let _ = std::fs::remove_dir_all(live.run_dir());
}

/// In the child: prints the run's prefix, then waits for Ctrl-C like a slow agent.
struct WaitsForCtrlC;

impl Enforcer for WaitsForCtrlC {
    fn describe(&self) -> String {
        "waits for Ctrl-C".into()
    }

    fn start_node(
        &self,
        node: &NodeHandle,
        _cluster: &Cluster,
    ) -> Result<Box<dyn RunningEnforcer>, EnforcerError> {
        if node.index == 1 {
            let prefix = node.netns.trim_end_matches("n1");
            println!("LAB-PREFIX {prefix}");
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cancelled() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        Err("interrupted while starting".into())
    }
}

#[test]
fn child_process_interrupted_mid_run() {
    if std::env::var(CHILD).as_deref() != Ok("ctrl-c") {
        return;
    }
    install_signal_cleanup().expect("handler");
    let result = run(
        &four_pods(["", "", "", ""]),
        &config(&["tcp/80"], &[]),
        &WaitsForCtrlC,
    );
    assert!(result.is_err());
    // The handler exits the process with 130 once the run is torn down.
    std::thread::sleep(Duration::from_secs(10));
}

#[test]
fn ctrl_c_mid_run_removes_everything_and_exits_130() {
    if std::env::var(CHILD).is_ok() || !lab_available("ctrl_c_mid_run") {
        return;
    }
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_process_interrupted_mid_run",
            "--nocapture",
        ])
        .env(CHILD, "ctrl-c")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child");
    let stdout = child.stdout.take().expect("stdout");
    let prefix = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("LAB-PREFIX ").map(str::to_string))
        .expect("the child reports its run prefix");
    assert!(!leftovers(&prefix).is_empty(), "the lab is up");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("SIGINT");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the child did not exit after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130), "{status}");
    assert_eq!(leftovers(&prefix), Vec::<String>::new());
    let id = prefix.trim_start_matches("pl-").trim_end_matches('-');
    assert!(!std::path::Path::new(RUN_DIR).join(id).exists());
}

#[test]
fn child_process_without_root() {
    if std::env::var(CHILD).as_deref() != Ok("nonroot") {
        return;
    }
    match run(
        &four_pods(["", "", "", ""]),
        &config(&["tcp/80"], &[]),
        &palisade_lab::NoEnforcer,
    ) {
        Err(LabError::Precondition(message)) => println!("PRECONDITION {message}"),
        other => panic!("expected a precondition error, got {other:?}"),
    }
}

#[test]
fn without_root_the_lab_refuses_with_a_clear_precondition() {
    use std::os::unix::process::CommandExt as _;
    if std::env::var(CHILD).is_ok() || !lab_available("without_root") {
        return;
    }
    // The checkout may sit in a directory only root can enter (e.g. one made by `mktemp -d`),
    // so the unprivileged child runs a copy of this binary from a world-readable place.
    let dir = std::env::temp_dir().join(format!("palisade-nonroot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let exe = dir.join("cleanup-test");
    std::fs::copy(std::env::current_exe().expect("test binary"), &exe).expect("copy binary");
    for path in [&dir, &exe] {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    // 65534 is `nobody` on Debian-family systems; any unprivileged uid will do.
    let out = Command::new(&exe)
        .args(["--exact", "child_process_without_root", "--nocapture"])
        .env(CHILD, "nonroot")
        .uid(65534)
        .gid(65534)
        .current_dir(&dir)
        .output()
        .expect("child");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("PRECONDITION the lab creates network namespaces and needs root"),
        "{stdout}"
    );
}
