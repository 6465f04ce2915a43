//! nft syntax for every part of a [`Ruleset`], and the full-replacement script.
//!
//! ```text
//!   table inet palisade {}            create it if missing, so that the delete cannot fail
//!   delete table inet palisade        drop whatever was there
//!   table inet palisade { ... }       the new content
//! ```
//!
//! `nft -f` runs one file as one transaction: readers see the old table or the new one, never
//! none, and a file that fails to load leaves the old table in place. Output is sorted (sets,
//! maps, then chains, each by name; elements in order) so equal rulesets print equal text.

use std::fmt::Write as _;
use std::net::IpAddr;

use palisade_core::eval::PortSet;
use palisade_core::model::Protocol;

use crate::compile::prefix_len;
use crate::names;
use crate::ruleset::{
    AddrRange, BASE_CHAIN, BASE_PRIORITY, Chain, ClassMask, CounterDef, Family, Guard,
    LogStatement, MapEntry, MapKind, Match, Rule, Ruleset, Set, SetElements, TABLE, TABLE_FAMILY,
    class_chain, class_map_name,
};

/// `inet palisade`, as commands name the table.
pub(crate) fn table_ref() -> String {
    format!("{TABLE_FAMILY} {TABLE}")
}

/// The nft name of a protocol in `meta l4proto` and set elements.
pub(crate) fn proto(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

fn ports_match(set: &PortSet) -> String {
    let mut items = Vec::new();
    for protocol in Protocol::ALL {
        for &(first, last) in set.ranges(protocol) {
            let p = proto(protocol);
            items.push(if first == last {
                format!("{p} . {first}")
            } else {
                format!("{p} . {first}-{last}")
            });
        }
    }
    format!("meta l4proto . th dport {{ {} }}", items.join(", "))
}

pub(crate) fn render_match(m: &Match, mask: ClassMask) -> String {
    match m {
        Match::Address { family, field, set } => {
            format!("{} {} @{set}", family.keyword(), field.keyword())
        }
        Match::Ports(set) => ports_match(set),
        Match::AddressPort { family, set } => {
            format!(
                "{} daddr . meta l4proto . th dport @{set}",
                family.keyword()
            )
        }
        Match::Class { set } => format!("meta mark & {mask} == @{set}"),
        Match::ClassPort { set } => {
            format!("meta mark & {mask} . meta l4proto . th dport @{set}")
        }
    }
}

/// A class as a set element: its mark bits, as nft lists a mark.
fn mark_element(id: u16, mask: ClassMask) -> String {
    format!("0x{:08x}", mask.mark(id))
}

/// The one rule of a class chain: `meta mark set meta mark ^ 0x002a0000`.
pub(crate) fn class_rule(id: u16, mask: ClassMask) -> String {
    format!("meta mark set meta mark ^ {}", mark_element(id, mask))
}

/// A class map element: `10.0.0.1 : jump class-002a`.
pub(crate) fn class_element(ip: &IpAddr, id: u16) -> String {
    format!("{ip} : jump {}", class_chain(id))
}

/// `limit rate 10/second burst 20 packets log prefix "palisade eg-..." group 100`.
fn log_statement(log: &LogStatement) -> String {
    format!(
        "limit rate {}/second burst {} packets log prefix \"{}\" group {}",
        log.rate_per_second,
        log.burst,
        names::comment(&log.prefix),
        log.group
    )
}

/// One rule as `nft list` shows it (without counter values).
pub(crate) fn render_rule(rule: &Rule, mask: ClassMask) -> String {
    let mut parts: Vec<String> = rule.matches.iter().map(|m| render_match(m, mask)).collect();
    if let Some(log) = &rule.log {
        parts.push(log_statement(log));
    }
    for name in &rule.counters {
        parts.push(format!("counter name \"{name}\""));
    }
    if let Some((family, kind)) = rule.counter_map {
        parts.push(format!(
            "counter name {} {} map @{}",
            family.keyword(),
            kind.field().keyword(),
            kind.counter_map_name(family)
        ));
    }
    if rule.counter {
        parts.push("counter".to_string());
    }
    let verdict = rule.verdict.keyword();
    if !verdict.is_empty() {
        parts.push(verdict.to_string());
    }
    if let Some(comment) = &rule.comment {
        parts.push(format!("comment \"{}\"", names::comment(comment)));
    }
    parts.join(" ")
}

/// The rules of a chain, one per line: also the text a chain's name is hashed from.
pub(crate) fn chain_body(chain: &Chain, mask: ClassMask) -> String {
    chain
        .rules
        .iter()
        .map(|r| render_rule(r, mask))
        .collect::<Vec<_>>()
        .join("\n")
}

fn range(r: &AddrRange) -> String {
    if r.first == r.last {
        r.first.to_string()
    } else if let Some(len) = prefix_len(r) {
        format!("{}/{len}", r.first)
    } else {
        format!("{}-{}", r.first, r.last)
    }
}

/// Each element of a set as nft writes it.
pub(crate) fn elements(elements: &SetElements, mask: ClassMask) -> Vec<String> {
    match elements {
        SetElements::Addresses(s) => s.iter().map(ToString::to_string).collect(),
        SetElements::Intervals(v) => v.iter().map(range).collect(),
        SetElements::AddressPorts(s) => s
            .iter()
            .map(|(ip, p, port)| format!("{ip} . {} . {port}", proto(*p)))
            .collect(),
        SetElements::Classes(s) => s.iter().map(|id| mark_element(*id, mask)).collect(),
        SetElements::ClassPorts(s) => s
            .iter()
            .map(|(id, p, port)| format!("{} . {} . {port}", mark_element(*id, mask), proto(*p)))
            .collect(),
    }
}

/// The declaration lines of a set (type, flags, comment), without braces.
pub(crate) fn set_declaration(set: &Set) -> Vec<String> {
    let addr = set.family.addr_type();
    let mut lines = Vec::new();
    match &set.elements {
        SetElements::Addresses(_) => lines.push(format!("type {addr}")),
        SetElements::Intervals(_) => {
            lines.push(format!("type {addr}"));
            lines.push("flags interval".to_string());
        }
        SetElements::AddressPorts(_) => {
            lines.push(format!("type {addr} . inet_proto . inet_service"));
        }
        SetElements::Classes(_) => lines.push("type mark".to_string()),
        SetElements::ClassPorts(_) => {
            lines.push("type mark . inet_proto . inet_service".to_string());
        }
    }
    if !set.comment.is_empty() {
        lines.push(format!("comment \"{}\"", names::comment(&set.comment)));
    }
    lines
}

/// A verdict map element: `10.0.0.1 comment "prod/web-1" : jump eg-...`.
pub(crate) fn map_element(ip: &IpAddr, entry: &MapEntry) -> String {
    format!(
        "{ip} comment \"{}\" : jump {}",
        names::comment(&entry.pod),
        entry.chain
    )
}

/// A counter map element: `10.0.0.1 : "drops-prod-web-..."`.
pub(crate) fn counter_map_element(ip: &IpAddr, counter: &str) -> String {
    format!("{ip} : \"{counter}\"")
}

/// A verdict map key alone, as `delete element` takes it.
pub(crate) fn map_key(ip: &IpAddr) -> String {
    ip.to_string()
}

/// `{ a, b }` over several lines at `indent` tabs, for element lists.
fn write_elements(out: &mut String, items: &[String], indent: usize) {
    let pad = "\t".repeat(indent);
    let _ = writeln!(out, "{pad}elements = {{");
    for (i, item) in items.iter().enumerate() {
        let comma = if i + 1 < items.len() { "," } else { "" };
        let _ = writeln!(out, "{pad}\t{item}{comma}");
    }
    let _ = writeln!(out, "{pad}}}");
}

/// A counter object's declaration: `{ comment "allow production/web ingress[0]"; }`.
pub(crate) fn counter_declaration(def: &CounterDef) -> String {
    format!("{{ comment \"{}\"; }}", names::comment(&def.comment()))
}

/// The base chain: replies first, then new connections whose mark already has class bits are
/// dropped (their class would be ambiguous), then the guard if configured, then each local
/// pod's egress chain (by source address) with the destination's class in the mark, then its
/// ingress chain (by destination address) with the source's class in the mark. Each class is
/// XORed in by a jump to its class chain and XORed out by the same jump after the policy chain
/// returned, so the mark leaves as it came. Addresses of non-isolated pods, remote pods and
/// non-pods are in no policy map and fall through to the accept policy; addresses no rule
/// observes are in no class map and leave the mark alone. The guard comes before the maps so
/// that an unknown source never reaches a pod's chains.
pub(crate) fn base_chain_rules(guard: bool, mask: ClassMask) -> Vec<String> {
    let mut rules = vec![
        "ct state established,related accept".to_string(),
        mark_check(mask),
    ];
    if guard {
        for kind in MapKind::ALL {
            for family in Family::ALL {
                let (k, f) = (family.keyword(), kind.field().keyword());
                rules.push(format!(
                    "{k} {f} @{} {k} {f} != @{} jump {}",
                    Guard::net_set(family),
                    Guard::known_set(family),
                    Guard::chain(kind)
                ));
            }
        }
    }
    for kind in MapKind::ALL {
        // The other side of the connection: the destination for egress, the source for ingress.
        let other = match kind {
            MapKind::Egress => "daddr",
            MapKind::Ingress => "saddr",
        };
        let stamp = |rules: &mut Vec<String>| {
            for family in Family::ALL {
                rules.push(format!(
                    "{} {other} vmap @{}",
                    family.keyword(),
                    class_map_name(family)
                ));
            }
        };
        stamp(&mut rules);
        for family in Family::ALL {
            rules.push(format!(
                "{} {} vmap @{}",
                family.keyword(),
                kind.field().keyword(),
                kind.map_name(family)
            ));
        }
        stamp(&mut rules);
    }
    rules
}

/// `meta mark & <mask> != 0 counter drop`, in the form nft lists it in: a mask of the top
/// bits is shown as a prefix (`meta mark != 0x00000000/16`).
pub(crate) fn mark_check(mask: ClassMask) -> String {
    if mask.is_prefix() {
        format!(
            "meta mark != 0x00000000/{} counter drop",
            mask.bits().leading_ones()
        )
    } else {
        format!("meta mark & {mask} != 0x00000000 counter drop")
    }
}

pub(crate) fn header(ruleset: &Ruleset, what: &str) -> String {
    let stats = ruleset.stats();
    format!(
        "# palisade {what} for node {}: {} chains, {} sets, {} elements, {} rules\n",
        names::comment(&ruleset.node),
        stats.chains,
        stats.sets,
        stats.elements,
        stats.rules
    )
}

impl Ruleset {
    /// An `nft -f` script that replaces the whole `inet palisade` table in one transaction,
    /// whether or not it exists, and touches nothing else.
    pub fn to_nft(&self) -> String {
        let table = table_ref();
        let mut out = header(self, "ruleset");
        let _ = writeln!(out, "table {table} {{}}");
        let _ = writeln!(out, "delete table {table}");
        let _ = writeln!(out, "table {table} {{");
        let mut first = true;
        let mut separate = |out: &mut String| {
            if !first {
                out.push('\n');
            }
            first = false;
        };
        for (name, def) in &self.counters {
            separate(&mut out);
            let _ = writeln!(
                out,
                "\tcounter {name} {{\n\t\tcomment \"{}\"\n\t}}",
                names::comment(&def.comment())
            );
        }
        for (name, set) in &self.sets {
            separate(&mut out);
            let _ = writeln!(out, "\tset {name} {{");
            for line in set_declaration(set) {
                let _ = writeln!(out, "\t\t{line}");
            }
            if !set.elements.is_empty() {
                write_elements(&mut out, &elements(&set.elements, self.class_mask), 2);
            }
            let _ = writeln!(out, "\t}}");
        }
        for kind in MapKind::ALL {
            for family in Family::ALL {
                separate(&mut out);
                let _ = writeln!(out, "\tmap {} {{", kind.map_name(family));
                let _ = writeln!(out, "\t\ttype {} : verdict", family.addr_type());
                let items: Vec<String> = self
                    .map(kind)
                    .iter()
                    .filter(|(ip, _)| Family::of(ip) == family)
                    .map(|(ip, entry)| map_element(ip, entry))
                    .collect();
                if !items.is_empty() {
                    write_elements(&mut out, &items, 2);
                }
                let _ = writeln!(out, "\t}}");
            }
        }
        for family in Family::ALL {
            separate(&mut out);
            let _ = writeln!(out, "\tmap {} {{", class_map_name(family));
            let _ = writeln!(out, "\t\ttype {} : verdict", family.addr_type());
            let items: Vec<String> = self
                .classes
                .iter()
                .filter(|(ip, _)| Family::of(ip) == family)
                .map(|(ip, id)| class_element(ip, *id))
                .collect();
            if !items.is_empty() {
                write_elements(&mut out, &items, 2);
            }
            let _ = writeln!(out, "\t}}");
        }
        if let Some(pod_counters) = &self.pod_counters {
            for kind in MapKind::ALL {
                for family in Family::ALL {
                    separate(&mut out);
                    let _ = writeln!(out, "\tmap {} {{", kind.counter_map_name(family));
                    let _ = writeln!(out, "\t\ttype {} : counter", family.addr_type());
                    let items: Vec<String> = pod_counters
                        .iter()
                        .filter(|((k, ip), _)| *k == kind && Family::of(ip) == family)
                        .map(|((_, ip), name)| counter_map_element(ip, name))
                        .collect();
                    if !items.is_empty() {
                        write_elements(&mut out, &items, 2);
                    }
                    let _ = writeln!(out, "\t}}");
                }
            }
        }
        separate(&mut out);
        let _ = writeln!(out, "\tchain {BASE_CHAIN} {{");
        let _ = writeln!(
            out,
            "\t\ttype filter hook forward priority {BASE_PRIORITY}; policy accept;"
        );
        for rule in base_chain_rules(self.guard.is_some(), self.class_mask) {
            let _ = writeln!(out, "\t\t{rule}");
        }
        let _ = writeln!(out, "\t}}");
        for id in self.class_ids() {
            separate(&mut out);
            let _ = writeln!(
                out,
                "\tchain {} {{\n\t\t{}\n\t}}",
                class_chain(id),
                class_rule(id, self.class_mask)
            );
        }
        for (name, chain) in &self.chains {
            separate(&mut out);
            let _ = writeln!(out, "\tchain {name} {{");
            for rule in &chain.rules {
                let _ = writeln!(out, "\t\t{}", render_rule(rule, self.class_mask));
            }
            let _ = writeln!(out, "\t}}");
        }
        out.push_str("}\n");
        out
    }
}
