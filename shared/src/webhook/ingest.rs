//! webhook-ingest: verify, route, enqueue — then acknowledge. No Trackstar calls, and no
//! DynamoDB write for an event it can route (its route lookup is cached in the instance):
//! a duplicate delivery is queued again, and the processor's one record per event (see
//! `receipts`) acknowledges it as a duplicate.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use serde_json::json;
use tracing::{error, info, warn, Instrument};

use super::envelope::{EventKind, QueuedEvent, WebhookEnvelope};
use super::parked::{release_one, Park, ParkedEvent, ParkedEventStore, ReleaseDeps};
use super::queue::{EventQueue, QueueError};
use super::receipts::ReceiptStore;
use super::signature::{SignatureError, SignatureHeaders, Verifier};
use crate::domain::{CorrelationId, EventId, Timestamp};
use crate::metrics::{Metric, MetricsSink};
use crate::store::capacity::CapacityMeter;
use crate::store::ConnectionStore;

/// Largest webhook body accepted (SQS takes 256 KiB per message, envelope included).
pub const DEFAULT_MAX_BODY_BYTES: usize = 200 * 1024;

/// Supplies the verifier with the current signing secrets (cached, rotated).
#[async_trait]
pub trait VerifierSource: Send + Sync {
    async fn verifier(&self) -> Result<Verifier, Box<dyn std::error::Error + Send + Sync>>;
}

#[async_trait]
impl VerifierSource for Verifier {
    async fn verifier(&self) -> Result<Verifier, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.clone())
    }
}

pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Timestamp::now)
}

pub struct IngestDeps {
    pub verifier: Arc<dyn VerifierSource>,
    pub connections: Arc<dyn ConnectionStore>,
    pub receipts: Arc<dyn ReceiptStore>,
    pub queue: Arc<dyn EventQueue>,
    /// Where events for a connection not linked yet wait for it (`webhook::parked`).
    pub parked: Arc<dyn ParkedEventStore>,
    pub metrics: Arc<dyn MetricsSink>,
    /// The DynamoDB units this function's clients consumed; emitted per delivery.
    pub capacity: Arc<CapacityMeter>,
    pub clock: Clock,
    pub max_body_bytes: usize,
}

fn respond(status: i64, body: serde_json::Value) -> LambdaFunctionUrlResponse {
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = status;
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    response.headers = headers;
    response.body = Some(body.to_string());
    response
}

fn error(status: i64, code: &str, message: &str) -> LambdaFunctionUrlResponse {
    respond(status, json!({"error": {"code": code, "message": message}}))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Handles one delivery. Never fails: every outcome is an HTTP answer, and 2xx only once
/// the event is durably queued (or deliberately not to be queued).
pub async fn handle(
    deps: &IngestDeps,
    request: LambdaFunctionUrlRequest,
) -> LambdaFunctionUrlResponse {
    let response = handle_delivery(deps, request).await;
    deps.capacity.emit(deps.metrics.as_ref());
    response
}

/// The checks a request must pass before ingest spends anything on it, cheapest first, none
/// of them an AWS call: method, size (from the body's length as delivered, before any
/// decoding or copying), then the signature headers' presence, form and timestamp window.
/// Only a request that passes them reads the signing secret (cached in the instance) and
/// pays for the HMAC over its body; only a verified one reaches DynamoDB or SQS.
async fn handle_delivery(
    deps: &IngestDeps,
    request: LambdaFunctionUrlRequest,
) -> LambdaFunctionUrlResponse {
    let method = request
        .request_context
        .http
        .method
        .as_deref()
        .unwrap_or("POST");
    if !method.eq_ignore_ascii_case("POST") {
        return error(
            405,
            "method_not_allowed",
            "webhooks are delivered with POST",
        );
    }
    let raw = request.body.as_deref().unwrap_or("");
    if least_body_bytes(raw, request.is_base64_encoded) > deps.max_body_bytes {
        return oversize(deps);
    }
    let now = (deps.clock)();
    let headers = SignatureHeaders::from_lookup(|name| header(&request.headers, name));
    let checked = match headers.check(now.unix_seconds()) {
        Ok(checked) => checked,
        Err(e) => return signature_rejected(deps, e),
    };
    let body: Vec<u8> = if request.is_base64_encoded {
        match STANDARD.decode(raw) {
            Ok(bytes) => bytes,
            Err(_) => return error(400, "invalid_body", "body is not valid base64"),
        }
    } else {
        raw.as_bytes().to_vec()
    };
    if body.len() > deps.max_body_bytes {
        return oversize(deps);
    }

    let verifier = match deps.verifier.verifier().await {
        Ok(v) => v,
        Err(e) => {
            error!(error = %e, "webhook secrets unavailable");
            return error(500, "internal", "try again later");
        }
    };
    let verified = match verifier.verify_checked(&checked, &body) {
        Ok(v) => v,
        Err(e) => return signature_rejected(deps, e),
    };
    let event_id = match EventId::parse(verified.id.clone()) {
        Ok(id) => id,
        Err(_) => return error(400, "invalid_header", "svix-id is not a valid event id"),
    };
    let correlation_id = CorrelationId::generate();
    let span = tracing::info_span!("webhook_ingest", event_id = %event_id, correlation_id = %correlation_id, tenant_id = tracing::field::Empty, brand_id = tracing::field::Empty, event_type = tracing::field::Empty);
    let delivered_at = Timestamp::from_unix_seconds(verified.timestamp);
    accept(deps, event_id, correlation_id, body, now, delivered_at)
        .instrument(span)
        .await
}

/// The fewest bytes a body of this length can decode to: itself, or for base64 three bytes
/// per four characters less the padding. Known without decoding or copying anything.
fn least_body_bytes(raw: &str, base64: bool) -> usize {
    if base64 {
        (raw.len() / 4 * 3).saturating_sub(2)
    } else {
        raw.len()
    }
}

fn oversize(deps: &IngestDeps) -> LambdaFunctionUrlResponse {
    deps.metrics.emit(Metric::count("webhook.oversize"));
    error(
        413,
        "payload_too_large",
        "webhook body exceeds the size limit",
    )
}

fn signature_rejected(deps: &IngestDeps, e: SignatureError) -> LambdaFunctionUrlResponse {
    deps.metrics
        .emit(Metric::count("webhook.signature_failures").with("reason", e.code()));
    warn!(reason = e.code(), "webhook signature rejected");
    error(
        401,
        e.code(),
        &format!("signature verification failed: {e}"),
    )
}

async fn accept(
    deps: &IngestDeps,
    event_id: EventId,
    correlation_id: CorrelationId,
    body: Vec<u8>,
    now: Timestamp,
    delivered_at: Option<Timestamp>,
) -> LambdaFunctionUrlResponse {
    let (envelope, payload) = match serde_json::from_slice::<serde_json::Value>(&body)
        .and_then(|v| serde_json::from_value::<WebhookEnvelope>(v.clone()).map(|e| (e, v)))
    {
        Ok(parsed) => parsed,
        Err(e) => {
            deps.metrics.emit(Metric::count("webhook.rejected"));
            let reason = format!(
                "malformed webhook body: {}",
                crate::redact::without_input(&e)
            );
            warn!(%reason, "webhook body rejected");
            if let Err(e) = deps
                .receipts
                .record_rejected(&event_id, &reason, body.len(), now)
                .await
            {
                error!(error = %e, "could not record a rejected webhook");
                return error(500, "internal", "try again later");
            }
            return error(400, "invalid_body", &reason);
        }
    };
    let event_type = EventKind::normalize(&envelope.event_type);
    tracing::Span::current().record("event_type", event_type.as_str());

    let route = match deps.connections.route(&envelope.connection_id).await {
        Ok(Some(route)) => route,
        Ok(None) => {
            let event = ParkedEvent {
                event_id,
                connection_id: envelope.connection_id,
                event_type,
                received_at: now,
                delivered_at,
                correlation_id,
                payload,
            };
            return park(deps, event, now).await;
        }
        Err(e) => {
            error!(error = %e, "connection lookup failed");
            return error(500, "internal", "try again later");
        }
    };
    if route.deleted_at.is_some() {
        return refuse_deleted(deps, &envelope.connection_id, &event_type);
    }
    let span = tracing::Span::current();
    span.record("tenant_id", route.tenant_id.as_str());
    if let Some(brand) = &route.brand_id {
        span.record("brand_id", brand.as_str());
    }

    let queued = QueuedEvent {
        event_id: event_id.clone(),
        tenant_id: route.tenant_id.clone(),
        brand_id: route.brand_id.clone(),
        connection_id: envelope.connection_id.clone(),
        event_type,
        received_at: now,
        delivered_at,
        correlation_id,
        payload,
    };
    match queue_event(deps.queue.as_ref(), deps.metrics.as_ref(), &queued).await {
        Ok(()) => respond(200, json!({"status": "queued", "event_id": event_id})),
        Err(_) => error(500, "internal", "try again later"),
    }
}

/// An event for an offboarded connection (its route is marked deleted): refused, nothing
/// queued, parked or written. Answered 200 all the same: Svix retries any other answer for
/// about a day and disables an endpoint that keeps failing — and this endpoint is every
/// connection's. Counted as `webhook.refused` (reason `connection_deleted`).
fn refuse_deleted(
    deps: &IngestDeps,
    connection: &crate::domain::ConnectionId,
    event_type: &str,
) -> LambdaFunctionUrlResponse {
    deps.metrics.emit(
        Metric::count("webhook.refused")
            .with("reason", "connection_deleted")
            .with("event_type", event_type.to_owned()),
    );
    info!(connection_id = %connection, "webhook for a deleted connection: refused");
    respond(
        200,
        json!({"status": "refused", "reason": "connection_deleted"}),
    )
}

/// An event for a connection no tenant has linked yet: parked until the exchange that
/// links it (`webhook::parked`), acknowledged once it is stored.
async fn park(deps: &IngestDeps, event: ParkedEvent, now: Timestamp) -> LambdaFunctionUrlResponse {
    let event_id = event.event_id.clone();
    let connection_id = event.connection_id.clone();
    match deps.parked.park(&event, now).await {
        Ok(Park::Parked) => {
            deps.metrics
                .emit(Metric::count("webhook.parked").with("event_type", event.event_type.clone()));
            info!(connection_id = %connection_id, "webhook for a connection not linked yet: parked");
        }
        Ok(Park::AlreadyParked) => {
            info!(connection_id = %connection_id, "redelivery of a parked webhook")
        }
        Err(e) => {
            error!(error = %e, "could not park a webhook for an unknown connection");
            return error(500, "internal", "try again later");
        }
    }
    // An exchange that stored the route after the lookup above drained before this event
    // was parked: release it here.
    match deps.connections.route(&connection_id).await {
        Ok(Some(route)) => {
            let release = ReleaseDeps {
                parked: deps.parked.as_ref(),
                queue: deps.queue.as_ref(),
                metrics: deps.metrics.as_ref(),
            };
            let released = release_one(release, &route, event).await;
            if released.pending > 0 {
                // Still parked; the retry finds the route and queues it as usual.
                return error(500, "internal", "try again later");
            }
            respond(200, json!({"status": "queued", "event_id": event_id}))
        }
        Ok(None) => respond(200, json!({"status": "parked", "event_id": event_id})),
        Err(e) => {
            // Parked: the exchange's drain or the sweep takes it from here.
            warn!(error = %e, "connection lookup after parking failed");
            respond(200, json!({"status": "parked", "event_id": event_id}))
        }
    }
}

/// Enqueues one event (shared by ingest and the release of parked events). Nothing is
/// recorded: a second copy of an event on the queue is told by the processor's record of
/// the event.
pub async fn queue_event(
    queue: &dyn EventQueue,
    metrics: &dyn MetricsSink,
    queued: &QueuedEvent,
) -> Result<(), QueueError> {
    if let Err(e) = queue.enqueue(queued).await {
        error!(error = %e, "could not queue the webhook");
        metrics.emit(Metric::count("webhook.enqueue_failures"));
        return Err(e);
    }
    metrics.emit(Metric::count("webhook.queued").with("event_type", queued.event_type.clone()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_bound_never_exceeds_what_a_body_decodes_to() {
        // given bodies of every length around the base64 block size
        for n in 0..64usize {
            let bytes = vec![b'x'; n];
            let encoded = STANDARD.encode(&bytes);
            // when the bound is taken from the encoded length alone
            let least = least_body_bytes(&encoded, true);
            // then it is at most the decoded size and at most two bytes below it
            assert!(least <= n, "n = {n}: bound {least}");
            assert!(n <= least + 2, "n = {n}: bound {least}");
            assert_eq!(
                least_body_bytes(&String::from_utf8(bytes).unwrap(), false),
                n
            );
        }
    }
}
