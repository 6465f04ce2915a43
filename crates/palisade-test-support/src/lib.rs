//! Test support for palisade: builders, truth tables and a synthetic cluster generator.
//! (stub: to be implemented)
