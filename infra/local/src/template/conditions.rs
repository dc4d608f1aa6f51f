//! The template's `Conditions`, evaluated against the parameters' values (their defaults
//! unless given), and `Fn::If` resolved with them: the table's index list depends on
//! `TableIndexStep` (README, "Migrating the table's indexes"). Only what the template uses
//! is understood: `Fn::Equals` of a `Ref` to a parameter and a literal, `Fn::Not`, `Fn::Or`,
//! `Fn::And`, `Condition`; anything else is an error, not a guess.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::TemplateError;

/// Condition name → its value.
pub type Conditions = BTreeMap<String, bool>;

/// Every condition of the template's `Conditions` section.
pub(super) fn evaluate_all(
    source: &str,
    section: Option<&Mapping>,
    parameters: &BTreeMap<String, Option<String>>,
) -> Result<Conditions, TemplateError> {
    let mut evaluated = Conditions::new();
    let Some(section) = section else {
        return Ok(evaluated);
    };
    for name in section.keys() {
        let name = name
            .as_str()
            .ok_or_else(|| shape(source, "a condition's name"))?;
        let value = evaluate(source, name, section, parameters, 0)?;
        evaluated.insert(name.to_owned(), value);
    }
    Ok(evaluated)
}

fn shape(source: &str, what: &str) -> TemplateError {
    TemplateError::Shape {
        source_name: source.to_owned(),
        reason: format!("Conditions: {what} is not understood"),
    }
}

fn evaluate(
    source: &str,
    name: &str,
    section: &Mapping,
    parameters: &BTreeMap<String, Option<String>>,
    depth: usize,
) -> Result<bool, TemplateError> {
    let body = section
        .get(name)
        .ok_or_else(|| shape(source, &format!("condition {name:?} (not declared)")))?;
    expression(source, body, section, parameters, depth)
}

/// A tagged or long-form intrinsic as (function name, argument).
fn call(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let name = match name {
                "Ref" | "Condition" => name.to_owned(),
                other => format!("Fn::{other}"),
            };
            Some((name, &tagged.value))
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (key, argument) = map.iter().next()?;
            Some((key.as_str()?.to_owned(), argument))
        }
        _ => None,
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn expression(
    source: &str,
    value: &Value,
    section: &Mapping,
    parameters: &BTreeMap<String, Option<String>>,
    depth: usize,
) -> Result<bool, TemplateError> {
    if depth > 16 {
        return Err(shape(source, "a condition nested this deep"));
    }
    let (function, argument) = call(value).ok_or_else(|| shape(source, "a condition's body"))?;
    let operands = |n: Option<usize>| -> Result<&Vec<Value>, TemplateError> {
        match argument {
            Value::Sequence(items) if n.is_none_or(|n| items.len() == n) => Ok(items),
            _ => Err(shape(source, &format!("the operands of {function}"))),
        }
    };
    let recurse = |value: &Value| expression(source, value, section, parameters, depth + 1);
    match function.as_str() {
        "Fn::Equals" => {
            let items = operands(Some(2))?;
            let operand = |value: &Value| -> Result<String, TemplateError> {
                match call(value) {
                    Some((f, Value::String(parameter))) if f == "Ref" => {
                        parameters.get(parameter).cloned().flatten().ok_or_else(|| {
                            shape(
                                source,
                                &format!("Ref {parameter:?} (no such parameter or no value)"),
                            )
                        })
                    }
                    Some(_) => Err(shape(source, "an operand of Fn::Equals")),
                    None => scalar(value).ok_or_else(|| shape(source, "an operand of Fn::Equals")),
                }
            };
            Ok(operand(&items[0])? == operand(&items[1])?)
        }
        "Fn::Not" => Ok(!recurse(&operands(Some(1))?[0])?),
        "Fn::Or" => {
            let mut any = false;
            for item in operands(None)? {
                any |= recurse(item)?;
            }
            Ok(any)
        }
        "Fn::And" => {
            let mut all = true;
            for item in operands(None)? {
                all &= recurse(item)?;
            }
            Ok(all)
        }
        "Condition" => match argument {
            Value::String(other) => evaluate(source, other, section, parameters, depth + 1),
            _ => Err(shape(source, "a Condition reference")),
        },
        other => Err(shape(source, &format!("function {other}"))),
    }
}

/// `value` with a top-level `Fn::If` resolved: the branch its condition chooses, `None` for
/// `!Ref AWS::NoValue`; any other value as it is.
pub(super) fn resolve_if<'a>(
    value: &'a Value,
    conditions: &Conditions,
) -> Result<Option<&'a Value>, String> {
    let Some((function, argument)) = call(value) else {
        return Ok(Some(value));
    };
    if function != "Fn::If" {
        return Ok(Some(value));
    }
    let [Value::String(condition), then, otherwise] = argument
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_default()
    else {
        return Err("Fn::If needs [condition, value if true, value if false]".to_owned());
    };
    let chosen = match conditions.get(condition) {
        Some(true) => then,
        Some(false) => otherwise,
        None => {
            return Err(format!(
                "Fn::If names condition {condition:?}, not declared"
            ))
        }
    };
    match call(chosen) {
        Some((f, Value::String(target))) if f == "Ref" && target == "AWS::NoValue" => Ok(None),
        _ => Ok(Some(chosen)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameters(step: &str) -> BTreeMap<String, Option<String>> {
        BTreeMap::from([("Step".to_owned(), Some(step.to_owned()))])
    }

    fn section(text: &str) -> Mapping {
        serde_yaml::from_str(text).expect("yaml")
    }

    #[test]
    fn conditions_follow_the_parameters_value() {
        // Given conditions over a parameter, in short and long forms
        let conditions = section(
            "Early: !Or [!Equals [!Ref Step, 1], !Equals [!Ref Step, 2]]\n\
             Late: !Not [!Condition Early]\n\
             Two: {\"Fn::And\": [{\"Fn::Equals\": [{\"Ref\": \"Step\"}, \"2\"]}, !Condition Early]}\n",
        );
        // When they are evaluated at steps 1 and 3
        let at = |step| evaluate_all("t", Some(&conditions), &parameters(step)).expect("ok");
        // Then each takes the value its step gives it
        assert_eq!(
            at("1"),
            Conditions::from([
                ("Early".to_owned(), true),
                ("Late".to_owned(), false),
                ("Two".to_owned(), false)
            ])
        );
        assert!(at("2")["Two"]);
        assert!(!at("3")["Early"]);
        assert!(at("3")["Late"]);
    }

    #[test]
    fn an_unknown_function_or_parameter_is_an_error_not_a_guess() {
        for text in [
            "C: !Contains [[a], a]\n",
            "C: !Equals [!Ref Missing, 1]\n",
            "C: !Condition Undeclared\n",
        ] {
            let result = evaluate_all("t", Some(&section(text)), &parameters("1"));
            assert!(result.is_err(), "{text}");
        }
    }

    #[test]
    fn an_if_resolves_to_its_chosen_branch_or_to_nothing() {
        // Given an Fn::If whose false branch is AWS::NoValue
        let value: Value =
            serde_yaml::from_str("!If [On, {IndexName: x}, !Ref AWS::NoValue]").expect("yaml");
        let with = |on| Conditions::from([("On".to_owned(), on)]);
        // Then it is the mapping when On holds, nothing otherwise
        let chosen = resolve_if(&value, &with(true))
            .expect("ok")
            .expect("a value");
        assert_eq!(chosen.get("IndexName").and_then(Value::as_str), Some("x"));
        assert_eq!(resolve_if(&value, &with(false)).expect("ok"), None);
        // and an undeclared condition is an error
        assert!(resolve_if(&value, &Conditions::new()).is_err());
        // and a plain value is itself
        let plain = Value::String("x".into());
        assert_eq!(resolve_if(&plain, &with(true)).expect("ok"), Some(&plain));
    }
}
