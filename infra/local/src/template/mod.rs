//! `template.yaml`, read as data: the resources the local stack creates on the emulator.
//!
//! There is no second list of resources: the table, queues and secrets are whatever the SAM
//! template declares. CloudFormation short-form tags (`!Ref`, `!GetAtt`, `!Sub`, …) arrive
//! from serde_yaml as tagged values and are understood where the local stack needs them.

mod bucket;
mod conditions;
mod error;
mod function;
mod http_api;
mod props;
mod queue;
mod rule;
mod secret;
mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

pub use bucket::{local_bucket_name, BucketSpec, LifecycleRuleSpec};
pub use conditions::Conditions;
pub use error::TemplateError;
pub use function::{value_of, EnvValue, FunctionSpec, SqsEventSpec};
pub use http_api::HttpRouteSpec;
pub use queue::{QueueSpec, Redrive, RedriveAllow};
pub use rule::{RuleSpec, RuleTarget};
pub use secret::{SecretSpec, SecretValueSpec};
pub use table::{
    AttributeDefinition, AttributeType, BillingMode, IndexSpec, KeySchema, Projection, TableSpec,
};

const TABLE_TYPE: &str = "AWS::DynamoDB::Table";
const QUEUE_TYPE: &str = "AWS::SQS::Queue";
const SECRET_TYPE: &str = "AWS::SecretsManager::Secret";
const FUNCTION_TYPE: &str = "AWS::Serverless::Function";
const RULE_TYPE: &str = "AWS::Events::Rule";
const HTTP_API_TYPE: &str = "AWS::Serverless::HttpApi";
const BUCKET_TYPE: &str = "AWS::S3::Bucket";
const BUCKET_POLICY_TYPE: &str = "AWS::S3::BucketPolicy";

/// A parsed SAM/CloudFormation template.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    /// Logical id → (resource type, properties).
    resources: BTreeMap<String, Resource>,
    /// Parameter name → default value, if any.
    parameters: BTreeMap<String, Option<String>>,
    /// `Globals.Function` of a SAM template.
    function_globals: Mapping,
    /// The `Conditions`, evaluated with the parameters' values.
    conditions: Conditions,
}

#[derive(Debug, Clone)]
struct Resource {
    kind: String,
    properties: Mapping,
    metadata: Mapping,
}

impl Template {
    /// Reads and parses a template file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, TemplateError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// The repository's `template.yaml` (at the workspace root).
    pub fn repo_default() -> Result<Self, TemplateError> {
        Self::load(repo_template_path())
    }

    /// Parses template text; `source` names it in errors.
    pub fn parse(source: &str, text: &str) -> Result<Self, TemplateError> {
        Self::parse_with(source, text, &[])
    }

    /// Parses template text with these parameter values in place of their defaults (as
    /// a deploy's `--parameter-overrides` gives them): the conditions follow them.
    pub fn parse_with(
        source: &str,
        text: &str,
        overrides: &[(&str, &str)],
    ) -> Result<Self, TemplateError> {
        let document: Value =
            serde_yaml::from_str(text).map_err(|error| TemplateError::yaml(source, error))?;
        let shape = |reason: &str| TemplateError::Shape {
            source_name: source.to_owned(),
            reason: reason.to_owned(),
        };
        let root = document
            .as_mapping()
            .ok_or_else(|| shape("the document is not a mapping"))?;
        let resources = root
            .get("Resources")
            .ok_or_else(|| shape("it has no Resources section"))?
            .as_mapping()
            .ok_or_else(|| shape("Resources is not a mapping"))?;
        let mut parsed = BTreeMap::new();
        for (id, resource) in resources {
            let id = id
                .as_str()
                .ok_or_else(|| shape("a resource's logical id is not a string"))?;
            let invalid = |reason: &str| TemplateError::InvalidResource {
                logical_id: id.to_owned(),
                reason: reason.to_owned(),
            };
            let body = resource
                .as_mapping()
                .ok_or_else(|| invalid("the resource is not a mapping"))?;
            let kind = body
                .get("Type")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("Type is missing or not a string"))?;
            let section = |name: &str| match body.get(name) {
                None => Ok(Mapping::new()),
                Some(Value::Mapping(section)) => Ok(section.clone()),
                Some(_) => Err(invalid(&format!("{name} is not a mapping"))),
            };
            parsed.insert(
                id.to_owned(),
                Resource {
                    kind: kind.to_owned(),
                    properties: section("Properties")?,
                    metadata: section("Metadata")?,
                },
            );
        }
        let parameters = root
            .get("Parameters")
            .and_then(Value::as_mapping)
            .map(|parameters| {
                parameters
                    .iter()
                    .filter_map(|(name, body)| {
                        let default = body.get("Default").and_then(|d| match d {
                            Value::String(text) => Some(text.clone()),
                            Value::Number(number) => Some(number.to_string()),
                            Value::Bool(flag) => Some(flag.to_string()),
                            _ => None,
                        });
                        Some((name.as_str()?.to_owned(), default))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut parameters: BTreeMap<String, Option<String>> = parameters;
        for (name, value) in overrides {
            parameters.insert((*name).to_owned(), Some((*value).to_owned()));
        }
        let conditions = conditions::evaluate_all(
            source,
            root.get("Conditions").and_then(Value::as_mapping),
            &parameters,
        )?;
        let function_globals = root
            .get("Globals")
            .and_then(|globals| globals.get("Function"))
            .and_then(Value::as_mapping)
            .cloned()
            .unwrap_or_default();
        Ok(Self {
            source: source.to_owned(),
            resources: parsed,
            parameters,
            function_globals,
            conditions,
        })
    }

    /// Where the template was read from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The one DynamoDB table.
    pub fn table(&self) -> Result<TableSpec, TemplateError> {
        let mut tables = self.of_type(TABLE_TYPE);
        let (id, properties) = tables
            .next()
            .ok_or(TemplateError::MissingResource { kind: TABLE_TYPE })?;
        if let Some((other, _)) = tables.next() {
            return Err(TemplateError::AmbiguousResource {
                kind: TABLE_TYPE,
                logical_ids: vec![id.to_owned(), other.to_owned()],
            });
        }
        table::parse(id, properties, &self.conditions)
    }

    /// The template's conditions, evaluated with its parameters' values.
    pub fn conditions(&self) -> &Conditions {
        &self.conditions
    }

    /// Every SQS queue, in logical-id order, with redrive targets resolved to logical ids.
    pub fn queues(&self) -> Result<Vec<QueueSpec>, TemplateError> {
        let queues: Vec<(&str, &Mapping)> = self.of_type(QUEUE_TYPE).collect();
        queue::parse_all(&queues)
    }

    /// Every Secrets Manager secret, in logical-id order.
    pub fn secrets(&self) -> Result<Vec<SecretSpec>, TemplateError> {
        self.of_type(SECRET_TYPE)
            .map(|(id, properties)| secret::parse(id, properties))
            .collect()
    }

    /// Every S3 bucket, in logical-id order, with the bucket policies that name it
    /// (`Bucket: !Ref <Bucket>`) and `!Ref`s of parameters resolved from their defaults.
    pub fn buckets(&self) -> Result<Vec<BucketSpec>, TemplateError> {
        let policies: Vec<&Mapping> = self.of_type(BUCKET_POLICY_TYPE).map(|(_, p)| p).collect();
        self.of_type(BUCKET_TYPE)
            .map(|(id, properties)| {
                let own: Vec<&Mapping> = policies
                    .iter()
                    .copied()
                    .filter(|p| bucket::policy_bucket(p) == Some(id))
                    .collect();
                bucket::parse(id, properties, &self.parameters, &own)
            })
            .collect()
    }

    /// Every `AWS::Serverless::Function`, in logical-id order, with `Globals` applied.
    pub fn functions(&self) -> Result<Vec<FunctionSpec>, TemplateError> {
        self.resources
            .iter()
            .filter(|(_, resource)| resource.kind == FUNCTION_TYPE)
            .map(|(id, resource)| {
                function::parse(
                    id,
                    &resource.properties,
                    &resource.metadata,
                    &self.function_globals,
                )
            })
            .collect()
    }

    /// One function by logical id.
    pub fn function(&self, logical_id: &str) -> Result<FunctionSpec, TemplateError> {
        let resource = self
            .resources
            .get(logical_id)
            .filter(|r| r.kind == FUNCTION_TYPE)
            .ok_or_else(|| TemplateError::InvalidResource {
                logical_id: logical_id.to_owned(),
                reason: format!("the template declares no {FUNCTION_TYPE} of this id"),
            })?;
        function::parse(
            logical_id,
            &resource.properties,
            &resource.metadata,
            &self.function_globals,
        )
    }

    /// Every route of the template's HTTP APIs (the `HttpApi` events of its functions), in
    /// function then event order, with the authorizer and the scopes API Gateway applies
    /// (`!Ref`s of parameters resolved from their defaults).
    pub fn http_routes(&self) -> Result<Vec<HttpRouteSpec>, TemplateError> {
        let apis = self
            .of_type(HTTP_API_TYPE)
            .map(|(id, properties)| {
                Ok((
                    id.to_owned(),
                    http_api::api_auth(id, properties, &self.parameters)?,
                ))
            })
            .collect::<Result<BTreeMap<_, _>, TemplateError>>()?;
        let mut routes = Vec::new();
        for (id, resource) in &self.resources {
            if resource.kind == FUNCTION_TYPE {
                routes.extend(http_api::routes(
                    id,
                    &resource.properties,
                    &apis,
                    &self.parameters,
                )?);
            }
        }
        Ok(routes)
    }

    /// Every `AWS::Events::Rule`, in logical-id order, `ScheduleExpression: !Ref P`
    /// resolved from the parameter's default. A target that is not a function of the
    /// template is an error.
    pub fn rules(&self) -> Result<Vec<RuleSpec>, TemplateError> {
        let rules = self
            .of_type(RULE_TYPE)
            .map(|(id, properties)| rule::parse(id, properties, &self.parameters))
            .collect::<Result<Vec<_>, _>>()?;
        for rule in &rules {
            for target in &rule.targets {
                if self.resource_type(&target.function) != Some(FUNCTION_TYPE) {
                    return Err(TemplateError::InvalidProperty {
                        logical_id: rule.logical_id.clone(),
                        property: format!("Targets.{}", target.id),
                        reason: format!("{} is not a function of the template", target.function),
                    });
                }
            }
        }
        Ok(rules)
    }

    /// The template's parameters and their defaults.
    pub fn parameters(&self) -> &BTreeMap<String, Option<String>> {
        &self.parameters
    }

    /// The resource type of a logical id, if the template declares it.
    pub fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resources.get(logical_id).map(|r| r.kind.as_str())
    }

    /// The raw `Properties` of a resource, for tools that read more of the template than
    /// the local stack does (e.g. the IAM check reads roles and their policies).
    pub fn resource_properties(&self, logical_id: &str) -> Option<&Mapping> {
        self.resources.get(logical_id).map(|r| &r.properties)
    }

    /// The logical ids of every resource of type `kind`, in logical-id order.
    pub fn logical_ids_of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a str> {
        self.of_type(kind).map(|(id, _)| id)
    }

    fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Mapping)> {
        self.resources
            .iter()
            .filter(move |(_, resource)| resource.kind == kind)
            .map(|(id, resource)| (id.as_str(), &resource.properties))
    }
}

/// `<workspace root>/template.yaml`, located from this crate's manifest directory.
pub fn repo_template_path() -> PathBuf {
    repo_root().join("template.yaml")
}

/// The workspace root (this crate lives in `infra/local`).
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}
