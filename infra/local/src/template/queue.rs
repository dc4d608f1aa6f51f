//! `AWS::SQS::Queue` resources, with redrive targets and redrive-allow sources resolved to
//! logical ids (the emulator's queues have other names and ARNs than production's).

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::props::{describe, intrinsic, Intrinsic, Props};
use super::TemplateError;

/// A queue as the template declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub logical_id: String,
    pub fifo: bool,
    /// Plain SQS queue attributes by their API names (`VisibilityTimeout` → "180", …).
    pub attributes: BTreeMap<String, String>,
    pub redrive: Option<Redrive>,
    pub redrive_allow: Option<RedriveAllow>,
}

/// `RedrivePolicy`: after `max_receive_count` receives a message moves to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    /// Logical id of the dead-letter queue.
    pub dead_letter_queue: String,
    pub max_receive_count: u32,
}

/// `RedriveAllowPolicy`: which source queues may use this queue as their dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedriveAllow {
    AllowAll,
    DenyAll,
    /// Logical ids of the allowed source queues.
    ByQueue(Vec<String>),
}

/// CloudFormation properties that are SQS attributes under the same name.
const PLAIN_ATTRIBUTES: &[&str] = &[
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];
const OTHER_PROPERTIES: &[&str] = &[
    "QueueName",
    "FifoQueue",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "Tags",
];

pub(super) fn parse_all(queues: &[(&str, &Mapping)]) -> Result<Vec<QueueSpec>, TemplateError> {
    // Fixed queue names (possibly `!Sub` text) → logical id, to resolve ARNs built with !Sub.
    let mut by_name = BTreeMap::new();
    for (id, properties) in queues {
        let props = Props::new(id, properties);
        if let Some(name) = props.get("QueueName") {
            let name = match (intrinsic(name), name) {
                (Some(Intrinsic::Sub(text)), _) => text.to_owned(),
                (None, Value::String(text)) => text.clone(),
                _ => {
                    return Err(props.error(
                        "QueueName",
                        format!("expected a string or !Sub, found {}", describe(name)),
                    ))
                }
            };
            by_name.insert(name, (*id).to_owned());
        }
    }
    let resolver = QueueResolver {
        ids: queues.iter().map(|(id, _)| *id).collect(),
        by_name,
    };
    queues
        .iter()
        .map(|(id, properties)| parse(&resolver, Props::new(id, properties)))
        .collect()
}

fn parse(resolver: &QueueResolver<'_>, props: Props<'_>) -> Result<QueueSpec, TemplateError> {
    let known: Vec<&str> = PLAIN_ATTRIBUTES
        .iter()
        .chain(OTHER_PROPERTIES)
        .copied()
        .collect();
    props.reject_unknown(&known)?;
    let mut attributes = BTreeMap::new();
    for name in PLAIN_ATTRIBUTES {
        if let Some(value) = props.str(name)? {
            attributes.insert((*name).to_owned(), value);
        }
    }
    let redrive = match props.mapping("RedrivePolicy")? {
        None => None,
        Some(policy) => {
            let target = policy
                .get("deadLetterTargetArn")
                .ok_or_else(|| policy.error("deadLetterTargetArn", "required but missing"))?;
            let max_receive_count = policy
                .u64("maxReceiveCount")?
                .ok_or_else(|| policy.error("maxReceiveCount", "required but missing"))?;
            Some(Redrive {
                dead_letter_queue: resolver.resolve(&policy, "deadLetterTargetArn", target)?,
                max_receive_count: u32::try_from(max_receive_count)
                    .map_err(|_| policy.error("maxReceiveCount", "too large"))?,
            })
        }
    };
    let redrive_allow = match props.mapping("RedriveAllowPolicy")? {
        None => None,
        Some(policy) => Some(match policy.required_str("redrivePermission")?.as_str() {
            "allowAll" => RedriveAllow::AllowAll,
            "denyAll" => RedriveAllow::DenyAll,
            "byQueue" => {
                let sources = policy
                    .seq("sourceQueueArns")?
                    .ok_or_else(|| policy.error("sourceQueueArns", "required for byQueue"))?;
                let sources = sources
                    .iter()
                    .map(|source| resolver.resolve(&policy, "sourceQueueArns", source))
                    .collect::<Result<_, _>>()?;
                RedriveAllow::ByQueue(sources)
            }
            other => {
                return Err(policy.error(
                    "redrivePermission",
                    format!("expected allowAll, denyAll or byQueue, found {other:?}"),
                ))
            }
        }),
    };
    Ok(QueueSpec {
        logical_id: props.logical_id().to_owned(),
        fifo: props.bool("FifoQueue")?.unwrap_or(false),
        attributes,
        redrive,
        redrive_allow,
    })
}

struct QueueResolver<'a> {
    ids: Vec<&'a str>,
    by_name: BTreeMap<String, String>,
}

impl QueueResolver<'_> {
    /// The logical id of the queue an ARN expression points at: `!GetAtt Q.Arn`, or an ARN
    /// (literal or `!Sub`) whose last segment is a queue's `QueueName`.
    fn resolve(
        &self,
        props: &Props<'_>,
        property: &str,
        value: &Value,
    ) -> Result<String, TemplateError> {
        let arn_text = match (intrinsic(value), value) {
            (
                Some(Intrinsic::GetAtt {
                    resource,
                    attribute: "Arn",
                }),
                _,
            ) => {
                return if self.ids.contains(&resource) {
                    Ok(resource.to_owned())
                } else {
                    Err(props.error(
                        property,
                        format!("{resource} is not a queue of this template"),
                    ))
                };
            }
            (Some(Intrinsic::Sub(text)), _) => text,
            (None, Value::String(text)) => text.as_str(),
            _ => {
                return Err(props.error(
                    property,
                    format!(
                        "expected !GetAtt <Queue>.Arn or a queue ARN, found {}",
                        describe(value)
                    ),
                ))
            }
        };
        let name = arn_text.rsplit(':').next().unwrap_or(arn_text);
        self.by_name.get(name).cloned().ok_or_else(|| {
            props.error(
                property,
                format!("{arn_text:?} does not end in the QueueName of a queue of this template"),
            )
        })
    }
}
