//! Request bodies (content type, size limit, unknown and mistyped fields named), field
//! validation, and the `Idempotency-Key` header.

use http::StatusCode;
use lambda_http::Request;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::api::error::{ApiError, FieldErrors};
use crate::api::ApiDeps;
use crate::idempotency::IdempotencyKey;

/// The `Idempotency-Key` header (400 when missing or invalid).
pub fn idempotency_key(request: &Request) -> Result<IdempotencyKey, ApiError> {
    let raw = request
        .headers()
        .get("idempotency-key")
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                "this request requires an Idempotency-Key header",
            )
        })?
        .to_str()
        .map_err(|_| invalid_key())?;
    IdempotencyKey::parse(raw).map_err(|_| invalid_key())
}

fn invalid_key() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_idempotency_key",
        "Idempotency-Key must be 1 to 255 visible ASCII characters",
    )
}

/// Parses a JSON body: 415 unless `application/json`, 413 over the limit, 400 if it is not
/// JSON, 422 naming the field for unknown, missing or mistyped fields. Returns the typed
/// body and the JSON value (for idempotency fingerprints).
pub fn json_body<T: DeserializeOwned>(
    deps: &ApiDeps,
    request: &Request,
    empty_is: Option<&str>,
) -> Result<(T, Value), ApiError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > deps.config.max_body_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the request body is larger than {} bytes",
                deps.config.max_body_bytes
            ),
        ));
    }
    let text = if bytes.iter().all(u8::is_ascii_whitespace) {
        match empty_is {
            Some(default) => default.as_bytes(),
            None => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "body_required",
                    "this request requires a JSON body",
                ))
            }
        }
    } else {
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let media = content_type.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the request body must be application/json",
            ));
        }
        bytes
    };
    let value: Value = serde_json::from_slice(text).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!(
                "the request body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::validation(FieldErrors::from([(
            "body".to_owned(),
            vec!["must be a JSON object".to_owned()],
        )])));
    }
    let typed = serde_path_to_error::deserialize::<_, T>(value.clone())
        .map_err(|e| ApiError::validation(FieldErrors::from([field_error(&e)])))?;
    Ok((typed, value))
}

/// The failing field's path (`line_items[0].unit_price`) and what is wrong with it.
fn field_error(e: &serde_path_to_error::Error<serde_json::Error>) -> (String, Vec<String>) {
    let path = e.path().to_string();
    let (field, messages) = field_of_serde_error(&e.inner().to_string());
    let at_root = path.is_empty() || path == ".";
    let name = match (field.as_str(), at_root) {
        ("body", true) => field,
        ("body", false) => path,
        (_, true) => field,
        // an unknown or missing field of a nested object: the path is its parent's
        (_, false) if path.ends_with(&field) => path,
        (_, false) => format!("{path}.{field}"),
    };
    (name, messages)
}

/// Names the field a serde error is about (`unknown field `x``, `missing field `x``).
fn field_of_serde_error(message: &str) -> (String, Vec<String>) {
    let quoted = message
        .split('`')
        .nth(1)
        .filter(|_| message.contains("field `"))
        .map(str::to_owned);
    match quoted {
        Some(field) if message.starts_with("unknown field") => {
            (field, vec!["is not a known field".to_owned()])
        }
        Some(field) if message.starts_with("missing field") => {
            (field, vec!["is required".to_owned()])
        }
        _ => (
            "body".to_owned(),
            vec![message
                .split(" at line")
                .next()
                .unwrap_or(message)
                .to_owned()],
        ),
    }
}

/// 2^63, the first `f64` past `i64::MAX`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Reads a JSON integer as JSON Schema defines one: any number without a fractional part,
/// so `3`, `3.0` and `3e0` are the same quantity (a generated client may send any of them).
/// For `#[serde(deserialize_with = "…")]` on `i64` fields.
pub fn integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    use serde::de::{Error, Unexpected};
    let number = serde_json::Number::deserialize(deserializer)?;
    if let Some(n) = number.as_i64() {
        return Ok(n);
    }
    match number.as_f64() {
        // 2^63 is exactly representable; anything at or beyond it is out of range
        Some(f) if f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&f) =>
        {
            #[allow(clippy::cast_possible_truncation)]
            Ok(f as i64)
        }
        Some(f) => Err(D::Error::invalid_value(Unexpected::Float(f), &"an integer")),
        None => Err(D::Error::custom("integer out of range")),
    }
}

/// As [`integer`], for optional fields (`null` is absent).
pub fn opt_integer<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "integer")] i64);
    Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(n)| n))
}

/// Collects field errors while validating a body.
#[derive(Debug, Default)]
pub struct Validator {
    errors: FieldErrors,
}

impl Validator {
    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors
            .entry(field.into())
            .or_default()
            .push(message.into());
    }

    /// Checks a required text field: not blank, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.error(field, "must not be blank");
        } else if value.chars().count() > max {
            self.error(field, format!("must be at most {max} characters"));
        } else if value.chars().any(char::is_control) {
            self.error(field, "must not contain control characters");
        }
    }

    /// Whether `field` already has an error.
    pub fn has_error(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    pub fn opt_text(&mut self, field: &str, value: Option<&String>, max: usize) {
        if let Some(v) = value {
            self.text(field, v, max);
        }
    }

    /// Parses a value, recording the error under `field`.
    pub fn parse<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(field, e.to_string());
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        sku: String,
        unit_price: Option<i64>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        reference_id: String,
        line_items: Vec<Line>,
    }

    fn error_of(value: serde_json::Value) -> (String, Vec<String>) {
        field_error(&serde_path_to_error::deserialize::<_, Body>(value).unwrap_err())
    }

    #[test]
    fn a_failing_field_is_named_by_its_path() {
        use serde_json::json;
        let lines = |line: serde_json::Value| json!({"reference_id": "r", "line_items": [ {"sku": "A"}, line ]});
        assert_eq!(
            error_of(lines(json!({"sku": "B", "unit_price": 12.5}))).0,
            "line_items[1].unit_price"
        );
        assert_eq!(
            error_of(lines(json!({"unit_price": 1}))).0,
            "line_items[1].sku"
        );
        assert_eq!(
            error_of(lines(json!({"sku": "B", "colour": "red"}))).0,
            "line_items[1].colour"
        );
        assert_eq!(error_of(json!({"line_items": []})).0, "reference_id");
        assert_eq!(
            error_of(json!({"reference_id": 1, "line_items": []})).0,
            "reference_id"
        );
    }

    #[derive(Debug, serde::Deserialize)]
    struct Quantity {
        #[serde(deserialize_with = "integer")]
        n: i64,
        #[serde(default, deserialize_with = "opt_integer")]
        m: Option<i64>,
    }

    #[test]
    fn integers_are_numbers_without_a_fraction_as_json_schema_says() {
        for text in [
            r#"{"n": 3}"#,
            r#"{"n": 3.0}"#,
            r#"{"n": 3e0}"#,
            r#"{"n": 0.3e1, "m": null}"#,
        ] {
            let q: Quantity = serde_json::from_str(text).expect(text);
            assert_eq!((q.n, q.m), (3, None), "{text}");
        }
        let q: Quantity = serde_json::from_str(r#"{"n": -2, "m": 7.0}"#).unwrap();
        assert_eq!((q.n, q.m), (-2, Some(7)));
        for text in [
            r#"{"n": 3.5}"#,
            r#"{"n": 1e19}"#,
            r#"{"n": "3"}"#,
            r#"{"n": 1, "m": 0.5}"#,
        ] {
            assert!(serde_json::from_str::<Quantity>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn serde_errors_name_their_field() {
        assert_eq!(
            field_of_serde_error("unknown field `colour`, expected one of `a`, `b`").0,
            "colour"
        );
        assert_eq!(field_of_serde_error("missing field `sku`").0, "sku");
        assert_eq!(field_of_serde_error("invalid type: string").0, "body");
    }
}
