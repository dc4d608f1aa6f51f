//! Typed reads of a resource's properties, with errors that name the resource and property,
//! and recognition of CloudFormation intrinsic functions in both YAML forms
//! (`!GetAtt Queue.Arn` and `{"Fn::GetAtt": ["Queue", "Arn"]}`).

use serde_yaml::{Mapping, Value};

use super::TemplateError;

/// The properties of one resource, or a nested mapping inside them.
#[derive(Clone)]
pub(super) struct Props<'a> {
    logical_id: &'a str,
    /// Dotted path of this mapping inside `Properties` ("" at the top).
    path: String,
    map: &'a Mapping,
}

impl<'a> Props<'a> {
    pub(super) fn new(logical_id: &'a str, map: &'a Mapping) -> Self {
        Self {
            logical_id,
            path: String::new(),
            map,
        }
    }

    pub(super) fn logical_id(&self) -> &'a str {
        self.logical_id
    }

    pub(super) fn error(&self, name: &str, reason: impl Into<String>) -> TemplateError {
        let property = if self.path.is_empty() {
            name.to_owned()
        } else if name.is_empty() {
            self.path.clone()
        } else {
            format!("{}.{name}", self.path)
        };
        TemplateError::InvalidProperty {
            logical_id: self.logical_id.to_owned(),
            property,
            reason: reason.into(),
        }
    }

    pub(super) fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name)
    }

    /// A literal string (a string, number or boolean scalar written in the template).
    pub(super) fn str(&self, name: &str) -> Result<Option<String>, TemplateError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => scalar_string(value).map(Some).ok_or_else(|| {
                self.error(
                    name,
                    format!("expected a literal value, found {}", describe(value)),
                )
            }),
        }
    }

    pub(super) fn required_str(&self, name: &str) -> Result<String, TemplateError> {
        self.str(name)?
            .ok_or_else(|| self.error(name, "required but missing"))
    }

    /// A non-negative integer, written as a number or a numeric string.
    pub(super) fn u64(&self, name: &str) -> Result<Option<u64>, TemplateError> {
        let Some(text) = self.str(name)? else {
            return Ok(None);
        };
        text.parse().map(Some).map_err(|_| {
            self.error(
                name,
                format!("expected a non-negative integer, found {text:?}"),
            )
        })
    }

    /// A boolean, written as `true`/`false` or the strings "true"/"false".
    pub(super) fn bool(&self, name: &str) -> Result<Option<bool>, TemplateError> {
        let Some(text) = self.str(name)? else {
            return Ok(None);
        };
        match text.to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(self.error(name, format!("expected true or false, found {text:?}"))),
        }
    }

    /// The string keys of this mapping.
    pub(super) fn keys(&self) -> Vec<String> {
        self.map
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect()
    }

    pub(super) fn seq(&self, name: &str) -> Result<Option<&'a [Value]>, TemplateError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Sequence(items)) => Ok(Some(items.as_slice())),
            Some(other) => {
                Err(self.error(name, format!("expected a list, found {}", describe(other))))
            }
        }
    }

    /// A nested mapping; `name` is its name as shown in errors (e.g. "KeySchema[1]").
    pub(super) fn nested(&self, name: &str, value: &'a Value) -> Result<Props<'a>, TemplateError> {
        match value {
            Value::Mapping(map) => Ok(Props {
                logical_id: self.logical_id,
                path: if self.path.is_empty() {
                    name.to_owned()
                } else {
                    format!("{}.{name}", self.path)
                },
                map,
            }),
            other => Err(self.error(
                name,
                format!("expected a mapping, found {}", describe(other)),
            )),
        }
    }

    /// The nested mapping under `name`, if present.
    pub(super) fn mapping(&self, name: &str) -> Result<Option<Props<'a>>, TemplateError> {
        self.get(name)
            .map(|value| self.nested(name, value))
            .transpose()
    }

    /// Fails on any property not in `known`, so a template change the local stack does not
    /// understand is reported instead of silently ignored.
    pub(super) fn reject_unknown(&self, known: &[&str]) -> Result<(), TemplateError> {
        for key in self.map.keys() {
            let name = key.as_str().unwrap_or("<non-string key>");
            if !known.contains(&name) {
                return Err(self.error(
                    name,
                    format!(
                        "not understood by the local stack (known: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A CloudFormation intrinsic function call.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Intrinsic<'a> {
    Ref(&'a str),
    GetAtt {
        resource: &'a str,
        attribute: &'a str,
    },
    /// `Fn::Sub` in its one-string form.
    Sub(&'a str),
    /// Any other function (or an unsupported form of the above), by name.
    Other(String),
}

/// The intrinsic function `value` calls, if it is one.
pub(super) fn intrinsic(value: &Value) -> Option<Intrinsic<'_>> {
    let (name, argument) = match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let name = match name {
                "Ref" => "Ref".to_owned(),
                other => format!("Fn::{other}"),
            };
            (name, &tagged.value)
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (key, argument) = map.iter().next()?;
            let key = key.as_str()?;
            if key != "Ref" && !key.starts_with("Fn::") {
                return None;
            }
            (key.to_owned(), argument)
        }
        _ => return None,
    };
    let parsed = match (name.as_str(), argument) {
        ("Ref", Value::String(target)) => Some(Intrinsic::Ref(target)),
        ("Fn::GetAtt", Value::String(dotted)) => {
            dotted
                .split_once('.')
                .map(|(resource, attribute)| Intrinsic::GetAtt {
                    resource,
                    attribute,
                })
        }
        ("Fn::GetAtt", Value::Sequence(parts)) => match parts.as_slice() {
            [Value::String(resource), Value::String(attribute)] => Some(Intrinsic::GetAtt {
                resource,
                attribute,
            }),
            _ => None,
        },
        ("Fn::Sub", Value::String(text)) => Some(Intrinsic::Sub(text)),
        _ => None,
    };
    Some(parsed.unwrap_or(Intrinsic::Other(name)))
}

fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A short description of a value for error messages.
pub(super) fn describe(value: &Value) -> String {
    if let Some(call) = intrinsic(value) {
        return match call {
            Intrinsic::Ref(target) => format!("!Ref {target}"),
            Intrinsic::GetAtt {
                resource,
                attribute,
            } => format!("!GetAtt {resource}.{attribute}"),
            Intrinsic::Sub(text) => format!("!Sub {text:?}"),
            Intrinsic::Other(name) => format!("a call of {name}"),
        };
    }
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => "a boolean".to_owned(),
        Value::Number(_) => "a number".to_owned(),
        Value::String(_) => "a string".to_owned(),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(tagged) => format!("a value tagged {}", tagged.tag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).expect("test YAML parses")
    }

    #[test]
    fn short_and_long_forms_of_getatt_are_the_same_call() {
        let expected = Some(Intrinsic::GetAtt {
            resource: "Dlq",
            attribute: "Arn",
        });
        assert_eq!(intrinsic(&yaml("!GetAtt Dlq.Arn")), expected);
        assert_eq!(intrinsic(&yaml("!GetAtt [Dlq, Arn]")), expected);
        assert_eq!(intrinsic(&yaml("{ 'Fn::GetAtt': [Dlq, Arn] }")), expected);
    }

    #[test]
    fn ref_and_sub_are_recognised_and_other_functions_named() {
        assert_eq!(
            intrinsic(&yaml("!Ref Stage")),
            Some(Intrinsic::Ref("Stage"))
        );
        assert_eq!(
            intrinsic(&yaml("!Sub 'packr-${Stage}'")),
            Some(Intrinsic::Sub("packr-${Stage}"))
        );
        assert_eq!(
            intrinsic(&yaml("!Join ['', [a, b]]")),
            Some(Intrinsic::Other("Fn::Join".to_owned()))
        );
        assert_eq!(intrinsic(&yaml("plain")), None);
        assert_eq!(intrinsic(&yaml("{ a: 1 }")), None);
    }
}
