//! A fixed-size set of small integers (class or block ids), one bit each.

/// Bits `0..len`; the words beyond `len` stay zero so equal sets compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Bitset {
    words: Vec<u64>,
    len: usize,
}

impl Bitset {
    pub(crate) fn new(len: usize) -> Bitset {
        Bitset {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    pub(crate) fn full(len: usize) -> Bitset {
        let mut set = Bitset::new(len);
        for i in 0..len {
            set.insert(i);
        }
        set
    }

    pub(crate) fn insert(&mut self, i: usize) {
        if i < self.len
            && let Some(w) = self.words.get_mut(i / 64)
        {
            *w |= 1 << (i % 64);
        }
    }

    pub(crate) fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    pub(crate) fn union_with(&mut self, other: &Bitset) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// The members in ascending order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &word)| {
            let mut w = word;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(wi * 64 + bit)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Bitset;

    #[test]
    fn insert_iter_union() {
        let mut a = Bitset::new(130);
        for i in [0, 63, 64, 129, 500] {
            a.insert(i);
        }
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            vec![0, 63, 64, 129],
            "500 is out of range"
        );
        let mut b = Bitset::new(130);
        b.insert(5);
        b.union_with(&a);
        assert_eq!(b.iter().count(), 5);
        assert!(b.contains(5) && b.contains(129) && !b.contains(6));
        assert_eq!(Bitset::full(130).iter().count(), 130);
        assert_eq!(Bitset::new(3).iter().next(), None);
    }
}
