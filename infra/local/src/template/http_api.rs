//! The HTTP API's routes as the template declares them (`Events` of `Type: HttpApi` on the
//! functions) with the authorization API Gateway applies to each: which authorizer, and the
//! scopes a token must carry (at least one of them). The local gateway enforces them.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::props::{describe, intrinsic, Intrinsic, Props};
use super::TemplateError;

/// One route of an `AWS::Serverless::HttpApi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRouteSpec {
    /// The function's logical id.
    pub function: String,
    /// The event's name under the function's `Events`.
    pub event: String,
    /// `GET`, `POST`, … (`ANY` for the `$default` route).
    pub method: String,
    pub path: String,
    /// The authorizer that guards the route (the API's `DefaultAuthorizer` unless the event
    /// names one); `None` for `Authorizer: NONE` or an API without a default.
    pub authorizer: Option<String>,
    /// Whether the scopes are the event's own `Auth.AuthorizationScopes` (else they are the
    /// authorizer's, or none).
    pub scopes_declared: bool,
    /// The scopes a token needs, at least one of them, parameters resolved: the event's
    /// `AuthorizationScopes`, else the authorizer's. Empty: any valid token passes.
    pub scopes: Vec<String>,
}

impl HttpRouteSpec {
    /// API Gateway's route key, e.g. `GET /orders/{order_id}`.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method.to_ascii_uppercase(), self.path)
    }
}

/// An `AWS::Serverless::HttpApi`'s `Auth`: its default authorizer and each authorizer's
/// default scopes.
#[derive(Debug, Clone, Default)]
pub(super) struct ApiAuth {
    default_authorizer: Option<String>,
    authorizer_scopes: BTreeMap<String, Vec<String>>,
}

pub(super) fn api_auth(
    logical_id: &str,
    properties: &Mapping,
    parameters: &BTreeMap<String, Option<String>>,
) -> Result<ApiAuth, TemplateError> {
    let props = Props::new(logical_id, properties);
    let Some(auth) = props.mapping("Auth")? else {
        return Ok(ApiAuth::default());
    };
    let mut authorizer_scopes = BTreeMap::new();
    if let Some(authorizers) = auth.mapping("Authorizers")? {
        for name in authorizers.keys() {
            let Some(authorizer) = authorizers.mapping(&name)? else {
                continue;
            };
            authorizer_scopes.insert(name, scopes(&authorizer, parameters)?);
        }
    }
    Ok(ApiAuth {
        default_authorizer: auth.str("DefaultAuthorizer")?,
        authorizer_scopes,
    })
}

/// The `HttpApi` events of one function, against the APIs' `Auth` by logical id.
pub(super) fn routes(
    function: &str,
    properties: &Mapping,
    apis: &BTreeMap<String, ApiAuth>,
    parameters: &BTreeMap<String, Option<String>>,
) -> Result<Vec<HttpRouteSpec>, TemplateError> {
    let props = Props::new(function, properties);
    let Some(events) = props.mapping("Events")? else {
        return Ok(Vec::new());
    };
    let mut routes = Vec::new();
    for name in events.keys() {
        let Some(event) = events.mapping(&name)? else {
            continue;
        };
        if event.str("Type")?.as_deref() != Some("HttpApi") {
            continue;
        }
        let properties = event
            .mapping("Properties")?
            .ok_or_else(|| event.error("Properties", "required but missing"))?;
        let api = match properties.get("ApiId").and_then(intrinsic) {
            Some(Intrinsic::Ref(api)) => apis
                .get(api)
                .ok_or_else(|| properties.error("ApiId", format!("{api} is not an HttpApi")))?,
            _ => return Err(properties.error("ApiId", "expected !Ref <HttpApi>")),
        };
        let auth = properties.mapping("Auth")?;
        let named = match &auth {
            Some(auth) => auth.str("Authorizer")?,
            None => None,
        };
        let authorizer = match named {
            Some(name) if name == "NONE" => None,
            Some(name) => Some(name),
            None => api.default_authorizer.clone(),
        };
        let own = match &auth {
            Some(auth) if auth.get("AuthorizationScopes").is_some() => {
                Some(scopes(auth, parameters)?)
            }
            _ => None,
        };
        let scopes_declared = own.is_some();
        let scopes = match (&authorizer, own) {
            (None, _) => Vec::new(),
            (Some(_), Some(own)) => own,
            (Some(name), None) => api.authorizer_scopes.get(name).cloned().unwrap_or_default(),
        };
        routes.push(HttpRouteSpec {
            function: function.to_owned(),
            event: name,
            method: properties.required_str("Method")?,
            path: properties.required_str("Path")?,
            authorizer,
            scopes_declared,
            scopes,
        });
    }
    Ok(routes)
}

/// `AuthorizationScopes` of `props`: literal strings or `!Ref`s of parameters, resolved to
/// their defaults.
fn scopes(
    props: &Props<'_>,
    parameters: &BTreeMap<String, Option<String>>,
) -> Result<Vec<String>, TemplateError> {
    let Some(items) = props.seq("AuthorizationScopes")? else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|item| match (intrinsic(item), item) {
            (Some(Intrinsic::Ref(name)), _) => match parameters.get(name) {
                Some(Some(default)) => Ok(default.clone()),
                Some(None) => Err(props.error(
                    "AuthorizationScopes",
                    format!("!Ref {name}: the parameter has no default"),
                )),
                None => Err(props.error(
                    "AuthorizationScopes",
                    format!("!Ref {name}: not a parameter of the template"),
                )),
            },
            (None, Value::String(scope)) => Ok(scope.clone()),
            (_, other) => Err(props.error(
                "AuthorizationScopes",
                format!(
                    "expected a scope or !Ref of a parameter, found {}",
                    describe(other)
                ),
            )),
        })
        .collect()
}
