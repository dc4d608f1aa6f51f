//! The JWT authorizer's scope check, as API Gateway makes it for an HTTP API route with
//! `AuthorizationScopes`: the token must carry at least one of the route's scopes, read from
//! its `scope` claim (space-separated, OAuth 2.0) or its `scp` claim (a list, or a string);
//! a valid token that carries none is a 403 `{"message":"Forbidden"}` before any function
//! runs. So is a token with no scope claim at all, such as an OpenID Connect ID token.

use std::collections::HashMap;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::template::Template;

/// Each route's required scopes by route key (`GET /orders`), from `template.yaml`; a route
/// with none (or absent) takes any valid token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteScopes(HashMap<String, Vec<String>>);

impl RouteScopes {
    /// The scopes the template declares for every HTTP API route (parameters at their
    /// defaults).
    pub fn from_template(template: &Template) -> Result<Self, crate::template::TemplateError> {
        Ok(Self(
            template
                .http_routes()?
                .into_iter()
                .map(|route| (route.route_key(), route.scopes))
                .collect(),
        ))
    }

    pub fn required(&self, route_key: &str) -> &[String] {
        self.0.get(route_key).map_or(&[], Vec::as_slice)
    }
}

/// The scopes a token carries: `scope` (space-separated) and `scp` (a list or a string).
pub fn token_scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut scopes = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(text)) => {
                scopes.extend(text.split_whitespace().map(str::to_owned));
            }
            Some(Value::Array(items)) => {
                scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
    scopes
}

/// API Gateway's 403 when `granted` holds none of `required` (with a `www-authenticate`
/// header in the form API Gateway gives its 401s, RFC 6750's `insufficient_scope`); `None`
/// when the request may pass: the route requires no scope, or the token has one of them.
pub fn refuse_unless_scoped(required: &[String], granted: &[String]) -> Option<Response> {
    if required.is_empty() || required.iter().any(|scope| granted.contains(scope)) {
        return None;
    }
    let expected = required.join(" ");
    let mut response = (
        StatusCode::FORBIDDEN,
        axum::Json(json!({ "message": "Forbidden" })),
    )
        .into_response();
    let challenge = format!(
        "Bearer scope=\"{expected}\" error=\"insufficient_scope\" \
         error_description=\"expected scopes: [{expected}]\""
    );
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert("www-authenticate", value);
    }
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        serde_json::from_value(value).expect("an object")
    }

    #[test]
    fn scopes_are_read_from_scope_and_scp_in_either_form() {
        assert_eq!(
            token_scopes(&claims(json!({"scope": "packr/read  packr/write"}))),
            vec!["packr/read", "packr/write"]
        );
        assert_eq!(
            token_scopes(&claims(json!({"scp": ["packr/admin"]}))),
            vec!["packr/admin"]
        );
        assert!(token_scopes(&claims(json!({"sub": "u"}))).is_empty());
    }

    #[test]
    fn one_of_the_route_s_scopes_is_enough_and_none_is_a_403() {
        let required = vec!["packr/write".to_owned(), "packr/admin".to_owned()];
        assert!(refuse_unless_scoped(&required, &["packr/admin".to_owned()]).is_none());
        assert!(refuse_unless_scoped(&[], &[]).is_none());
        let refused = refuse_unless_scoped(&required, &["packr/read".to_owned()])
            .expect("refused without any of the scopes");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let challenge = refused.headers()["www-authenticate"]
            .to_str()
            .expect("ASCII");
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{challenge}"
        );
        assert!(
            refuse_unless_scoped(&required, &[]).is_some(),
            "no scope claim at all"
        );
    }
}
