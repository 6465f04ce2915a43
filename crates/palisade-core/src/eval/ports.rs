//! Sets of protocol/ports. (stub: to be implemented)

/// Which protocol/ports a connection may use. Canonical: equal sets compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PortSet {}

impl std::fmt::Display for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(stub)")
    }
}
