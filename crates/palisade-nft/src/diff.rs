//! The change from one loaded ruleset to the next, as one nft transaction.
//!
//! ```text
//!   diff(old, new)
//!     nothing differs                         -> empty
//!     a chain or set kept its name but not    -> Replace: the full script of `new`
//!       its declaration (or an interval set's elements changed)
//!     the guard appeared or went away,        (the base chain changes)
//!       or the class mask changed
//!     otherwise                               -> Update, in this order:
//!        add counter / add set / add chain + rules   (new names: referenced below;
//!                                                     class chains of new class ids too)
//!        delete element  (sets and maps)      (before adds, so a changed map entry is re-added)
//!        add element
//!        delete chain / delete set / delete counter  (unreferenced once rules are gone;
//!                                                     class chains of ids no longer used)
//! ```
//!
//! Chains are named after their content, sets after their definition and class chains after
//! their id, so pod churn only changes elements (a pod's address in the class map, and the
//! class sets when it brings a class no address had), and a policy change only adds and removes whole chains and sets: neither
//! needs a reload of the table. One `nft -f` run is one transaction, so readers see the old or
//! the new ruleset, never a mixture; a failed run changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use crate::render::{self, table_ref};
use crate::ruleset::{
    AddressConflict, Chain, ClassMask, CounterDef, Family, Guard, MapEntry, MapKind, Ruleset, Set,
    SetElements, class_chain, class_map_name,
};

/// What to send to the kernel to go from one ruleset to another. Build with [`diff`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    node: String,
    pending_pods: Vec<String>,
    address_conflicts: Vec<AddressConflict>,
    guard: Option<Guard>,
    class_mask: ClassMask,
    unclassified: usize,
    change: Change,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Update(Box<Update>),
    Replace(Box<Ruleset>),
}

/// Element-level changes plus whole chains and sets added or removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Update {
    new_counters: BTreeMap<String, CounterDef>,
    new_sets: BTreeMap<String, Set>,
    new_chains: BTreeMap<String, Chain>,
    /// Per surviving set: elements to delete, elements to add (same kind as the set).
    set_elements: BTreeMap<String, (SetElements, SetElements)>,
    /// Per map: keys to delete, entries to add.
    map_elements: BTreeMap<(MapKind, Family), MapChange>,
    /// Per class map: keys to delete, entries (class ids) to add.
    class_elements: BTreeMap<Family, (BTreeSet<IpAddr>, BTreeMap<IpAddr, u16>)>,
    new_classes: BTreeSet<u16>,
    removed_classes: BTreeSet<u16>,
    removed_chains: BTreeSet<String>,
    removed_sets: BTreeSet<String>,
    removed_counters: BTreeSet<String>,
    /// Per counter map: keys to delete, elements to add.
    counter_map_elements: BTreeMap<(MapKind, Family), CounterMapChange>,
}

/// Keys to delete from a counter map, then elements (address -> counter name) to add.
type CounterMapChange = (BTreeSet<IpAddr>, BTreeMap<IpAddr, String>);

/// Keys to delete from a verdict map, then entries to add.
type MapChange = (BTreeSet<IpAddr>, BTreeMap<IpAddr, MapEntry>);

/// Counts of what a diff does (for logs and metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiffStats {
    /// True when the diff replaces the whole table.
    pub replace: bool,
    pub chains_added: usize,
    pub chains_removed: usize,
    pub sets_added: usize,
    pub sets_removed: usize,
    pub elements_added: usize,
    pub elements_removed: usize,
}

/// The changes that turn `old` (what the kernel holds) into `new`.
pub fn diff(old: &Ruleset, new: &Ruleset) -> Diff {
    let change = match update(old, new) {
        Some(update) => Change::Update(Box::new(update)),
        None => Change::Replace(Box::new(new.clone())),
    };
    Diff {
        node: new.node.clone(),
        pending_pods: new.pending_pods.clone(),
        address_conflicts: new.address_conflicts.clone(),
        guard: new.guard.clone(),
        class_mask: new.class_mask,
        unclassified: new.unclassified,
        change,
    }
}

/// `None` when only a full replacement can do it.
fn update(old: &Ruleset, new: &Ruleset) -> Option<Update> {
    let mut up = Update::default();
    if old.guard.is_some() != new.guard.is_some()
        || old.class_mask != new.class_mask
        || old.pod_counters.is_some() != new.pod_counters.is_some()
    {
        return None;
    }
    if let (Some(a), Some(b)) = (&old.pod_counters, &new.pod_counters) {
        for kind in MapKind::ALL {
            for family in Family::ALL {
                let here = |(k, ip): &(MapKind, IpAddr)| *k == kind && Family::of(ip) == family;
                let removed: BTreeSet<IpAddr> = a
                    .iter()
                    .filter(|(key, name)| here(key) && b.get(key) != Some(*name))
                    .map(|((_, ip), _)| *ip)
                    .collect();
                let added: BTreeMap<IpAddr, String> = b
                    .iter()
                    .filter(|(key, name)| here(key) && a.get(key) != Some(*name))
                    .map(|((_, ip), name)| (*ip, name.clone()))
                    .collect();
                if !removed.is_empty() || !added.is_empty() {
                    up.counter_map_elements
                        .insert((kind, family), (removed, added));
                }
            }
        }
    }
    for (name, def) in &new.counters {
        match old.counters.get(name) {
            None => {
                up.new_counters.insert(name.clone(), def.clone());
            }
            Some(before) if before != def => return None,
            Some(_) => {}
        }
    }
    for name in old.counters.keys() {
        if !new.counters.contains_key(name) {
            up.removed_counters.insert(name.clone());
        }
    }
    for (name, set) in &new.sets {
        let Some(before) = old.sets.get(name) else {
            up.new_sets.insert(name.clone(), set.clone());
            continue;
        };
        if !before.same_declaration(set) {
            return None;
        }
        if before.elements == set.elements {
            continue;
        }
        let change = match (&before.elements, &set.elements) {
            (SetElements::Addresses(a), SetElements::Addresses(b)) => (
                SetElements::Addresses(a.difference(b).copied().collect()),
                SetElements::Addresses(b.difference(a).copied().collect()),
            ),
            (SetElements::AddressPorts(a), SetElements::AddressPorts(b)) => (
                SetElements::AddressPorts(a.difference(b).copied().collect()),
                SetElements::AddressPorts(b.difference(a).copied().collect()),
            ),
            (SetElements::Classes(a), SetElements::Classes(b)) => (
                SetElements::Classes(a.difference(b).copied().collect()),
                SetElements::Classes(b.difference(a).copied().collect()),
            ),
            (SetElements::ClassPorts(a), SetElements::ClassPorts(b)) => (
                SetElements::ClassPorts(a.difference(b).copied().collect()),
                SetElements::ClassPorts(b.difference(a).copied().collect()),
            ),
            // The guard's CIDR set is filled or emptied whole: exact elements, which nft can
            // add and delete.
            (SetElements::Intervals(a), SetElements::Intervals(b))
                if a.is_empty() || b.is_empty() =>
            {
                (
                    SetElements::Intervals(a.clone()),
                    SetElements::Intervals(b.clone()),
                )
            }
            // Other interval sets hold ipBlocks, fixed by their definition: a change means
            // something unexpected, and replacing is always correct.
            _ => return None,
        };
        up.set_elements.insert(name.clone(), change);
    }
    for name in old.sets.keys() {
        if !new.sets.contains_key(name) {
            up.removed_sets.insert(name.clone());
        }
    }
    for (name, chain) in &new.chains {
        match old.chains.get(name) {
            None => {
                up.new_chains.insert(name.clone(), chain.clone());
            }
            Some(before) if before != chain => return None,
            Some(_) => {}
        }
    }
    for name in old.chains.keys() {
        if !new.chains.contains_key(name) {
            up.removed_chains.insert(name.clone());
        }
    }
    for kind in MapKind::ALL {
        let (a, b) = (old.map(kind), new.map(kind));
        for family in Family::ALL {
            let (removed, added) = changed_entries(a, b, family);
            if !removed.is_empty() || !added.is_empty() {
                up.map_elements.insert((kind, family), (removed, added));
            }
        }
    }
    for family in Family::ALL {
        let (removed, added) = changed_entries(&old.classes, &new.classes, family);
        if !removed.is_empty() || !added.is_empty() {
            up.class_elements.insert(family, (removed, added));
        }
    }
    let (before, after) = (old.class_ids(), new.class_ids());
    up.new_classes = after.difference(&before).copied().collect();
    up.removed_classes = before.difference(&after).copied().collect();
    Some(up)
}

/// The keys of `family` whose entry `old` has and `new` has not (gone or changed), and the
/// entries of `new` that `old` lacks, by one walk over both sorted maps rather than a lookup
/// per key (the class map holds every cluster address).
fn changed_entries<V: Clone + PartialEq>(
    old: &BTreeMap<IpAddr, V>,
    new: &BTreeMap<IpAddr, V>,
    family: Family,
) -> (BTreeSet<IpAddr>, BTreeMap<IpAddr, V>) {
    use std::cmp::Ordering;
    let in_family = |(ip, _): &(&IpAddr, &V)| Family::of(ip) == family;
    let mut a = old.iter().filter(in_family).peekable();
    let mut b = new.iter().filter(in_family).peekable();
    let mut removed = BTreeSet::new();
    let mut added = BTreeMap::new();
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some((ip, _)), None) => {
                removed.insert(**ip);
                a.next();
            }
            (None, Some((ip, v))) => {
                added.insert(**ip, (*v).clone());
                b.next();
            }
            (Some((x, va)), Some((y, vb))) => match x.cmp(y) {
                Ordering::Less => {
                    removed.insert(**x);
                    a.next();
                }
                Ordering::Greater => {
                    added.insert(**y, (*vb).clone());
                    b.next();
                }
                Ordering::Equal => {
                    if va != vb {
                        removed.insert(**x);
                        added.insert(**y, (*vb).clone());
                    }
                    a.next();
                    b.next();
                }
            },
        }
    }
    (removed, added)
}

impl Update {
    fn is_empty(&self) -> bool {
        self.new_counters.is_empty()
            && self.removed_counters.is_empty()
            && self.counter_map_elements.is_empty()
            && self.new_sets.is_empty()
            && self.new_chains.is_empty()
            && self.set_elements.is_empty()
            && self.map_elements.is_empty()
            && self.class_elements.is_empty()
            && self.new_classes.is_empty()
            && self.removed_classes.is_empty()
            && self.removed_chains.is_empty()
            && self.removed_sets.is_empty()
    }
}

/// `delete element`/`add element` for one set or map.
fn element_command(out: &mut String, verb: &str, target: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{verb} element {} {target} {{", table_ref());
    for (i, item) in items.iter().enumerate() {
        let comma = if i + 1 < items.len() { "," } else { "" };
        let _ = writeln!(out, "\t{item}{comma}");
    }
    out.push_str("}\n");
}

impl Diff {
    /// True when loading would change nothing.
    pub fn is_empty(&self) -> bool {
        match &self.change {
            Change::Update(up) => up.is_empty(),
            Change::Replace(_) => false,
        }
    }

    /// True when the diff replaces the whole table (a chain or set changed in place).
    pub fn is_replacement(&self) -> bool {
        matches!(self.change, Change::Replace(_))
    }

    pub fn stats(&self) -> DiffStats {
        match &self.change {
            Change::Replace(new) => {
                let s = new.stats();
                DiffStats {
                    replace: true,
                    chains_added: s.chains,
                    sets_added: s.sets,
                    elements_added: s.elements,
                    ..DiffStats::default()
                }
            }
            Change::Update(up) => DiffStats {
                replace: false,
                chains_added: up.new_chains.len() + up.new_classes.len(),
                chains_removed: up.removed_chains.len() + up.removed_classes.len(),
                sets_added: up.new_sets.len(),
                sets_removed: up.removed_sets.len(),
                elements_added: up
                    .new_sets
                    .values()
                    .map(|s| s.elements.len())
                    .chain(up.set_elements.values().map(|(_, add)| add.len()))
                    .chain(up.map_elements.values().map(|(_, add)| add.len()))
                    .chain(up.class_elements.values().map(|(_, add)| add.len()))
                    .chain(up.counter_map_elements.values().map(|(_, add)| add.len()))
                    .sum(),
                elements_removed: up
                    .set_elements
                    .values()
                    .map(|(del, _)| del.len())
                    .chain(up.map_elements.values().map(|(del, _)| del.len()))
                    .chain(up.class_elements.values().map(|(del, _)| del.len()))
                    .chain(up.counter_map_elements.values().map(|(del, _)| del.len()))
                    .sum(),
            },
        }
    }

    /// One `nft -f` script (one transaction) applying the diff; a comment alone when empty.
    pub fn to_nft(&self) -> String {
        let up = match &self.change {
            Change::Replace(new) => return new.to_nft(),
            Change::Update(up) => up,
        };
        let node = crate::names::comment(&self.node);
        if up.is_empty() {
            return format!("# palisade update for node {node}: no changes\n");
        }
        let table = table_ref();
        let s = self.stats();
        let mut out = format!(
            "# palisade update for node {node}: +{} -{} chains, +{} -{} sets, +{} -{} elements\n",
            s.chains_added,
            s.chains_removed,
            s.sets_added,
            s.sets_removed,
            s.elements_added,
            s.elements_removed
        );
        for (name, def) in &up.new_counters {
            let _ = writeln!(
                out,
                "add counter {table} {name} {}",
                render::counter_declaration(def)
            );
        }
        for (name, set) in &up.new_sets {
            let _ = writeln!(
                out,
                "add set {table} {name} {{ {}; }}",
                render::set_declaration(set).join("; ")
            );
            element_command(
                &mut out,
                "add",
                name,
                &render::elements(&set.elements, self.class_mask),
            );
        }
        for id in &up.new_classes {
            let name = class_chain(*id);
            let _ = writeln!(out, "add chain {table} {name}");
            let _ = writeln!(
                out,
                "add rule {table} {name} {}",
                render::class_rule(*id, self.class_mask)
            );
        }
        for (name, chain) in &up.new_chains {
            let _ = writeln!(out, "add chain {table} {name}");
            for rule in &chain.rules {
                let _ = writeln!(
                    out,
                    "add rule {table} {name} {}",
                    render::render_rule(rule, self.class_mask)
                );
            }
        }
        for (name, (removed, _)) in &up.set_elements {
            element_command(
                &mut out,
                "delete",
                name,
                &render::elements(removed, self.class_mask),
            );
        }
        for ((kind, family), (removed, _)) in &up.map_elements {
            let keys: Vec<String> = removed.iter().map(render::map_key).collect();
            element_command(&mut out, "delete", &kind.map_name(*family), &keys);
        }
        for ((kind, family), (removed, _)) in &up.counter_map_elements {
            let keys: Vec<String> = removed.iter().map(render::map_key).collect();
            element_command(&mut out, "delete", &kind.counter_map_name(*family), &keys);
        }
        for (family, (removed, _)) in &up.class_elements {
            let keys: Vec<String> = removed.iter().map(render::map_key).collect();
            element_command(&mut out, "delete", &class_map_name(*family), &keys);
        }
        for (name, (_, added)) in &up.set_elements {
            element_command(
                &mut out,
                "add",
                name,
                &render::elements(added, self.class_mask),
            );
        }
        for ((kind, family), (_, added)) in &up.counter_map_elements {
            let items: Vec<String> = added
                .iter()
                .map(|(ip, name)| render::counter_map_element(ip, name))
                .collect();
            element_command(&mut out, "add", &kind.counter_map_name(*family), &items);
        }
        for ((kind, family), (_, added)) in &up.map_elements {
            let items: Vec<String> = added
                .iter()
                .map(|(ip, entry)| render::map_element(ip, entry))
                .collect();
            element_command(&mut out, "add", &kind.map_name(*family), &items);
        }
        for (family, (_, added)) in &up.class_elements {
            let items: Vec<String> = added
                .iter()
                .map(|(ip, id)| render::class_element(ip, *id))
                .collect();
            element_command(&mut out, "add", &class_map_name(*family), &items);
        }
        for name in &up.removed_chains {
            let _ = writeln!(out, "delete chain {table} {name}");
        }
        for id in &up.removed_classes {
            let _ = writeln!(out, "delete chain {table} {}", class_chain(*id));
        }
        for name in &up.removed_sets {
            let _ = writeln!(out, "delete set {table} {name}");
        }
        for name in &up.removed_counters {
            let _ = writeln!(out, "delete counter {table} {name}");
        }
        out
    }

    /// The ruleset the kernel holds once this diff is loaded over `old`, with the new
    /// ruleset's bookkeeping (node, pending pods, conflicts). `diff(a, b).apply(a) == b`.
    pub fn apply(&self, old: &Ruleset) -> Ruleset {
        let up = match &self.change {
            Change::Replace(new) => return (**new).clone(),
            Change::Update(up) => up,
        };
        let mut out = old.clone();
        out.node = self.node.clone();
        out.pending_pods = self.pending_pods.clone();
        out.address_conflicts = self.address_conflicts.clone();
        out.guard = self.guard.clone();
        out.unclassified = self.unclassified;
        out.counters.extend(up.new_counters.clone());
        out.sets.extend(up.new_sets.clone());
        out.chains.extend(up.new_chains.clone());
        for (name, (removed, added)) in &up.set_elements {
            let Some(set) = out.sets.get_mut(name) else {
                continue;
            };
            match (&mut set.elements, removed, added) {
                (
                    SetElements::Addresses(s),
                    SetElements::Addresses(r),
                    SetElements::Addresses(a),
                ) => {
                    s.retain(|x| !r.contains(x));
                    s.extend(a.iter().copied());
                }
                (
                    SetElements::AddressPorts(s),
                    SetElements::AddressPorts(r),
                    SetElements::AddressPorts(a),
                ) => {
                    s.retain(|x| !r.contains(x));
                    s.extend(a.iter().copied());
                }
                (SetElements::Classes(s), SetElements::Classes(r), SetElements::Classes(a)) => {
                    s.retain(|x| !r.contains(x));
                    s.extend(a.iter().copied());
                }
                (
                    SetElements::ClassPorts(s),
                    SetElements::ClassPorts(r),
                    SetElements::ClassPorts(a),
                ) => {
                    s.retain(|x| !r.contains(x));
                    s.extend(a.iter().copied());
                }
                (
                    SetElements::Intervals(s),
                    SetElements::Intervals(r),
                    SetElements::Intervals(a),
                ) => {
                    s.retain(|x| !r.contains(x));
                    s.extend(a.iter().copied());
                    s.sort();
                }
                _ => {}
            }
        }
        for ((kind, _), (removed, added)) in &up.map_elements {
            let map = match kind {
                MapKind::Egress => &mut out.egress,
                MapKind::Ingress => &mut out.ingress,
            };
            map.retain(|ip, _| !removed.contains(ip));
            map.extend(added.iter().map(|(ip, e)| (*ip, e.clone())));
        }
        for (removed, added) in up.class_elements.values() {
            out.classes.retain(|ip, _| !removed.contains(ip));
            out.classes.extend(added.iter().map(|(ip, id)| (*ip, *id)));
        }
        out.chains
            .retain(|name, _| !up.removed_chains.contains(name));
        out.sets.retain(|name, _| !up.removed_sets.contains(name));
        out.counters
            .retain(|name, _| !up.removed_counters.contains(name));
        if let Some(pod_counters) = out.pod_counters.as_mut() {
            for ((kind, _), (removed, added)) in &up.counter_map_elements {
                pod_counters.retain(|(k, ip), _| k != kind || !removed.contains(ip));
                pod_counters.extend(added.iter().map(|(ip, name)| ((*kind, *ip), name.clone())));
            }
        }
        out
    }
}
