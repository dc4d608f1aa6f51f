//! Facts about queues the ops commands need: ARNs, message counts, and which queue a
//! dead-letter queue belongs to.

use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::Client;

use super::OpsError;

/// A queue's ARN (`GetQueueAttributes QueueArn`).
pub async fn queue_arn(sqs: &Client, queue_url: &str) -> Result<String, OpsError> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| OpsError::sqs("GetQueueAttributes", e))?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or(OpsError::MissingField {
            operation: "GetQueueAttributes",
            field: "QueueArn",
        })
}

/// Approximate counts of a queue: visible and in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
}

pub async fn queue_depth(sqs: &Client, queue_url: &str) -> Result<QueueDepth, OpsError> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| OpsError::sqs("GetQueueAttributes", e))?;
    let count = |name: &QueueAttributeName| {
        out.attributes()
            .and_then(|a| a.get(name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(QueueDepth {
        visible: count(&QueueAttributeName::ApproximateNumberOfMessages),
        in_flight: count(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    })
}

/// The URL of the queue whose dead-letter queue `dlq_url` is: the one queue
/// `ListDeadLetterSourceQueues` names, else the one queue the DLQ's `RedriveAllowPolicy`
/// (`byQueue`) allows. Anything else is ambiguous and the caller must name the source.
pub async fn resolve_source_url(sqs: &Client, dlq_url: &str) -> Result<String, OpsError> {
    let unresolved = |reason: String| OpsError::SourceUnresolved {
        dlq_url: dlq_url.to_owned(),
        reason,
    };
    let listed = sqs
        .list_dead_letter_source_queues()
        .queue_url(dlq_url)
        .send()
        .await
        .map_err(|e| OpsError::sqs("ListDeadLetterSourceQueues", e))?;
    match listed.queue_urls() {
        [one] => return Ok(one.clone()),
        [] => {}
        many => {
            return Err(unresolved(format!(
                "{} queues send their dead letters to it",
                many.len()
            )))
        }
    }

    let policy = redrive_allow_policy(sqs, dlq_url).await?.ok_or_else(|| {
        unresolved("no source queue names it and it has no RedriveAllowPolicy".into())
    })?;
    let arn = single_allowed_source(&policy).map_err(unresolved)?;
    let (account, name) = split_queue_arn(&arn)
        .ok_or_else(|| unresolved(format!("RedriveAllowPolicy names a malformed ARN {arn:?}")))?;
    let found = sqs
        .get_queue_url()
        .queue_name(name)
        .queue_owner_aws_account_id(account)
        .send()
        .await
        .map_err(|e| OpsError::sqs("GetQueueUrl", e))?;
    found
        .queue_url()
        .map(str::to_owned)
        .ok_or(OpsError::MissingField {
            operation: "GetQueueUrl",
            field: "QueueUrl",
        })
}

/// The queue's RedriveAllowPolicy document, if it has one. Asked for by name (some
/// endpoints leave it out of `All`); an endpoint that refuses the name when it is unset is
/// asked for `All` instead.
async fn redrive_allow_policy(sqs: &Client, queue_url: &str) -> Result<Option<String>, OpsError> {
    let by_name = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::RedriveAllowPolicy)
        .send()
        .await;
    let out = match by_name {
        Ok(out) => out,
        Err(_) => sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| OpsError::sqs("GetQueueAttributes", e))?,
    };
    Ok(out
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::RedriveAllowPolicy))
        .filter(|p| !p.is_empty())
        .cloned())
}

/// The one source ARN of a `byQueue` RedriveAllowPolicy document.
fn single_allowed_source(policy: &str) -> Result<String, String> {
    let doc: serde_json::Value = serde_json::from_str(policy)
        .map_err(|e| format!("its RedriveAllowPolicy is not JSON ({e})"))?;
    let sources = doc
        .get("sourceQueueArns")
        .and_then(|v| v.as_array())
        .map(|arns| arns.iter().filter_map(|a| a.as_str()).collect::<Vec<_>>())
        .unwrap_or_default();
    match sources.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => Err("its RedriveAllowPolicy names no source queue".into()),
        many => Err(format!(
            "its RedriveAllowPolicy allows {} source queues",
            many.len()
        )),
    }
}

/// (account id, queue name) of `arn:<partition>:sqs:<region>:<account>:<name>`.
fn split_queue_arn(arn: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "sqs", _, account, name] if !account.is_empty() && !name.is_empty() => {
            Some((account, name))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_arn_splits_into_account_and_name() {
        assert_eq!(
            split_queue_arn("arn:aws:sqs:us-east-1:123456789012:packr-dev-webhooks"),
            Some(("123456789012", "packr-dev-webhooks"))
        );
        assert_eq!(split_queue_arn("arn:aws:sns:us-east-1:1:x"), None);
        assert_eq!(split_queue_arn("not an arn"), None);
    }

    #[test]
    fn redrive_allow_policy_with_one_source_names_it() {
        let policy = r#"{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:r:1:q"]}"#;
        assert_eq!(
            single_allowed_source(policy),
            Ok("arn:aws:sqs:r:1:q".into())
        );
    }

    #[test]
    fn redrive_allow_policy_without_exactly_one_source_is_ambiguous() {
        assert!(single_allowed_source(r#"{"redrivePermission":"allowAll"}"#).is_err());
        assert!(single_allowed_source(
            r#"{"redrivePermission":"byQueue","sourceQueueArns":["a","b"]}"#
        )
        .is_err());
        assert!(single_allowed_source("{").is_err());
    }
}
