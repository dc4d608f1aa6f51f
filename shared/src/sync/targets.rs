//! Which of a tenant's connections an on-demand sync (`POST /sync/run`, `packr sync run`)
//! covers: the one named — which must be the tenant's and active — or every active one,
//! the others reported as skipped.

use crate::domain::{Connection, ConnectionId, ConnectionStatus, TenantId};
use crate::store::{ConnectionStore, StoreError};

/// The connections to sync and the ones skipped (not active), each sorted by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncTargets {
    pub active: Vec<Connection>,
    pub skipped: Vec<Connection>,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Unknown, or another tenant's: the same answer on purpose.
    #[error("connection not found")]
    NotFound,
    /// Named explicitly but not active: it cannot sync.
    #[error("connection {} is {}; it cannot sync", .0.connection_id, .0.status.as_str())]
    NotActive(Box<Connection>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn sync_targets(
    store: &dyn ConnectionStore,
    tenant: &TenantId,
    named: Option<&ConnectionId>,
) -> Result<SyncTargets, TargetError> {
    if let Some(id) = named {
        let connection = store
            .get_connection(tenant, id)
            .await?
            .ok_or(TargetError::NotFound)?;
        if connection.status != ConnectionStatus::Active {
            return Err(TargetError::NotActive(Box::new(connection)));
        }
        return Ok(SyncTargets {
            active: vec![connection],
            skipped: Vec::new(),
        });
    }
    let mut connections = store.list_connections(tenant).await?;
    connections.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
    let (active, skipped) = connections
        .into_iter()
        .partition(|c| c.status == ConnectionStatus::Active);
    Ok(SyncTargets { active, skipped })
}
