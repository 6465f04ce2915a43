//! The kernel's named counters -> per-policy rows -> Prometheus counters.
//!
//! ```text
//!   nft -j list counters table inet palisade ─parse─> (name, packets, bytes)
//!   Ruleset::counters[name] = CounterDef ─rows─> CounterRow { namespace, policy, rule, direction, verdict }
//!                                        └─pod_labels─> (namespace, pod, direction): drops per pod
//!   Deltas: value - last value (a value below the last means the object was recreated by a
//!           full load: count it from zero) ─> Observer::policy_counted
//! ```
//!
//! Counter objects sit outside the chains, so the chains being shared by pods, or a policy
//! rule compiling to several nft rules, does not matter: one object per policy rule.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use palisade_nft::{CounterDef, Ruleset, TABLE, TABLE_FAMILY};

use crate::metrics::PolicyLabels;

/// One named counter as the kernel reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCounter {
    pub name: String,
    pub packets: u64,
    pub bytes: u64,
}

/// A counter mapped back to what it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterRow {
    pub labels: PolicyLabels,
    pub packets: u64,
    pub bytes: u64,
}

/// Runs `nft -j list counters table inet palisade` in the caller's network namespace.
pub fn read(nft: &Path) -> Result<Vec<RawCounter>, String> {
    let out = Command::new(nft)
        .args(["-j", "list", "counters", "table", TABLE_FAMILY, TABLE])
        .output()
        .map_err(|e| format!("{}: {e}", nft.display()))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// The counter objects of nft's JSON output (`{"nftables": [{"counter": {...}}, ...]}`).
pub fn parse(json: &str) -> Result<Vec<RawCounter>, String> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let items = value
        .get("nftables")
        .and_then(|v| v.as_array())
        .ok_or("no `nftables` array")?;
    Ok(items
        .iter()
        .filter_map(|item| {
            let c = item.get("counter")?;
            Some(RawCounter {
                name: c.get("name")?.as_str()?.to_string(),
                packets: c.get("packets")?.as_u64()?,
                bytes: c.get("bytes")?.as_u64()?,
            })
        })
        .collect())
}

/// The labels of a policy counter; `None` for a per-pod counter ([`pod_labels`]).
pub fn labels(def: &CounterDef) -> Option<PolicyLabels> {
    Some(match def {
        CounterDef::Allowed {
            namespace,
            policy,
            direction,
            rule,
        } => PolicyLabels {
            namespace: namespace.clone(),
            policy: policy.clone(),
            rule: rule.to_string(),
            direction: direction.as_str().into(),
            verdict: "allowed".into(),
        },
        CounterDef::Denied {
            namespace,
            policy,
            direction,
        } => PolicyLabels {
            namespace: namespace.clone(),
            policy: policy.clone(),
            rule: String::new(),
            direction: direction.as_str().into(),
            verdict: "denied".into(),
        },
        CounterDef::Guard { direction } => PolicyLabels {
            direction: direction.as_str().into(),
            verdict: "guard".into(),
            ..PolicyLabels::default()
        },
        CounterDef::PodDenied { .. } => return None,
    })
}

/// `(namespace, pod, direction)` of a per-pod counter.
pub fn pod_labels(def: &CounterDef) -> Option<(&str, &str, &'static str)> {
    match def {
        CounterDef::PodDenied {
            namespace,
            pod,
            direction,
        } => Some((namespace, pod, direction.as_str())),
        _ => None,
    }
}

/// Maps raw policy counters to rows through the ruleset in force; counters it does not know (a
/// table from another version) and per-pod counters are left out.
pub fn rows(raw: &[RawCounter], ruleset: &Ruleset) -> Vec<CounterRow> {
    let mut rows: Vec<CounterRow> = raw
        .iter()
        .filter_map(|c| {
            Some(CounterRow {
                labels: labels(ruleset.counters.get(&c.name)?)?,
                packets: c.packets,
                bytes: c.bytes,
            })
        })
        .collect();
    rows.sort_by(|a, b| a.labels.cmp(&b.labels));
    rows
}

/// Turns absolute kernel values into increments for Prometheus counters.
#[derive(Debug, Default)]
pub struct Deltas {
    last: HashMap<String, (u64, u64)>,
}

impl Deltas {
    /// `(name, packets, bytes)` added since the last call.
    pub fn update(&mut self, raw: &[RawCounter]) -> Vec<(String, u64, u64)> {
        let mut out = Vec::new();
        let mut seen = HashMap::with_capacity(raw.len());
        for c in raw {
            let (packets, bytes) = match self.last.get(&c.name) {
                // Lower than before: recreated by a full load, counting from zero again.
                Some(&(p, b)) if c.packets >= p && c.bytes >= b => (c.packets - p, c.bytes - b),
                _ => (c.packets, c.bytes),
            };
            if packets > 0 || bytes > 0 {
                out.push((c.name.clone(), packets, bytes));
            }
            seen.insert(c.name.clone(), (c.packets, c.bytes));
        }
        self.last = seen;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded from nft 1.0.6 on this project's lab (names shortened).
    const RECORDED: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"counter": {"family": "inet", "name": "allow-a", "table": "palisade", "handle": 3, "comment": "allow prod/web ingress[0]", "packets": 7, "bytes": 420}}, {"counter": {"family": "inet", "name": "deny-a", "table": "palisade", "handle": 4, "comment": "deny prod/web ingress", "packets": 2, "bytes": 120}}]}"#;

    #[test]
    fn parses_nft_json() {
        let raw = parse(RECORDED).expect("parses");
        assert_eq!(
            raw,
            [
                RawCounter {
                    name: "allow-a".into(),
                    packets: 7,
                    bytes: 420
                },
                RawCounter {
                    name: "deny-a".into(),
                    packets: 2,
                    bytes: 120
                },
            ]
        );
        assert!(parse("not json").is_err());
        assert!(parse("{}").is_err());
    }

    #[test]
    fn rows_name_policy_rule_direction_and_verdict() {
        use palisade_test_support::builders as b;
        let cluster = b::mk_cluster(
            vec![b::ns("prod", &[])],
            vec![b::mk_pod("prod", "db", |p| {
                p.ips = vec![b::ip("10.0.1.2")];
                p.node = Some("n1".into());
            })],
            vec![b::mk_policy("prod", "db", |p| {
                p.ingress = Some(vec![
                    b::rule(vec![], vec![b::tcp(5432)]),
                    b::rule(vec![], vec![b::tcp(9187)]),
                ]);
            })],
        );
        let options = palisade_nft::CompileOptions {
            counters: true,
            ..Default::default()
        };
        let ruleset = palisade_nft::compile_with(&cluster, "n1", &options);
        let raw: Vec<RawCounter> = ruleset
            .counters
            .keys()
            .enumerate()
            .map(|(i, name)| RawCounter {
                name: name.clone(),
                packets: i as u64 + 1,
                bytes: 60 * (i as u64 + 1),
            })
            .chain([RawCounter {
                name: "unknown".into(),
                packets: 9,
                bytes: 9,
            }])
            .collect();
        let got: Vec<(String, String, String, String)> = rows(&raw, &ruleset)
            .into_iter()
            .map(|r| {
                let l = r.labels;
                (
                    format!("{}/{}", l.namespace, l.policy),
                    l.rule,
                    l.direction,
                    l.verdict,
                )
            })
            .collect();
        let want = [
            ("prod/db", "", "ingress", "denied"),
            ("prod/db", "0", "ingress", "allowed"),
            ("prod/db", "1", "ingress", "allowed"),
        ];
        let want: Vec<(String, String, String, String)> = want
            .iter()
            .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
            .collect();
        assert_eq!(
            got, want,
            "the pod counter and unknown names are not policy rows"
        );
    }

    #[test]
    fn deltas_count_increments_and_survive_a_reload() {
        let c = |p, b| {
            vec![RawCounter {
                name: "x".into(),
                packets: p,
                bytes: b,
            }]
        };
        let mut d = Deltas::default();
        assert_eq!(d.update(&c(5, 500)), [("x".to_string(), 5, 500)]);
        assert_eq!(d.update(&c(5, 500)), []);
        assert_eq!(d.update(&c(8, 800)), [("x".to_string(), 3, 300)]);
        // A full load recreated the object: 2 new packets, not -6.
        assert_eq!(d.update(&c(2, 200)), [("x".to_string(), 2, 200)]);
    }
}
