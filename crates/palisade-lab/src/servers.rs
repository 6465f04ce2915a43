//! The listeners inside the lab: a TCP echo listener and a UDP echo responder for every probed port
//! (and every declared containerPort) on every address of every endpoint, and, when SCTP is
//! probed, a raw protocol-132 receiver per namespace and family.
//!
//! Sockets are bound on a thread that entered the endpoint's namespace and then served by one
//! small tokio runtime; shutting the runtime down drops every socket, which is what lets the
//! namespaces disappear afterwards.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
use tokio::runtime::Runtime;

use crate::error::{LabError, Result};
use crate::netns;
use crate::sctp;

/// What one namespace serves.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServeSpec {
    pub ips: BTreeSet<IpAddr>,
    pub tcp: BTreeSet<u16>,
    pub udp: BTreeSet<u16>,
    pub sctp: bool,
}

/// Raw SCTP packets seen at a destination: (initiate tag, destination port).
#[derive(Debug, Default)]
pub(crate) struct Seen {
    tokens: Mutex<HashSet<(u32, u16)>>,
    changed: Condvar,
}

impl Seen {
    fn record(&self, token: u32, port: u16) {
        if let Ok(mut t) = self.tokens.lock() {
            t.insert((token, port));
            self.changed.notify_all();
        }
    }

    /// Waits until `(token, port)` was seen or `deadline` passes.
    pub fn wait(&self, token: u32, port: u16, deadline: Instant) -> bool {
        let Ok(mut tokens) = self.tokens.lock() else {
            return false;
        };
        loop {
            if tokens.contains(&(token, port)) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            match self.changed.wait_timeout(tokens, deadline - now) {
                Ok((t, _)) => tokens = t,
                Err(_) => return false,
            }
        }
    }
}

/// The running servers of a lab. Dropping it closes every socket.
#[derive(Debug)]
pub(crate) struct Servers {
    runtime: Option<Runtime>,
    raw_threads: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    pub seen: Arc<Seen>,
    /// Sockets bound, for the report.
    pub sockets: usize,
    /// Why SCTP cannot be observed, if it cannot.
    pub sctp_unavailable: Option<String>,
}

enum Bound {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
    Raw(Socket),
    /// No raw socket could be opened: SCTP cannot be observed here.
    RawUnavailable(String),
}

fn bind_all(spec: &ServeSpec) -> Result<Vec<Bound>> {
    let mut out = Vec::new();
    for ip in &spec.ips {
        for &port in &spec.tcp {
            let addr = SocketAddr::new(*ip, port);
            let l = std::net::TcpListener::bind(addr)
                .map_err(|e| LabError::io(format!("listening on TCP {addr}"), e))?;
            l.set_nonblocking(true)
                .map_err(|e| LabError::io("setting a listener non-blocking", e))?;
            out.push(Bound::Tcp(l));
        }
        for &port in &spec.udp {
            let addr = SocketAddr::new(*ip, port);
            let u = std::net::UdpSocket::bind(addr)
                .map_err(|e| LabError::io(format!("listening on UDP {addr}"), e))?;
            u.set_nonblocking(true)
                .map_err(|e| LabError::io("setting a UDP socket non-blocking", e))?;
            out.push(Bound::Udp(u));
        }
    }
    if spec.sctp {
        let mut families = BTreeSet::new();
        for ip in &spec.ips {
            families.insert(ip.is_ipv6());
        }
        for v6 in families {
            let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
            let raw = Socket::new(
                domain,
                Type::RAW,
                Some(SockProtocol::from(sctp::IPPROTO_SCTP)),
            )
            .and_then(|raw| raw.set_nonblocking(true).map(|()| raw));
            out.push(match raw {
                Ok(raw) => Bound::Raw(raw),
                Err(e) => Bound::RawUnavailable(format!("no raw IP protocol 132 socket: {e}")),
            });
        }
    }
    Ok(out)
}

async fn serve_tcp(listener: std::net::TcpListener) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        match listener.accept().await {
            // The handshake is the observation; echoing lets a test also hold a connection
            // open and check that it keeps carrying data. A probe closes at once.
            Ok((stream, _)) => {
                tokio::spawn(echo_tcp(stream));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

async fn echo_tcp(stream: tokio::net::TcpStream) {
    let mut buf = [0u8; 2048];
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        let n = match stream.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        };
        let mut out = buf.get(..n).unwrap_or(&[]);
        while !out.is_empty() {
            if stream.writable().await.is_err() {
                return;
            }
            match stream.try_write(out) {
                Ok(w) => out = out.get(w..).unwrap_or(&[]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }
}

async fn serve_udp(socket: std::net::UdpSocket) {
    let Ok(socket) = tokio::net::UdpSocket::from_std(socket) else {
        return;
    };
    let mut buf = [0u8; 2048];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, peer)) => {
                let _ = socket.send_to(buf.get(..n).unwrap_or(&[]), peer).await;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Raw receivers run on plain threads (tokio cannot register a raw fd without `unsafe`): a
/// short read timeout lets them notice `stop`.
fn serve_raw(socket: Socket, seen: Arc<Seen>, stop: Arc<AtomicBool>) {
    let v6 = matches!(socket.domain(), Ok(d) if d == Domain::IPV6);
    if socket.set_nonblocking(false).is_err()
        || socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .is_err()
    {
        return;
    }
    let mut reader: &Socket = &socket;
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok(n) = reader.read(&mut buf) else {
            continue;
        };
        let packet = buf.get(..n).unwrap_or(&[]);
        // IPv4 raw sockets deliver the IP header, IPv6 ones do not.
        let sctp_part = if v6 {
            Some(packet)
        } else {
            sctp::strip_ipv4_header(packet)
        };
        if let Some((token, port)) = sctp_part.and_then(sctp::parse_init) {
            seen.record(token, port);
        }
    }
}

impl Servers {
    /// Binds everything in `specs` (namespace name -> what to serve) and starts serving.
    pub fn start(specs: &BTreeMap<String, ServeSpec>) -> Result<Servers> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lab-servers")
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| LabError::io("starting the server runtime", e))?;
        let mut servers = Servers {
            runtime: Some(runtime),
            raw_threads: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            seen: Arc::new(Seen::default()),
            sockets: 0,
            sctp_unavailable: None,
        };
        // Binding is quick; one thread visiting every namespace in turn keeps thread churn low.
        let bound: Vec<Vec<Bound>> = std::thread::scope(|s| {
            s.spawn(|| -> Result<Vec<Vec<Bound>>> {
                let mut all = Vec::new();
                for (ns, spec) in specs {
                    let file = netns::open(ns)?;
                    netns::enter(&file, ns)?;
                    all.push(bind_all(spec).map_err(|e| match e {
                        LabError::Io { what, source } => LabError::Io {
                            what: format!("{what} in {ns}"),
                            source,
                        },
                        other => other,
                    })?);
                }
                Ok(all)
            })
            .join()
            .unwrap_or_else(|_| Err(LabError::setup("binding servers", "thread panicked")))
        })?;
        for socket in bound.into_iter().flatten() {
            match socket {
                Bound::Tcp(l) => {
                    if let Some(rt) = &servers.runtime {
                        rt.spawn(serve_tcp(l));
                    }
                }
                Bound::Udp(u) => {
                    if let Some(rt) = &servers.runtime {
                        rt.spawn(serve_udp(u));
                    }
                }
                Bound::Raw(r) => {
                    let (seen, stop) = (servers.seen.clone(), servers.stop.clone());
                    // On error `servers` is dropped, which stops the receivers already started.
                    let thread = std::thread::Builder::new()
                        .name("lab-sctp-rx".into())
                        .spawn(move || serve_raw(r, seen, stop))
                        .map_err(|e| LabError::io("starting a raw receiver", e))?;
                    servers.raw_threads.push(thread);
                }
                Bound::RawUnavailable(why) => {
                    servers.sctp_unavailable.get_or_insert(why);
                    continue;
                }
            }
            servers.sockets += 1;
        }
        Ok(servers)
    }

    /// Stops serving and closes every socket.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.raw_threads.drain(..) {
            let _ = thread.join();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.stop();
    }
}
