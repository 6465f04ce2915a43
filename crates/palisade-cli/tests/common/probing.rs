//! The probing harness of the restart tests: probe pairs in a loop and hold connections open
//! while agents are killed and restarted, tallying what got through that should not have, what
//! failed that should not have, and any held connection that was cut.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use palisade_core::eval::Probe;
use palisade_lab::RunningLab;

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
