//! `palisade why`: one connection's verdict and the exact reasons on each side.

use std::fmt::Write as _;
use std::net::IpAddr;

use palisade_core::eval::{self, Endpoint, NearMiss, RuleRef, SideVerdict, Unrestricted};
use palisade_core::model::{Cluster, Direction, Peers, Ports};
use palisade_core::source::Location;

use crate::cli::{WhyArgs, probe_label};
use crate::inputs::analyze_for_answer;
use crate::{ColorChoice, Exit};

pub fn run(args: WhyArgs, color: ColorChoice) -> Exit {
    let analysis = match args
        .inputs
        .resolve()
        .and_then(|inputs| analyze_for_answer(&inputs, color))
    {
        Ok(a) => a,
        Err(exit) => return exit,
    };
    let cluster = &analysis.cluster;
    let (from, to) = match (resolve(cluster, &args.from), resolve(cluster, &args.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let verdict = eval::evaluate(cluster, from, to, args.probe);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} -> {} on {}",
        if verdict.allowed { "ALLOWED" } else { "DENIED" },
        name(cluster, from),
        name(cluster, to),
        probe_label(&args.probe)
    );
    let loc = |span| crate::commands::explain::at(span, &analysis);
    side(
        &mut out,
        cluster,
        "source",
        from,
        Direction::Egress,
        &verdict.egress,
        &loc,
    );
    side(
        &mut out,
        cluster,
        "destination",
        to,
        Direction::Ingress,
        &verdict.ingress,
        &loc,
    );
    super::print_stdout(&(crate::inputs::invalid_first_line(&analysis, "") + &out));
    crate::inputs::finish(analysis)
}

/// `ns/name`, `name` (namespace default) or an IP address (a pod's, if one has it).
fn resolve(cluster: &Cluster, s: &str) -> Result<Endpoint, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        let pod = cluster.pods.iter().position(|p| p.ips.contains(&ip));
        return Ok(pod.map_or(Endpoint::External(ip), Endpoint::Pod));
    }
    let (ns, pod_name) = s
        .split_once('/')
        .unwrap_or((palisade_core::DEFAULT_NAMESPACE, s));
    if let Some(i) = cluster
        .pods
        .iter()
        .position(|p| p.namespace == ns && p.name == pod_name)
    {
        return Ok(Endpoint::Pod(i));
    }
    let elsewhere: Vec<String> = cluster
        .pods
        .iter()
        .filter(|p| p.name == pod_name)
        .map(|p| p.key())
        .collect();
    let hint = if elsewhere.is_empty() {
        "write NAMESPACE/NAME of a pod or workload in the inputs, or an IP address".to_string()
    } else {
        format!("did you mean {}?", elsewhere.join(" or "))
    };
    Err(format!("no pod `{ns}/{pod_name}` in the inputs; {hint}"))
}

fn name(cluster: &Cluster, e: Endpoint) -> String {
    match e {
        Endpoint::Pod(i) => cluster.pods[i].key(),
        Endpoint::External(ip) => ip.to_string(),
    }
}

fn side(
    out: &mut String,
    cluster: &Cluster,
    role: &str,
    endpoint: Endpoint,
    direction: Direction,
    verdict: &SideVerdict,
    loc: &dyn Fn(Option<palisade_core::source::Span>) -> String,
) {
    let who = name(cluster, endpoint);
    let dir = direction.as_str();
    let _ = write!(out, "\n{role} {who} ({dir}): ");
    match verdict {
        SideVerdict::Unrestricted(reason) => {
            let why = match reason {
                Unrestricted::NotIsolated => match endpoint {
                    Endpoint::Pod(i) => format!(
                        "not isolated: no NetworkPolicy in namespace {} selects it for {dir}",
                        cluster.pods[i].namespace
                    ),
                    Endpoint::External(_) => "not a pod: imposes nothing".to_string(),
                },
                Unrestricted::NotAPod => "not a pod: a non-pod side imposes nothing".to_string(),
                Unrestricted::HostNetwork => {
                    "hostNetwork pod: not subject to NetworkPolicy".to_string()
                }
                Unrestricted::SamePod => "same pod: a pod may always reach itself".to_string(),
                Unrestricted::OwnNode => {
                    "node traffic: a pod and its own node may always talk".to_string()
                }
            };
            let _ = writeln!(out, "allowed ({why})");
        }
        SideVerdict::Allowed { by } => {
            let _ = writeln!(out, "allowed by");
            for r in by {
                let _ = writeln!(out, "  - {}", rule_text(cluster, r, loc));
            }
        }
        SideVerdict::Denied {
            isolated_by,
            near_misses,
        } => {
            let _ = writeln!(out, "DENIED");
            let _ = writeln!(out, "  isolated for {dir} by:");
            for &p in isolated_by {
                let policy = &cluster.policies[p];
                let rules = policy.rules(direction).map_or(0, <[_]>::len);
                let _ = writeln!(
                    out,
                    "  - NetworkPolicy {} ({} {dir} rule{}){}",
                    policy.key(),
                    rules,
                    if rules == 1 { "" } else { "s" },
                    loc(policy.span)
                );
            }
            let _ = writeln!(
                out,
                "  and none of their {dir} rules allows this connection"
            );
            if !near_misses.is_empty() {
                let _ = writeln!(out, "  closest rules:");
            }
            for NearMiss { rule, reason } in near_misses {
                let _ = writeln!(out, "  - {}: {reason}", rule_path(cluster, rule));
            }
        }
    }
}

/// `spec.egress[1]` of `ns/policy`, and which peer and port items matched.
fn rule_text(
    cluster: &Cluster,
    r: &RuleRef,
    loc: &dyn Fn(Option<palisade_core::source::Span>) -> String,
) -> String {
    let policy = &cluster.policies[r.policy];
    let rule = policy
        .rules(r.direction)
        .and_then(|rules| rules.get(r.rule));
    let peer_field = match r.direction {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    };
    let peer = match (r.peer, rule.map(|x| &x.peers)) {
        (Some(i), _) => format!("{peer_field}[{i}] matches"),
        (None, Some(Peers::Any)) | (None, None) => format!("no `{peer_field}`: every peer"),
        (None, Some(Peers::OneOf(_))) => format!("{peer_field} matches"),
    };
    let port = match (r.port, rule.map(|x| &x.ports)) {
        (Some(i), _) => format!("ports[{i}] matches"),
        (None, Some(Ports::Any)) | (None, None) => "no `ports`: every port".to_string(),
        (None, Some(Ports::OneOf(_))) => "ports match".to_string(),
    };
    format!(
        "{} ({peer}; {port}){}",
        rule_path(cluster, r),
        loc(rule.and_then(|x| x.span).or(policy.span))
    )
}

fn rule_path(cluster: &Cluster, r: &RuleRef) -> String {
    format!(
        "NetworkPolicy {} spec.{}[{}]",
        cluster.policies[r.policy].key(),
        r.direction.as_str(),
        r.rule
    )
}

#[allow(dead_code)]
fn location_text(l: &Location) -> String {
    l.to_string()
}
