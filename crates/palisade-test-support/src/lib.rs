//! Test support for palisade: builders, truth tables and a synthetic cluster generator.
//! (stub: to be implemented)
pub mod truth_table;
