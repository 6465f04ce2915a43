//! palisade-core: the semantic engine behind every palisade command.
//!
//! ```text
//!   load      files/dirs/stdin -> spanned documents -> Kubernetes objects      (load/)
//!   validate  the API server's rules, diagnostics by field path                 (validate/)
//!   model     Kubernetes types -> palisade's own IR, defaults spelled out once  (model/)
//!   evaluate  selectors, isolation, one connection's verdict with its reasons   (eval/)
//!   index     pods grouped by namespace and labels, memoised selector matches   (index.rs)
//!   reach     all pairs over a cluster, by equivalence classes of endpoints     (reach/)
//!   describe  policies and pod isolation in plain words                         (describe/)
//!   focus     `--from`/`--to`: which pods and external addresses an answer is about (focus.rs)
//! ```
//!
//! Dependencies point down the list only. The crate is synchronous and free of I/O apart from
//! reading input files in `load`.

pub mod analysis;
pub mod describe;
pub mod diag;
pub mod eval;
pub mod focus;
mod index;
pub mod lint;
pub mod load;
pub mod model;
pub mod parallel;
pub mod path;
pub mod reach;
pub mod source;
pub mod validate;

pub use analysis::{Analysis, analyze, analyze_pair, analyze_text};

/// The namespace of an object that names none.
pub const DEFAULT_NAMESPACE: &str = "default";
