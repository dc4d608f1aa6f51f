//! Where a sync reads from: one page of a resource's listing in a window. The port keeps the
//! runner independent of HTTP; the adapter is the one Trackstar client (rate budget,
//! breaker, retries).

use async_trait::async_trait;

use super::job::SyncMode;
use super::window::Window;
use crate::domain::Connection;
use crate::resource::{ResourceKind, WireObject};
use crate::trackstar::{
    ConnectionCredentials, ListFilter, Priority, TrackstarClient, TrackstarError,
};

/// One page of objects and the token of the next (`None`: the last page).
#[derive(Debug, Clone)]
pub struct SourcePage {
    pub objects: Vec<WireObject>,
    pub next_token: Option<String>,
}

#[async_trait]
pub trait SyncSource: Send + Sync {
    /// The page after `page_token` (the first page when `None`) of `resource`, objects whose
    /// change field is in `window`, at most `limit` of them. Every filter goes on every page.
    async fn page(
        &self,
        connection: &Connection,
        resource: ResourceKind,
        mode: SyncMode,
        window: &Window,
        page_token: Option<&str>,
        limit: u32,
    ) -> Result<SourcePage, TrackstarError>;

    /// The current copies of these objects (at most 100 ids: one `ids[in]` listing),
    /// whatever their dates; ids Trackstar does not have are absent.
    async fn objects(
        &self,
        connection: &Connection,
        resource: ResourceKind,
        ids: &[String],
    ) -> Result<SourcePage, TrackstarError>;
}

/// The Trackstar API as a sync source.
#[derive(Debug, Clone)]
pub struct TrackstarSource {
    client: TrackstarClient,
}

impl TrackstarSource {
    pub fn new(client: TrackstarClient) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &TrackstarClient {
        &self.client
    }
}

async fn fetch(
    client: &TrackstarClient,
    credentials: &ConnectionCredentials,
    resource: ResourceKind,
    filter: &ListFilter,
    page_token: Option<&str>,
) -> Result<SourcePage, TrackstarError> {
    (resource.ops().list_page)(client, credentials, filter, page_token).await
}

/// The current copies of `ids` (at most 100): one `ids[in]` listing, at the client's
/// priority.
pub(crate) async fn objects_of(
    client: &TrackstarClient,
    credentials: &ConnectionCredentials,
    resource: ResourceKind,
    ids: &[String],
) -> Result<SourcePage, TrackstarError> {
    let filter = ListFilter::new()
        .ids(ids)
        .and_then(|f| f.limit(crate::trackstar::MAX_LIMIT))
        .map_err(|e| TrackstarError::InvalidRequest {
            reason: e.to_string(),
        })?;
    fetch(client, credentials, resource, &filter, None).await
}

pub(crate) fn window_filter(window: &Window, limit: u32) -> Result<ListFilter, TrackstarError> {
    let mut filter = ListFilter::new()
        .limit(limit)
        .map_err(|e| TrackstarError::InvalidRequest {
            reason: e.to_string(),
        })?
        .updated_before(window.to);
    if let Some(from) = window.from {
        filter = filter.updated_since(from);
    }
    Ok(filter)
}

#[async_trait]
impl SyncSource for TrackstarSource {
    async fn page(
        &self,
        connection: &Connection,
        resource: ResourceKind,
        mode: SyncMode,
        window: &Window,
        page_token: Option<&str>,
        limit: u32,
    ) -> Result<SourcePage, TrackstarError> {
        let credentials = ConnectionCredentials::from(connection);
        let filter = window_filter(window, limit)?;
        // Full syncs (and reconciliation) leave the token to interactive calls and
        // incremental syncs first (the shared budget's priorities).
        let client = &self.client.with_priority(match mode {
            SyncMode::Incremental => Priority::Incremental,
            SyncMode::Full => Priority::Full,
            SyncMode::Reconcile => Priority::Reconcile,
        });
        fetch(client, &credentials, resource, &filter, page_token).await
    }

    async fn objects(
        &self,
        connection: &Connection,
        resource: ResourceKind,
        ids: &[String],
    ) -> Result<SourcePage, TrackstarError> {
        let client = self.client.with_priority(Priority::Reconcile);
        objects_of(
            &client,
            &ConnectionCredentials::from(connection),
            resource,
            ids,
        )
        .await
    }
}
