//! Generated clusters of three independent shapes, written as the manifests a user would feed
//! palisade.
//!
//! ```text
//!   synth    the engine's own synthetic cluster (test-support), as a JSON List
//!   unique   high cardinality: every workload its own labels and named ports, most policies
//!            select one workload, peers named one by one, a few broad namespace peers
//!   apps     many namespaces of multi-tier demo applications (a boutique of microservices,
//!            a guestbook, a voting app, a blog), exported the way `kubectl get -o yaml`
//!            writes pods: ownerReferences, pod-template-hash, status with addresses
//! ```
//!
//! Each shape writes `base.yaml` (namespaces and pods), `policies.yaml` and
//! `policies-changed.yaml` (a tenth of the policies removed, for `diff`), and names a node
//! and a pod pair for the commands that need them.

mod apps;
mod synth;
mod unique;
mod yaml;

use std::fmt;
use std::path::Path;

/// A cluster shape of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    Synth,
    Unique,
    Apps,
}

impl Shape {
    pub const ALL: [Shape; 3] = [Shape::Synth, Shape::Unique, Shape::Apps];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Synth => "synth",
            Shape::Unique => "unique",
            Shape::Apps => "apps",
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a generator produced, besides the files.
#[derive(Debug, Clone)]
pub struct Generated {
    pub pods: usize,
    pub namespaces: usize,
    pub policies: usize,
    /// A node with pods on it, for `compile --node`.
    pub node: String,
    /// A pod pair (`ns/pod`) for `why`, and a namespace to focus on.
    pub from: String,
    pub to: String,
}

/// The manifests of one generated cluster, in memory.
#[derive(Debug, Default)]
pub(crate) struct Manifests {
    pub base: String,
    pub policies: Vec<String>,
    pub namespaces: usize,
    pub pods: usize,
    pub node: String,
    pub from: String,
    pub to: String,
}

/// Writes the cluster of `shape` with about `pods` pods into `dir`.
pub fn generate(shape: Shape, pods: usize, dir: &Path) -> anyhow::Result<Generated> {
    let m = match shape {
        Shape::Synth => synth::generate(pods),
        Shape::Unique => unique::generate(pods),
        Shape::Apps => apps::generate(pods),
    };
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("base.yaml"), &m.base)?;
    std::fs::write(dir.join("policies.yaml"), m.policies.concat())?;
    let changed: String = m
        .policies
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 10 != 3)
        .map(|(_, p)| p.as_str())
        .collect();
    std::fs::write(dir.join("policies-changed.yaml"), changed)?;
    Ok(Generated {
        pods: m.pods,
        namespaces: m.namespaces,
        policies: m.policies.len(),
        node: m.node,
        from: m.from,
        to: m.to,
    })
}

/// SplitMix64: deterministic across platforms and releases.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n == 0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// Five lowercase alphanumerics, as the API server's generateName suffix.
    pub fn suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..5)
            .map(|_| ALPHABET[self.below(ALPHABET.len())] as char)
            .collect()
    }

    /// A pod-template-hash in today's form (up to ten of the same alphabet).
    pub fn template_hash(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..10)
            .map(|_| ALPHABET[self.below(ALPHABET.len())] as char)
            .collect()
    }
}

/// Pod addresses: 10.0.0.0/8 is enough for 16 M pods, handed out in order.
pub(crate) fn pod_ip(n: usize) -> String {
    let n = n + 1;
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// 110 pods per node, as the kubelet's default maximum.
pub(crate) fn node_of(n: usize, pods: usize) -> String {
    let nodes = pods.div_ceil(110).max(1);
    format!("node-{}", n % nodes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::load::yaml::{parse_by_yaml_alone, parse_documents};
    use palisade_core::source::FileId;

    /// The generated clusters are what the fast readers were not written against: whatever
    /// of them they read, and however a big file is cut, the documents and their spans are
    /// the YAML parser's reading the whole text.
    #[test]
    fn generated_manifests_read_as_the_yaml_parser_reads_them() {
        for shape in [Shape::Synth, Shape::Unique, Shape::Apps] {
            let m = match shape {
                Shape::Synth => synth::generate(1000),
                Shape::Unique => unique::generate(1000),
                Shape::Apps => apps::generate(1000),
            };
            for text in [m.base, m.policies.concat()] {
                let fast = parse_documents(FileId(0), &text);
                let yaml = parse_by_yaml_alone(FileId(0), &text);
                assert!(yaml.1.is_empty(), "{}: {:?}", shape.name(), yaml.1);
                assert_eq!(fast.0.len(), yaml.0.len(), "{}", shape.name());
                if let Some(i) = (0..fast.0.len()).find(|&i| fast.0[i] != yaml.0[i]) {
                    panic!("{}: document {i} differs", shape.name());
                }
                assert_eq!(fast.1, yaml.1);
            }
        }
    }
}
