//! Test support for palisade: model builders, a synthetic cluster generator, and truth tables.
//!
//! ```text
//!   arbitrary    proptest strategies: small random clusters using every feature
//!   builders     mk_ns / mk_pod / mk_policy + tweak closures, peers, ports, selectors, mk_cluster
//!   synth        generate(SynthParams) -> Cluster: deterministic, realistic label vocabularies
//!   synth_unique generate_unique(UniqueParams) -> Cluster: every workload its own labels
//!   truth_table  the `.`/`X` notation of expected.txt files: parse, render, compare
//! ```
//!
//! Everything here builds `palisade_core::model` values directly, skipping YAML, so engine tests
//! state only what they pin. Helpers panic on malformed literals: they are for tests only.

pub mod arbitrary;
pub mod builders;
pub mod synth;
pub mod synth_unique;
pub mod truth_table;
