//! Lists and single gets of the WMS resources.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::AppState;
use crate::config::SimConnection;
use crate::data::Resource;
use crate::error::ApiError;
use crate::{filters, pagination};

pub async fn list<T: Resource>(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    state.check_resource(&connection, T::KIND)?;
    let Query(pairs) =
        query.map_err(|_| ApiError::validation("query", "_schema", "Malformed query string."))?;
    let query = filters::parse::<T>(&pairs)?;
    let page = state
        .with_data(&connection.connection_id, |data| {
            pagination::page_in::<T>(data, &query)
        })
        .ok_or_else(|| ApiError::Unauthorized("Unknown connection".to_owned()))??;
    Ok(Json(serde_json::to_value(page).unwrap_or(Value::Null)))
}

pub async fn get_one<T: Resource>(
    State(state): State<AppState>,
    Extension(connection): Extension<SimConnection>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.check_resource(&connection, T::KIND)?;
    let found = state
        .with_data(&connection.connection_id, |data| {
            data.find::<T>(&id).cloned()
        })
        .flatten();
    match found {
        Some(obj) => Ok(Json(json!({ "data": obj }))),
        None => Err(ApiError::NotFound {
            what: T::KIND.singular(),
            id,
        }),
    }
}
