//! Dataplane overhead of a large compiled ruleset: new TCP connections per second and bulk TCP
//! throughput between two lab pods, with no rules, with a conntrack-only table, and with the
//! compiled node rulesets of a synthetic 10,000-pod / 3,000-policy cluster (BENCHMARKS.md).
//!
//! ```text
//! cargo run --release -p palisade-lab --example dataplane_overhead -- [--rounds N]
//!     [--conn-secs S] [--bulk-secs S] [--clients N] [--pods N] [--namespaces N]
//!     [--policies N] [--scenario same|cross|both]
//! ```
//!
//! The two measured pods are pods of the synthetic cluster whose connection the engine allows
//! with both sides isolated, so the first packet of every connection runs through the egress
//! and the ingress verdict maps and the policy chains they jump to. Only they get namespaces;
//! the other 9,998 pods exist only in the compiled rulesets (about 110 of them local to each
//! lab node, as in the synthetic cluster). The variants alternate round by round because the
//! machine is noisy; medians are reported. Needs root and `nft`.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use palisade_core::eval::{Endpoint, Probe, SideVerdict, evaluate};
use palisade_core::model::{Cluster, Pod, Protocol};
use palisade_lab::names::RunNames;
use palisade_lab::topology::Topology;
use palisade_lab::{LabConfig, netns, plan};
use palisade_nft::{Decision, Packet, Ruleset, Transport, compile};
use palisade_test_support::synth::{SynthParams, generate};
use socket2::{Domain, Socket, Type};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A table with nothing but the stateful fast path: what conntrack alone costs.
const CT_ONLY: &str = "table inet palisade {}\ndelete table inet palisade\n\
table inet palisade {\n  chain forward {\n    type filter hook forward priority filter - 10; policy accept;\n\
    ct state established,related accept\n  }\n}\n";

#[derive(Debug, Clone)]
struct Options {
    rounds: usize,
    conn_secs: f64,
    bulk_secs: f64,
    clients: usize,
    pods: usize,
    namespaces: usize,
    policies: usize,
    scenarios: Vec<Scenario>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    SameNode,
    CrossNode,
}

impl Scenario {
    fn label(self) -> &'static str {
        match self {
            Scenario::SameNode => "same node",
            Scenario::CrossNode => "cross node",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    NoRules,
    ConntrackOnly,
    Policies,
}

impl Variant {
    const ALL: [Variant; 3] = [Variant::NoRules, Variant::ConntrackOnly, Variant::Policies];

    fn label(self) -> &'static str {
        match self {
            Variant::NoRules => "no rules",
            Variant::ConntrackOnly => "conntrack only",
            Variant::Policies => "3k policies",
        }
    }
}

fn parse_options() -> Result<Options, Error> {
    let mut o = Options {
        rounds: 5,
        conn_secs: 3.0,
        bulk_secs: 2.0,
        clients: 4,
        pods: 10_000,
        namespaces: 50,
        policies: 3_000,
        scenarios: vec![Scenario::SameNode, Scenario::CrossNode],
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--rounds" => o.rounds = value.parse()?,
            "--conn-secs" => o.conn_secs = value.parse()?,
            "--bulk-secs" => o.bulk_secs = value.parse()?,
            "--clients" => o.clients = value.parse()?,
            "--pods" => o.pods = value.parse()?,
            "--namespaces" => o.namespaces = value.parse()?,
            "--policies" => o.policies = value.parse()?,
            "--scenario" => {
                o.scenarios = match value.as_str() {
                    "same" => vec![Scenario::SameNode],
                    "cross" => vec![Scenario::CrossNode],
                    "both" => vec![Scenario::SameNode, Scenario::CrossNode],
                    other => return Err(format!("unknown scenario {other}").into()),
                }
            }
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if o.rounds == 0 || o.clients == 0 || o.conn_secs <= 0.0 || o.bulk_secs <= 0.0 {
        return Err("rounds, clients and durations must be above 0".into());
    }
    Ok(o)
}

/// A plain IPv4-only pod with a TCP container port: one the lab can wire without IPv6.
fn usable(pod: &Pod) -> Option<u16> {
    if pod.host_network || pod.ips.len() != 1 || !pod.ips.iter().all(IpAddr::is_ipv4) {
        return None;
    }
    pod.ports
        .iter()
        .find(|p| p.protocol == Protocol::Tcp)
        .map(|p| p.port)
}

/// The first (client, server, port) the engine allows with both sides isolated, so that both
/// verdict maps and both policy chains are on the path of every new connection.
fn measured_pair(cluster: &Cluster) -> Option<(usize, usize, u16)> {
    let candidates: Vec<usize> = (0..cluster.pods.len())
        .filter(|&i| cluster.pods.get(i).and_then(usable).is_some())
        .collect();
    for &server in candidates.iter().step_by(7) {
        let port = cluster.pods.get(server).and_then(usable)?;
        let probe = Probe {
            protocol: Protocol::Tcp,
            port,
        };
        for &client in candidates.iter().step_by(13).take(400) {
            if client == server {
                continue;
            }
            let v = evaluate(cluster, Endpoint::Pod(client), Endpoint::Pod(server), probe);
            let both = matches!(v.egress, SideVerdict::Allowed { .. })
                && matches!(v.ingress, SideVerdict::Allowed { .. });
            if v.allowed && both {
                return Some((client, server, port));
            }
        }
    }
    None
}

/// Runs `f` on a fresh thread inside namespace `ns`: sockets it creates live there.
fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> std::thread::JoinHandle<Result<T, Error>> {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        let file = netns::open(&ns)?;
        netns::enter(&file, &ns)?;
        f()
    })
}

fn join<T>(h: std::thread::JoinHandle<Result<T, Error>>) -> Result<T, Error> {
    h.join()
        .map_err(|_| Error::from("a worker thread panicked"))?
}

fn sysctls(ns: &str, pairs: &'static [(&'static str, &'static str)]) -> Result<(), Error> {
    join(in_netns(ns, move || {
        for (k, v) in pairs {
            netns::sysctl(k, v)?;
        }
        Ok(())
    }))
}

/// `nft -f -` inside `ns`; returns how long it took.
fn nft(ns: &str, script: &str) -> Result<Duration, Error> {
    let started = Instant::now();
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(format!(
            "nft -f in {ns}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(started.elapsed())
}

fn listener(addr: SocketAddr) -> Result<TcpListener, Error> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(4096)?;
    // accept() honours SO_RCVTIMEO on Linux: acceptors wake up to notice the stop flag.
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    Ok(s.into())
}

/// New connections per second: `clients` threads connect and close (RST, so no TIME_WAIT
/// piles up between runs) as fast as they can; the server accepts and drops.
fn connection_rate(
    server_ns: &str,
    client_ns: &str,
    addr: SocketAddr,
    clients: usize,
    secs: f64,
) -> Result<(f64, u64), Error> {
    let stop = Arc::new(AtomicBool::new(false));
    let l = join(in_netns(server_ns, move || listener(addr)))?;
    let mut acceptors = Vec::new();
    for _ in 0..clients {
        let l = l.try_clone()?;
        let stop = stop.clone();
        acceptors.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // Errors: the timeout, or a connection reset before it was accepted.
                let _ = l.accept();
            }
        }));
    }
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (done, failed) = (done.clone(), failed.clone());
            in_netns(client_ns, move || {
                while Instant::now() < deadline {
                    match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                        Ok(s) => {
                            Socket::from(s).set_linger(Some(Duration::ZERO))?;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        join(w)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for a in acceptors {
        let _ = a.join();
    }
    let n = done.load(Ordering::Relaxed);
    Ok((n as f64 / elapsed, failed.load(Ordering::Relaxed)))
}

/// One TCP stream for `secs`: bytes the server read per second, in Gbit/s.
fn bulk(server_ns: &str, client_ns: &str, addr: SocketAddr, secs: f64) -> Result<f64, Error> {
    let l = join(in_netns(server_ns, move || listener(addr)))?;
    let reader = std::thread::spawn(move || -> Result<(u64, Duration), Error> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let (mut s, _) = loop {
            match l.accept() {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => return Err(e.into()),
                Err(_) => continue,
            }
        };
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        let mut first: Option<Instant> = None;
        loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                break;
            }
            first.get_or_insert_with(Instant::now);
            total += n as u64;
        }
        Ok((total, first.map_or(Duration::ZERO, |f| f.elapsed())))
    });
    let writer = in_netns(client_ns, move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        let buf = vec![0x5au8; 128 * 1024];
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < deadline {
            s.write_all(&buf)?;
        }
        s.shutdown(std::net::Shutdown::Write)?;
        Ok(())
    });
    join(writer)?;
    let (bytes, took) = reader
        .join()
        .map_err(|_| Error::from("the reader panicked"))??;
    Ok(bytes as f64 * 8.0 / took.as_secs_f64().max(1e-9) / 1e9)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v.get(n / 2).copied().unwrap_or(f64::NAN),
        n => {
            (v.get(n / 2 - 1).copied().unwrap_or(0.0) + v.get(n / 2).copied().unwrap_or(0.0)) / 2.0
        }
    }
}

/// The chain a verdict map sends `ip` to, and its rule count.
fn chain_of(rs: &Ruleset, egress: bool, ip: IpAddr) -> String {
    let map = if egress { &rs.egress } else { &rs.ingress };
    match map.get(&ip) {
        Some(e) => {
            let rules = rs.chains.get(&e.chain).map_or(0, |c| c.rules.len());
            format!("{} ({rules} rules)", e.chain)
        }
        None => "none".to_string(),
    }
}

#[derive(Debug, Default, Clone)]
struct Samples {
    conn: Vec<f64>,
    gbps: Vec<f64>,
    failed: u64,
}

fn scenario(
    o: &Options,
    base: &Cluster,
    pair: (usize, usize, u16),
    which: Scenario,
) -> Result<(), Error> {
    let (ci, si, port) = pair;
    let mut cluster = base.clone();
    let server_node = match which {
        Scenario::SameNode => "node-1",
        Scenario::CrossNode => "node-2",
    };
    if let Some(p) = cluster.pods.get_mut(ci) {
        p.node = Some("node-1".to_string());
    }
    if let Some(p) = cluster.pods.get_mut(si) {
        p.node = Some(server_node.to_string());
    }
    let client = cluster.pods.get(ci).cloned().ok_or("no client pod")?;
    let server = cluster.pods.get(si).cloned().ok_or("no server pod")?;
    let (cip, sip) = (
        *client.ips.first().ok_or("client has no IP")?,
        *server.ips.first().ok_or("server has no IP")?,
    );

    println!(
        "\n== {} : {} -> {} tcp/{port}",
        which.label(),
        client.key(),
        server.key()
    );
    let mut rulesets = Vec::new();
    for node in ["node-1", "node-2"] {
        let started = Instant::now();
        let rs = compile(&cluster, node);
        let compiled = started.elapsed();
        let script = rs.to_nft();
        let local = cluster
            .pods
            .iter()
            .filter(|p| p.node.as_deref() == Some(node))
            .count();
        println!(
            "{node}: {local} local pods, compiled in {compiled:.1?}, {:?}, script {} KiB",
            rs.stats(),
            script.len() / 1024
        );
        rulesets.push((rs, script));
    }
    let (rs_client, _) = rulesets.first().ok_or("no ruleset")?;
    let (rs_server, _) = rulesets
        .get(usize::from(which == Scenario::CrossNode))
        .ok_or("no ruleset")?;
    let packet = |port| Packet {
        src: cip,
        dst: sip,
        transport: Transport::Port(Probe {
            protocol: Protocol::Tcp,
            port,
        }),
    };
    println!(
        "path: egress {} on node-1, ingress {} on {server_node}",
        chain_of(rs_client, true, cip),
        chain_of(rs_server, false, sip)
    );
    for (rs, name) in [(rs_client, "node-1"), (rs_server, server_node)] {
        if rs.decide(&packet(port)) != Decision::Accept {
            return Err(format!("{name}'s ruleset does not accept the measured connection").into());
        }
    }

    // Only the two measured pods get namespaces; the plan keeps their cluster addresses.
    let small = Cluster {
        namespaces: cluster.namespaces.clone(),
        pods: {
            let mut v = vec![client.clone(), server.clone()];
            v.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            v
        },
        policies: Vec::new(),
    };
    let config = LabConfig {
        nodes: 2,
        ..LabConfig::default()
    };
    let plan = plan(&small, &config)?;
    let names = RunNames::fresh(&netns::list());
    // An owner file, so a concurrent `palisade lab clean` leaves this live run alone.
    let run_dir = names.run_dir();
    std::fs::create_dir_all(&run_dir)?;
    std::fs::write(run_dir.join("owner"), std::process::id().to_string())?;
    let result = (|| -> Result<(), Error> {
        let topology = Topology::build(&plan, names.clone())?;
        let ns_of = |key: &str| -> Result<String, Error> {
            let i = plan
                .endpoints
                .iter()
                .position(|e| e.name == key)
                .ok_or("endpoint not planned")?;
            Ok(topology.endpoint_netns.get(i).cloned().unwrap_or_default())
        };
        let (client_ns, server_ns) = (ns_of(&client.key())?, ns_of(&server.key())?);
        let nodes: Vec<String> = (0..2)
            .map(|i| topology.node_ns(i).unwrap_or_default().to_string())
            .collect();
        sysctls(
            &client_ns,
            &[
                ("net.ipv4.ip_local_port_range", "1024 65535"),
                ("net.ipv4.tcp_tw_reuse", "1"),
            ],
        )?;
        let addr = SocketAddr::new(sip, port);

        // The rules are really in force: a port the policies do not open is dropped.
        let closed =
            (1..1024u16).find(|&p| p != port && rs_server.decide(&packet(p)) == Decision::Drop);
        for (rs, script) in &rulesets {
            let node = if rs.node == "node-1" {
                &nodes[0]
            } else {
                &nodes[1]
            };
            let took = nft(node, script)?;
            println!("{}: nft -f of the full script: {took:.0?}", rs.node);
        }
        if let Some(p) = closed {
            let target = SocketAddr::new(sip, p);
            let res = join(in_netns(&client_ns, move || {
                Ok(
                    TcpStream::connect_timeout(&target, Duration::from_millis(500))
                        .map_err(|e| e.kind()),
                )
            }))?;
            match res {
                Err(std::io::ErrorKind::TimedOut) => {
                    println!("check: tcp/{p} is dropped with the rules loaded (ok)")
                }
                other => return Err(format!("tcp/{p} should be dropped, got {other:?}").into()),
            }
        }
        // Warm up neighbour caches and code paths.
        connection_rate(&server_ns, &client_ns, addr, o.clients, 0.5)?;

        let mut samples: Vec<Samples> = vec![Samples::default(); Variant::ALL.len()];
        let mut loads = Vec::new();
        for round in 1..=o.rounds {
            // Every other round runs the variants backwards, so no variant always comes first.
            let mut order: Vec<(usize, &Variant)> = Variant::ALL.iter().enumerate().collect();
            if round % 2 == 0 {
                order.reverse();
            }
            for (vi, v) in order {
                for (k, node) in nodes.iter().enumerate() {
                    match v {
                        Variant::NoRules => {
                            nft(node, "table inet palisade {}\ndelete table inet palisade\n")?;
                        }
                        Variant::ConntrackOnly => {
                            nft(node, CT_ONLY)?;
                        }
                        Variant::Policies => {
                            let (_, script) = rulesets.get(k).ok_or("no ruleset")?;
                            loads.push(nft(node, script)?.as_secs_f64() * 1e3);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
                let (rate, failed) =
                    connection_rate(&server_ns, &client_ns, addr, o.clients, o.conn_secs)?;
                let gbps = bulk(&server_ns, &client_ns, addr, o.bulk_secs)?;
                println!(
                    "round {round} {:<15} {:>9.0} conn/s ({failed} failed)  {:>6.2} Gbit/s",
                    v.label(),
                    rate,
                    gbps
                );
                if let Some(s) = samples.get_mut(vi) {
                    s.conn.push(rate);
                    s.gbps.push(gbps);
                    s.failed += failed;
                }
            }
        }
        let base_conn = median(&samples.first().map(|s| s.conn.clone()).unwrap_or_default());
        let base_gbps = median(&samples.first().map(|s| s.gbps.clone()).unwrap_or_default());
        println!(
            "\nsummary ({}, medians of {} rounds, {} clients):",
            which.label(),
            o.rounds,
            o.clients
        );
        println!(
            "{:<15} {:>10} {:>8} {:>10} {:>8} {:>7}",
            "variant", "conn/s", "ratio", "Gbit/s", "ratio", "failed"
        );
        for (v, s) in Variant::ALL.iter().zip(&samples) {
            let (c, g) = (median(&s.conn), median(&s.gbps));
            println!(
                "{:<15} {:>10.0} {:>7.1}% {:>10.2} {:>7.1}% {:>7}",
                v.label(),
                c,
                100.0 * c / base_conn,
                g,
                100.0 * g / base_gbps,
                s.failed
            );
        }
        // Paired ratios: each round's variant against the same round's baseline, which cancels
        // slow drifts of the machine's load better than a ratio of medians.
        let paired = |vi: usize, pick: fn(&Samples) -> &Vec<f64>| -> f64 {
            let (Some(b), Some(s)) = (samples.first(), samples.get(vi)) else {
                return f64::NAN;
            };
            let r: Vec<f64> = pick(s).iter().zip(pick(b)).map(|(x, y)| x / y).collect();
            100.0 * median(&r)
        };
        for (vi, v) in Variant::ALL.iter().enumerate().skip(1) {
            println!(
                "{:<15} median of per-round ratios: conn/s {:.1}%, Gbit/s {:.1}%",
                v.label(),
                paired(vi, |s| &s.conn),
                paired(vi, |s| &s.gbps)
            );
        }
        let policy_share: Vec<f64> = samples
            .get(2)
            .zip(samples.get(1))
            .map(|(p, c)| p.conn.iter().zip(&c.conn).map(|(x, y)| x / y).collect())
            .unwrap_or_default();
        println!(
            "3k policies vs conntrack only (the rules' own share): conn/s {:.1}%",
            100.0 * median(&policy_share)
        );
        println!(
            "nft -f of the full scripts (both nodes, every round): median {:.0} ms",
            median(&loads)
        );
        drop(topology);
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&run_dir);
    result
}

fn main() -> Result<(), Error> {
    let o = parse_options()?;
    palisade_lab::check_preconditions()?;
    palisade_lab::install_signal_cleanup()?;
    let started = Instant::now();
    let cluster = generate(SynthParams {
        namespaces: o.namespaces,
        pods: o.pods,
        policies: o.policies,
        seed: 1,
    });
    println!(
        "synthetic cluster: {} pods, {} namespaces, {} policies ({:.1?})",
        cluster.pods.len(),
        cluster.namespaces.len(),
        cluster.policies.len(),
        started.elapsed()
    );
    let pair = measured_pair(&cluster).ok_or("no allowed pair with both sides isolated")?;
    for &s in &o.scenarios {
        scenario(&o, &cluster, pair, s)?;
    }
    Ok(())
}
