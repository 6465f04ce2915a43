//! Names of everything a run creates, all under `pl-<run id>-` so cleanup can find them.
//!
//! ```text
//!   netns   pl-ab12-fab   fabric          links  pl-ab12-f<k> (fabric) <-> pl-ab12-u<k> (node k)
//!           pl-ab12-n<k>  node k                 pl-ab12-p<i> (node)   <-> pl-ab12-e<i> (pod i)
//!           pl-ab12-p<i>  pod endpoint i         pl-ab12-g<j> (fabric) <-> pl-ab12-h<j> (external j)
//!           pl-ab12-x<j>  external j
//! ```
//!
//! Link names must fit IFNAMSIZ (15 bytes): `pl-` + 4 hex + `-` leaves 7 for the suffix.

use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;

/// Everything of every run starts with this.
pub const PREFIX: &str = "pl-";
/// Per-run state (owner pid, manifests) lives in `<RUN_DIR>/<run id>/`.
pub const RUN_DIR: &str = "/run/palisade-lab";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunNames {
    id: String,
}

impl RunNames {
    /// A fresh 4-hex-digit id not used by any existing namespace.
    pub fn fresh(existing: &[String]) -> RunNames {
        loop {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(std::process::id());
            let id = format!("{:04x}", h.finish() & 0xffff);
            let names = RunNames { id };
            if !existing.iter().any(|n| n.starts_with(&names.prefix())) {
                return names;
            }
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// `pl-<id>-`.
    pub fn prefix(&self) -> String {
        format!("{PREFIX}{}-", self.id)
    }

    pub fn fabric(&self) -> String {
        format!("{}fab", self.prefix())
    }

    /// Node `k` (1-based).
    pub fn node(&self, k: usize) -> String {
        format!("{}n{k}", self.prefix())
    }

    /// The namespace of pod endpoint `i`.
    pub fn pod(&self, i: usize) -> String {
        format!("{}p{i}", self.prefix())
    }

    /// External host `j` (0-based).
    pub fn external(&self, j: usize) -> String {
        format!("{}x{j}", self.prefix())
    }

    pub fn fabric_to_node(&self, k: usize) -> String {
        format!("{}f{k}", self.prefix())
    }

    pub fn node_uplink(&self, k: usize) -> String {
        format!("{}u{k}", self.prefix())
    }

    pub fn node_to_pod(&self, i: usize) -> String {
        format!("{}p{i}", self.prefix())
    }

    pub fn pod_link(&self, i: usize) -> String {
        format!("{}e{i}", self.prefix())
    }

    pub fn fabric_to_external(&self, j: usize) -> String {
        format!("{}g{j}", self.prefix())
    }

    pub fn external_link(&self, j: usize) -> String {
        format!("{}h{j}", self.prefix())
    }

    pub fn run_dir(&self) -> PathBuf {
        PathBuf::from(RUN_DIR).join(&self.id)
    }
}

/// The run id of a `pl-<id>-...` name, if it is one of ours.
pub fn run_id_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(PREFIX)?;
    let (id, tail) = rest.split_once('-')?;
    let ok = id.len() == 4 && id.bytes().all(|b| b.is_ascii_hexdigit()) && !tail.is_empty();
    ok.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_fit_ifnamsiz() {
        let names = RunNames::fresh(&[]);
        // The kernel rejects interface names of 16 bytes or more (IFNAMSIZ = 16 with the NUL).
        for long in [
            names.fabric_to_node(200),
            names.node_to_pod(999_999),
            names.pod_link(999_999),
            names.fabric_to_external(99_999),
        ] {
            assert!(long.len() <= 15, "{long} is too long for a link name");
        }
    }

    #[test]
    fn recognises_only_run_names() {
        assert_eq!(run_id_of("pl-ab12-fab"), Some("ab12"));
        assert_eq!(run_id_of("pl-ab12-"), None);
        assert_eq!(run_id_of("pl-abz2-n1"), None);
        assert_eq!(run_id_of("plx-ab12-n1"), None);
        assert_eq!(run_id_of("pl-ab123-n1"), None);
    }

    #[test]
    fn fresh_ids_avoid_existing_runs() {
        let taken = RunNames::fresh(&[]);
        for _ in 0..50 {
            let other = RunNames::fresh(&[taken.fabric()]);
            assert_ne!(other.id(), taken.id());
        }
    }
}
