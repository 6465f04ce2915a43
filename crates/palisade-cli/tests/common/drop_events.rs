//! The drop events the lab's agents write (`--drop-events`), and what the engine says each
//! denied probe's event must contain.

use std::path::{Path, PathBuf};

use palisade_core::eval::{Endpoint, Probe, SideVerdict, evaluate};
use palisade_core::model::Cluster;

/// One node's events file in `dir`.
pub fn events_file(dir: &Path, node: &str) -> PathBuf {
    dir.join(format!("{node}.jsonl"))
}

/// What the agent must say about one denied probe.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expected {
    pub direction: String,
    pub src: String,
    pub dst: String,
    pub protocol: String,
    pub port: u16,
    pub policies: Vec<String>,
}

/// Every drop event (not the rate limiter's summaries) of every events file in `dir`.
pub fn drop_events(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        out.extend(
            text.lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|v| v.get("summary").is_none()),
        );
    }
    out
}

/// An event's attribution, in the shape of [`Expected`].
pub fn as_expected(v: &serde_json::Value) -> Option<Expected> {
    let s = |k: &str| v.get(k)?.as_str().map(str::to_string);
    Some(Expected {
        direction: s("direction")?,
        src: s("src")?,
        dst: s("dst")?,
        protocol: s("protocol")?,
        port: u16::try_from(v.get("port")?.as_u64()?).ok()?,
        policies: v
            .get("policies")?
            .as_array()?
            .iter()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect(),
    })
}

/// The attribution `evaluate` gives a denied probe: the source's egress is checked first, the
/// destination's ingress only if egress let it out.
pub fn expected_drop(
    cluster: &Cluster,
    names: &[String],
    from: usize,
    to: usize,
    probe: Probe,
) -> Expected {
    let verdict = evaluate(cluster, Endpoint::Pod(from), Endpoint::Pod(to), probe);
    let (direction, side) = if verdict.egress.allows() {
        ("ingress", verdict.ingress.clone())
    } else {
        ("egress", verdict.egress.clone())
    };
    let SideVerdict::Denied { isolated_by, .. } = side else {
        panic!("denied pair without a denying side: {verdict:?}");
    };
    let mut policies: Vec<String> = isolated_by
        .iter()
        .filter_map(|&i| cluster.policies.get(i).map(|p| p.key()))
        .collect();
    policies.sort();
    Expected {
        direction: direction.into(),
        src: names[from].clone(),
        dst: names[to].clone(),
        protocol: probe.protocol.to_string().to_lowercase(),
        port: probe.port,
        policies,
    }
}
