//! `/brands/{brand_id}/messages`: the thread between a 3PL and one of its brands.

use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::audit;
use super::error::{ApiError, FieldErrors};
use super::request::{self, authenticated, require, Action, Ctx, Query, Reply};
use super::writes::{self, idempotent};
use super::ApiDeps;
use crate::domain::{BrandId, Message, MessageBody, MessageId};
use crate::idempotency::Scope;

const TEMPLATE: &str = "/brands/{brand_id}/messages";
/// Keys are the tenant's, like every write's; the brand is part of what a key stands for,
/// so the same key on another brand's thread is a reuse with another body (422).
pub const POST_SCOPE: Scope = Scope::new("api.messages.post");

/// `POST /brands/{brand_id}/messages`
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessageBody {
    /// 1 to 4,000 characters, not blank.
    #[schema(value_type = crate::domain::MessageBody)]
    pub body: String,
}

// Free text: may name people, addresses, phone numbers.
crate::redacted_debug!(PostMessageBody { ; body });

/// The brand of the path, if the caller may see it and it exists in their tenant.
async fn visible_brand(deps: &ApiDeps, ctx: &Ctx, req: &Request) -> Result<BrandId, ApiError> {
    let raw = request::path_param(req, TEMPLATE, "brand_id")?;
    let brand = BrandId::parse(raw).map_err(|_| ApiError::not_found("brand"))?;
    if !ctx.principal.sees_brand(Some(&brand)) {
        return Err(ApiError::not_found("brand"));
    }
    deps.tenants
        .get_brand(&ctx.principal.tenant, &brand)
        .await?
        .ok_or_else(|| ApiError::not_found("brand"))?;
    Ok(brand)
}

/// `GET /brands/{brand_id}/messages?limit&cursor` — newest first.
pub async fn list(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        let q = Query::parse(&req, &["limit", "cursor"])?;
        let brand = visible_brand(deps, &ctx, &req).await?;
        let page = deps
            .messages
            .list(&ctx.principal.tenant, &brand, &q.page()?)
            .await?;
        Ok(Reply::page(page))
    })
    .await
}

/// `POST /brands/{brand_id}/messages` — requires `Idempotency-Key`: a retry answers the
/// message the first attempt posted instead of posting it twice.
pub async fn post(deps: &ApiDeps, request: Request) -> Response<Body> {
    authenticated(deps, request, |ctx, req| async move {
        let brand = visible_brand(deps, &ctx, &req).await?;
        require(&ctx, Action::WriteMessages)?;
        let key = request::idempotency_key(&req)?;
        let (body, raw) = request::json_body::<PostMessageBody>(deps, &req, None)?;
        let text = MessageBody::parse(body.body).map_err(|e| {
            ApiError::validation(FieldErrors::from([(
                "body".to_owned(),
                vec![e.to_string()],
            )]))
        })?;
        // The brand is part of what the key stands for: the path with the body.
        let payload = serde_json::json!({ "brand_id": brand.as_str(), "body": raw });
        idempotent(deps, &ctx, POST_SCOPE, &key, &payload, || async {
            let message = Message {
                tenant_id: ctx.principal.tenant.clone(),
                brand_id: brand.clone(),
                id: MessageId::generate(),
                author: ctx.principal.subject.clone(),
                author_role: ctx.principal.role.as_str().to_owned(),
                body: text,
                created_at: deps.now(),
            };
            // Before the message is stored: a message has no upstream key, so a retry after
            // a failure here must find nothing posted (`crate::audit`).
            audit::record_with(
                deps,
                &ctx,
                "messages.post",
                format!("message:{}", message.id),
                Some(serde_json::json!({ "brand_id": brand.as_str() })),
            )
            .await?;
            deps.messages
                .append(&ctx.principal.tenant, &message)
                .await?;
            Ok(Reply::created(writes::to_json(&message)?))
        })
        .await
    })
    .await
}
