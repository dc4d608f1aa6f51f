//! Query parameters (unknown names refused, empty values absent) and the brand scope of a
//! listing.

use std::collections::BTreeMap;

use lambda_http::{Request, RequestExt};

use super::auth::Ctx;
use crate::api::error::{ApiError, FieldErrors};
use crate::api::ApiDeps;
use crate::domain::{BrandId, Timestamp};
use crate::store::{PageLimit, PageRequest};

/// Query parameters, refusing unknown names (typos must not silently widen a listing). A
/// parameter given with an empty value (`?cursor=`) is taken as absent: forms and
/// generated clients send those for unset fields.
pub struct Query {
    values: BTreeMap<String, String>,
}

impl Query {
    pub fn parse(request: &Request, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut values = BTreeMap::new();
        let mut errors = FieldErrors::new();
        if let Some(map) = request.query_string_parameters_ref() {
            for (name, value) in map.iter() {
                if !allowed.contains(&name) {
                    errors
                        .entry(name.to_owned())
                        .or_default()
                        .push("is not a known parameter".into());
                } else if map.all(name).is_some_and(|v| v.len() > 1) {
                    errors
                        .entry(name.to_owned())
                        .or_default()
                        .push("must be given once".into());
                } else if !value.is_empty() {
                    values.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        if errors.is_empty() {
            Ok(Self { values })
        } else {
            Err(ApiError::invalid_parameters(errors))
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// `limit` (1–100, default 50) and `cursor`.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = match self.get("limit") {
            None => None,
            Some(raw) => Some(raw.parse::<u32>().map_err(|_| {
                ApiError::invalid_parameter("limit", "must be an integer from 1 to 100")
            })?),
        };
        let limit = PageLimit::parse(limit).map_err(|_| {
            ApiError::invalid_parameter("limit", "must be an integer from 1 to 100")
        })?;
        Ok(PageRequest {
            limit,
            cursor: self.get("cursor").map(str::to_owned),
        })
    }

    pub fn timestamp(&self, name: &str) -> Result<Option<Timestamp>, ApiError> {
        self.get(name)
            .map(|raw| {
                Timestamp::parse_rfc3339(raw)
                    .map_err(|_| ApiError::invalid_parameter(name, "must be an RFC 3339 timestamp"))
            })
            .transpose()
    }

    /// As [`Query::brand_scope`], and a brand asked for must exist in the caller's tenant
    /// (another tenant's brand is a 404, as a missing one).
    pub async fn brand_filter(
        &self,
        deps: &ApiDeps,
        ctx: &Ctx,
    ) -> Result<Option<BrandId>, ApiError> {
        let brand = self.brand_scope(ctx)?;
        if let (Some(b), Some(_)) = (&brand, self.get("brand_id")) {
            deps.tenants
                .get_brand(&ctx.principal.tenant, b)
                .await?
                .ok_or_else(|| ApiError::not_found("brand"))?;
        }
        Ok(brand)
    }

    /// The brand a listing is limited to: the `brand_id` asked for (404 if the caller may
    /// not see it), else every brand for tenant-wide roles, else the brand user's one brand
    /// (a user of several brands must choose).
    pub fn brand_scope(&self, ctx: &Ctx) -> Result<Option<BrandId>, ApiError> {
        match self.get("brand_id") {
            Some(raw) => {
                let brand = BrandId::parse(raw)
                    .map_err(|e| ApiError::invalid_parameter("brand_id", e.to_string()))?;
                if ctx.principal.sees_brand(Some(&brand)) {
                    Ok(Some(brand))
                } else {
                    Err(ApiError::not_found("brand"))
                }
            }
            None if ctx.principal.role.is_tenant_wide() => Ok(None),
            None => match ctx.principal.brands.len() {
                1 => Ok(ctx.principal.brands.iter().next().cloned()),
                _ => Err(ApiError::invalid_parameter(
                    "brand_id",
                    "is required: your token names several brands",
                )),
            },
        }
    }
}
