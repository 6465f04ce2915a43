//! Interned port sets: every distinct [`PortSet`] gets a small id, and unions and intersections
//! of ids are memoized, so the class matrices hold `u32`s and combine them cheaply.

use rustc_hash::FxHashMap;

use crate::eval::PortSet;

/// The id of the empty set.
pub(crate) const NONE: u32 = 0;
/// The id of "every port of every protocol".
pub(crate) const ALL: u32 = 1;

#[derive(Debug)]
pub(crate) struct PortSets {
    sets: Vec<PortSet>,
    ids: FxHashMap<PortSet, u32>,
    unions: FxHashMap<(u32, u32), u32>,
    intersections: FxHashMap<(u32, u32), u32>,
}

impl PortSets {
    pub(crate) fn new() -> PortSets {
        let mut sets = PortSets {
            sets: Vec::new(),
            ids: FxHashMap::default(),
            unions: FxHashMap::default(),
            intersections: FxHashMap::default(),
        };
        sets.intern(PortSet::none());
        sets.intern(PortSet::all());
        sets
    }

    pub(crate) fn intern(&mut self, set: PortSet) -> u32 {
        if let Some(&id) = self.ids.get(&set) {
            return id;
        }
        // More distinct sets than u32 ids cannot occur: each one is built from a rule.
        let id = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
        self.sets.push(set.clone());
        self.ids.insert(set, id);
        id
    }

    pub(crate) fn get(&self, id: u32) -> &PortSet {
        self.sets
            .get(id as usize)
            .or_else(|| self.sets.first())
            .unwrap_or(&EMPTY)
    }

    pub(crate) fn len(&self) -> usize {
        self.sets.len()
    }

    pub(crate) fn union(&mut self, a: u32, b: u32) -> u32 {
        if a == b || b == NONE || a == ALL {
            return a;
        }
        if a == NONE || b == ALL {
            return b;
        }
        let key = (a.min(b), a.max(b));
        if let Some(&id) = self.unions.get(&key) {
            return id;
        }
        let set = self.get(a).union(self.get(b));
        let id = self.intern(set);
        self.unions.insert(key, id);
        id
    }

    pub(crate) fn intersection(&mut self, a: u32, b: u32) -> u32 {
        if a == b || b == ALL || a == NONE {
            return a;
        }
        if a == ALL || b == NONE {
            return b;
        }
        let key = (a.min(b), a.max(b));
        if let Some(&id) = self.intersections.get(&key) {
            return id;
        }
        let set = self.get(a).intersection(self.get(b));
        let id = self.intern(set);
        self.intersections.insert(key, id);
        id
    }

    pub(crate) fn into_sets(self) -> Vec<PortSet> {
        self.sets
    }
}

static EMPTY: PortSet = PortSet::EMPTY;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;

    #[test]
    fn ids_are_canonical_and_memoized() {
        let mut sets = PortSets::new();
        let a = sets.intern(PortSet::port(Protocol::Tcp, 80));
        let b = sets.intern(PortSet::port(Protocol::Tcp, 81));
        let ab = sets.union(a, b);
        assert_eq!(sets.get(ab).to_string(), "TCP 80-81");
        assert_eq!(sets.intern(PortSet::range(Protocol::Tcp, 80, 81)), ab);
        assert_eq!(sets.intersection(ab, a), a);
        assert_eq!(sets.intersection(a, b), NONE);
        assert_eq!(sets.union(a, ALL), ALL);
        assert_eq!(sets.intersection(ALL, b), b);
        assert_eq!(
            sets.get(9999),
            &PortSet::none(),
            "unknown id reads as empty"
        );
    }
}
