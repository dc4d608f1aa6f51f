//! Local debugging routes (not the product API; no auth): what the webhook pipeline stored
//! and how it is doing.
//!
//! - `GET /_local/orders?tenant=demo-3pl[&brand=…][&limit=…][&cursor=…]`: stored orders,
//!   newest first, through the library's store;
//! - `GET /_local/webhooks`: ack latency at the gateway, metric totals, queue depths.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use packr::domain::{BrandId, Order, TenantId};
use packr::store::{ListQuery, PageLimit, PageRequest, SyncedStore};
use serde::Deserialize;
use serde_json::{json, Value};

use super::GatewayState;
use crate::esm::queue_depth;

pub(super) fn routes() -> Router<GatewayState> {
    Router::new()
        .route("/_local/orders", get(orders))
        .route("/_local/webhooks", get(webhooks))
}

#[derive(Debug, Deserialize)]
struct OrdersQuery {
    tenant: String,
    brand: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

type Answer = (StatusCode, Json<Value>);

fn bad_request(message: String) -> Answer {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message })))
}

async fn orders(State(state): State<GatewayState>, Query(query): Query<OrdersQuery>) -> Answer {
    let Some(store) = state.store.as_ref() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "no store configured"})),
        );
    };
    let tenant = match TenantId::parse(query.tenant) {
        Ok(tenant) => tenant,
        Err(e) => return bad_request(e.to_string()),
    };
    let brand_id = match query.brand.map(BrandId::parse).transpose() {
        Ok(brand) => brand,
        Err(e) => return bad_request(e.to_string()),
    };
    let limit = match PageLimit::parse(query.limit) {
        Ok(limit) => limit,
        Err(e) => return bad_request(e.to_string()),
    };
    let page = PageRequest {
        limit,
        cursor: query.cursor,
    };
    let listing = ListQuery {
        brand_id,
        ..ListQuery::default()
    };
    match SyncedStore::<Order>::list(store, &tenant, &listing, &page).await {
        Ok(page) => (
            StatusCode::OK,
            Json(json!({ "items": page.items, "next_cursor": page.next_cursor })),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": crate::testing::error_chain(&e) })),
        ),
    }
}

async fn webhooks(State(state): State<GatewayState>) -> Json<Value> {
    let totals = |sink: &Option<packr::metrics::RecordingSink>| -> BTreeMap<&'static str, f64> {
        let mut totals = BTreeMap::new();
        for metric in sink.iter().flat_map(|s| s.all()) {
            if metric.unit == packr::metrics::Unit::Count {
                *totals.entry(metric.name).or_insert(0.0) += metric.value;
            }
        }
        totals
    };
    let lag = state
        .processor_metrics
        .as_ref()
        .map(|s| crate::stats::Summary::of(&s.values("webhook.lag_ms")));
    let mut queues = BTreeMap::new();
    if let Some(sqs) = &state.sqs {
        for id in ["WebhookQueue", "WebhookDeadLetterQueue"] {
            if let Some(url) = state.stack.resources.queue_url(id) {
                let depth = queue_depth(sqs, url)
                    .await
                    .map(|(visible, in_flight)| json!({"visible": visible, "in_flight": in_flight}))
                    .unwrap_or_else(|e| json!({"error": crate::testing::error_chain(&e)}));
                queues.insert(id, depth);
            }
        }
    }
    Json(json!({
        "ack_latency_ms": state.ack_latency.summary(),
        "receipt_to_batch_done_ms": state.done_lag.summary(),
        "webhook_lag_ms_metric": lag,
        "ingest": totals(&state.ingest_metrics),
        "processor": totals(&state.processor_metrics),
        "queues": queues,
    }))
}
