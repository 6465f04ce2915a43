//! Rendering: how answers look. Everything is sorted before output so that output is stable.

pub mod diagnostics;
pub mod graph;
pub mod html;
pub mod sarif;
pub mod svg;
