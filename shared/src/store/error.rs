//! Errors of the data layer.

use std::error::Error as StdError;

use super::cursor::CursorError;
use super::page::LimitError;

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid cursor")]
    Cursor(#[from] CursorError),
    #[error("invalid limit")]
    Limit(#[from] LimitError),
    /// A changes-feed cursor older than the feed's retention (it may have missed deletions).
    #[error("the cursor is older than the feed's retention of {retention_days} days")]
    CursorExpired { retention_days: u64 },
    #[error("filter `{field}` is not supported here")]
    UnsupportedFilter { field: &'static str },
    #[error("the object's tenant differs from the tenant the call acts for")]
    TenantMismatch,
    #[error("{what} already exists")]
    AlreadyExists { what: &'static str },
    #[error("{what} was not found")]
    NotFound { what: &'static str },
    /// A conditional replace found another version than the one it was read at.
    #[error("{what} was changed concurrently")]
    Conflict { what: &'static str },
    #[error("DynamoDB {operation} failed")]
    Dynamo {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
    /// A batch call kept answering part of its requests as unprocessed (DynamoDB does so
    /// when the batch exceeds the table's throughput) through every round of asking again.
    #[error("DynamoDB {operation} kept leaving requests unprocessed")]
    Unprocessed { operation: &'static str },
    #[error("stored item could not be read")]
    Corrupt(#[source] serde_dynamo::Error),
    #[error("stored item lacks its `{0}` attribute")]
    MissingAttribute(&'static str),
    #[error("item could not be encoded")]
    Encode(#[source] serde_dynamo::Error),
    /// The pagination cursors' signing key (read on first use) could not be read.
    #[error("the cursor signing key could not be read")]
    CursorKey(#[source] crate::secrets::SecretError),
    /// The audit chain's key (read on first use) could not be read or is not configured.
    #[error("the audit chain key could not be read")]
    AuditKey(#[source] crate::audit::KeyError),
    /// The erasures' hash key (read on first use) could not be read.
    #[error("the privacy hash key could not be read")]
    PrivacyKey(#[source] crate::privacy::PrivacyKeyError),
}

impl StoreError {
    pub fn dynamo(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Dynamo {
            operation,
            source: source.into(),
        }
    }

    /// Whether trying again later may succeed (the store was unavailable or throttled).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Dynamo { .. }
                | Self::Unprocessed { .. }
                | Self::Conflict { .. }
                | Self::CursorKey(_)
                | Self::AuditKey(_)
                | Self::PrivacyKey(_)
        )
    }
}
