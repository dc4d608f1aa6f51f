//! The functions' environment variables with local values, evaluated from the template's
//! `Environment.Variables` (`!Ref`, `!Sub`, `!GetAtt … .Arn`) against what was provisioned.

use std::collections::BTreeMap;

use crate::emulator::{LOCAL_ACCOUNT_ID, LOCAL_REGION};
use crate::provision::Provisioned;
use crate::template::{EnvValue, Template, TemplateError};

/// Local values of template parameters that have no default (or a production one).
pub const LOCAL_PARAMETERS: &[(&str, &str)] = &[
    ("Stage", "local"),
    ("JwtIssuer", "packr-local"),
    ("JwtAudience", "packr-local"),
    // The per-tenant quotas stay on locally (every API request goes through them, as on
    // AWS), with room for what the local stack does on purpose with one tenant: the
    // contract run's admin actions and the API bench's 50 clients. Their own tests set
    // small limits (tests/integration/api_quota.rs).
    ("ApiQuotaPerSecond", "1000"),
    ("ApiQuotaBurst", "2000"),
    ("AdminQuotaPerMinute", "6000"),
    ("AdminQuotaBurst", "1000"),
    // The emulator answers in seconds under the API bench's 50 clients (a Python server on
    // two cores), where DynamoDB answers an UpdateItem in milliseconds: with the production
    // 500 ms the bench would measure the fail-open path, not the shared window.
    ("ApiQuotaTimeoutMs", "10000"),
];

/// Every function's variables, by function logical id, plus the variables that could not be
/// evaluated locally (`FUNCTION.VAR: reason`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LocalEnvironment {
    pub functions: BTreeMap<String, BTreeMap<String, String>>,
    pub unresolved: Vec<String>,
}

impl LocalEnvironment {
    /// All functions' variables together (they agree on shared names such as TABLE_NAME).
    pub fn merged(&self) -> BTreeMap<String, String> {
        self.functions
            .values()
            .flat_map(|vars| vars.clone())
            .collect()
    }
}

pub fn local_environment(
    template: &Template,
    provisioned: &Provisioned,
    overrides: &BTreeMap<String, String>,
) -> Result<LocalEnvironment, TemplateError> {
    let resolver = Resolver {
        template,
        provisioned,
        parameters: parameters(template, overrides),
    };
    let mut environment = LocalEnvironment::default();
    for function in template.functions()? {
        let mut variables = BTreeMap::new();
        for (name, value) in &function.environment {
            match resolver.value(value) {
                Ok(local) => {
                    variables.insert(name.clone(), local);
                }
                Err(reason) => environment
                    .unresolved
                    .push(format!("{}.{name}: {reason}", function.logical_id)),
            }
        }
        environment.functions.insert(function.logical_id, variables);
    }
    Ok(environment)
}

/// Evaluates template values (`!Ref`, `!Sub`, `!GetAtt … .Arn`) the way the functions'
/// environment is evaluated, against `provisioned`: for tools that resolve more of the
/// template than the environment (the IAM check resolves the roles' policies).
pub struct TemplateResolver<'a> {
    inner: Resolver<'a>,
}

impl<'a> TemplateResolver<'a> {
    pub fn new(
        template: &'a Template,
        provisioned: &'a Provisioned,
        overrides: &BTreeMap<String, String>,
    ) -> Self {
        Self {
            inner: Resolver {
                template,
                provisioned,
                parameters: parameters(template, overrides),
            },
        }
    }

    /// The local value of `value`, or why there is none.
    pub fn resolve(&self, value: &EnvValue) -> Result<String, String> {
        self.inner.value(value)
    }
}

/// Template defaults, then [`LOCAL_PARAMETERS`], then `overrides`.
fn parameters(
    template: &Template,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = template
        .parameters()
        .iter()
        .filter_map(|(name, default)| Some((name.clone(), default.clone()?)))
        .collect();
    for (name, value) in LOCAL_PARAMETERS {
        values.insert((*name).to_owned(), (*value).to_owned());
    }
    values.extend(overrides.clone());
    values
}

struct Resolver<'a> {
    template: &'a Template,
    provisioned: &'a Provisioned,
    parameters: BTreeMap<String, String>,
}

impl Resolver<'_> {
    fn value(&self, value: &EnvValue) -> Result<String, String> {
        match value {
            EnvValue::Literal(text) => Ok(text.clone()),
            EnvValue::Ref(name) => self.reference(name),
            EnvValue::GetAtt {
                resource,
                attribute,
            } => self.attribute(resource, attribute),
            EnvValue::Sub(text) => self.substitute(text),
            EnvValue::Unsupported(what) => Err(format!("{what} is not evaluated locally")),
        }
    }

    fn reference(&self, name: &str) -> Result<String, String> {
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        let pseudo = match name {
            "AWS::Region" => Some(LOCAL_REGION),
            "AWS::AccountId" => Some(LOCAL_ACCOUNT_ID),
            "AWS::Partition" => Some("aws"),
            "AWS::URLSuffix" => Some("amazonaws.com"),
            _ => None,
        };
        if let Some(value) = pseudo {
            return Ok(value.to_owned());
        }
        let p = self.provisioned;
        match self.template.resource_type(name) {
            Some("AWS::DynamoDB::Table") => Ok(p.table_name.clone()),
            Some("AWS::SQS::Queue") => p
                .queue_urls
                .get(name)
                .cloned()
                .ok_or_else(|| format!("queue {name} was not provisioned")),
            Some("AWS::SecretsManager::Secret") => p
                .secret_arns
                .get(name)
                .cloned()
                .ok_or_else(|| format!("secret {name} was not provisioned")),
            Some("AWS::S3::Bucket") => p
                .bucket_names
                .get(name)
                .cloned()
                .ok_or_else(|| format!("bucket {name} was not provisioned")),
            Some(kind) => Err(format!("!Ref {name} ({kind}) has no local value")),
            None => Err(format!("!Ref {name}: no such parameter or resource")),
        }
    }

    fn attribute(&self, resource: &str, attribute: &str) -> Result<String, String> {
        let p = self.provisioned;
        let found = match (self.template.resource_type(resource), attribute) {
            (Some("AWS::SQS::Queue"), "Arn") => p.queue_arns.get(resource).cloned(),
            (Some("AWS::SQS::Queue"), "QueueName") => p
                .queue_urls
                .get(resource)
                .and_then(|url| url.rsplit('/').next())
                .map(str::to_owned),
            (Some("AWS::SQS::Queue"), "QueueUrl") => p.queue_urls.get(resource).cloned(),
            (Some("AWS::DynamoDB::Table"), "Arn") => Some(format!(
                "arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:table/{}",
                p.table_name
            )),
            (Some("AWS::S3::Bucket"), "Arn") => p
                .bucket_names
                .get(resource)
                .map(|name| format!("arn:aws:s3:::{name}")),
            _ => None,
        };
        found.ok_or_else(|| format!("!GetAtt {resource}.{attribute} has no local value"))
    }

    /// `${Name}` and `${Resource.Attribute}`; `${!Literal}` stays `${Literal}`.
    fn substitute(&self, text: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some((resource, attribute)) =
                name.split_once('.').filter(|_| !name.starts_with("AWS::"))
            {
                out.push_str(&self.attribute(resource, attribute)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}
