//! NetworkPolicy spec rules: `ValidateNetworkPolicySpec`, `ValidateNetworkPolicyPort`,
//! `ValidateNetworkPolicyPeer` and `ValidateIPBlock` (kubernetes
//! `pkg/apis/networking/validation/validation.go`), the CIDR warnings the NetworkPolicy
//! strategy adds (`GetWarningsForCIDR`), and one palisade lint (P212).

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::ip::{self, SloppyCidr};
use super::meta::{self, Selects};
use super::{FieldIssue, codes, names};
use crate::path::FieldPath;

/// The protocols a NetworkPolicy port (and a container port) may name, case-sensitive.
pub(super) const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

const POLICY_TYPES: [&str; 2] = ["Ingress", "Egress"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Ingress,
    Egress,
}

impl Side {
    fn list(self) -> &'static str {
        match self {
            Side::Ingress => "from",
            Side::Egress => "to",
        }
    }

    fn peer_word(self) -> &'static str {
        match self {
            Side::Ingress => "source",
            Side::Egress => "destination",
        }
    }
}

pub(super) fn network_policy(out: &mut Vec<FieldIssue>, np: &NetworkPolicy) {
    // A missing spec decodes to the zero value in the API server: nothing to validate.
    let Some(spec) = &np.spec else { return };
    let path = FieldPath::root().field("spec");
    if let Some(selector) = &spec.pod_selector {
        meta::label_selector(out, selector, &path.field("podSelector"), Selects::Pods);
    }
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        let at = path.field("ingress").index(i);
        for (j, port) in rule.ports.iter().flatten().enumerate() {
            port_item(out, port, &at.field("ports").index(j));
        }
        for (j, peer) in rule.from.iter().flatten().enumerate() {
            peer_item(out, peer, &at.field("from").index(j), Side::Ingress);
        }
    }
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        let at = path.field("egress").index(i);
        for (j, port) in rule.ports.iter().flatten().enumerate() {
            port_item(out, port, &at.field("ports").index(j));
        }
        for (j, peer) in rule.to.iter().flatten().enumerate() {
            peer_item(out, peer, &at.field("to").index(j), Side::Egress);
        }
    }
    policy_types(
        out,
        spec.policy_types.as_deref().unwrap_or(&[]),
        spec.ingress.as_ref().map_or(0, Vec::len),
        spec.egress.as_ref().map_or(0, Vec::len),
        &path,
    );
}

fn case_insensitive<'a>(value: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value.trim()))
        .copied()
}

/// policyTypes: at most two entries, each `Ingress` or `Egress`. The API server does not reject
/// a repeated entry (`["Ingress", "Ingress"]` passes both checks), so palisade only warns.
fn policy_types(
    out: &mut Vec<FieldIssue>,
    types: &[String],
    ingress_rules: usize,
    egress_rules: usize,
    spec: &FieldPath,
) {
    let at = spec.field("policyTypes");
    let listed = types
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ");
    if types.len() > POLICY_TYPES.len() {
        out.push(
            FieldIssue::error(
                codes::INVALID_POLICY_TYPE,
                at,
                format!(
                    "policyTypes has {} entries ({listed}); at most two are allowed",
                    types.len()
                ),
            )
            .with_label("too many policy types")
            .with_help(
                "list `Ingress` and `Egress` at most once each: `policyTypes: [Ingress, Egress]`",
            ),
        );
        return;
    }
    let mut all_valid = true;
    for (i, t) in types.iter().enumerate() {
        if !POLICY_TYPES.contains(&t.as_str()) {
            all_valid = false;
            let help = match case_insensitive(t, &POLICY_TYPES) {
                Some(s) => format!("did you mean `{s}`? Policy types are case-sensitive"),
                None => "use `Ingress` or `Egress` (case-sensitive)".to_string(),
            };
            out.push(
                FieldIssue::error(
                    codes::INVALID_POLICY_TYPE,
                    at.index(i),
                    format!("unsupported policy type \"{t}\""),
                )
                .with_label("not Ingress or Egress")
                .with_help(help),
            );
        } else if types[..i].contains(t) {
            out.push(
                FieldIssue::warning(
                    codes::DUPLICATE_POLICY_TYPE,
                    at.index(i),
                    format!("policy type \"{t}\" is listed twice"),
                )
                .with_label("duplicate")
                .with_help("remove the repeated entry; it changes nothing"),
            );
        }
    }
    if types.is_empty() || !all_valid {
        return;
    }
    for (side, count, field) in [
        ("Ingress", ingress_rules, "ingress"),
        ("Egress", egress_rules, "egress"),
    ] {
        if count > 0 && !types.iter().any(|t| t == side) {
            let rules = if count == 1 { "rule" } else { "rules" };
            out.push(
                FieldIssue::warning(
                    codes::IGNORED_RULES,
                    spec.field(field),
                    format!(
                        "spec.{field} has {count} {rules} but policyTypes ({listed}) does not \
                         include {side}: they have no effect"
                    ),
                )
                .with_label(format!("ignored: {side} not in policyTypes"))
                .with_help(format!(
                    "add `{side}` to policyTypes to enforce these rules, or remove spec.{field}"
                )),
            );
        }
    }
}

/// A likely intended endPort when `end < port`: the digits of `end` replacing the tail of
/// `port` (8080 and 90 -> 8090), else the two bounds swapped.
fn end_port_help(port: i32, end: i32) -> String {
    let head = format!("endPort must be >= port ({port})");
    let (port_text, end_text) = (port.to_string(), end.to_string());
    if end >= 0 && end_text.len() < port_text.len() {
        let keep = port_text.len() - end_text.len();
        if let Some(prefix) = port_text.get(..keep)
            && let Ok(candidate) = format!("{prefix}{end_text}").parse::<i32>()
            && candidate > port
            && candidate <= 65535
        {
            return format!("{head}; did you mean `endPort: {candidate}`?");
        }
    }
    if end >= 1 {
        format!("{head}; if the bounds are swapped, write `port: {end}` and `endPort: {port}`")
    } else {
        head
    }
}

fn port_item(out: &mut Vec<FieldIssue>, port: &NetworkPolicyPort, at: &FieldPath) {
    // Defaulting only fills a missing protocol (SetDefaults_NetworkPolicyPort), so an empty
    // string is rejected.
    if let Some(protocol) = &port.protocol
        && !PROTOCOLS.contains(&protocol.as_str())
    {
        out.push(protocol_issue(protocol, at.field("protocol")));
    }
    match &port.port {
        Some(IntOrString::Int(number)) => {
            let number = *number;
            if !names::port_number(i64::from(number)).is_empty() {
                out.push(
                    FieldIssue::error(
                        codes::INVALID_PORT_NUMBER,
                        at.field("port"),
                        format!("port {number} is out of range 1-65535"),
                    )
                    .with_label("not a port number")
                    .with_help(if number == 0 {
                        "to allow every port of the protocol, omit `port`".to_string()
                    } else {
                        "ports are numbered 1 to 65535".to_string()
                    }),
                );
            }
            if let Some(end) = port.end_port {
                if end < number {
                    out.push(
                        FieldIssue::error(
                            codes::INVALID_END_PORT,
                            at.field("endPort"),
                            format!("endPort {end} is below port {number}"),
                        )
                        .with_label("endPort below port")
                        .with_help(end_port_help(number, end)),
                    );
                }
                if !names::port_number(i64::from(end)).is_empty() {
                    out.push(
                        FieldIssue::error(
                            codes::INVALID_PORT_NUMBER,
                            at.field("endPort"),
                            format!("endPort {end} is out of range 1-65535"),
                        )
                        .with_label("not a port number")
                        .with_help("port ranges end at 65535 at most"),
                    );
                }
            }
        }
        Some(IntOrString::String(name)) => {
            if let Some(end) = port.end_port {
                out.push(
                    FieldIssue::error(
                        codes::INVALID_END_PORT,
                        at.field("endPort"),
                        format!("endPort {end} cannot follow the named port \"{name}\""),
                    )
                    .with_label("needs a numeric port")
                    .with_help(format!(
                        "a range needs numeric bounds: write the first port number in `port`, \
                         or remove `endPort: {end}` to match the port named \"{name}\""
                    )),
                );
            }
            let reasons = names::port_name(name);
            if !reasons.is_empty() {
                let help = if let Ok(n) = name.trim().parse::<u32>() {
                    format!(
                        "a quoted number is a port name; write the number unquoted: `port: {n}`"
                    )
                } else {
                    match names::suggest_port_name(name) {
                        Some(s) => format!(
                            "did you mean `port: {s}`? The name must match a container port name \
                             on the pods"
                        ),
                        None => "port names are at most 15 lower case letters, digits and '-', \
                                 with at least one letter"
                            .to_string(),
                    }
                };
                out.push(
                    FieldIssue::error(
                        codes::INVALID_PORT_NAME,
                        at.field("port"),
                        format!("invalid port name \"{name}\": {}", reasons.join("; ")),
                    )
                    .with_label("not a valid port name")
                    .with_help(help),
                );
            }
        }
        None => {
            if let Some(end) = port.end_port {
                out.push(
                    FieldIssue::error(
                        codes::INVALID_END_PORT,
                        at.field("endPort"),
                        format!("endPort {end} is set but port is not"),
                    )
                    .with_label("endPort without port")
                    .with_help(format!(
                        "add the first port of the range (`port: <first>` with `endPort: {end}`), \
                         or remove endPort to allow every port"
                    )),
                );
            }
        }
    }
}

/// P220, shared with container ports.
pub(super) fn protocol_issue(protocol: &str, at: FieldPath) -> FieldIssue {
    let help = match case_insensitive(protocol, &PROTOCOLS) {
        Some(s) => format!("did you mean `protocol: {s}`? Protocols are upper case"),
        None => "use TCP, UDP or SCTP (upper case); other protocols cannot be matched".to_string(),
    };
    FieldIssue::error(
        codes::INVALID_PROTOCOL,
        at,
        format!("unsupported protocol \"{protocol}\""),
    )
    .with_label("not TCP, UDP or SCTP")
    .with_help(help)
}

fn peer_item(out: &mut Vec<FieldIssue>, peer: &NetworkPolicyPeer, at: &FieldPath, side: Side) {
    let mut kinds = 0;
    if let Some(selector) = &peer.pod_selector {
        kinds += 1;
        meta::label_selector(out, selector, &at.field("podSelector"), Selects::Pods);
    }
    if let Some(selector) = &peer.namespace_selector {
        kinds += 1;
        meta::label_selector(
            out,
            selector,
            &at.field("namespaceSelector"),
            Selects::Namespaces,
        );
    }
    if let Some(block) = &peer.ip_block {
        kinds += 1;
        ip_block(out, block, &at.field("ipBlock"));
    }
    let list = side.list();
    if kinds == 0 {
        out.push(
            FieldIssue::error(
                codes::INVALID_PEER,
                at.clone(),
                format!("empty peer: a `{list}` item must set podSelector, namespaceSelector or ipBlock"),
            )
            .with_label("empty peer")
            .with_help(format!(
                "to allow every {}, remove the `{list}` list; for all pods of this namespace write \
                 `podSelector: {{}}`; for all pods of every namespace write `namespaceSelector: {{}}`",
                side.peer_word()
            )),
        );
    } else if kinds > 1 && peer.ip_block.is_some() {
        let with = match (
            peer.pod_selector.is_some(),
            peer.namespace_selector.is_some(),
        ) {
            (true, true) => "podSelector and namespaceSelector",
            (true, false) => "podSelector",
            _ => "namespaceSelector",
        };
        out.push(
            FieldIssue::error(
                codes::INVALID_PEER,
                at.clone(),
                format!("a peer may not combine ipBlock with {with}"),
            )
            .with_label("ipBlock must stand alone")
            .with_help(format!(
                "split it into separate `{list}` items, which are ORed: one `- ipBlock: ...` and \
                 one `- {}: ...`",
                if peer.pod_selector.is_some() {
                    "podSelector"
                } else {
                    "namespaceSelector"
                }
            )),
        );
    }
}

fn ip_block(out: &mut Vec<FieldIssue>, block: &IPBlock, at: &FieldPath) {
    if block.cidr.is_empty() {
        out.push(
            FieldIssue::error(codes::INVALID_CIDR, at.field("cidr"), "ipBlock has no cidr")
                .with_label("cidr required")
                .with_help(
                    "add e.g. `cidr: 10.0.0.0/8`; `0.0.0.0/0` and `::/0` cover every IPv4 and \
                     IPv6 address",
                ),
        );
        return;
    }
    let Some(cidr) = ip::parse_cidr(&block.cidr) else {
        out.push(invalid_cidr(&block.cidr, at.field("cidr")));
        // ValidateIPBlock stops here: except entries cannot be compared with a broken cidr.
        return;
    };
    cidr_warnings(out, &block.cidr, &cidr, &at.field("cidr"));
    for (i, text) in block.except.iter().flatten().enumerate() {
        let here = at.field("except").index(i);
        let Some(except) = ip::parse_cidr(text) else {
            out.push(invalid_cidr(text, here));
            continue;
        };
        cidr_warnings(out, text, &except, &here);
        // Go: !cidr.Contains(except.IP) || cidrMaskLen >= exceptMaskLen, with the mask lengths
        // as written.
        if !cidr.net.contains(&except.net.network()) || cidr.written_prefix >= except.written_prefix
        {
            let help = if cidr.net.addr().is_ipv4() != except.net.addr().is_ipv4() {
                format!(
                    "except entries must be of the same IP family as the cidr ({})",
                    if cidr.net.addr().is_ipv4() {
                        "IPv4"
                    } else {
                        "IPv6"
                    }
                )
            } else if cidr.net == except.net {
                format!(
                    "an except equal to the cidr ({}) leaves nothing; remove this ipBlock item \
                     instead",
                    cidr.net
                )
            } else if except.net.contains(&cidr.net) {
                format!(
                    "{} is wider than the cidr {}; except entries must be narrower ranges inside it",
                    except.net, cidr.net
                )
            } else {
                format!(
                    "{} lies outside {}: remove it (it excludes nothing) or fix the cidr",
                    except.net, cidr.net
                )
            };
            out.push(
                FieldIssue::error(
                    codes::EXCEPT_OUTSIDE_CIDR,
                    here,
                    format!(
                        "except entry \"{text}\" is not strictly inside cidr \"{}\"",
                        block.cidr
                    ),
                )
                .with_label("not inside cidr")
                .with_help(help),
            );
        }
    }
}

fn invalid_cidr(text: &str, at: FieldPath) -> FieldIssue {
    let help = match text.split_once('/') {
        None => match ip::parse_ip(text) {
            Some(addr) => {
                let bits = if addr.addr.is_ipv4() { 32 } else { 128 };
                format!(
                    "a CIDR needs a prefix length: did you mean `{}/{bits}` (this address only)?",
                    addr.addr
                )
            }
            None => "write an address and a prefix length, e.g. `10.0.0.0/8` or `2001:db8::/32`"
                .to_string(),
        },
        Some((addr, prefix)) if ip::parse_ip(addr).is_some() => {
            let bits = ip::family_bits(addr);
            let family = if bits == 32 { "IPv4" } else { "IPv6" };
            format!("the prefix length \"{prefix}\" must be a number from 0 to {bits} for {family}")
        }
        Some((addr, _)) => {
            format!("\"{addr}\" is not an IP address; write e.g. `10.0.0.0/8` or `2001:db8::/32`")
        }
    };
    FieldIssue::error(codes::INVALID_CIDR, at, format!("invalid CIDR \"{text}\""))
        .with_label("not a CIDR")
        .with_help(help)
}

/// `GetWarningsForCIDR`, in its order; the canonical-form warning only when no other applies.
fn cidr_warnings(out: &mut Vec<FieldIssue>, text: &str, cidr: &SloppyCidr, at: &FieldPath) {
    let mut warned = false;
    if cidr.has_host_bits() {
        warned = true;
        let bits = if cidr.addr.is_ipv4() { 32 } else { 128 };
        out.push(
            FieldIssue::warning(
                codes::NON_STANDARD_CIDR,
                at.clone(),
                format!(
                    "CIDR \"{text}\" has bits set after its prefix length; it is read as {}",
                    cidr.net
                ),
            )
            .with_label(format!("means {}", cidr.net))
            .with_help(format!(
                "write `{}` for the whole network, or `{}/{bits}` for the single address",
                cidr.net, cidr.addr
            )),
        );
    }
    if cidr.is_non_standard() {
        warned = true;
        let what = if cidr.ipv4_mapped {
            "an IPv4-mapped IPv6 address"
        } else {
            "leading zeros"
        };
        out.push(
            FieldIssue::warning(
                codes::NON_STANDARD_CIDR,
                at.clone(),
                format!(
                    "non-standard CIDR \"{text}\" ({what}): accepted today, rejected once \
                     Kubernetes enforces strict IP validation"
                ),
            )
            .with_label("non-standard CIDR")
            .with_help(format!("write `{}`", cidr.net)),
        );
    }
    let canonical = cidr.net.to_string();
    if !warned && cidr.net.addr().is_ipv6() && text != canonical {
        out.push(
            FieldIssue::warning(
                codes::NON_STANDARD_CIDR,
                at.clone(),
                format!("IPv6 CIDR \"{text}\" is not in RFC 5952 canonical form"),
            )
            .with_label("non-canonical IPv6")
            .with_help(format!("write `{canonical}`")),
        );
    }
}
