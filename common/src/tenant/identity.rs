//! [`TenantId`]: who an event or a call comes from, as the calling protocol names it, parsed
//! once at the edge and carried typed through the queue to the worker.
use std::fmt;

use super::ClientKey;

/// A tenant as the protocol that called names it. Connect names a site by its `clientKey`;
/// the Forge remote adds the other kind (an installation and its cloud), resolved to the same
/// tenant record.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TenantId {
    /// A Connect site: its `clientKey` (the verified `iss` of its token).
    Connect(ClientKey),
}

impl TenantId {
    /// The Connect `clientKey`, when this is a Connect identity.
    pub fn client_key(&self) -> Option<&ClientKey> {
        match self {
            Self::Connect(client_key) => Some(client_key),
        }
    }

    /// The protocol that names it: `connect` (for metrics and logs).
    pub fn protocol(&self) -> &'static str {
        match self {
            Self::Connect(_) => "connect",
        }
    }
}

impl From<ClientKey> for TenantId {
    fn from(client_key: ClientKey) -> Self {
        Self::Connect(client_key)
    }
}

/// The identity as logs show it: the `clientKey` of a Connect site.
impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(client_key) => f.write_str(client_key.as_str()),
        }
    }
}
