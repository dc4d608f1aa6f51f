//! Write-body checks the way Trackstar makes them: write fields are non-nullable, so
//! `null` or `""` anywhere is a 422 (`detail.body.<field>`), as are missing required
//! fields and wrong types. Fields the endpoint does not know go to `unused_fields`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::ApiError;

pub const MISSING: &str = "Missing data for required field.";
pub const NULL: &str = "Field may not be null.";
pub const EMPTY: &str = "Field may not be empty.";
/// Largest quantity accepted in a write (keeps stock arithmetic far from overflow).
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// Parses a JSON object body (an empty body counts as `{}`).
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::validation(
            "body",
            "_schema",
            "Invalid input type.",
        )),
        Err(_) => Err(ApiError::validation(
            "body",
            "_schema",
            "Invalid JSON body.",
        )),
    }
}

/// A reader of typed fields that collects every problem before failing.
#[derive(Debug)]
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    errors: BTreeMap<String, Vec<String>>,
}

impl<'a> Fields<'a> {
    /// Starts with the null/empty check over the whole body.
    pub fn new(obj: &'a Map<String, Value>) -> Self {
        let mut errors = BTreeMap::new();
        for (key, value) in obj {
            null_or_empty(key, value, &mut errors);
        }
        Self { obj, errors }
    }

    pub fn error(&mut self, field: &str, message: &str) {
        self.errors
            .entry(field.to_owned())
            .or_default()
            .push(message.to_owned());
    }

    pub fn require(&mut self, fields: &[&str]) {
        for field in fields {
            if !self.obj.contains_key(*field) {
                self.error(field, MISSING);
            }
        }
    }

    fn present(&self, name: &str) -> Option<&'a Value> {
        self.obj.get(name).filter(|v| !is_null_or_empty(v))
    }

    pub fn string(&mut self, name: &str) -> Option<String> {
        let value = self.present(name)?;
        match value.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                self.error(name, "Not a valid string.");
                None
            }
        }
    }

    pub fn number(&mut self, name: &str) -> Option<f64> {
        let value = self.present(name)?;
        match value.as_f64() {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                self.error(name, "Not a valid number.");
                None
            }
        }
    }

    pub fn positive_int(&mut self, name: &str) -> Option<i64> {
        let value = self.present(name)?;
        match value.as_i64() {
            Some(n) if (1..=MAX_QUANTITY).contains(&n) => Some(n),
            _ => {
                self.error(name, "Must be an integer from 1 to 1000000000.");
                None
            }
        }
    }

    pub fn one_of(&mut self, name: &str, allowed: &[&str]) -> Option<String> {
        let value = self.string(name)?;
        if allowed.contains(&value.as_str()) {
            Some(value)
        } else {
            self.error(name, &format!("Must be one of: {}.", allowed.join(", ")));
            None
        }
    }

    pub fn object(&mut self, name: &str) -> Option<&'a Map<String, Value>> {
        let value = self.present(name)?;
        match value.as_object() {
            Some(o) => Some(o),
            None => {
                self.error(name, "Not a valid object.");
                None
            }
        }
    }

    pub fn array(&mut self, name: &str) -> Option<&'a Vec<Value>> {
        let value = self.present(name)?;
        match value.as_array() {
            Some(a) => Some(a),
            None => {
                self.error(name, "Not a valid list.");
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation {
                location: "body",
                fields: self.errors,
            })
        }
    }
}

fn is_null_or_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

fn null_or_empty(path: &str, value: &Value, errors: &mut BTreeMap<String, Vec<String>>) {
    match value {
        Value::Null => errors
            .entry(path.to_owned())
            .or_default()
            .push(NULL.to_owned()),
        Value::String(s) if s.is_empty() => errors
            .entry(path.to_owned())
            .or_default()
            .push(EMPTY.to_owned()),
        Value::Object(map) => {
            for (k, v) in map {
                null_or_empty(&format!("{path}.{k}"), v, errors);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                null_or_empty(&format!("{path}.{i}"), v, errors);
            }
        }
        _ => {}
    }
}

/// Top-level keys (and `parent.key` for known nested objects) the endpoint does not use.
pub fn unused_fields(obj: &Map<String, Value>, known: &[&str]) -> Vec<String> {
    obj.keys()
        .filter(|k| !known.contains(&k.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nulls_and_empty_strings_anywhere_are_reported_by_path() {
        let body = json!({"a": null, "b": "", "c": {"d": ""}, "e": [{"f": null}], "g": "ok"});
        let obj = body.as_object().expect("object");
        let err = Fields::new(obj).finish().expect_err("invalid");
        let ApiError::Validation { location, fields } = err else {
            panic!("not a validation error");
        };
        assert_eq!(location, "body");
        assert_eq!(
            fields.keys().cloned().collect::<Vec<_>>(),
            vec!["a", "b", "c.d", "e.0.f"]
        );
    }

    #[test]
    fn missing_required_and_wrong_types_are_collected() {
        let body = json!({"quantity": "ten"});
        let obj = body.as_object().expect("object");
        let mut fields = Fields::new(obj);
        fields.require(&["quantity", "adjustment_type"]);
        assert_eq!(fields.positive_int("quantity"), None);
        let ApiError::Validation { fields, .. } = fields.finish().expect_err("invalid") else {
            panic!("not a validation error");
        };
        assert_eq!(fields["adjustment_type"], vec![MISSING.to_owned()]);
        assert!(fields.contains_key("quantity"));
    }
}
