//! The cluster of all files, kept current by swapping one file's objects at a time.
//!
//! Each file's objects are converted once, when the file changes ([`FileModel`]). The merged
//! cluster is then updated in place: the file's previous pods and policies are taken out and
//! its new ones put in, at their sorted positions, so a one-pod change costs a binary search
//! and a move, not a copy of 10,000 pods. Namespaces (few) are recomputed from every file, when
//! a change touched one.
//!
//! A "file" is any unit of objects replaced as a whole: a manifest file in local mode, a single
//! API object in cluster mode ([`super::ClusterIndex`], one unit per object).
//!
//! The result equals `build_cluster` over all objects as long as no namespace, pod or policy is
//! defined in two files: the per-file conversions then see every candidate of every identity.
//! When two files do clash, the engine's own `build_cluster` over everything is used instead
//! (its ranking decides, its diagnostics report), and it is redone on every change until the
//! clash is gone.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use palisade_core::diag::Diagnostic;
use palisade_core::model::{Cluster, Namespace, Pod, Policy};
use palisade_nft::Changes;

/// One file's good objects as a cluster of their own, with that conversion's diagnostics.
pub(crate) type FileModel = Arc<(Cluster, Vec<Diagnostic>)>;

/// Above this many objects changed at once, copying everything is cheaper than moving.
const SWAP_LIMIT: usize = 256;

#[derive(Debug, Default)]
pub(super) struct Merged {
    cluster: Cluster,
    diagnostics: Vec<Diagnostic>,
    /// `cluster` reflects every file except for `changes`.
    valid: bool,
    /// `cluster` came from `build_cluster` over everything (two files clash).
    exact: bool,
    /// Per-file models replaced since `cluster` was made, oldest first: (before, after).
    changes: Vec<(FileModel, FileModel)>,
    /// What the swaps changed in `cluster` since [`Merged::take_changes`] was last called, for
    /// the incremental compiler; `Unknown` after a merge from scratch.
    pending: Changes,
}

impl Merged {
    /// A file's model went from `before` to `after` (an empty model for a new or deleted file).
    pub fn changed(&mut self, before: FileModel, after: FileModel) {
        if self.valid && !self.exact {
            self.changes.push((before, after));
        } else {
            self.valid = false;
        }
    }

    /// The cluster of `files`; `everything` is `build_cluster` over all objects, for clashes.
    pub fn get<'f>(
        &mut self,
        files: impl Iterator<Item = &'f FileModel> + Clone,
        everything: impl FnOnce() -> (Cluster, Vec<Diagnostic>),
    ) -> (&Cluster, &[Diagnostic]) {
        if self.valid && !self.changes.is_empty() {
            let changes = std::mem::take(&mut self.changes);
            let size: usize = changes.iter().map(|(b, a)| objects(b) + objects(a)).sum();
            self.pending.then(touched(&changes));
            self.valid = size <= SWAP_LIMIT
                && changes
                    .iter()
                    .all(|(before, after)| swap(&mut self.cluster, before, after))
                && (!changes
                    .iter()
                    .any(|(b, a)| has_namespaces(b) || has_namespaces(a))
                    || self.renamespace(files.clone()));
        }
        if !self.valid {
            self.changes.clear();
            self.pending = Changes::Unknown;
            match merge_all(files.clone()) {
                Some(cluster) => {
                    self.cluster = cluster;
                    self.exact = false;
                }
                None => {
                    (self.cluster, self.diagnostics) = everything();
                    self.exact = true;
                }
            }
            self.valid = true;
        }
        if !self.exact {
            self.diagnostics = files.flat_map(|f| f.1.iter().cloned()).collect();
        }
        (&self.cluster, &self.diagnostics)
    }

    /// [`Merged::get`], and what changed in the cluster since the last call of this one.
    pub fn get_and_take<'f>(
        &mut self,
        files: impl Iterator<Item = &'f FileModel> + Clone,
        everything: impl FnOnce() -> (Cluster, Vec<Diagnostic>),
    ) -> (&Cluster, &[Diagnostic], Changes) {
        self.get(files, everything);
        let changes = std::mem::replace(&mut self.pending, Changes::none());
        (&self.cluster, &self.diagnostics, changes)
    }

    fn renamespace<'f>(&mut self, files: impl Iterator<Item = &'f FileModel>) -> bool {
        match namespaces(files) {
            Some(namespaces) => {
                self.cluster.namespaces = namespaces;
                true
            }
            None => false,
        }
    }
}

/// The pods, policies and namespaces that swapping `changes` in may change.
fn touched(changes: &[(FileModel, FileModel)]) -> Changes {
    let mut pods = BTreeSet::new();
    let mut policies = false;
    let mut namespaces = false;
    for model in changes.iter().flat_map(|(b, a)| [b, a]) {
        pods.extend(
            model
                .0
                .pods
                .iter()
                .map(|p| (p.namespace.clone(), p.name.clone())),
        );
        policies |= !model.0.policies.is_empty();
        namespaces |= has_namespaces(model);
    }
    Changes::Known {
        pods,
        policies,
        namespaces,
    }
}

/// Namespaces come from every unit together; a change without any leaves them as they are.
fn has_namespaces(model: &FileModel) -> bool {
    !model.0.namespaces.is_empty()
}

fn objects(model: &FileModel) -> usize {
    model.0.pods.len() + model.0.policies.len()
}

/// Takes `before`'s pods and policies out of `cluster` and puts `after`'s in. `false` when
/// `cluster` does not hold `before` exactly or `after` clashes with another file: the caller
/// then starts over.
fn swap(cluster: &mut Cluster, before: &FileModel, after: &FileModel) -> bool {
    remove(&mut cluster.pods, &before.0.pods)
        && remove(&mut cluster.policies, &before.0.policies)
        && insert(&mut cluster.pods, &after.0.pods)
        && insert(&mut cluster.policies, &after.0.policies)
}

/// Pods and policies are sorted and identified by (namespace, name).
trait Keyed: Clone + PartialEq {
    fn key(&self) -> (&str, &str);
}

impl Keyed for Pod {
    fn key(&self) -> (&str, &str) {
        (&self.namespace, &self.name)
    }
}

impl Keyed for Policy {
    fn key(&self) -> (&str, &str) {
        (&self.namespace, &self.name)
    }
}

fn remove<T: Keyed>(sorted: &mut Vec<T>, gone: &[T]) -> bool {
    for item in gone {
        match sorted.binary_search_by(|x| x.key().cmp(&item.key())) {
            Ok(i) if sorted.get(i) == Some(item) => {
                sorted.remove(i);
            }
            _ => return false,
        }
    }
    true
}

fn insert<T: Keyed>(sorted: &mut Vec<T>, new: &[T]) -> bool {
    for item in new {
        match sorted.binary_search_by(|x| x.key().cmp(&item.key())) {
            Ok(_) => return false,
            Err(i) => sorted.insert(i, item.clone()),
        }
    }
    true
}

/// Every file's objects side by side, or `None` when two files define the same object.
fn merge_all<'f>(files: impl Iterator<Item = &'f FileModel> + Clone) -> Option<Cluster> {
    let mut pods = BTreeMap::new();
    let mut policies = BTreeMap::new();
    for model in files.clone() {
        for pod in &model.0.pods {
            if pods.insert((&pod.namespace, &pod.name), pod).is_some() {
                return None;
            }
        }
        for policy in &model.0.policies {
            if policies
                .insert((&policy.namespace, &policy.name), policy)
                .is_some()
            {
                return None;
            }
        }
    }
    Some(Cluster {
        namespaces: namespaces(files)?,
        pods: pods.into_values().cloned().collect(),
        policies: policies.into_values().cloned().collect(),
    })
}

/// Declared namespaces, plus those only referenced (which every file that references them
/// synthesizes alike), sorted; `None` when two files declare the same one.
fn namespaces<'f>(files: impl Iterator<Item = &'f FileModel>) -> Option<Vec<Namespace>> {
    let mut declared: BTreeMap<&str, &Namespace> = BTreeMap::new();
    let mut referenced: BTreeMap<&str, &Namespace> = BTreeMap::new();
    for model in files {
        for ns in &model.0.namespaces {
            if ns.declared {
                match declared.entry(&ns.name) {
                    Entry::Vacant(slot) => {
                        slot.insert(ns);
                    }
                    Entry::Occupied(_) => return None,
                }
            } else {
                referenced.entry(&ns.name).or_insert(ns);
            }
        }
    }
    referenced.retain(|name, _| !declared.contains_key(name));
    declared.append(&mut referenced);
    Some(declared.into_values().cloned().collect())
}
