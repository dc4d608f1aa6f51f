//! SQS queues: create all (to learn their ARNs), then set attributes, redrive policies
//! pointing at the dead-letter queues' real ARNs, and redrive-allow policies.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::Client;
use serde_json::json;

use super::{resource_name, ProvisionError};
use crate::template::{QueueSpec, RedriveAllow};

pub(super) struct Queues {
    pub urls: BTreeMap<String, String>,
    pub arns: BTreeMap<String, String>,
}

pub(super) async fn create_all(
    client: &Client,
    specs: &[QueueSpec],
    prefix: &str,
) -> Result<Queues, ProvisionError> {
    let mut queues = Queues {
        urls: BTreeMap::new(),
        arns: BTreeMap::new(),
    };
    for spec in specs {
        let mut name = resource_name(prefix, &spec.logical_id);
        if spec.fifo {
            name.push_str(".fifo");
        }
        let url = create(client, spec, &name).await?;
        let arn = queue_arn(client, &url).await?;
        queues.urls.insert(spec.logical_id.clone(), url);
        queues.arns.insert(spec.logical_id.clone(), arn);
    }
    for spec in specs {
        let url = &queues.urls[&spec.logical_id];
        let attributes = attributes(spec, &queues.arns)?;
        client
            .set_queue_attributes()
            .queue_url(url)
            .set_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| ProvisionError::sqs("SetQueueAttributes", url, e))?;
    }
    Ok(queues)
}

/// Creates the queue bare (only FIFO-ness is fixed at creation), so an existing queue with
/// other attributes is found rather than refused; attributes are set afterwards.
async fn create(client: &Client, spec: &QueueSpec, name: &str) -> Result<String, ProvisionError> {
    let mut request = client.create_queue().queue_name(name);
    if spec.fifo {
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
    }
    match request.send().await {
        Ok(created) => created
            .queue_url
            .ok_or_else(|| missing("CreateQueue", name, "QueueUrl")),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_queue_name_exists()) =>
        {
            client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| ProvisionError::sqs("GetQueueUrl", name, e))?
                .queue_url
                .ok_or_else(|| missing("GetQueueUrl", name, "QueueUrl"))
        }
        Err(error) => Err(ProvisionError::sqs("CreateQueue", name, error)),
    }
}

async fn queue_arn(client: &Client, url: &str) -> Result<String, ProvisionError> {
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| ProvisionError::sqs("GetQueueAttributes", url, e))?
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| missing("GetQueueAttributes", url, "QueueArn"))
}

fn attributes(
    spec: &QueueSpec,
    arns: &BTreeMap<String, String>,
) -> Result<HashMap<QueueAttributeName, String>, ProvisionError> {
    let arn_of = |logical_id: &String| {
        arns.get(logical_id)
            .cloned()
            .ok_or_else(|| ProvisionError::UnknownQueue {
                from: spec.logical_id.clone(),
                to: logical_id.clone(),
            })
    };
    let mut attributes: HashMap<QueueAttributeName, String> = spec
        .attributes
        .iter()
        .map(|(name, value)| (QueueAttributeName::from(name.as_str()), value.clone()))
        .collect();
    if let Some(redrive) = &spec.redrive {
        let policy = json!({
            "deadLetterTargetArn": arn_of(&redrive.dead_letter_queue)?,
            "maxReceiveCount": redrive.max_receive_count,
        });
        attributes.insert(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    if let Some(allow) = &spec.redrive_allow {
        let policy = match allow {
            RedriveAllow::AllowAll => json!({ "redrivePermission": "allowAll" }),
            RedriveAllow::DenyAll => json!({ "redrivePermission": "denyAll" }),
            RedriveAllow::ByQueue(sources) => json!({
                "redrivePermission": "byQueue",
                "sourceQueueArns": sources.iter().map(arn_of).collect::<Result<Vec<_>, _>>()?,
            }),
        };
        attributes.insert(QueueAttributeName::RedriveAllowPolicy, policy.to_string());
    }
    Ok(attributes)
}

fn missing(operation: &'static str, resource: &str, field: &'static str) -> ProvisionError {
    ProvisionError::MissingField {
        operation,
        resource: resource.to_owned(),
        field,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Template;

    fn arns(specs: &[QueueSpec]) -> BTreeMap<String, String> {
        specs
            .iter()
            .map(|q| {
                (
                    q.logical_id.clone(),
                    format!("arn:aws:sqs:us-east-1:000000000000:x-{}", q.logical_id),
                )
            })
            .collect()
    }

    #[test]
    fn dead_letter_queues_allow_redrive_from_their_source_queue_by_real_arn() {
        // given the repository's queues and emulator ARNs
        let specs = Template::repo_default()
            .expect("template")
            .queues()
            .expect("queues");
        let arns = arns(&specs);
        let dlq = specs
            .iter()
            .find(|q| q.logical_id == "WebhookDeadLetterQueue")
            .expect("DLQ");
        // when
        let attributes = attributes(dlq, &arns).expect("attributes");
        // then
        let policy: serde_json::Value =
            serde_json::from_str(&attributes[&QueueAttributeName::RedriveAllowPolicy])
                .expect("JSON policy");
        assert_eq!(
            policy,
            json!({
                "redrivePermission": "byQueue",
                "sourceQueueArns": ["arn:aws:sqs:us-east-1:000000000000:x-WebhookQueue"],
            })
        );
        assert_eq!(
            attributes[&QueueAttributeName::MessageRetentionPeriod],
            "1209600"
        );
        assert!(!attributes.contains_key(&QueueAttributeName::RedrivePolicy));
    }

    #[test]
    fn source_queues_redrive_to_the_dead_letter_queue_arn() {
        let specs = Template::repo_default()
            .expect("template")
            .queues()
            .expect("queues");
        let arns = arns(&specs);
        let queue = specs
            .iter()
            .find(|q| q.logical_id == "SyncJobsQueue")
            .expect("queue");
        let attributes = attributes(queue, &arns).expect("attributes");
        let policy: serde_json::Value =
            serde_json::from_str(&attributes[&QueueAttributeName::RedrivePolicy])
                .expect("JSON policy");
        assert_eq!(
            policy,
            json!({
                "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:x-SyncJobsDeadLetterQueue",
                "maxReceiveCount": 5,
            })
        );
    }
}
