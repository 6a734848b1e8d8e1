//! Who may sync with a serving node, and what they may do.

use std::collections::HashMap;

use iroh::EndpointId;

/// What an allowed peer may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Fetch documents; any document it sends is refused (the session ends).
    Read,
    /// Fetch documents and send new ones.
    ReadWrite,
}

/// The peers a node answers, by endpoint ID. Closed by default: nobody.
///
/// [`serve`](super::serve) and [`respond`](super::respond) refuse a peer this does not name,
/// closing the connection with a reason that names the peer's ID. [`Access::open`] answers
/// anyone (read-write), except peers named explicitly, which keep their own permission.
/// [`sync`](super::sync) trusts the peer it dials to write, unless that peer is named here as
/// [`Permission::Read`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    open: bool,
    peers: HashMap<EndpointId, Permission>,
}

impl Access {
    /// Nobody (the default).
    pub fn closed() -> Self {
        Self::default()
    }

    /// Anyone, read-write (peers named with [`allow`](Self::allow) keep their permission).
    pub fn open() -> Self {
        Self {
            open: true,
            ..Self::default()
        }
    }

    /// Allows `peer` with `permission` (replacing an earlier one).
    pub fn allow(mut self, peer: EndpointId, permission: Permission) -> Self {
        self.peers.insert(peer, permission);
        self
    }

    /// True when anyone is answered.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The peers named explicitly.
    pub fn peers(&self) -> impl Iterator<Item = (&EndpointId, &Permission)> {
        self.peers.iter()
    }

    /// What `peer` may do, or `None` when it is not answered at all.
    pub fn permission(&self, peer: &EndpointId) -> Option<Permission> {
        match self.peers.get(peer) {
            Some(permission) => Some(*permission),
            None if self.open => Some(Permission::ReadWrite),
            None => None,
        }
    }
}

/// The error a serving node reports for a peer it refused: it is not on the allow-list.
#[derive(Debug)]
pub struct NotAllowed(pub EndpointId);

impl std::fmt::Display for NotAllowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "refused endpoint {}: not on the allow-list (to allow it: --allow {})",
            self.0, self.0
        )
    }
}

impl std::error::Error for NotAllowed {}

#[cfg(test)]
mod tests {
    use super::*;
    use iroh::SecretKey;

    #[test]
    fn closed_by_default_open_on_request_named_peers_keep_their_permission() {
        let a = SecretKey::generate().public();
        let b = SecretKey::generate().public();
        assert_eq!(Access::default().permission(&a), None);
        let some = Access::closed().allow(a, Permission::Read);
        assert_eq!(some.permission(&a), Some(Permission::Read));
        assert_eq!(some.permission(&b), None);
        let open = Access::open().allow(a, Permission::Read);
        assert_eq!(open.permission(&a), Some(Permission::Read));
        assert_eq!(open.permission(&b), Some(Permission::ReadWrite));
    }
}
