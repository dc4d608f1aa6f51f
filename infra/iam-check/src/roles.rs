//! Each function's permissions, read from `template.yaml`: `Role: !GetAtt <Role>.Arn` and
//! that `AWS::IAM::Role`'s inline `Policies`, or (without `Role`) the function's own SAM
//! `Policies` given as inline documents. Intrinsics are resolved as the local stack
//! resolves the functions' environment (`packr_local::local_env::TemplateResolver`):
//! parameters with their local values (`Stage` = `local`), the local region and account,
//! and resources named as the provisioner names them, under the prefix [`CANONICAL_PREFIX`]
//! (the recorded requests are mapped onto the same names, see `crate::recording`).

use std::collections::BTreeMap;

use packr_local::emulator::{LOCAL_ACCOUNT_ID, LOCAL_REGION};
use packr_local::local_env::TemplateResolver;
use packr_local::provision::{resource_name, Provisioned};
use packr_local::template::{local_bucket_name, value_of, EnvValue, Template};
use serde_json::Value as Json;
use serde_yaml::Value;

use crate::policy::{parse_document, PolicyError, Statement};

/// The prefix the check names every provisioned resource under.
pub const CANONICAL_PREFIX: &str = "stack";
/// Secrets Manager appends `-` and six random characters to a secret's name in its ARN.
pub const SECRET_SUFFIX_PATTERN: &str = "-??????";

#[derive(Debug, thiserror::Error)]
pub enum RolesError {
    #[error(transparent)]
    Template(#[from] packr_local::template::TemplateError),
    #[error("{function}: {reason}")]
    Unsupported { function: String, reason: String },
    #[error("{function}, policy {policy}: {source}")]
    Policy {
        function: String,
        policy: String,
        #[source]
        source: PolicyError,
    },
}

/// One statement of a function's role, with the policy it belongs to.
#[derive(Debug, Clone)]
pub struct Granted {
    pub policy: String,
    pub statement: Statement,
}

#[derive(Debug, Clone)]
pub struct FunctionPolicy {
    pub logical_id: String,
    /// The function's name (its binary), which its access key id carries.
    pub name: String,
    /// The role's logical id (or `<function> (SAM)`).
    pub role: String,
    pub statements: Vec<Granted>,
    /// Intrinsics that have no local value (e.g. a log group's ARN), as notes.
    pub unresolved: Vec<String>,
}

impl FunctionPolicy {
    pub fn statements(&self) -> Vec<Statement> {
        self.statements
            .iter()
            .map(|g| g.statement.clone())
            .collect()
    }
}

/// What the template's resources are called on the emulator, under [`CANONICAL_PREFIX`].
pub fn canonical_resources(template: &Template) -> Result<Provisioned, RolesError> {
    let table = template.table()?;
    let mut provisioned = Provisioned {
        table_name: resource_name(CANONICAL_PREFIX, &table.logical_id),
        queue_urls: BTreeMap::new(),
        queue_arns: BTreeMap::new(),
        secret_arns: BTreeMap::new(),
        bucket_names: BTreeMap::new(),
    };
    for bucket in template.buckets()? {
        provisioned.bucket_names.insert(
            bucket.logical_id.clone(),
            local_bucket_name(CANONICAL_PREFIX, &bucket.logical_id),
        );
    }
    for queue in template.queues()? {
        let name = resource_name(CANONICAL_PREFIX, &queue.logical_id);
        provisioned.queue_urls.insert(
            queue.logical_id.clone(),
            format!("http://emulator/{LOCAL_ACCOUNT_ID}/{name}"),
        );
        provisioned.queue_arns.insert(
            queue.logical_id.clone(),
            format!("arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:{name}"),
        );
    }
    for secret in template.secrets()? {
        let name = resource_name(CANONICAL_PREFIX, &secret.logical_id);
        provisioned.secret_arns.insert(
            secret.logical_id.clone(),
            format!(
                "arn:aws:secretsmanager:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:secret:{name}{SECRET_SUFFIX_PATTERN}"
            ),
        );
    }
    Ok(provisioned)
}

/// Every function of the template with its statements.
pub fn function_policies(template: &Template) -> Result<Vec<FunctionPolicy>, RolesError> {
    let provisioned = canonical_resources(template)?;
    let resolver = TemplateResolver::new(template, &provisioned, &BTreeMap::new());
    let mut out = Vec::new();
    for function in template.functions()? {
        let logical_id = function.logical_id.clone();
        let unsupported = |reason: String| RolesError::Unsupported {
            function: logical_id.clone(),
            reason,
        };
        let name = function
            .binary
            .clone()
            .ok_or_else(|| unsupported("no Metadata.BuildProperties.Binary".to_owned()))?;
        let properties = template
            .resource_properties(&logical_id)
            .cloned()
            .unwrap_or_default();
        let mut unresolved = Vec::new();
        let (role, policies) = match properties.get("Role") {
            Some(role) => {
                let role_id = match value_of(role) {
                    EnvValue::GetAtt {
                        resource,
                        attribute,
                    } if attribute == "Arn" => resource,
                    other => {
                        return Err(unsupported(format!(
                            "Role must be !GetAtt <Role>.Arn, found {other:?}"
                        )))
                    }
                };
                if template.resource_type(&role_id) != Some("AWS::IAM::Role") {
                    return Err(unsupported(format!("{role_id} is not an AWS::IAM::Role")));
                }
                let role_props = template
                    .resource_properties(&role_id)
                    .cloned()
                    .unwrap_or_default();
                for refused in ["ManagedPolicyArns", "PermissionsBoundary"] {
                    if role_props.contains_key(refused) {
                        return Err(unsupported(format!(
                            "{role_id}.{refused} is not evaluated by the check"
                        )));
                    }
                }
                let mut policies = Vec::new();
                if let Some(list) = role_props.get("Policies") {
                    for (index, entry) in list.as_sequence().into_iter().flatten().enumerate() {
                        let policy = entry
                            .get("PolicyName")
                            .and_then(Value::as_str)
                            .map_or_else(|| format!("#{index}"), str::to_owned);
                        let document = entry.get("PolicyDocument").ok_or_else(|| {
                            unsupported(format!("{role_id} policy {policy} has no PolicyDocument"))
                        })?;
                        policies.push((policy, document.clone()));
                    }
                }
                (role_id, policies)
            }
            None => {
                // SAM's own role: inline policy documents only; policy templates and
                // managed policies are refused rather than guessed at.
                let mut policies = Vec::new();
                if let Some(list) = properties.get("Policies") {
                    let entries: Vec<Value> = match list {
                        Value::Sequence(items) => items.clone(),
                        other => vec![other.clone()],
                    };
                    for (index, entry) in entries.into_iter().enumerate() {
                        if entry.get("Statement").is_none() {
                            return Err(unsupported(format!(
                                "SAM Policies entry #{index} is a managed policy or policy template, which the check does not evaluate"
                            )));
                        }
                        policies.push((format!("Policies[{index}]"), entry));
                    }
                }
                (format!("{logical_id} (SAM)"), policies)
            }
        };
        let mut statements = Vec::new();
        for (policy, document) in policies {
            let resolved = resolve(&resolver, &document, &mut unresolved);
            let parsed = parse_document(&resolved).map_err(|source| RolesError::Policy {
                function: logical_id.clone(),
                policy: policy.clone(),
                source,
            })?;
            statements.extend(parsed.into_iter().map(|statement| Granted {
                policy: policy.clone(),
                statement,
            }));
        }
        out.push(FunctionPolicy {
            logical_id,
            name,
            role,
            statements,
            unresolved,
        });
    }
    Ok(out)
}

fn is_intrinsic(value: &Value) -> bool {
    match value {
        Value::Tagged(_) => true,
        Value::Mapping(map) if map.len() == 1 => map
            .keys()
            .next()
            .and_then(Value::as_str)
            .is_some_and(|k| k == "Ref" || k.starts_with("Fn::")),
        _ => false,
    }
}

/// YAML with intrinsics → JSON with local values. A value without one (a log group's ARN)
/// becomes `unresolved:<what>`, which matches no request, and is noted.
fn resolve(resolver: &TemplateResolver<'_>, value: &Value, unresolved: &mut Vec<String>) -> Json {
    if is_intrinsic(value) {
        let call = value_of(value);
        return match resolver.resolve(&call) {
            Ok(text) => Json::String(text),
            Err(reason) => {
                unresolved.push(reason.clone());
                Json::String(format!("unresolved:{reason}"))
            }
        };
    }
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => Json::String(n.to_string()),
        Value::String(s) => Json::String(s.clone()),
        Value::Sequence(items) => Json::Array(
            items
                .iter()
                .map(|v| resolve(resolver, v, unresolved))
                .collect(),
        ),
        Value::Mapping(map) => Json::Object(
            map.iter()
                .filter_map(|(k, v)| {
                    Some((k.as_str()?.to_owned(), resolve(resolver, v, unresolved)))
                })
                .collect(),
        ),
        Value::Tagged(tagged) => resolve(resolver, &tagged.value, unresolved),
    }
}
