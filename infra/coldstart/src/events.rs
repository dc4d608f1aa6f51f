//! The events the bench feeds each function: the sample events of `events/` with the local
//! stack's tenant, resources and current times put in, or built the way the local stack
//! builds them (`packr_local::gateway::function_url::function_url_request` for a webhook
//! the simulator delivered, `packr_local::esm::sqs_event` for messages ingest queued).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{json, Value};

/// The repository's `events/` directory.
#[derive(Debug, Clone)]
pub struct EventFiles {
    dir: PathBuf,
}

impl EventFiles {
    pub fn new(repo: &Path) -> Self {
        Self {
            dir: repo.join("events"),
        }
    }

    /// `events/<name>` parsed.
    pub fn load(&self, name: &str) -> anyhow::Result<Value> {
        let path = self.dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// The event of lambda_runtime's hello-world.
pub fn hello() -> Value {
    json!({ "firstName": "bench" })
}

/// A GET of the HTTP API (payload 2.0) from `events/apigw-v2-get-orders.json`: `route_key`
/// (`GET /brands/{brand_id}/messages`) at `path` with `query`; `claims` as the JWT
/// authorizer passes them, `None` for a route without authorizer.
pub fn api_get(
    sample: &Value,
    route_key: &str,
    path: &str,
    path_parameters: &[(&str, &str)],
    query: &[(&str, &str)],
    claims: Option<Value>,
) -> Value {
    let now = chrono::Utc::now();
    let mut event = sample.clone();
    let raw_query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    event["routeKey"] = json!(route_key);
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(raw_query);
    event["queryStringParameters"] = if query.is_empty() {
        Value::Null
    } else {
        Value::Object(
            query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect(),
        )
    };
    event["pathParameters"] = if path_parameters.is_empty() {
        Value::Null
    } else {
        Value::Object(
            path_parameters
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect(),
        )
    };
    let context = &mut event["requestContext"];
    context["routeKey"] = json!(route_key);
    context["requestId"] = json!(uuid::Uuid::new_v4().to_string());
    context["http"]["method"] = json!("GET");
    context["http"]["path"] = json!(path);
    context["time"] = json!(now.format("%d/%b/%Y:%H:%M:%S %z").to_string());
    context["timeEpoch"] = json!(now.timestamp_millis());
    match claims {
        Some(claims) => context["authorizer"]["jwt"]["claims"] = claims,
        None => {
            if let Some(context) = context.as_object_mut() {
                context.remove("authorizer");
            }
            if let Some(headers) = event["headers"].as_object_mut() {
                headers.remove("authorization");
            }
        }
    }
    event
}

/// Verified claims of a tenant admin, flattened as HTTP APIs pass them.
pub fn tenant_admin_claims(tenant_id: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": "bench-admin",
        "iss": packr_local::dev_jwt::issuer(),
        "aud": packr_local::dev_jwt::audience(),
        "iat": now.to_string(),
        "exp": (now + 3600).to_string(),
        "custom:tenant_id": tenant_id,
        "custom:role": "tenant_admin",
    })
}

/// `events/eventbridge-scheduled-sync.json` firing now from `rule_arn`.
pub fn scheduled(sample: &Value, rule_arn: &str) -> Value {
    let mut event = sample.clone();
    event["id"] = json!(uuid::Uuid::new_v4().to_string());
    event["time"] = json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    event["resources"] = json!([rule_arn]);
    event
}

/// `events/sqs-sync-jobs-batch.json` carrying `job` (a `SyncJob`) from the queue `queue_arn`.
pub fn sync_job_batch(sample: &Value, queue_arn: &str, job: &Value) -> Value {
    let mut event = sample.clone();
    let now_ms = chrono::Utc::now().timestamp_millis().to_string();
    let region = queue_arn.split(':').nth(3).unwrap_or("us-east-1");
    if let Some(record) = event["Records"].get_mut(0) {
        record["messageId"] = json!(uuid::Uuid::new_v4().to_string());
        record["body"] = json!(job.to_string());
        record["eventSourceARN"] = json!(queue_arn);
        record["awsRegion"] = json!(region);
        record["attributes"]["SentTimestamp"] = json!(now_ms);
        record["attributes"]["ApproximateFirstReceiveTimestamp"] = json!(now_ms);
        if let Some(tenant) = job.get("tenant_id") {
            record["attributes"]["MessageGroupId"] = tenant.clone();
        }
        if let Some(record) = record.as_object_mut() {
            record.remove("md5OfBody");
        }
    }
    event
}
