//! Cursor pagination as async streams: pages, and the items in them. Every page carries
//! every filter; `next_token` goes back as `page_token`; `null` ends the listing. A token
//! that comes back a second time ends it with an error instead of looping forever.

use std::collections::HashSet;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;

use super::client::TrackstarClient;
use super::credentials::ConnectionCredentials;
use super::error::TrackstarError;
use super::filters::ListFilter;
use super::wire::{
    Page, TrackstarBill, TrackstarInboundShipment, TrackstarInventoryItem, TrackstarOrder,
    TrackstarProduct, TrackstarReturn, TrackstarShippingMethod, TrackstarWarehouse,
};

/// A listable WMS resource.
pub trait Listed: DeserializeOwned + Send + 'static {
    /// The list path, e.g. `/wms/orders`.
    const PATH: &'static str;
}

impl Listed for TrackstarOrder {
    const PATH: &'static str = "/wms/orders";
}
impl Listed for TrackstarInventoryItem {
    const PATH: &'static str = "/wms/inventory";
}
impl Listed for TrackstarProduct {
    const PATH: &'static str = "/wms/products";
}
impl Listed for TrackstarInboundShipment {
    const PATH: &'static str = "/wms/inbound-shipments";
}
impl Listed for TrackstarReturn {
    const PATH: &'static str = "/wms/returns";
}
impl Listed for TrackstarWarehouse {
    const PATH: &'static str = "/wms/warehouses";
}
impl Listed for TrackstarShippingMethod {
    const PATH: &'static str = "/wms/shipping-methods";
}
impl Listed for TrackstarBill {
    const PATH: &'static str = "/wms/billing";
}

enum Cursor {
    Start,
    Next(String),
    Done,
}

struct PagerState {
    client: TrackstarClient,
    credentials: ConnectionCredentials,
    filter: ListFilter,
    cursor: Cursor,
    seen: HashSet<String>,
}

/// Pages of `T`, lazily: a page is fetched when the previous one has been consumed.
pub(crate) fn pages<T: Listed>(
    client: TrackstarClient,
    credentials: ConnectionCredentials,
    filter: ListFilter,
) -> BoxStream<'static, Result<Page<T>, TrackstarError>> {
    let state = PagerState {
        client,
        credentials,
        filter,
        cursor: Cursor::Start,
        seen: HashSet::new(),
    };
    stream::try_unfold(state, |mut state| async move {
        let token = match std::mem::replace(&mut state.cursor, Cursor::Done) {
            Cursor::Done => return Ok(None),
            Cursor::Start => None,
            Cursor::Next(token) => Some(token),
        };
        let page: Page<T> = state
            .client
            .list_page::<T>(&state.credentials, &state.filter, token.as_deref())
            .await?;
        if let Some(next) = &page.next_token {
            if !state.seen.insert(next.clone()) {
                return Err(TrackstarError::Protocol {
                    reason: "trackstar returned a page token it had already returned".into(),
                });
            }
            state.cursor = Cursor::Next(next.clone());
        }
        Ok(Some((page, state)))
    })
    .boxed()
}

/// The items of every page, in order.
pub(crate) fn items<T: Listed>(
    client: TrackstarClient,
    credentials: ConnectionCredentials,
    filter: ListFilter,
) -> BoxStream<'static, Result<T, TrackstarError>> {
    pages::<T>(client, credentials, filter)
        .map_ok(|page| stream::iter(page.data.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
}
