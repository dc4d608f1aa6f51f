//! Read → change → compare-and-set of one connection, retried on a conflict: how every
//! writer after the connection's creation (webhook connection events, the sync worker's
//! `reauth_required`) changes it, so concurrent writers merge instead of overwriting each
//! other's changes (a lost update).

use super::{ConnectionStore, StoreError};
use crate::domain::{Connection, ConnectionId, TenantId};

/// Conflicting writes tolerated before giving up (the caller's retry takes over).
pub const MAX_CONFLICT_RETRIES: usize = 8;

/// What a change decided about the connection it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<R> {
    /// Store the changed connection.
    Write(R),
    /// Leave the stored connection as it is.
    Keep(R),
}

/// Applies `change` to the connection as stored and writes it back only if nobody wrote
/// it in between; on a conflict reads it again and re-applies `change` to the newer state,
/// so `change` must be a pure function of the connection it is given. `None` if the
/// connection does not exist; else the connection as stored afterwards and what `change`
/// said.
pub async fn modify_connection<R: Send>(
    store: &dyn ConnectionStore,
    tenant: &TenantId,
    id: &ConnectionId,
    mut change: impl FnMut(&mut Connection) -> Change<R> + Send,
) -> Result<Option<(Connection, R)>, StoreError> {
    let mut attempt = 0;
    loop {
        let Some(mut connection) = store.get_connection(tenant, id).await? else {
            return Ok(None);
        };
        let outcome = match change(&mut connection) {
            Change::Keep(outcome) => return Ok(Some((connection, outcome))),
            Change::Write(outcome) => outcome,
        };
        match store.update_connection(tenant, &connection).await {
            Ok(()) => {
                connection.version += 1;
                return Ok(Some((connection, outcome)));
            }
            Err(StoreError::Conflict { .. }) if attempt < MAX_CONFLICT_RETRIES => {
                attempt += 1;
                tracing::debug!(attempt, connection_id = %id, "connection changed concurrently; re-applying");
            }
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}
