//! Write-through plumbing: idempotent execution, the connection a write goes to, and the
//! conversion of Trackstar's answer into the stored domain object.

use std::future::Future;

use http::StatusCode;
use serde_json::Value;

use super::error::ApiError;
use super::request::{require, Action, Ctx, Reply, Validator};
use super::ApiDeps;
use crate::domain::Timestamp;
use crate::domain::{Brand, BrandId, Connection, ConnectionId, ConnectionStatus, Currency};
use crate::idempotency::{Fingerprint, IdempotencyKey, NextAction, SavedResponse, Scope};
use crate::resource::Resource;
use crate::store::SyncedStore;
use crate::trackstar::{ConnectionCredentials, ConversionContext, TrackstarError, WriteResult};

pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Runs `work` at most once per (tenant, scope, key): a replay returns the saved status and
/// body with `Idempotent-Replayed: true`; the same key with another payload is a 422; while
/// the first attempt runs, a 409. A failed attempt gives the key up, so a retry starts
/// afresh (Trackstar, given the same key, replays anything it already accepted).
pub(crate) async fn idempotent<F, Fut>(
    deps: &ApiDeps,
    ctx: &Ctx,
    scope: Scope,
    key: &IdempotencyKey,
    payload: &Value,
    work: F,
) -> Result<Reply, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let fingerprint = Fingerprint::of_json(payload);
    let tenant = &ctx.principal.tenant;
    match deps
        .idempotency
        .begin(tenant, scope, key, &fingerprint, deps.now())
        .await?
    {
        NextAction::ReturnSaved(saved) => Ok(Reply {
            status: StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK),
            body: saved.body,
            headers: vec![(REPLAYED_HEADER, "true".to_owned())],
        }),
        NextAction::Start(lease) => match work().await {
            Ok(reply) => {
                let saved = SavedResponse {
                    status: reply.status.as_u16(),
                    body: reply.body.clone(),
                };
                if let Err(e) = deps.idempotency.complete(&lease, &saved, deps.now()).await {
                    // The write happened; a lost record only means a retry is replayed by
                    // Trackstar instead of by us.
                    tracing::warn!(error = %e, "could not save the idempotent response");
                }
                Ok(reply)
            }
            Err(err) => {
                if let Err(e) = deps.idempotency.abandon(&lease).await {
                    tracing::warn!(error = %e, "could not release the idempotency key");
                }
                Err(err)
            }
        },
    }
}

fn no_connection() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "no_active_connection",
        "no active warehouse connection serves this brand",
    )
}

/// The active connection a brand's writes go to: the brand's own, else the tenant's shared.
pub(crate) async fn connection_for_brand(
    deps: &ApiDeps,
    ctx: &Ctx,
    brand: &BrandId,
) -> Result<Connection, ApiError> {
    let mut connections = deps
        .connections
        .list_connections(&ctx.principal.tenant)
        .await?;
    connections.retain(|c| c.status == ConnectionStatus::Active);
    connections.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
    let own = connections
        .iter()
        .find(|c| c.brand_id.as_ref() == Some(brand));
    let shared = connections.iter().find(|c| c.brand_id.is_none());
    own.or(shared).cloned().ok_or_else(no_connection)
}

/// The connection an existing object came through.
pub(crate) async fn connection_by_id(
    deps: &ApiDeps,
    ctx: &Ctx,
    id: &ConnectionId,
) -> Result<Connection, ApiError> {
    match deps
        .connections
        .get_connection(&ctx.principal.tenant, id)
        .await?
    {
        Some(c) if c.status == ConnectionStatus::Active => Ok(c),
        _ => Err(no_connection()),
    }
}

/// The connection's credentials for a write-through (`ConnectionCredentials::from`).
pub(crate) fn credentials(connection: &Connection) -> ConnectionCredentials {
    ConnectionCredentials::from(connection)
}

/// The tenant's default currency (for upstream amounts without one), USD if unset.
async fn fallback_currency(deps: &ApiDeps, ctx: &Ctx) -> Result<Currency, ApiError> {
    Ok(deps
        .tenants
        .get_tenant(&ctx.principal.tenant)
        .await?
        .map(|t| t.default_currency)
        .unwrap_or_else(usd))
}

fn usd() -> Currency {
    // USD is ISO 4217 with a minor unit; this cannot fail.
    Currency::parse("USD").unwrap_or_else(|_| unreachable!("USD is a currency"))
}

fn conversion(
    ctx: &Ctx,
    brand: Option<BrandId>,
    connection: &Connection,
    fallback_currency: Currency,
) -> ConversionContext {
    ConversionContext {
        tenant_id: ctx.principal.tenant.clone(),
        brand_id: brand,
        connection_id: connection.connection_id.clone(),
        fallback_currency,
    }
}

/// Trackstar accepted the write but its answer cannot be stored: a 502.
pub(crate) fn unusable_answer(err: &(dyn std::error::Error + 'static)) -> ApiError {
    tracing::error!(error = %super::error::error_chain(err), "trackstar's answer could not be converted");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "upstream_error",
        "the warehouse system's answer could not be read",
    )
}

/// Every write-through: Trackstar first (it is authoritative), then the local copy. `write`
/// is the Trackstar call, not yet sent (a future does nothing until awaited): the time is
/// taken before it goes out, so its answer replaces a same-second copy stored before then
/// but not one stored since. The answer is converted by the resource's declaration
/// (`Resource::from_wire`; amounts without a currency in `currency`, else the tenant's
/// default) and stored through the one upsert path; only then is it the reply's object.
pub(crate) async fn write_through<R: Resource>(
    deps: &ApiDeps,
    ctx: &Ctx,
    connection: &Connection,
    brand: Option<BrandId>,
    currency: Option<Currency>,
    write: impl Future<Output = Result<WriteResult<R::Wire>, TrackstarError>>,
) -> Result<R, ApiError> {
    let sent_at = Timestamp::now();
    let answer = write.await?.data;
    let fallback = match currency {
        Some(c) => c,
        None => fallback_currency(deps, ctx).await?,
    };
    let object = R::from_wire(answer, &conversion(ctx, brand, connection, fallback))
        .map_err(|e| unusable_answer(&e))?;
    SyncedStore::<R>::upsert_written(
        deps.objects.as_ref(),
        &ctx.principal.tenant,
        &object,
        sent_at,
    )
    .await?;
    Ok(object)
}

/// Who may create an object for the brand a body names, checked in the order every create
/// checks: scope before permission (a brand the caller may not see is a 404 whatever the
/// role, a viewer's own brand a 403). A malformed brand id is left to the body's
/// validation, which names the field.
pub(crate) fn brand_scope_then_role(
    ctx: &Ctx,
    raw_brand: &str,
    action: Action,
) -> Result<(), ApiError> {
    if let Ok(brand) = BrandId::parse(raw_brand) {
        if !ctx.principal.sees_brand(Some(&brand)) {
            return Err(ApiError::not_found("brand"));
        }
    }
    require(ctx, action)
}

/// The brand record a write names (another tenant's or a missing one is a 404).
pub(crate) async fn brand_record(
    deps: &ApiDeps,
    ctx: &Ctx,
    brand: &BrandId,
) -> Result<Brand, ApiError> {
    deps.tenants
        .get_brand(&ctx.principal.tenant, brand)
        .await?
        .ok_or_else(|| ApiError::not_found("brand"))
}

/// Tags of a write (`trackstar_tags`): at most 50, each 1 to 64 characters, named by index.
pub(crate) fn tags(v: &mut Validator, tags: &[String]) {
    if tags.len() > 50 {
        v.error("tags", "must hold at most 50 tags");
    }
    for (i, tag) in tags.iter().enumerate() {
        v.text(&format!("tags[{i}]"), tag, 64);
    }
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::internal_from("serialize", &e))
}
