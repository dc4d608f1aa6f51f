//! Path parameters: route templates matched against the raw path, segments
//! percent-decoded.

use std::collections::BTreeMap;

use lambda_http::{Request, RequestExt};

use crate::api::error::ApiError;

/// A path segment decoded, `None` unless every `%` starts two hex digits and the result is
/// UTF-8 (the crate keeps a malformed escape as text; a path parameter must not).
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Matches a path against a template (`/orders/{order_id}`); returns the decoded params.
pub fn match_template(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut params = BTreeMap::new();
    for (ts, ps) in t.iter().zip(p.iter()) {
        if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if ps.is_empty() {
                return None;
            }
            params.insert(name.to_owned(), percent_decode(ps)?);
        } else if ts != ps {
            return None;
        }
    }
    Some(params)
}

/// A path parameter: from the event's `pathParameters` (API Gateway fills them), else by
/// matching the route template against the raw path.
pub fn path_param(request: &Request, template: &str, name: &str) -> Result<String, ApiError> {
    if let Some(v) = request
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .filter(|v| !v.is_empty())
    {
        return Ok(v.to_owned());
    }
    let path = match request.raw_http_path() {
        "" => request.uri().path().to_owned(),
        raw => raw.to_owned(),
    };
    match_template(template, &path)
        .and_then(|mut m| m.remove(name))
        .ok_or_else(|| ApiError::invalid_parameter(name, "is missing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_segments_and_decode_params() {
        let m = match_template("/inventory/{sku}", "/inventory/TEE%20BLK").unwrap();
        assert_eq!(m["sku"], "TEE BLK");
        assert!(match_template("/orders/{order_id}", "/orders").is_none());
        assert!(match_template("/orders/{order_id}", "/orders/").is_none());
        assert!(match_template("/orders/{order_id}/cancel", "/orders/o1/cancel").is_some());
        assert!(match_template("/inventory/{sku}", "/inventory/%ZZ").is_none());
    }

    #[test]
    fn a_malformed_escape_is_no_parameter() {
        // `%+F` parsed as the number +F before; `%4` is cut short; `%C3%28` is not UTF-8
        for raw in ["%+F", "%4", "a%", "%C3%28"] {
            assert!(
                match_template("/orders/{order_id}", &format!("/orders/{raw}")).is_none(),
                "{raw}"
            );
        }
        let m = match_template("/orders/{order_id}", "/orders/o%2F1").unwrap();
        assert_eq!(m["order_id"], "o/1");
    }
}
