//! Keyset pagination: objects sorted by `(updated_date, id)`; a page token holds the last
//! key served and the fingerprint of the filters it was issued for.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::data::{ConnectionData, Resource, TrackstarDates};
use crate::error::ApiError;
use crate::filters::ListQuery;

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    /// `updated_date` of the last object served, unix seconds.
    u: i64,
    /// id of the last object served.
    i: String,
    /// fingerprint of the filters.
    f: String,
}

/// One page of a list, in Trackstar's envelope shape.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_token: Option<String>,
    /// The count in this page.
    pub total_count: usize,
}

/// Selects the page of `items` that `query` asks for (Trackstar's clock = the WMS's).
pub fn page<T: Resource>(items: &[T], query: &ListQuery) -> Result<Page<T>, ApiError> {
    page_with(items, query, TrackstarDates::of)
}

/// Selects the page of a connection's objects of `T`, filtering on Trackstar's clock as
/// the connection records it.
pub fn page_in<T: Resource>(data: &ConnectionData, query: &ListQuery) -> Result<Page<T>, ApiError> {
    page_with(T::all(data), query, |o| data.trackstar_dates(o))
}

fn page_with<T: Resource>(
    items: &[T],
    query: &ListQuery,
    clock: impl Fn(&T) -> TrackstarDates,
) -> Result<Page<T>, ApiError> {
    let fingerprint = query.fingerprint(T::KIND);
    let after = match &query.page_token {
        None => None,
        Some(token) => {
            let cursor = decode(token)?;
            if cursor.f != fingerprint {
                return Err(ApiError::BadRequest(
                    "page_token was issued for different filters".to_owned(),
                ));
            }
            Some((cursor.u, cursor.i))
        }
    };
    let mut selected: Vec<&T> = items
        .iter()
        .filter(|o| query.matches_dated(*o, &clock(o)))
        .filter(|o| match &after {
            None => true,
            Some((u, i)) => (o.updated().timestamp(), o.id()) > (*u, i.as_str()),
        })
        .collect();
    selected.sort_by(|a, b| (a.updated(), a.id()).cmp(&(b.updated(), b.id())));
    let more = selected.len() > query.limit;
    selected.truncate(query.limit);
    let next_token = match (more, selected.last()) {
        (true, Some(last)) => Some(encode(&Cursor {
            u: last.updated().timestamp(),
            i: last.id().to_owned(),
            f: fingerprint,
        })),
        _ => None,
    };
    let data: Vec<T> = selected.into_iter().cloned().collect();
    Ok(Page {
        total_count: data.len(),
        data,
        next_token,
    })
}

fn encode(cursor: &Cursor) -> String {
    let json = serde_json::to_vec(cursor).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

fn decode(token: &str) -> Result<Cursor, ApiError> {
    let invalid = || ApiError::BadRequest("Invalid page_token".to_owned());
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}
