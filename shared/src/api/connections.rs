//! `/connections`: the Trackstar link flow (tenant_admin only). The access token goes to
//! Secrets Manager, the connection ↔ tenant/brand mapping to DynamoDB; every mutation is
//! audited.

use std::sync::Arc;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::audit;
use super::error::ApiError;
use super::request::{self, authenticated, require, Action, Ctx, Reply, Validator};
use super::writes;
use super::ApiDeps;
use crate::domain::{
    BrandId, Connection, ConnectionId, ConnectionRoute, ConnectionStatus, TenantId, Timestamp,
};
use crate::secrets::{connection_token_name, SecretWriter};
use crate::store::{modify_connection, Change};
use crate::sync::{request_sync, ResourceKind, SyncMode};
use crate::webhook::parked::{release_parked, ReleaseDeps};

/// `POST /connections/link-token` (body optional).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkTokenBody {
    /// Reinstall this existing connection.
    #[schema(value_type = Option<crate::domain::ConnectionId>)]
    pub connection_id: Option<String>,
}

/// `POST /connections/exchange`
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeBody {
    /// The one-time code Trackstar Link gave the browser.
    #[schema(schema_with = super::schema::text_512)]
    pub auth_code: String,
    /// The brand this connection serves; none for a tenant-wide connection.
    #[schema(value_type = Option<crate::domain::BrandId>)]
    pub brand_id: Option<String>,
    /// The warehouse's customer this connection's data belongs to.
    #[schema(schema_with = super::schema::opt_text_128)]
    pub customer_id: Option<String>,
}

// The auth code is a credential.
crate::redacted_debug!(ExchangeBody { brand_id, customer_id; auth_code });

/// A connection as served: no secret references.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionView {
    pub connection_id: String,
    pub brand_id: Option<String>,
    pub integration_name: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Connection> for ConnectionView {
    fn from(c: &Connection) -> Self {
        Self {
            connection_id: c.connection_id.to_string(),
            brand_id: c.brand_id.as_ref().map(ToString::to_string),
            integration_name: c.integration_name.clone(),
            status: c.status.as_str().to_owned(),
            created_at: c.created_at.to_rfc3339(),
            updated_at: c.updated_at.to_rfc3339(),
        }
    }
}

/// `POST /connections/link-token`
pub async fn link_token(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::ManageConnections)?;
        let (body, _) = request::json_body::<LinkTokenBody>(deps, &req, Some("{}"))?;
        let reinstall = match body.connection_id {
            None => None,
            Some(raw) => {
                let id = ConnectionId::parse(raw).map_err(|_| ApiError::not_found("connection"))?;
                deps.connections
                    .get_connection(&ctx.principal.tenant, &id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("connection"))?;
                Some(id)
            }
        };
        let token = deps
            .trackstar()?
            .create_link_token(reinstall.as_ref())
            .await?;
        let target = reinstall.as_ref().map_or_else(
            || "connection:new".to_owned(),
            |id| format!("connection:{id}"),
        );
        audit::record(deps, &ctx, "connections.link_token", target).await?;
        Ok(Reply::ok(json!({ "link_token": token.link_token })))
    })
    .await
}

/// `POST /connections/exchange`
pub async fn exchange(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::ManageConnections)?;
        let (body, _) = request::json_body::<ExchangeBody>(deps, &req, None)?;
        let mut v = Validator::default();
        v.text("auth_code", &body.auth_code, 512);
        v.opt_text("customer_id", body.customer_id.as_ref(), 128);
        let brand = body
            .brand_id
            .clone()
            .and_then(|b| v.parse("brand_id", BrandId::parse(b)));
        v.finish()?;
        if let Some(brand) = &brand {
            deps.tenants
                .get_brand(&ctx.principal.tenant, brand)
                .await?
                .ok_or_else(|| ApiError::not_found("brand"))?;
        }
        let writer = deps.secret_writer.as_ref().ok_or_else(|| {
            tracing::error!("this function has no secret writer configured");
            ApiError::internal()
        })?;
        let exchanged = deps
            .trackstar()?
            .exchange_auth_code(
                &SecretString::from(body.auth_code.clone()),
                body.customer_id.as_deref(),
            )
            .await?;
        let connection_id = ConnectionId::parse(exchanged.connection_id.clone())
            .map_err(|e| writes::unusable_answer(&e))?;
        let tenant = &ctx.principal.tenant;
        let integration_name = exchanged
            .integration_name
            .clone()
            .unwrap_or_else(|| "unknown".to_owned());
        let linked = Linked {
            connection_id: &connection_id,
            brand: brand.as_ref(),
            integration_name: &integration_name,
        };
        // A connection already routed is either this tenant's (a reinstall) or another's,
        // which is a 404 like any other tenant's object: the answer must not tell that it
        // exists. Checked before the token is stored, so nothing is written for it.
        if let Some(route) = deps.connections.route(&connection_id).await? {
            return reinstall(deps, &ctx, &route, linked, writer, &exchanged.access_token)
                .await;
        }
        let secret_name =
            store_token(deps, tenant, &connection_id, writer, &exchanged.access_token).await?;
        // Recorded before the connection is stored: the auth code is single-use, so a
        // request failed here cannot be retried as is, and must leave no connection
        // behind that no entry tells of (`crate::audit`).
        audit::record(
            deps,
            &ctx,
            "connections.exchange",
            format!("connection:{connection_id}"),
        )
        .await?;
        let now: Timestamp = deps.now();
        let connection = Connection {
            tenant_id: tenant.clone(),
            connection_id: connection_id.clone(),
            brand_id: brand.clone(),
            integration_name: integration_name.clone(),
            status: ConnectionStatus::Active,
            access_token_secret: secret_name,
            errors: Vec::new(),
            stuck_schedules: Vec::new(),
            full_sync_requested_at: None,
            created_at: now,
            updated_at: now,
            version: 0,
            marks: Default::default(),
        };
        // One transaction writes the connection and its route: it is routable from the
        // moment it exists, so no webhook finds it stored but unroutable.
        match deps.connections.create_connection(tenant, &connection).await {
            Ok(()) => {}
            Err(crate::store::StoreError::AlreadyExists { .. }) => {
                // Linked concurrently: the route now says whose it is. The exchange entry
                // is already written; the reinstall adds its own (or the 404 leaves the
                // attempt recorded in this tenant's log only).
                let route = deps
                    .connections
                    .route(&connection_id)
                    .await?
                    .ok_or_else(|| {
                        tracing::error!(connection_id = %connection_id, "a connection refused as linked has no route");
                        ApiError::internal()
                    })?;
                return reinstall(deps, &ctx, &route, linked, writer, &exchanged.access_token)
                    .await;
            }
            Err(other) => return Err(ApiError::from(other)),
        }
        queue_full_sync(deps, &connection, EXCHANGE_SYNC_REASON).await;
        release_parked_events(deps, &connection).await;
        Ok(Reply::created(writes::to_json(&ConnectionView::from(
            &connection,
        ))?))
    })
    .await
}

/// What Trackstar's exchange said about the connection it linked.
#[derive(Clone, Copy)]
struct Linked<'a> {
    connection_id: &'a ConnectionId,
    brand: Option<&'a BrandId>,
    integration_name: &'a str,
}

/// Stores a connection's access token under the tenant's own name for it.
async fn store_token(
    deps: &ApiDeps,
    tenant: &TenantId,
    connection: &ConnectionId,
    writer: &Arc<dyn SecretWriter>,
    token: &SecretString,
) -> Result<String, ApiError> {
    let name = connection_token_name(&deps.config.connection_secret_prefix, tenant, connection);
    writer
        .put(&name, token)
        .await
        .map_err(|e| ApiError::internal_from("store access token", &e))?;
    Ok(name)
}

/// The exchange of a connection that is already routed. Another tenant's is a 404 (and
/// nothing is stored); this tenant's is a reinstall: the new token is stored under the
/// tenant's name for it, and the connection is active again with its errors cleared, a
/// full sync queued as for a new one. The brand it serves stays what it was.
async fn reinstall(
    deps: &ApiDeps,
    ctx: &Ctx,
    route: &ConnectionRoute,
    linked: Linked<'_>,
    writer: &Arc<dyn SecretWriter>,
    token: &SecretString,
) -> Result<Reply, ApiError> {
    let tenant = &ctx.principal.tenant;
    if &route.tenant_id != tenant {
        tracing::warn!(connection_id = %linked.connection_id, "exchange of a connection owned by another tenant");
        return Err(ApiError::not_found("connection"));
    }
    if linked.brand.is_some() && linked.brand != route.brand_id.as_ref() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "connection_brand_mismatch",
            "a reinstalled connection keeps the brand it serves",
        ));
    }
    let secret_name = store_token(deps, tenant, linked.connection_id, writer, token).await?;
    // Before the connection changes, as for a new one (see `exchange`).
    audit::record(
        deps,
        ctx,
        "connections.reinstall",
        format!("connection:{}", linked.connection_id),
    )
    .await?;
    let now = deps.now();
    let changed = modify_connection(
        deps.connections.as_ref(),
        tenant,
        linked.connection_id,
        |c| {
            c.access_token_secret = secret_name.clone();
            c.integration_name = linked.integration_name.to_owned();
            c.status = ConnectionStatus::Active;
            c.errors.clear();
            // The admin's reinstall is the newest lifecycle event: older connection
            // events no longer undo it, and a deletion before it is over: a connection
            // linked again within its grace period keeps its data.
            c.marks.deleted_at = None;
            crate::lifecycle::offboard::connection::relinked(c);
            c.marks.lifecycle_at = Some(c.marks.lifecycle_at.map_or(now, |l| l.max(now)));
            c.updated_at = now;
            Change::Write(())
        },
    )
    .await?;
    let Some((connection, ())) = changed else {
        return Err(ApiError::not_found("connection"));
    };
    // Routable again (an offboarded connection's webhooks were refused).
    if route.deleted_at.is_some() {
        crate::lifecycle::offboard::connection::route_relinked(&deps.objects, linked.connection_id)
            .await?;
    }
    queue_full_sync(deps, &connection, REINSTALL_SYNC_REASON).await;
    release_parked_events(deps, &connection).await;
    Ok(Reply::ok(writes::to_json(&ConnectionView::from(
        &connection,
    ))?))
}

/// The reason of the full sync a new connection gets.
pub const EXCHANGE_SYNC_REASON: &str = "exchange";
/// The reason of the full sync a reinstalled connection gets.
pub const REINSTALL_SYNC_REASON: &str = "reinstall";

/// Queues a full sync of every resource of a new or reinstalled connection (Trackstar
/// sends no webhooks for its historical data, nor for what changed while a connection
/// could not be reached). A failure does not fail the exchange: the connection is stored
/// and Trackstar was told, so the client must not retry it. Nothing is lost either: the
/// sync scheduler's next tick finds the active connection without a watermark and enqueues
/// it as a full sync (`never-synced`, see `sync::scheduler`).
async fn queue_full_sync(deps: &ApiDeps, connection: &Connection, reason: &str) {
    let queue = match deps.sync_jobs() {
        Ok(queue) => queue,
        Err(_) => return, // logged by `sync_jobs`
    };
    match request_sync(
        queue,
        &connection.tenant_id,
        &connection.connection_id,
        &ResourceKind::ALL,
        SyncMode::Full,
        reason,
        deps.now(),
    )
    .await
    {
        Ok(jobs) => tracing::info!(
            connection_id = %connection.connection_id,
            jobs = jobs.len(),
            "initial full sync queued"
        ),
        Err(e) => tracing::error!(
            connection_id = %connection.connection_id,
            error = %super::error::error_chain(&e),
            "could not queue the initial full sync; the scheduler's next tick will run it"
        ),
    }
}

/// Queues the webhooks Trackstar sent for this connection before it was linked (parked by
/// ingest, `webhook::parked`), each once; called once the connection's route is stored.
/// Only the connection this exchange just stored:
/// a tenant never reaches events parked for another's. A failure does not fail the
/// exchange either: what is left stays parked, and the expiry sweep releases it to this
/// connection instead of expiring it.
async fn release_parked_events(deps: &ApiDeps, connection: &Connection) {
    let Ok(queue) = deps.webhook_queue() else {
        return; // logged by `webhook_queue`
    };
    let route = ConnectionRoute {
        connection_id: connection.connection_id.clone(),
        tenant_id: connection.tenant_id.clone(),
        brand_id: connection.brand_id.clone(),
        deleted_at: None,
    };
    let release = ReleaseDeps {
        parked: deps.parked.as_ref(),
        queue,
        metrics: deps.metrics.as_ref(),
    };
    if let Err(e) = release_parked(release, &route).await {
        tracing::error!(
            connection_id = %connection.connection_id,
            error = %super::error::error_chain(&e),
            "could not release the connection's parked webhooks; the sweep will"
        );
    }
}

/// `GET /connections`
pub async fn list(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        require(&ctx, Action::ManageConnections)?;
        request::Query::parse(&req, &[])?;
        let mut connections = deps
            .connections
            .list_connections(&ctx.principal.tenant)
            .await?;
        connections.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        let items: Vec<ConnectionView> = connections.iter().map(ConnectionView::from).collect();
        Ok(Reply::ok(json!({ "items": items })))
    })
    .await
}
