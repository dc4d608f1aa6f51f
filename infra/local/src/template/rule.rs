//! `AWS::Events::Rule` resources with a `ScheduleExpression`: what the local gateway's
//! schedule runner fires, and at which function.

use std::collections::BTreeMap;

use serde_yaml::Mapping;

use super::props::{describe, intrinsic, Intrinsic, Props};
use super::TemplateError;

/// A scheduled rule as the template declares it, `!Ref`s resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub logical_id: String,
    pub description: Option<String>,
    /// `ScheduleExpression`, a `!Ref` resolved from the parameter's default; `None` for an
    /// event-pattern rule (not run locally).
    pub schedule_expression: Option<String>,
    /// `State: ENABLED` (CloudFormation's default when absent).
    pub enabled: bool,
    pub targets: Vec<RuleTarget>,
}

/// One entry of `Targets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTarget {
    pub id: String,
    /// The function logical id of `Arn: !GetAtt <Function>.Arn`.
    pub function: String,
    /// `Input`: the constant JSON the target receives instead of the scheduled event.
    pub input: Option<serde_json::Value>,
}

const KNOWN: &[&str] = &[
    "Description",
    "EventBusName",
    "EventPattern",
    "Name",
    "RoleArn",
    "ScheduleExpression",
    "State",
    "Targets",
];

pub(super) fn parse(
    logical_id: &str,
    properties: &Mapping,
    parameters: &BTreeMap<String, Option<String>>,
) -> Result<RuleSpec, TemplateError> {
    let props = Props::new(logical_id, properties);
    props.reject_unknown(KNOWN)?;
    let schedule_expression = match props.get("ScheduleExpression") {
        None => None,
        Some(value) => Some(match intrinsic(value) {
            Some(Intrinsic::Ref(name)) => match parameters.get(name) {
                Some(Some(default)) => default.clone(),
                Some(None) => {
                    return Err(props.error(
                        "ScheduleExpression",
                        format!("!Ref {name}: the parameter has no default"),
                    ))
                }
                None => {
                    return Err(props.error(
                        "ScheduleExpression",
                        format!("!Ref {name}: not a parameter of the template"),
                    ))
                }
            },
            Some(_) => {
                return Err(props.error(
                    "ScheduleExpression",
                    format!(
                        "expected a string or !Ref of a parameter, found {}",
                        describe(value)
                    ),
                ))
            }
            None => props.required_str("ScheduleExpression")?,
        }),
    };
    let enabled = match props.str("State")?.as_deref() {
        None | Some("ENABLED") => true,
        Some("DISABLED") => false,
        Some(other) => {
            return Err(props.error(
                "State",
                format!("expected ENABLED or DISABLED, found {other:?}"),
            ))
        }
    };
    let mut targets = Vec::new();
    for (i, entry) in props.seq("Targets")?.unwrap_or_default().iter().enumerate() {
        let target = props.nested(&format!("Targets[{i}]"), entry)?;
        let id = target.required_str("Id")?;
        let arn = target
            .get("Arn")
            .ok_or_else(|| target.error("Arn", "required but missing"))?;
        let function = match intrinsic(arn) {
            Some(Intrinsic::GetAtt {
                resource,
                attribute: "Arn",
            }) => resource.to_owned(),
            _ => {
                return Err(target.error(
                    "Arn",
                    format!("expected !GetAtt <Function>.Arn, found {}", describe(arn)),
                ))
            }
        };
        let input = match target.str("Input")? {
            None => None,
            Some(text) => Some(
                serde_json::from_str(&text)
                    .map_err(|e| target.error("Input", format!("not JSON: {e}")))?,
            ),
        };
        targets.push(RuleTarget {
            id,
            function,
            input,
        });
    }
    Ok(RuleSpec {
        logical_id: logical_id.to_owned(),
        description: props.str("Description")?,
        schedule_expression,
        enabled,
        targets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str, parameters: &[(&str, Option<&str>)]) -> Result<RuleSpec, TemplateError> {
        let properties: Mapping = serde_yaml::from_str(text).expect("test YAML parses");
        let parameters = parameters
            .iter()
            .map(|(n, d)| ((*n).to_owned(), d.map(str::to_owned)))
            .collect();
        parse("R", &properties, &parameters)
    }

    #[test]
    fn a_targets_constant_input_is_parsed_as_json() {
        let parsed = rule(
            "ScheduleExpression: rate(1 day)\nTargets:\n  - Id: t\n    Arn: !GetAtt Fn.Arn\n    Input: '{\"kind\":\"reconcile\"}'\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            parsed.targets[0].input,
            Some(serde_json::json!({"kind": "reconcile"}))
        );
        assert!(rule(
            "ScheduleExpression: rate(1 day)\nTargets:\n  - Id: t\n    Arn: !GetAtt Fn.Arn\n    Input: 'not json'\n",
            &[],
        )
        .is_err());
    }

    #[test]
    fn a_ref_schedule_takes_the_parameter_default_and_targets_name_functions() {
        let parsed = rule(
            "ScheduleExpression: !Ref Rate\nTargets:\n  - Id: t\n    Arn: !GetAtt Fn.Arn\n",
            &[("Rate", Some("rate(5 minutes)"))],
        )
        .unwrap();
        assert_eq!(
            parsed.schedule_expression.as_deref(),
            Some("rate(5 minutes)")
        );
        assert!(parsed.enabled);
        assert_eq!(
            parsed.targets,
            vec![RuleTarget {
                id: "t".into(),
                function: "Fn".into(),
                input: None,
            }]
        );
    }

    #[test]
    fn unresolvable_refs_bad_states_and_non_function_targets_are_errors() {
        assert!(rule("ScheduleExpression: !Ref Nope\n", &[]).is_err());
        assert!(rule("ScheduleExpression: !Ref P\n", &[("P", None)]).is_err());
        assert!(rule("ScheduleExpression: rate(1 hour)\nState: PAUSED\n", &[]).is_err());
        let literal_arn =
            "ScheduleExpression: rate(1 hour)\nTargets:\n  - Id: t\n    Arn: arn:aws:lambda:x\n";
        assert!(rule(literal_arn, &[]).is_err());
        let disabled = rule(
            "ScheduleExpression: cron(0 3 * * ? *)\nState: DISABLED\n",
            &[],
        )
        .unwrap();
        assert!(!disabled.enabled);
        assert!(disabled.targets.is_empty());
    }
}
