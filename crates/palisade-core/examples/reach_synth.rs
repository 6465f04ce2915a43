//! Computes reachability over a synthetic cluster once and prints timings and sizes; run it
//! under `/usr/bin/time -v` for the peak RSS figure in BENCHMARKS.md.
//!
//! ```text
//! cargo run --release -p palisade-core --example reach_synth -- PODS NAMESPACES POLICIES [SEED] [--verify N]
//! ```
//!
//! `--compute-only` skips expanding a truth table (100 M booleans at 10k pods), so the peak RSS
//! is that of the reachability itself. `--verify N` also checks N pseudo-random pairs on a few probes against `evaluate()`.

use std::process::ExitCode;
use std::time::Instant;

use palisade_core::eval::{Endpoint, Probe, evaluate};
use palisade_core::model::Protocol;
use palisade_core::reach::Reachability;
use palisade_test_support::synth::{SynthParams, generate};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut numbers = Vec::new();
    let mut verify = 0usize;
    let mut table_too = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--compute-only" {
            table_too = false;
        } else if a == "--verify" {
            verify = it.next().and_then(|v| v.parse().ok()).unwrap_or(1000);
        } else if let Ok(n) = a.parse::<u64>() {
            numbers.push(n);
        } else {
            eprintln!(
                "usage: reach_synth PODS NAMESPACES POLICIES [SEED] [--verify N] [--compute-only]"
            );
            return ExitCode::from(2);
        }
    }
    let get = |i: usize, default: u64| numbers.get(i).copied().unwrap_or(default);
    let params = SynthParams {
        pods: get(0, 10_000) as usize,
        namespaces: get(1, 50) as usize,
        policies: get(2, 3_000) as usize,
        seed: get(3, 1),
    };

    let t = Instant::now();
    let cluster = generate(params);
    let generated = t.elapsed();
    let t = Instant::now();
    let reach = Reachability::compute(&cluster, &[]);
    let computed = t.elapsed();
    let probe = Probe {
        protocol: Protocol::Tcp,
        port: 8080,
    };

    println!("params      {params:?}");
    println!(
        "cluster     {} pods, {} namespaces, {} policies",
        cluster.pods.len(),
        cluster.namespaces.len(),
        cluster.policies.len()
    );
    println!("stats       {:?}", reach.stats());
    println!("generate    {generated:?}");
    println!("compute     {computed:?}");
    if table_too {
        let t = Instant::now();
        let table = reach.allowed_matrix(probe);
        let expanded = t.elapsed();
        let allowed: usize = table.iter().map(|r| r.iter().filter(|&&b| b).count()).sum();
        println!(
            "truth table {expanded:?} (tcp/8080: {allowed} of {} pairs allowed)",
            reach.len() * reach.len()
        );
    }

    if verify > 0 {
        let probes = [
            probe,
            Probe {
                protocol: Protocol::Tcp,
                port: 5432,
            },
            Probe {
                protocol: Protocol::Udp,
                port: 53,
            },
            Probe {
                protocol: Protocol::Tcp,
                port: 9090,
            },
        ];
        let n = reach.len().max(1);
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        let t = Instant::now();
        let mut mismatches = 0;
        let mut allowed = 0;
        for _ in 0..verify {
            let (i, j) = (next(), next());
            for p in probes {
                let exact = evaluate(&cluster, Endpoint::Pod(i), Endpoint::Pod(j), p).allowed;
                allowed += usize::from(exact);
                if exact != reach.allowed(i, j, p) {
                    mismatches += 1;
                    eprintln!(
                        "MISMATCH {} -> {} {p}",
                        cluster.pods[i].key(),
                        cluster.pods[j].key()
                    );
                }
            }
        }
        println!(
            "verify      {verify} pairs x {} probes against evaluate(): {allowed} allowed, {mismatches} mismatches ({:?})",
            probes.len(),
            t.elapsed()
        );
        if mismatches > 0 {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
