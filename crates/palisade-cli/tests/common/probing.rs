//! The probing harness of the restart tests: probe pairs in a loop and hold connections open
//! while agents are killed and restarted, tallying what got through that should not have, what
//! failed that should not have, and any held connection that was cut.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use palisade_core::eval::Probe;
use palisade_lab::{Restart, RunningLab};

/// Whether the lab can run here (root, nft, ip). Skips politely otherwise, unless
/// PALISADE_REQUIRE_KERNEL_TESTS is set, which makes a skip a failure.
pub fn lab_available(test: &str) -> bool {
    let why = match palisade_lab::check_preconditions() {
        Ok(()) => return true,
        Err(e) => e.to_string(),
    };
    assert!(
        std::env::var_os("PALISADE_REQUIRE_KERNEL_TESTS").is_none(),
        "kernel tests required but unavailable: {why}"
    );
    eprintln!("SKIPPED {test}: {why}");
    false
}

/// Pause between two probes of one pair, and between two messages of a held connection.
pub const INTERVAL: Duration = Duration::from_millis(20);
/// How long a held connection may take to echo one message before it counts as cut.
pub const ECHO_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Pair {
    pub from: usize,
    pub to: usize,
    pub probe: Probe,
    pub allowed: bool,
    pub cross_node: bool,
}

#[derive(Debug, Default)]
pub struct Tally {
    pub sent_allowed: usize,
    pub sent_denied: usize,
    /// Denied pairs that got through.
    pub leaks: Vec<String>,
    /// Allowed pairs that did not.
    pub failures: Vec<String>,
    /// Attempts that said nothing about policy (e.g. refused).
    pub errors: Vec<String>,
}

/// Probes one pair every [`INTERVAL`] until `stop`.
pub fn probe_pair(
    lab: &RunningLab<'_>,
    pair: &Pair,
    names: &[String],
    start: Instant,
    stop: &AtomicBool,
    tally: &Mutex<Tally>,
) {
    while !stop.load(Ordering::Relaxed) {
        let at = start.elapsed();
        let outcome = lab.probe_once(pair.from, pair.to, pair.probe);
        let what = || {
            format!(
                "{} {} -> {} at {} ms: {outcome}",
                pair.probe,
                names[pair.from],
                names[pair.to],
                at.as_millis()
            )
        };
        if let Ok(mut t) = tally.lock() {
            if pair.allowed {
                t.sent_allowed += 1;
            } else {
                t.sent_denied += 1;
            }
            match (outcome.observed(), pair.allowed) {
                (Some(true), false) => t.leaks.push(what()),
                (Some(false), true) => t.failures.push(what()),
                (None, _) => t.errors.push(what()),
                _ => {}
            }
        }
        std::thread::sleep(INTERVAL);
    }
}

/// What one held connection saw: messages echoed, and the first failure if any.
#[derive(Debug)]
pub struct Held {
    pub name: String,
    pub messages: usize,
    pub slowest: Duration,
    pub failure: Option<String>,
}

/// Sends a short numbered message every [`INTERVAL`] and waits for its echo, until `stop`.
pub fn hold(mut stream: TcpStream, name: String, start: Instant, stop: &AtomicBool) -> Held {
    let mut held = Held {
        name,
        messages: 0,
        slowest: Duration::ZERO,
        failure: None,
    };
    if let Err(e) = stream.set_read_timeout(Some(ECHO_TIMEOUT)) {
        held.failure = Some(format!("set_read_timeout: {e}"));
        return held;
    }
    while !stop.load(Ordering::Relaxed) {
        let message = format!("message {:08}\n", held.messages);
        let mut echo = vec![0u8; message.len()];
        let t = Instant::now();
        let result = stream
            .write_all(message.as_bytes())
            .and_then(|()| stream.read_exact(&mut echo));
        match result {
            Ok(()) if echo == message.as_bytes() => {
                held.messages += 1;
                held.slowest = held.slowest.max(t.elapsed());
            }
            Ok(()) => {
                held.failure = Some(format!("garbled echo after {} messages", held.messages));
                break;
            }
            Err(e) => {
                held.failure = Some(format!(
                    "{e} at {} ms, after {} messages",
                    start.elapsed().as_millis(),
                    held.messages
                ));
                break;
            }
        }
        std::thread::sleep(INTERVAL);
    }
    held
}

/// What [`probe_through_restarts`] saw.
#[derive(Debug)]
pub struct Run {
    pub tally: Tally,
    pub helds: Vec<Held>,
    /// (node, restart) in order.
    pub restarts: Vec<(usize, Restart)>,
    /// Whether every kill and restart worked.
    pub chaos: palisade_lab::Result<()>,
    pub elapsed: Duration,
}

/// Holds a TCP connection open on each of `held` (from, to, port) and probes every pair in a
/// loop while the agents of node 0, then 1, then 0 again are SIGKILLed and restarted, with a
/// pause without any agent each time (the kernel keeps enforcing alone).
pub fn probe_through_restarts(
    lab: &RunningLab<'_>,
    names: &[String],
    pairs: &[Pair],
    held: &[(usize, usize, u16)],
) -> Run {
    let mut streams = Vec::new();
    for &(from, to, port) in held {
        let name = format!(
            "{} -> {}:{port} ({})",
            names[from],
            names[to],
            if lab.node_of(from) == lab.node_of(to) {
                "same node"
            } else {
                "cross-node"
            }
        );
        let stream = lab
            .connect_tcp(from, to, port, Duration::from_secs(1))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        streams.push((stream, name));
    }

    let stop = AtomicBool::new(false);
    let tally = Mutex::new(Tally::default());
    let start = Instant::now();
    let mut restarts: Vec<(usize, Restart)> = Vec::new();
    let (helds, chaos) = std::thread::scope(|s| {
        let held_threads: Vec<_> = streams
            .into_iter()
            .map(|(stream, name)| {
                let stop = &stop;
                s.spawn(move || hold(stream, name, start, stop))
            })
            .collect();
        for pair in pairs {
            let (stop, tally) = (&stop, &tally);
            s.spawn(move || probe_pair(lab, pair, names, start, stop, tally));
        }
        let chaos = (|| -> palisade_lab::Result<()> {
            std::thread::sleep(Duration::from_millis(600));
            for node in [0, 1, 0] {
                let killed = lab.kill_enforcer(node)?;
                std::thread::sleep(Duration::from_millis(150));
                let ready = lab.start_enforcer(node)?;
                restarts.push((node, Restart { killed, ready }));
                std::thread::sleep(Duration::from_millis(500));
            }
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        let helds: Vec<Held> = held_threads
            .into_iter()
            .map(|t| t.join().expect("held connection thread"))
            .collect();
        (helds, chaos)
    });
    Run {
        tally: tally.into_inner().expect("tally"),
        helds,
        restarts,
        chaos,
        elapsed: start.elapsed(),
    }
}
