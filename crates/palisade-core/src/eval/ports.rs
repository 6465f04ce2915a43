//! Sets of protocol/ports. (stub: to be implemented)

/// Which protocol/ports a connection may use. Canonical: equal sets compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PortSet {}
