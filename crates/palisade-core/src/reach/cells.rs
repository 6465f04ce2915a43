//! The class x class cells of the answer, held dense or sparse.
//!
//! ```text
//!   dense    classes² ids, row = source class
//!   sparse   per destination class, the (source class, id) cells that differ from the
//!            default, ascending by source; default = ALL when neither the source is
//!            isolated for egress nor the destination for ingress, NONE otherwise
//! ```
//!
//! On a cluster where most classes are isolated and name their peers one by one (nearly a
//! class per workload), almost every cell is its default, so the sparse form is about the
//! size of the allowed class pairs rather than classes².

use super::intern::{ALL, NONE};

#[derive(Debug, Clone)]
pub(crate) enum Cells {
    Dense {
        n: usize,
        ids: Vec<u32>,
    },
    Sparse {
        /// Per class: isolated for egress (as a source) / for ingress (as a destination).
        egress_isolated: Vec<bool>,
        ingress_isolated: Vec<bool>,
        columns: Vec<Box<[(u32, u32)]>>,
    },
}

impl Cells {
    pub(crate) fn dense(n: usize, ids: Vec<u32>) -> Cells {
        Cells::Dense { n, ids }
    }

    pub(crate) fn sparse(
        egress_isolated: Vec<bool>,
        ingress_isolated: Vec<bool>,
        columns: Vec<Box<[(u32, u32)]>>,
    ) -> Cells {
        Cells::Sparse {
            egress_isolated,
            ingress_isolated,
            columns,
        }
    }

    /// The id of `src -> dst` (classes; `NONE` out of range).
    pub(crate) fn get(&self, src: usize, dst: usize) -> u32 {
        match self {
            Cells::Dense { n, ids } => {
                if src >= *n || dst >= *n {
                    return NONE;
                }
                ids.get(src * n + dst).copied().unwrap_or(NONE)
            }
            Cells::Sparse {
                egress_isolated,
                ingress_isolated,
                columns,
            } => {
                let Some(column) = columns.get(dst) else {
                    return NONE;
                };
                let Ok(src32) = u32::try_from(src) else {
                    return NONE;
                };
                match column.binary_search_by_key(&src32, |&(s, _)| s) {
                    Ok(at) => column.get(at).map_or(NONE, |&(_, id)| id),
                    Err(_) => default_id(egress_isolated, ingress_isolated, src, dst),
                }
            }
        }
    }

    /// The ids of every source class `-> dst`, into `out` (cleared first).
    pub(crate) fn column(&self, dst: usize, out: &mut Vec<u32>) {
        out.clear();
        match self {
            Cells::Dense { n, ids } => {
                if dst < *n {
                    out.extend(ids.iter().skip(dst).step_by(*n).copied());
                }
            }
            Cells::Sparse {
                egress_isolated,
                ingress_isolated,
                columns,
            } => {
                let open = !ingress_isolated.get(dst).copied().unwrap_or(true);
                out.extend(
                    egress_isolated
                        .iter()
                        .map(|&isolated| if open && !isolated { ALL } else { NONE }),
                );
                for &(src, id) in columns.get(dst).into_iter().flatten() {
                    if let Some(slot) = out.get_mut(src as usize) {
                        *slot = id;
                    }
                }
            }
        }
    }

    /// Sparse only: the cells towards `dst` that are not their default, ascending by source.
    pub(crate) fn exceptions(&self, dst: usize) -> Option<&[(u32, u32)]> {
        match self {
            Cells::Dense { .. } => None,
            Cells::Sparse { columns, .. } => Some(columns.get(dst).map_or(&[][..], |c| c)),
        }
    }

    /// Sparse only: whether `class` is isolated for (egress, ingress).
    pub(crate) fn isolation(&self, class: usize) -> Option<(bool, bool)> {
        match self {
            Cells::Dense { .. } => None,
            Cells::Sparse {
                egress_isolated,
                ingress_isolated,
                ..
            } => Some((
                egress_isolated.get(class).copied()?,
                ingress_isolated.get(class).copied()?,
            )),
        }
    }

    /// The same cells, dense (`n` classes).
    pub(crate) fn to_dense(&self, n: usize) -> Cells {
        if let Cells::Dense { .. } = self {
            return self.clone();
        }
        let mut ids = vec![NONE; n * n];
        let mut column = Vec::with_capacity(n);
        for dst in 0..n {
            self.column(dst, &mut column);
            for (src, &id) in column.iter().enumerate().take(n) {
                if let Some(cell) = ids.get_mut(src * n + dst) {
                    *cell = id;
                }
            }
        }
        Cells::dense(n, ids)
    }

    /// Ids held: classes² when dense, the cells that differ from their default when sparse.
    pub(crate) fn stored(&self) -> usize {
        match self {
            Cells::Dense { ids, .. } => ids.len(),
            Cells::Sparse { columns, .. } => columns.iter().map(|c| c.len()).sum(),
        }
    }
}

fn default_id(egress_isolated: &[bool], ingress_isolated: &[bool], src: usize, dst: usize) -> u32 {
    let isolated = |flags: &[bool], i: usize| flags.get(i).copied().unwrap_or(true);
    if isolated(egress_isolated, src) || isolated(ingress_isolated, dst) {
        NONE
    } else {
        ALL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made dense, sparse cells answer every pair as before: exceptions where held, the
    /// isolation default elsewhere.
    #[test]
    fn dense_copy_answers_every_pair_alike() {
        let n = 5;
        let egress = vec![false, true, false, false, true];
        let ingress = vec![false, false, true, true, false];
        let columns: Vec<Box<[(u32, u32)]>> = vec![
            Box::new([(1, 7)]),
            Box::new([]),
            Box::new([(0, 9), (3, ALL)]),
            Box::new([(4, 8)]),
            Box::new([(0, NONE), (2, 6)]),
        ];
        let sparse = Cells::sparse(egress, ingress, columns);
        let dense = sparse.to_dense(n);
        assert!(matches!(dense, Cells::Dense { .. }));
        for src in 0..n {
            for dst in 0..n {
                assert_eq!(dense.get(src, dst), sparse.get(src, dst), "{src} -> {dst}");
            }
        }
        assert_eq!(dense.get(1, 0), 7);
        assert_eq!(dense.get(2, 0), ALL, "neither side isolated");
        assert_eq!(dense.get(1, 2), NONE, "the source is isolated for egress");
        assert_eq!(dense.get(0, 4), NONE, "an exception to ALL");
    }
}
