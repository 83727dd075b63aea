//! [`TenantId`]: who an event or a call comes from, as the calling protocol names it, parsed
//! once at the edge and carried typed through the queue to the worker.
use std::fmt;

use serde::{Deserialize, Serialize};

use super::ClientKey;
use crate::forge::{CloudId, InstallationId};

/// A tenant as the protocol that called names it: Connect names a site by its `clientKey`,
/// Forge by its installation and cloud. Either resolves to the same tenant record (a Connect
/// app on Forge is one tenant, whichever way its events arrive).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TenantId {
    /// A Connect site: its `clientKey` (the verified `iss` of its token).
    Connect(ClientKey),
    /// A Forge installation (the verified claims of its invocation token).
    Forge(ForgeInstallation),
}

/// A Forge installation and the site it is installed on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ForgeInstallation {
    /// The installation ARI (changes on reinstall).
    pub installation_id: InstallationId,
    /// The site's cloud id (stable).
    pub cloud_id: CloudId,
}

impl TenantId {
    /// The Connect `clientKey`, when this is a Connect identity.
    pub fn client_key(&self) -> Option<&ClientKey> {
        match self {
            Self::Connect(client_key) => Some(client_key),
            Self::Forge(_) => None,
        }
    }

    /// The protocol that names it: `connect` or `forge` (for metrics and logs).
    pub fn protocol(&self) -> &'static str {
        match self {
            Self::Connect(_) => "connect",
            Self::Forge(_) => "forge",
        }
    }
}

impl From<ClientKey> for TenantId {
    fn from(client_key: ClientKey) -> Self {
        Self::Connect(client_key)
    }
}

/// The identity as logs show it: a Connect site's `clientKey`, a Forge installation's ARI.
impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(client_key) => f.write_str(client_key.as_str()),
            Self::Forge(forge) => f.write_str(forge.installation_id.as_str()),
        }
    }
}
