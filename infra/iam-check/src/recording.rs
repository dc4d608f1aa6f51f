//! The emulator's request recording (moto's recorder: one JSON object per line with the
//! request's `headers`, `method`, `url` and `body`, base64 when `body_encoded`) read as
//! IAM authorization requests: which function (the access key id of the `Credential=` in
//! the `Authorization` header, see `packr_local::emulator::function_access_key`), which
//! action, on which resource, with which `dynamodb:LeadingKeys`.
//!
//! One API call can be several authorizations, as on AWS: `BatchGetItem` and
//! `BatchWriteItem` are authorized per table (every partition key of that table's items
//! among the leading keys), `TransactWriteItems`/`TransactGetItems` per item as the item's
//! own action (`PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`, `GetItem`),
//! `SendMessageBatch` as `sqs:SendMessage` and `DeleteMessageBatch` as `sqs:DeleteMessage`.
//!
//! Resources are mapped onto the names the check resolves the template with
//! ([`crate::roles::CANONICAL_PREFIX`]): a table, queue or secret named
//! `<any prefix>-<LogicalId>` becomes `stack-<LogicalId>`; a table of another name (tests'
//! `t-<uuid>` tables) is the template's one table.

use base64::Engine;
use packr_local::emulator::{FUNCTION_ACCESS_KEY_PREFIX, LOCAL_ACCOUNT_ID};
use packr_local::provision::resource_name;
use packr_local::template::{local_bucket_name, TableSpec, Template};
use serde_json::Value;

use crate::policy::{Context, Request};
use crate::roles::CANONICAL_PREFIX;

pub const LEADING_KEYS: &str = "dynamodb:LeadingKeys";

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
}

/// One authorization a function's call needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The function's name, from its access key id.
    pub function: String,
    /// The API call as made (`DynamoDB_20120810.BatchWriteItem` → `BatchWriteItem`).
    pub operation: String,
    pub request: Request,
}

impl Authorization {
    pub fn leading_keys(&self) -> &[String] {
        self.request
            .context
            .get(LEADING_KEYS)
            .map_or(&[], Vec::as_slice)
    }
}

/// What a recording held.
#[derive(Debug, Default)]
pub struct Recorded {
    pub authorizations: Vec<Authorization>,
    /// Requests signed with another key (test setup, seeding, tools): not checked.
    pub unattributed: u64,
    /// Requests without a SigV4 `Authorization` header.
    pub unsigned: u64,
    pub lines: u64,
}

/// How the emulator's names map onto the template's.
pub struct Names {
    table: TableSpec,
    queues: Vec<String>,
    secrets: Vec<String>,
    /// Bucket logical ids (local names are lower case: `<prefix>-<logicalid>`).
    buckets: Vec<String>,
}

impl Names {
    pub fn new(template: &Template) -> Result<Self, packr_local::template::TemplateError> {
        Ok(Self {
            table: template.table()?,
            queues: template
                .queues()?
                .into_iter()
                .map(|q| q.logical_id)
                .collect(),
            secrets: template
                .secrets()?
                .into_iter()
                .map(|s| s.logical_id)
                .collect(),
            buckets: template
                .buckets()?
                .into_iter()
                .map(|b| b.logical_id)
                .collect(),
        })
    }

    fn canonical(physical: &str, logical_ids: &[String]) -> Option<String> {
        logical_ids
            .iter()
            // The longest match: `…-WebhookDeadLetterQueue` is not `…-Queue`.
            .filter(|id| physical == id.as_str() || physical.ends_with(&format!("-{id}")))
            .max_by_key(|id| id.len())
            .map(|id| resource_name(CANONICAL_PREFIX, id))
    }

    fn table(&self, physical: &str) -> String {
        Self::canonical(physical, std::slice::from_ref(&self.table.logical_id))
            .unwrap_or_else(|| resource_name(CANONICAL_PREFIX, &self.table.logical_id))
    }

    fn queue(&self, physical: &str) -> String {
        Self::canonical(physical, &self.queues).unwrap_or_else(|| physical.to_owned())
    }

    /// A bucket's name: `<any prefix>-<logicalid>` becomes `stack-<logicalid>`.
    pub(crate) fn bucket(&self, physical: &str) -> String {
        self.buckets
            .iter()
            .filter(|id| physical.ends_with(&format!("-{}", id.to_ascii_lowercase())))
            .max_by_key(|id| id.len())
            .map(|id| local_bucket_name(CANONICAL_PREFIX, id))
            .unwrap_or_else(|| physical.to_owned())
    }

    /// A secret's name (without the ARN's random suffix).
    fn secret(&self, physical: &str) -> String {
        Self::canonical(physical, &self.secrets).unwrap_or_else(|| physical.to_owned())
    }
}

/// Parses a whole recording.
pub fn parse(text: &str, names: &Names) -> Result<Recorded, RecordingError> {
    let mut recorded = Recorded::default();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        recorded.lines += 1;
        let error = |reason: String| RecordingError::Line {
            line: index + 1,
            reason,
        };
        let entry: Value = serde_json::from_str(line).map_err(|e| error(e.to_string()))?;
        match authorizations(&entry, names).map_err(error)? {
            Signed::Function(list) => recorded.authorizations.extend(list),
            Signed::Other => recorded.unattributed += 1,
            Signed::Unsigned => recorded.unsigned += 1,
        }
    }
    Ok(recorded)
}

enum Signed {
    Function(Vec<Authorization>),
    Other,
    Unsigned,
}

fn header<'a>(entry: &'a Value, name: &str) -> Option<&'a str> {
    entry["headers"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

/// `AWS4-HMAC-SHA256 Credential=KEY/date/region/service/aws4_request, …` → (key, region,
/// service).
fn credential(authorization: &str) -> Option<(&str, &str, &str)> {
    let scope = authorization
        .split("Credential=")
        .nth(1)?
        .split([',', ' '])
        .next()?;
    let mut parts = scope.split('/');
    let key = parts.next()?;
    let _date = parts.next()?;
    let region = parts.next()?;
    let service = parts.next()?;
    Some((key, region, service))
}

fn authorizations(entry: &Value, names: &Names) -> Result<Signed, String> {
    // A presigned URL (S3) carries its signer's credential in the query: the request is
    // authorized as that function's, as on AWS.
    let presigned = entry["url"]
        .as_str()
        .and_then(crate::s3::presigned_credential)
        .map(|c| format!("Credential={c}"));
    let signed = header(entry, "Authorization").or(presigned.as_deref());
    let Some((key, region, service)) = signed.and_then(credential) else {
        return Ok(Signed::Unsigned);
    };
    let Some(function) = key.strip_prefix(FUNCTION_ACCESS_KEY_PREFIX) else {
        return Ok(Signed::Other);
    };
    let raw = entry["body"].as_str().unwrap_or("");
    let bytes = if entry["body_encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|e| format!("body is not base64: {e}"))?
    } else {
        raw.as_bytes().to_vec()
    };
    let body: Value = if bytes.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    if service == "s3" {
        let method = entry["method"].as_str().unwrap_or("GET");
        let url = entry["url"].as_str().unwrap_or("");
        let (operation, request) = crate::s3::authorization(method, url, names);
        return Ok(Signed::Function(vec![Authorization {
            function: function.to_owned(),
            operation,
            request,
        }]));
    }
    let operation = match header(entry, "X-Amz-Target") {
        Some(target) => target.rsplit('.').next().unwrap_or(target).to_owned(),
        None => form_action(&bytes).unwrap_or_else(|| "UnknownOperation".to_owned()),
    };
    let requests = match service {
        "dynamodb" => dynamodb(&operation, &body, region, names),
        "sqs" => sqs(&operation, &body, region, names),
        "secretsmanager" => secretsmanager(&operation, &body, region, names),
        // Anything else: the action on every resource, for the policy to refuse or allow.
        other => vec![plain(format!("{other}:{operation}"), "*".to_owned())],
    };
    Ok(Signed::Function(
        requests
            .into_iter()
            .map(|request| Authorization {
                function: function.to_owned(),
                operation: operation.clone(),
                request,
            })
            .collect(),
    ))
}

/// `Action=…` of a query-protocol (form) body.
fn form_action(body: &[u8]) -> Option<String> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_owned)
}

pub(crate) fn plain(action: String, resource: String) -> Request {
    Request {
        action,
        resource,
        context: Context::new(),
    }
}

fn keyed(action: &str, resource: String, leading_keys: Vec<String>) -> Request {
    let mut context = Context::new();
    if !leading_keys.is_empty() {
        context.insert(LEADING_KEYS.to_owned(), leading_keys);
    }
    Request {
        action: action.to_owned(),
        resource,
        context,
    }
}

/// An attribute value of DynamoDB JSON as IAM sees it.
fn scalar(value: &Value) -> Option<String> {
    let (kind, v) = value.as_object()?.iter().next()?;
    match kind.as_str() {
        "S" | "N" | "B" => v.as_str().map(str::to_owned),
        _ => None,
    }
}

fn dynamodb(operation: &str, body: &Value, region: &str, names: &Names) -> Vec<Request> {
    let table_arn = |table: &str| {
        format!(
            "arn:aws:dynamodb:{region}:{LOCAL_ACCOUNT_ID}:table/{}",
            names.table(table)
        )
    };
    let hash = names.table.key_schema.hash.as_str();
    let partition = |item: &Value| scalar(&item[hash]);
    let action = format!("dynamodb:{operation}");
    let table = body["TableName"].as_str().unwrap_or("");
    match operation {
        "GetItem" | "UpdateItem" | "DeleteItem" => {
            vec![keyed(
                &action,
                table_arn(table),
                partition(&body["Key"]).into_iter().collect(),
            )]
        }
        "PutItem" => vec![keyed(
            &action,
            table_arn(table),
            partition(&body["Item"]).into_iter().collect(),
        )],
        "Query" | "Scan" => {
            let index = body["IndexName"].as_str();
            let resource = match index {
                Some(index) => format!("{}/index/{index}", table_arn(table)),
                None => table_arn(table),
            };
            let hash = match index {
                Some(index) => names
                    .table
                    .global_secondary_indexes
                    .iter()
                    .find(|i| i.name == index)
                    .map_or(hash, |i| i.key_schema.hash.as_str()),
                None => hash,
            };
            let keys = if operation == "Query" {
                query_partition(body, hash).into_iter().collect()
            } else {
                Vec::new()
            };
            vec![keyed(&action, resource, keys)]
        }
        "BatchGetItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(table, request)| {
                let keys = request["Keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(partition)
                    .collect();
                keyed(&action, table_arn(table), keys)
            })
            .collect(),
        "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(table, writes)| {
                let keys = writes
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|w| {
                        partition(&w["PutRequest"]["Item"])
                            .or_else(|| partition(&w["DeleteRequest"]["Key"]))
                    })
                    .collect();
                keyed(&action, table_arn(table), keys)
            })
            .collect(),
        "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (kind, spec) = item.as_object()?.iter().next()?;
                let (action, key) = match kind.as_str() {
                    "Put" => ("dynamodb:PutItem", &spec["Item"]),
                    "Update" => ("dynamodb:UpdateItem", &spec["Key"]),
                    "Delete" => ("dynamodb:DeleteItem", &spec["Key"]),
                    "ConditionCheck" => ("dynamodb:ConditionCheckItem", &spec["Key"]),
                    "Get" => ("dynamodb:GetItem", &spec["Key"]),
                    _ => return None,
                };
                let table = spec["TableName"].as_str().unwrap_or("");
                Some(keyed(
                    action,
                    table_arn(table),
                    partition(key).into_iter().collect(),
                ))
            })
            .collect(),
        _ if !table.is_empty() => vec![plain(action, table_arn(table))],
        _ => vec![plain(action, "*".to_owned())],
    }
}

/// The partition key value a `Query` names: `KeyConditionExpression` (`#pk = :pk AND …`,
/// names and values resolved) or the legacy `KeyConditions`.
fn query_partition(body: &Value, hash: &str) -> Option<String> {
    if let Some(expression) = body["KeyConditionExpression"].as_str() {
        let name = |token: &str| -> String {
            if token.starts_with('#') {
                body["ExpressionAttributeNames"][token]
                    .as_str()
                    .unwrap_or(token)
                    .to_owned()
            } else {
                token.to_owned()
            }
        };
        let is_ident = |c: char| c.is_alphanumeric() || matches!(c, '_' | '#' | ':' | '.' | '-');
        let chars: Vec<char> = expression.chars().collect();
        for (at, &c) in chars.iter().enumerate() {
            // `=` alone, not `<=`, `>=` or `<>`
            if c != '=' || (at > 0 && matches!(chars[at - 1], '<' | '>' | '!')) {
                continue;
            }
            let left: String = chars[..at]
                .iter()
                .rev()
                .skip_while(|c| c.is_whitespace() || **c == '(')
                .take_while(|c| is_ident(**c))
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let right: String = chars[at + 1..]
                .iter()
                .skip_while(|c| c.is_whitespace() || **c == '(')
                .take_while(|c| is_ident(**c))
                .collect();
            for (attribute, placeholder) in [(&left, &right), (&right, &left)] {
                if placeholder.starts_with(':') && name(attribute) == hash {
                    if let Some(value) = scalar(&body["ExpressionAttributeValues"][placeholder]) {
                        return Some(value);
                    }
                }
            }
        }
        return None;
    }
    let condition = &body["KeyConditions"][hash];
    scalar(&condition["AttributeValueList"][0])
}

fn sqs(operation: &str, body: &Value, region: &str, names: &Names) -> Vec<Request> {
    let action = match operation {
        "SendMessageBatch" => "SendMessage",
        "DeleteMessageBatch" => "DeleteMessage",
        "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
        other => other,
    };
    let (account, name) = match body["QueueUrl"].as_str() {
        Some(url) => {
            let mut parts = url.trim_end_matches('/').rsplit('/');
            let name = parts.next().unwrap_or("");
            let account = parts.next().unwrap_or(LOCAL_ACCOUNT_ID);
            (account.to_owned(), name.to_owned())
        }
        None => (
            LOCAL_ACCOUNT_ID.to_owned(),
            body["QueueName"].as_str().unwrap_or("*").to_owned(),
        ),
    };
    vec![plain(
        format!("sqs:{action}"),
        format!("arn:aws:sqs:{region}:{account}:{}", names.queue(&name)),
    )]
}

fn secretsmanager(operation: &str, body: &Value, region: &str, names: &Names) -> Vec<Request> {
    let id = body["SecretId"]
        .as_str()
        .or_else(|| body["Name"].as_str())
        .unwrap_or("*");
    let prefix = format!("arn:aws:secretsmanager:{region}:{LOCAL_ACCOUNT_ID}:secret:");
    let resource = match id.split_once(":secret:") {
        // An ARN: `<name>-<6 random characters>`.
        Some((head, named)) => {
            let (name, suffix) = match named.rsplit_once('-') {
                Some((name, suffix)) if suffix.len() == 6 => (name, format!("-{suffix}")),
                _ => (named, String::new()),
            };
            format!("{head}:secret:{}{suffix}", names.secret(name))
        }
        // A name: the ARN carries a suffix the request does not show; any one does.
        None => format!("{prefix}{}-AbCdEf", names.secret(id)),
    };
    vec![plain(format!("secretsmanager:{operation}"), resource)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::new(&Template::repo_default().expect("template.yaml parses")).unwrap()
    }

    fn line(key: &str, service: &str, target: &str, body: Value) -> String {
        serde_json::json!({
            "headers": {
                "Authorization": format!("AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"),
                "X-Amz-Target": target,
            },
            "method": "POST",
            "url": "http://127.0.0.1:5000/",
            "body": base64::engine::general_purpose::STANDARD.encode(body.to_string()),
            "body_encoded": true,
        })
        .to_string()
    }

    #[test]
    fn a_function_call_is_attributed_and_setup_calls_are_not() {
        // given
        let text = [
            line(
                "PACKRFN-webhook-ingest",
                "dynamodb",
                "DynamoDB_20120810.PutItem",
                serde_json::json!({"TableName": "s-abc-PackrTable", "Item": {"pk": {"S": "UNROUTABLE#conn_x"}, "sk": {"S": "EVT#1"}}}),
            ),
            line(
                "test",
                "dynamodb",
                "DynamoDB_20120810.PutItem",
                serde_json::json!({"TableName": "t-1", "Item": {"pk": {"S": "T#a"}}}),
            ),
        ]
        .join("\n");
        // when
        let recorded = parse(&text, &names()).unwrap();
        // then
        assert_eq!(recorded.unattributed, 1);
        assert_eq!(recorded.authorizations.len(), 1);
        let a = &recorded.authorizations[0];
        assert_eq!(a.function, "webhook-ingest");
        assert_eq!(a.request.action, "dynamodb:PutItem");
        assert_eq!(
            a.request.resource,
            "arn:aws:dynamodb:us-east-1:123456789012:table/stack-PackrTable"
        );
        assert_eq!(a.leading_keys(), ["UNROUTABLE#conn_x"]);
    }

    #[test]
    fn batches_transactions_queries_queues_and_secrets_become_their_authorizations() {
        let n = names();
        let batch = dynamodb(
            "BatchGetItem",
            &serde_json::json!({"RequestItems": {"t-9": {"Keys": [{"pk": {"S": "T#a#1"}}, {"pk": {"S": "T#a#2"}}]}}}),
            "us-east-1",
            &n,
        );
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].context[LEADING_KEYS], ["T#a#1", "T#a#2"]);
        let transaction = dynamodb(
            "TransactWriteItems",
            &serde_json::json!({"TransactItems": [
                {"Put": {"TableName": "t-9", "Item": {"pk": {"S": "T#a#X"}}}},
                {"ConditionCheck": {"TableName": "t-9", "Key": {"pk": {"S": "CONN#c"}}}}
            ]}),
            "us-east-1",
            &n,
        );
        let actions: Vec<&str> = transaction.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["dynamodb:PutItem", "dynamodb:ConditionCheckItem"]);
        assert_eq!(transaction[1].context[LEADING_KEYS], ["CONN#c"]);
        let query = dynamodb(
            "Query",
            &serde_json::json!({"TableName": "t-9", "IndexName": "gsi4",
                "KeyConditionExpression": "#p = :p AND #s BETWEEN :a AND :b",
                "ExpressionAttributeNames": {"#p": "gsi4pk", "#s": "gsi4sk"},
                "ExpressionAttributeValues": {":p": {"S": "SYNCSCHED"}, ":a": {"S": "a"}, ":b": {"S": "b"}}}),
            "us-east-1",
            &n,
        );
        assert!(query[0]
            .resource
            .ends_with("table/stack-PackrTable/index/gsi4"));
        assert_eq!(query[0].context[LEADING_KEYS], ["SYNCSCHED"]);
        let send = sqs(
            "SendMessageBatch",
            &serde_json::json!({"QueueUrl": "http://127.0.0.1:5000/123456789012/s-1-WebhookDeadLetterQueue"}),
            "us-east-1",
            &n,
        );
        assert_eq!(send[0].action, "sqs:SendMessage");
        assert_eq!(
            send[0].resource,
            "arn:aws:sqs:us-east-1:123456789012:stack-WebhookDeadLetterQueue"
        );
        let secret = secretsmanager(
            "GetSecretValue",
            &serde_json::json!({"SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-1-WebhookSigningSecret-Xy12Ab"}),
            "us-east-1",
            &n,
        );
        assert_eq!(
            secret[0].resource,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:stack-WebhookSigningSecret-Xy12Ab"
        );
    }
}
