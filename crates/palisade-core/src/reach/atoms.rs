//! ipBlock atoms: the address space cut at every `cidr` and `except` boundary of every policy.
//!
//! ```text
//!   v4:  |0 ...... |10.0.0.0 ... |10.1.0.0 ... |10.2.0.0 ........ |11.0.0.0 ...... 255.255.255.255|
//!          atom 0      atom 1        atom 2        atom 3              atom 4
//! ```
//!
//! Inside one atom every address is in exactly the same cidrs and excepts, so which ipBlocks
//! match an address is a property of its atom: an address costs a binary search, and the
//! block matches are computed once per atom that holds some endpoint.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use rustc_hash::FxHashMap;

use super::bitset::Bitset;
use crate::eval::ip_block_contains;

/// One distinct ipBlock: `cidr` minus `except`.
pub(crate) type Block<'a> = (&'a IpNet, &'a [IpNet]);

#[derive(Debug)]
pub(crate) struct Atoms<'a> {
    blocks: Vec<Block<'a>>,
    /// Sorted start of every atom, per family; both start at 0.
    starts_v4: Vec<u128>,
    starts_v6: Vec<u128>,
    /// Lazily computed block matches per (is_v6, atom index).
    matches: FxHashMap<(bool, usize), Bitset>,
}

fn key(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

fn addr(v6: bool, value: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(value))
    } else {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX)))
    }
}

impl<'a> Atoms<'a> {
    pub(crate) fn new(blocks: Vec<Block<'a>>) -> Atoms<'a> {
        let mut starts_v4 = vec![0];
        let mut starts_v6 = vec![0];
        let nets = blocks
            .iter()
            .flat_map(|(cidr, except)| std::iter::once(*cidr).chain(except.iter()));
        for net in nets {
            let (v6, first) = key(net.network());
            let (_, last) = key(net.broadcast());
            let starts = if v6 { &mut starts_v6 } else { &mut starts_v4 };
            starts.push(first);
            // The atom after the net starts right past its last address (if there is one).
            let max = if v6 { u128::MAX } else { u128::from(u32::MAX) };
            if last < max {
                starts.push(last + 1);
            }
        }
        for starts in [&mut starts_v4, &mut starts_v6] {
            starts.sort_unstable();
            starts.dedup();
        }
        Atoms {
            blocks,
            starts_v4,
            starts_v6,
            matches: FxHashMap::default(),
        }
    }

    pub(crate) fn block_count(&self) -> usize {
        self.blocks.len()
    }

    pub(crate) fn atom_count(&self) -> usize {
        self.starts_v4.len() + self.starts_v6.len()
    }

    /// The blocks (by index) that contain any of `ips`: a multi-address endpoint matches a block
    /// if one of its addresses does, like [`crate::eval::peer_matches`].
    pub(crate) fn blocks_matching(&mut self, ips: &[IpAddr]) -> Bitset {
        let mut out = Bitset::new(self.blocks.len());
        for &ip in ips {
            let (v6, value) = key(ip);
            let starts = if v6 { &self.starts_v6 } else { &self.starts_v4 };
            let atom = starts.partition_point(|&s| s <= value).saturating_sub(1);
            let start = starts.get(atom).copied().unwrap_or(0);
            let blocks = &self.blocks;
            let matched = self.matches.entry((v6, atom)).or_insert_with(|| {
                // Any address of the atom decides for all of it; take its first.
                let rep = addr(v6, start);
                let mut set = Bitset::new(blocks.len());
                for (i, (cidr, except)) in blocks.iter().enumerate() {
                    if ip_block_contains(cidr, except, &rep) {
                        set.insert(i);
                    }
                }
                set
            });
            out.union_with(matched);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn atoms_agree_with_direct_matching() {
        let a = net("10.0.0.0/8");
        let a_except = [net("10.1.0.0/16"), net("10.2.3.0/24")];
        let b = net("10.1.0.0/16");
        let c = net("0.0.0.0/0");
        let d = net("fd00::/64");
        let d_except = [net("fd00::1/128")];
        let blocks: Vec<Block<'_>> = vec![(&a, &a_except), (&b, &[]), (&c, &[]), (&d, &d_except)];
        let mut atoms = Atoms::new(blocks.clone());
        let probes = [
            "10.0.0.1",
            "10.1.2.3",
            "10.2.3.255",
            "10.2.4.0",
            "11.0.0.0",
            "255.255.255.255",
            "0.0.0.0",
            "fd00::1",
            "fd00::2",
            "fd01::",
            "::ffff:10.0.0.1",
        ];
        for p in probes {
            let ip: IpAddr = p.parse().unwrap_or_else(|e| panic!("{p}: {e}"));
            let got: Vec<usize> = atoms.blocks_matching(&[ip]).iter().collect();
            let want: Vec<usize> = blocks
                .iter()
                .enumerate()
                .filter(|(_, (cidr, except))| ip_block_contains(cidr, except, &ip))
                .map(|(i, _)| i)
                .collect();
            assert_eq!(got, want, "{p}");
        }
        assert_eq!(
            atoms.blocks_matching(&[]).iter().next(),
            None,
            "no IP, no block"
        );
    }
}
