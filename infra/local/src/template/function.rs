//! `AWS::Serverless::Function` resources: binary, timeout and environment, as the local
//! gateway needs them to host a function with the same configuration as production.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::props::{intrinsic, Intrinsic, Props};
use super::TemplateError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary` (cargo-lambda's binary name).
    pub binary: Option<String>,
    /// Seconds; `Globals.Function.Timeout` when the function sets none.
    pub timeout: Option<u64>,
    /// MB; `Globals.Function.MemorySize` when the function sets none (what Lambda bills by).
    pub memory_mb: Option<u64>,
    /// `Environment.Variables`, merged over `Globals.Function.Environment.Variables`.
    pub environment: BTreeMap<String, EnvValue>,
    /// `Events` of `Type: SQS`: the function's SQS event source mappings.
    pub sqs_events: Vec<SqsEventSpec>,
}

/// An `Events` entry of `Type: SQS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsEventSpec {
    /// The event's name in the template.
    pub name: String,
    /// The queue's logical id (`Queue: !GetAtt <Queue>.Arn`).
    pub queue: String,
    /// `BatchSize` (SAM's default for SQS is 10).
    pub batch_size: u64,
    /// `ScalingConfig.MaximumConcurrency`, if set.
    pub maximum_concurrency: Option<u64>,
}

/// An environment variable's value as written in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    Literal(String),
    /// `!Ref X`: a parameter or a resource.
    Ref(String),
    /// `!Sub "…"` in its one-string form.
    Sub(String),
    GetAtt {
        resource: String,
        attribute: String,
    },
    /// Something the local stack does not evaluate (named for messages).
    Unsupported(String),
}

pub(super) fn parse(
    logical_id: &str,
    properties: &Mapping,
    metadata: &Mapping,
    globals: &Mapping,
) -> Result<FunctionSpec, TemplateError> {
    let props = Props::new(logical_id, properties);
    let global_props = Props::new(logical_id, globals);
    let binary = metadata
        .get("BuildProperties")
        .and_then(|build| build.get("Binary"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let timeout = match props.u64("Timeout")? {
        Some(timeout) => Some(timeout),
        None => global_props.u64("Timeout")?,
    };
    let memory_mb = match props.u64("MemorySize")? {
        Some(memory) => Some(memory),
        None => global_props.u64("MemorySize")?,
    };
    let mut environment = variables(&global_props)?;
    environment.extend(variables(&props)?);
    Ok(FunctionSpec {
        logical_id: logical_id.to_owned(),
        binary,
        timeout,
        memory_mb,
        environment,
        sqs_events: sqs_events(&props)?,
    })
}

fn sqs_events(props: &Props<'_>) -> Result<Vec<SqsEventSpec>, TemplateError> {
    let Some(events) = props.mapping("Events")? else {
        return Ok(Vec::new());
    };
    let mut parsed = Vec::new();
    for name in events.keys() {
        let Some(event) = events.mapping(&name)? else {
            continue;
        };
        if event.str("Type")?.as_deref() != Some("SQS") {
            continue;
        }
        let properties = event
            .mapping("Properties")?
            .ok_or_else(|| event.error("Properties", "required but missing"))?;
        let queue = match properties.get("Queue").and_then(intrinsic) {
            Some(Intrinsic::GetAtt {
                resource,
                attribute: "Arn",
            }) => resource.to_owned(),
            _ => return Err(properties.error("Queue", "expected !GetAtt <Queue>.Arn")),
        };
        let maximum_concurrency = match properties.mapping("ScalingConfig")? {
            Some(scaling) => scaling.u64("MaximumConcurrency")?,
            None => None,
        };
        parsed.push(SqsEventSpec {
            name,
            queue,
            batch_size: properties.u64("BatchSize")?.unwrap_or(10),
            maximum_concurrency,
        });
    }
    Ok(parsed)
}

fn variables(props: &Props<'_>) -> Result<BTreeMap<String, EnvValue>, TemplateError> {
    let Some(environment) = props.mapping("Environment")? else {
        return Ok(BTreeMap::new());
    };
    let Some(variables) = environment.mapping("Variables")? else {
        return Ok(BTreeMap::new());
    };
    let mut parsed = BTreeMap::new();
    for name in variables.keys() {
        let Some(value) = variables.get(&name) else {
            continue;
        };
        parsed.insert(name, env_value(value));
    }
    Ok(parsed)
}

/// A template value as an [`EnvValue`]: a literal scalar or an intrinsic call.
pub fn value_of(value: &Value) -> EnvValue {
    env_value(value)
}

fn env_value(value: &Value) -> EnvValue {
    match (intrinsic(value), value) {
        (Some(Intrinsic::Ref(target)), _) => EnvValue::Ref(target.to_owned()),
        (Some(Intrinsic::Sub(text)), _) => EnvValue::Sub(text.to_owned()),
        (
            Some(Intrinsic::GetAtt {
                resource,
                attribute,
            }),
            _,
        ) => EnvValue::GetAtt {
            resource: resource.to_owned(),
            attribute: attribute.to_owned(),
        },
        (Some(Intrinsic::Other(name)), _) => EnvValue::Unsupported(name),
        (None, Value::String(text)) => EnvValue::Literal(text.clone()),
        (None, Value::Number(number)) => EnvValue::Literal(number.to_string()),
        (None, Value::Bool(flag)) => EnvValue::Literal(flag.to_string()),
        (None, _) => EnvValue::Unsupported("a non-scalar value".to_owned()),
    }
}
