//! The caller's identity, from the claims API Gateway's JWT authorizer verified and put in
//! `requestContext.authorizer.jwt.claims`. HTTP APIs flatten array claims into strings
//! (`[b1 b2]`), so brand lists are parsed from that form, from JSON arrays and from comma
//! lists. Missing or malformed claims are a 401: the tenant only ever comes from here.

use std::collections::{BTreeSet, HashMap};

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use super::error::ApiError;
use crate::domain::{BrandId, TenantId, UserId};
use crate::runtime::Env;

/// Which claims hold what (configurable: identity providers name custom claims differently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    pub subject: String,
    pub tenant: String,
    pub role: String,
    pub brands: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            subject: "sub".into(),
            tenant: "custom:tenant_id".into(),
            role: "custom:role".into(),
            brands: "custom:brand_ids".into(),
        }
    }
}

impl ClaimNames {
    /// `CLAIM_SUBJECT`, `CLAIM_TENANT_ID`, `CLAIM_ROLE`, `CLAIM_BRAND_IDS`; defaults otherwise.
    pub fn from_env(env: &dyn Env) -> Self {
        let d = Self::default();
        let pick = |name: &str, default: String| {
            env.var(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| v.trim().to_owned())
                .unwrap_or(default)
        };
        Self {
            subject: pick("CLAIM_SUBJECT", d.subject),
            tenant: pick("CLAIM_TENANT_ID", d.tenant),
            role: pick("CLAIM_ROLE", d.role),
            brands: pick("CLAIM_BRAND_IDS", d.brands),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A 3PL's administrator.
    TenantAdmin,
    /// A 3PL's operators.
    TenantStaff,
    /// A brand's manager, limited to their brands.
    BrandManager,
    /// A brand's read-only user, limited to their brands.
    BrandViewer,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::TenantAdmin,
        Role::TenantStaff,
        Role::BrandManager,
        Role::BrandViewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::TenantAdmin => "tenant_admin",
            Role::TenantStaff => "tenant_staff",
            Role::BrandManager => "brand_manager",
            Role::BrandViewer => "brand_viewer",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value.trim())
    }

    /// Whether the role sees the whole tenant (not limited to brands).
    pub fn is_tenant_wide(self) -> bool {
        matches!(self, Role::TenantAdmin | Role::TenantStaff)
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: UserId,
    pub tenant: TenantId,
    pub role: Role,
    /// The brands of a brand user (empty for tenant-wide roles).
    pub brands: BTreeSet<BrandId>,
}

/// Parses a flattened array claim: `[b1 b2]`, `["b1","b2"]`, `b1,b2`, or `b1`.
pub fn parse_list_claim(raw: &str) -> Option<Vec<String>> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Some(Vec::new());
    }
    if let Ok(values) = serde_json::from_str::<Vec<String>>(trimmed) {
        return Some(values.into_iter().map(|v| v.trim().to_owned()).collect());
    }
    let inner = match (trimmed.strip_prefix('['), trimmed.ends_with(']')) {
        (Some(rest), true) => &rest[..rest.len() - 1],
        (None, false) => trimmed,
        _ => return None,
    };
    Some(
        inner
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(|s| s.trim_matches('"').trim())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

impl Principal {
    /// Builds the principal from verified claims; every failure is a 401.
    pub fn from_claims(
        claims: &HashMap<String, String>,
        names: &ClaimNames,
    ) -> Result<Self, ApiError> {
        let get = |name: &str| claims.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let subject = get(&names.subject)
            .and_then(|v| UserId::parse(v).ok())
            .ok_or_else(|| {
                ApiError::unauthorized("the token's subject claim is missing or invalid")
            })?;
        let tenant = get(&names.tenant)
            .and_then(|v| TenantId::parse(v).ok())
            .ok_or_else(|| {
                ApiError::unauthorized("the token's tenant claim is missing or invalid")
            })?;
        let role = get(&names.role).and_then(Role::parse).ok_or_else(|| {
            ApiError::unauthorized("the token's role claim is missing or invalid")
        })?;
        let brands = if role.is_tenant_wide() {
            BTreeSet::new()
        } else {
            let raw = get(&names.brands).ok_or_else(|| {
                ApiError::unauthorized("the token's brand claim is missing for a brand role")
            })?;
            let list = parse_list_claim(raw)
                .ok_or_else(|| ApiError::unauthorized("the token's brand claim is malformed"))?;
            let brands = list
                .into_iter()
                .map(BrandId::parse)
                .collect::<Result<BTreeSet<_>, _>>()
                .map_err(|_| ApiError::unauthorized("the token's brand claim is malformed"))?;
            if brands.is_empty() {
                return Err(ApiError::unauthorized(
                    "the token's brand claim names no brand",
                ));
            }
            brands
        };
        Ok(Self {
            subject,
            tenant,
            role,
            brands,
        })
    }

    /// Reads the claims the JWT authorizer put in the API Gateway HTTP API v2 event.
    pub fn from_request(request: &Request, names: &ClaimNames) -> Result<Self, ApiError> {
        let claims = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx
                .authorizer
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .map(|jwt| &jwt.claims),
            _ => None,
        };
        let claims = claims
            .ok_or_else(|| ApiError::unauthorized("the request carries no verified token"))?;
        Self::from_claims(claims, names)
    }

    /// Whether this caller may see objects of `brand` (tenant-wide roles see all, including
    /// objects of no brand; brand users only their brands).
    pub fn sees_brand(&self, brand: Option<&BrandId>) -> bool {
        self.role.is_tenant_wide() || brand.is_some_and(|b| self.brands.contains(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn flattened_json_and_comma_lists_all_parse() {
        assert_eq!(
            parse_list_claim("[b1 b2]"),
            Some(vec!["b1".into(), "b2".into()])
        );
        assert_eq!(
            parse_list_claim(r#"["b1","b2"]"#),
            Some(vec!["b1".into(), "b2".into()])
        );
        assert_eq!(
            parse_list_claim("b1, b2"),
            Some(vec!["b1".into(), "b2".into()])
        );
        assert_eq!(parse_list_claim("b1"), Some(vec!["b1".into()]));
        assert_eq!(parse_list_claim("[b1"), None);
    }

    #[test]
    fn a_brand_user_gets_their_brands() {
        let p = Principal::from_claims(
            &claims(&[
                ("sub", "u1"),
                ("custom:tenant_id", "acme"),
                ("custom:role", "brand_manager"),
                ("custom:brand_ids", "[b1 b2]"),
            ]),
            &ClaimNames::default(),
        )
        .unwrap();
        assert_eq!(p.role, Role::BrandManager);
        assert_eq!(p.brands.len(), 2);
        assert!(p.sees_brand(Some(&BrandId::parse("b2").unwrap())));
        assert!(!p.sees_brand(Some(&BrandId::parse("b3").unwrap())));
        assert!(!p.sees_brand(None));
    }

    #[test]
    fn missing_or_malformed_claims_are_401() {
        let names = ClaimNames::default();
        for bad in [
            claims(&[
                ("custom:tenant_id", "acme"),
                ("custom:role", "tenant_admin"),
            ]),
            claims(&[("sub", "u"), ("custom:role", "tenant_admin")]),
            claims(&[
                ("sub", "u"),
                ("custom:tenant_id", "a#b"),
                ("custom:role", "tenant_admin"),
            ]),
            claims(&[
                ("sub", "u"),
                ("custom:tenant_id", "acme"),
                ("custom:role", "root"),
            ]),
            claims(&[
                ("sub", "u"),
                ("custom:tenant_id", "acme"),
                ("custom:role", "brand_viewer"),
            ]),
            claims(&[
                ("sub", "u"),
                ("custom:tenant_id", "acme"),
                ("custom:role", "brand_viewer"),
                ("custom:brand_ids", "[]"),
            ]),
            claims(&[
                ("sub", "u"),
                ("custom:tenant_id", "acme"),
                ("custom:role", "brand_viewer"),
                ("custom:brand_ids", "[b#1]"),
            ]),
        ] {
            let err = Principal::from_claims(&bad, &names).unwrap_err();
            assert_eq!(err.status, http::StatusCode::UNAUTHORIZED, "{bad:?}");
        }
    }
}
