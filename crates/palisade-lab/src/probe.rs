//! Real packets: one client attempt per (source, destination, probe, IP family), made from inside
//! the source's namespace, many at once on a bounded pool of threads.
//!
//! ```text
//!   TCP    connect (bounded)           connected -> allowed; timed out -> blocked;
//!                                      refused -> error (a listener is always there)
//!   UDP    send a token, await echo    echoed -> allowed; silence until the deadline -> blocked
//!   SCTP   raw INIT with a token       seen by the raw receiver at the destination -> allowed
//! ```
//!
//! Client sockets bind the source endpoint's own address first, so the destination's policy
//! sees the source it expects (a node namespace has several addresses).

use std::fs::File;
use std::io::{self, ErrorKind};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use palisade_core::eval::Probe;
use palisade_core::model::Protocol;
use socket2::{Domain, Protocol as SockProtocol, SockAddr, Socket, Type};

use crate::cleanup;
use crate::netns;
use crate::report::{BlockReason, Outcome};
use crate::sctp;
use crate::servers::Seen;

/// One attempt.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub table: usize,
    pub from: usize,
    pub to: usize,
    pub probe: Probe,
    /// Index into the namespace list handed to [`run`].
    pub netns: usize,
    pub src: IpAddr,
    pub dst: IpAddr,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub timeout: Duration,
    pub refused_is_blocked: bool,
}

static NEXT_TOKEN: AtomicU32 = AtomicU32::new(1);

fn token() -> u32 {
    // Zero is not a valid SCTP initiate tag; the counter skips it when it wraps.
    loop {
        let t = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        if t != 0 {
            return t;
        }
    }
}

fn domain(ip: &IpAddr) -> Domain {
    if ip.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    }
}

fn classify(e: &io::Error, settings: Settings) -> Outcome {
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Outcome::Blocked(BlockReason::TimedOut),
        ErrorKind::ConnectionRefused if settings.refused_is_blocked => {
            Outcome::Blocked(BlockReason::Rejected(e.to_string()))
        }
        ErrorKind::ConnectionRefused => Outcome::Error(format!(
            "{e}: the destination has a listener on this port, so something refused it"
        )),
        // ICMP unreachable / administratively prohibited from a reject rule, or a local drop.
        ErrorKind::HostUnreachable
        | ErrorKind::NetworkUnreachable
        | ErrorKind::PermissionDenied => Outcome::Blocked(BlockReason::Rejected(e.to_string())),
        _ => Outcome::Error(e.to_string()),
    }
}

fn tcp(job: &Job, settings: Settings) -> Outcome {
    let attempt = || -> io::Result<()> {
        let s = Socket::new(domain(&job.dst), Type::STREAM, Some(SockProtocol::TCP))?;
        s.bind(&SockAddr::from(SocketAddr::new(job.src, 0)))?;
        s.connect_timeout(
            &SockAddr::from(SocketAddr::new(job.dst, job.probe.port)),
            settings.timeout,
        )
    };
    match attempt() {
        Ok(()) => Outcome::Allowed,
        Err(e) => classify(&e, settings),
    }
}

fn udp(job: &Job, settings: Settings) -> Outcome {
    let deadline = Instant::now() + settings.timeout;
    // Resend a few times within the deadline: a datagram can be lost while a neighbour entry
    // is being resolved.
    let slice = (settings.timeout / 4).max(Duration::from_millis(20));
    let run = || -> io::Result<Outcome> {
        let s = Socket::new(domain(&job.dst), Type::DGRAM, Some(SockProtocol::UDP))?;
        s.bind(&SockAddr::from(SocketAddr::new(job.src, 0)))?;
        s.connect(&SockAddr::from(SocketAddr::new(job.dst, job.probe.port)))?;
        let socket: std::net::UdpSocket = s.into();
        let payload = format!("palisade-lab {} {}", token(), job.probe);
        let mut buf = [0u8; 256];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(Outcome::Blocked(BlockReason::TimedOut));
            }
            socket.send(payload.as_bytes())?;
            socket.set_read_timeout(Some(
                slice.min(deadline - now).max(Duration::from_millis(1)),
            ))?;
            match socket.recv(&mut buf) {
                Ok(n) if buf.get(..n) == Some(payload.as_bytes()) => return Ok(Outcome::Allowed),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(e),
            }
        }
    };
    match run() {
        Ok(outcome) => outcome,
        Err(e) => classify(&e, settings),
    }
}

fn sctp_raw(job: &Job, settings: Settings, seen: &Seen) -> Outcome {
    let token = token();
    let deadline = Instant::now() + settings.timeout;
    let slice = (settings.timeout / 4).max(Duration::from_millis(20));
    let packet = sctp::init_packet(40_000 + (token % 20_000) as u16, job.probe.port, token);
    let run = || -> io::Result<Outcome> {
        let s = Socket::new(
            domain(&job.dst),
            Type::RAW,
            Some(SockProtocol::from(sctp::IPPROTO_SCTP)),
        )?;
        s.bind(&SockAddr::from(SocketAddr::new(job.src, 0)))?;
        let dst = SockAddr::from(SocketAddr::new(job.dst, 0));
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(Outcome::Blocked(BlockReason::NotSeen));
            }
            s.send_to(&packet, &dst)?;
            if seen.wait(token, job.probe.port, (now + slice).min(deadline)) {
                return Ok(Outcome::Allowed);
            }
        }
    };
    match run() {
        Ok(outcome) => outcome,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            Outcome::Blocked(BlockReason::Rejected(e.to_string()))
        }
        Err(e) => Outcome::NotTestable(format!("raw SCTP packet could not be sent: {e}")),
    }
}

pub(crate) fn attempt(job: &Job, settings: Settings, seen: &Seen) -> Outcome {
    match job.probe.protocol {
        Protocol::Tcp => tcp(job, settings),
        Protocol::Udp => udp(job, settings),
        Protocol::Sctp => sctp_raw(job, settings, seen),
    }
}

/// Runs every job on `parallelism` threads. `namespaces[i]` is `(name, open file)` of the
/// namespace jobs with `netns == i` start from. Stops early (remaining jobs unanswered) when
/// Ctrl-C arrived.
pub(crate) fn run(
    jobs: &[Job],
    namespaces: &[(String, File)],
    settings: Settings,
    parallelism: usize,
    seen: &Seen,
) -> Vec<Option<Outcome>> {
    let next = AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Outcome>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let workers = parallelism.clamp(1, jobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let mut current: Option<usize> = None;
                loop {
                    if cleanup::cancelled() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else {
                        return;
                    };
                    let outcome = if current == Some(job.netns) {
                        attempt(job, settings, seen)
                    } else {
                        match namespaces.get(job.netns) {
                            Some((name, file)) => match netns::enter(file, name) {
                                Ok(()) => {
                                    current = Some(job.netns);
                                    attempt(job, settings, seen)
                                }
                                Err(e) => Outcome::Error(e.to_string()),
                            },
                            None => Outcome::Error("no namespace for the source".to_string()),
                        }
                    };
                    if let Some(slot) = results.get(i)
                        && let Ok(mut slot) = slot.lock()
                    {
                        *slot = Some(outcome);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| m.into_inner().unwrap_or(None))
        .collect()
}
