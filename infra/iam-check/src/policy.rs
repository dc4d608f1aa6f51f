//! A small offline evaluator of IAM identity-policy statements: `Allow`/`Deny`,
//! `Action`/`NotAction` and `Resource`/`NotResource` with `*` and `?` wildcards, and the
//! condition operators the template uses or is likely to (`String*`, `Arn*`, `Bool`,
//! `Null`, each with `ForAllValues:`/`ForAnyValue:` and `…IfExists`). An explicit `Deny`
//! wins over any `Allow`; no matching `Allow` is an implicit deny.
//!
//! Written here rather than taken from a crate: the one offline evaluator on crates.io
//! (`iam-rs`, 0.x, one maintainer) answers allow/deny for a request, but the check needs
//! to know *which* statement allowed a request (the least-privilege table) and which
//! condition of which statement refused it (the denial report), and it must refuse a
//! condition operator it does not know rather than guess. Anything it does not model
//! (policy variables, `Principal` in an identity policy, unknown operators or statement
//! fields) is a parse error, never a silent pass.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("statement {sid}: unknown condition operator {operator} (the check refuses what it cannot evaluate)")]
    UnknownOperator { sid: String, operator: String },
    #[error("statement {sid}: {reason}")]
    Shape { sid: String, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action` (or `NotAction`, `negated`) / `Resource` (or `NotResource`) patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patterns {
    pub patterns: Vec<String>,
    pub negated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    Single,
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Bool,
    Null,
}

impl Comparison {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "StringEquals" => Self::StringEquals,
            "StringNotEquals" => Self::StringNotEquals,
            "StringEqualsIgnoreCase" => Self::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Self::StringNotEqualsIgnoreCase,
            "StringLike" => Self::StringLike,
            "StringNotLike" => Self::StringNotLike,
            "ArnEquals" => Self::ArnEquals,
            "ArnNotEquals" => Self::ArnNotEquals,
            "ArnLike" => Self::ArnLike,
            "ArnNotLike" => Self::ArnNotLike,
            "Bool" => Self::Bool,
            "Null" => Self::Null,
            _ => return None,
        })
    }

    fn negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals
                | Self::StringNotEqualsIgnoreCase
                | Self::StringNotLike
                | Self::ArnNotEquals
                | Self::ArnNotLike
        )
    }

    /// Whether one request value matches one policy value (the positive form).
    fn matches(self, policy: &str, request: &str) -> bool {
        match self {
            Self::StringEquals | Self::StringNotEquals => policy == request,
            Self::StringEqualsIgnoreCase | Self::StringNotEqualsIgnoreCase => {
                policy.eq_ignore_ascii_case(request)
            }
            Self::StringLike | Self::StringNotLike => glob(policy, request, false),
            Self::ArnEquals | Self::ArnNotEquals | Self::ArnLike | Self::ArnNotLike => {
                arn_like(policy, request)
            }
            Self::Bool => policy.eq_ignore_ascii_case(request),
            Self::Null => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// As written, e.g. `ForAllValues:StringLike`.
    pub operator: String,
    pub qualifier: Qualifier,
    pub comparison: Comparison,
    pub if_exists: bool,
    /// As written; matched case-insensitively (condition keys are).
    pub key: String,
    pub values: Vec<String>,
}

impl Condition {
    /// Whether the request context satisfies this condition.
    pub fn holds(&self, context: &Context) -> bool {
        let found = context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&self.key))
            .map(|(_, v)| v.as_slice())
            .filter(|v| !v.is_empty());
        if self.comparison == Comparison::Null {
            let present = found.is_some();
            return self.values.iter().any(|v| {
                (v.eq_ignore_ascii_case("true") && !present)
                    || (v.eq_ignore_ascii_case("false") && present)
            });
        }
        let Some(values) = found else {
            return match self.qualifier {
                _ if self.if_exists => true,
                Qualifier::ForAllValues => true,
                Qualifier::ForAnyValue => false,
                Qualifier::Single => self.comparison.negated(),
            };
        };
        let any_policy = |request: &String| {
            self.values
                .iter()
                .any(|policy| self.comparison.matches(policy, request))
        };
        let negated = self.comparison.negated();
        // Per request value: does it satisfy the operator (positive: matches some policy
        // value; negated: matches none)?
        let satisfies = |request: &String| any_policy(request) != negated;
        match self.qualifier {
            Qualifier::ForAllValues => values.iter().all(satisfies),
            Qualifier::ForAnyValue => values.iter().any(satisfies),
            Qualifier::Single if negated => !values.iter().any(any_policy),
            Qualifier::Single => values.iter().any(any_policy),
        }
    }

    /// `ForAllValues:StringLike dynamodb:LeadingKeys [T#*]`
    pub fn describe(&self) -> String {
        format!("{} {} {:?}", self.operator, self.key, self.values)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `Sid`, or `#<index>` when it has none.
    pub sid: String,
    pub effect: Effect,
    pub actions: Patterns,
    pub resources: Patterns,
    pub conditions: Vec<Condition>,
}

/// Condition keys of a request and their values (several for multivalued keys such as
/// `dynamodb:LeadingKeys`). An absent key is simply not in the map.
pub type Context = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `service:Action`.
    pub action: String,
    pub resource: String,
    pub context: Context,
}

/// How one statement relates to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applies {
    /// Its actions or resources do not cover the request.
    No,
    /// It covers action and resource, but this condition fails.
    ConditionFails(usize),
    Yes,
}

impl Statement {
    pub fn covers_action(&self, action: &str) -> bool {
        self.actions.patterns.iter().any(|p| glob(p, action, true)) != self.actions.negated
    }

    pub fn covers_resource(&self, resource: &str) -> bool {
        self.resources
            .patterns
            .iter()
            .any(|p| glob(p, resource, false))
            != self.resources.negated
    }

    pub fn applies(&self, request: &Request) -> Applies {
        if !self.covers_action(&request.action) || !self.covers_resource(&request.resource) {
            return Applies::No;
        }
        match self
            .conditions
            .iter()
            .position(|c| !c.holds(&request.context))
        {
            Some(failed) => Applies::ConditionFails(failed),
            None => Applies::Yes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by these statements (indexes), none denying.
    Allowed(Vec<usize>),
    /// Denied by this statement.
    ExplicitDeny(usize),
    /// No statement allows it.
    ImplicitDeny,
}

/// AWS's order: an applicable `Deny` wins, then any applicable `Allow`, else deny.
pub fn evaluate(statements: &[Statement], request: &Request) -> Decision {
    let applicable: Vec<usize> = statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.applies(request) == Applies::Yes)
        .map(|(i, _)| i)
        .collect();
    if let Some(deny) = applicable
        .iter()
        .find(|&&i| statements[i].effect == Effect::Deny)
    {
        return Decision::ExplicitDeny(*deny);
    }
    if applicable.is_empty() {
        Decision::ImplicitDeny
    } else {
        Decision::Allowed(applicable)
    }
}

/// The statements of a policy document (JSON, intrinsics already resolved).
pub fn parse_document(document: &Value) -> Result<Vec<Statement>, PolicyError> {
    let shape = |reason: &str| PolicyError::Shape {
        sid: "(document)".to_owned(),
        reason: reason.to_owned(),
    };
    let statements = match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Err(shape("no Statement list")),
    };
    statements
        .into_iter()
        .enumerate()
        .map(|(index, statement)| parse_statement(index, statement))
        .collect()
}

fn parse_statement(index: usize, value: &Value) -> Result<Statement, PolicyError> {
    let object = value.as_object().ok_or_else(|| PolicyError::Shape {
        sid: format!("#{index}"),
        reason: "a statement is not a mapping".to_owned(),
    })?;
    let sid = object
        .get("Sid")
        .and_then(Value::as_str)
        .map_or_else(|| format!("#{index}"), str::to_owned);
    let shape = |reason: String| PolicyError::Shape {
        sid: sid.clone(),
        reason,
    };
    for key in object.keys() {
        if !matches!(
            key.as_str(),
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition"
        ) {
            return Err(shape(format!(
                "{key} is not understood in an identity policy"
            )));
        }
    }
    let effect = match object.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        other => {
            return Err(shape(format!(
                "Effect must be Allow or Deny, not {other:?}"
            )))
        }
    };
    let patterns = |plain: &str, not: &str| -> Result<Patterns, PolicyError> {
        let (value, negated) = match (object.get(plain), object.get(not)) {
            (Some(v), None) => (v, false),
            (None, Some(v)) => (v, true),
            _ => return Err(shape(format!("needs exactly one of {plain} and {not}"))),
        };
        let patterns =
            strings(value).ok_or_else(|| shape(format!("{plain} is not a list of strings")))?;
        if let Some(variable) = patterns.iter().find(|p| p.contains("${")) {
            return Err(shape(format!(
                "policy variables are not evaluated ({variable})"
            )));
        }
        Ok(Patterns { patterns, negated })
    };
    let actions = patterns("Action", "NotAction")?;
    let resources = patterns("Resource", "NotResource")?;
    let mut conditions = Vec::new();
    if let Some(block) = object.get("Condition") {
        let block = block
            .as_object()
            .ok_or_else(|| shape("Condition is not a mapping".to_owned()))?;
        for (operator, keys) in block {
            let unknown = || PolicyError::UnknownOperator {
                sid: sid.clone(),
                operator: operator.clone(),
            };
            let (qualifier, rest) = if let Some(rest) = operator.strip_prefix("ForAllValues:") {
                (Qualifier::ForAllValues, rest)
            } else if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
                (Qualifier::ForAnyValue, rest)
            } else {
                (Qualifier::Single, operator.as_str())
            };
            let (base, if_exists) = match rest.strip_suffix("IfExists") {
                Some(base) if base != "Null" => (base, true),
                _ => (rest, false),
            };
            let comparison = Comparison::parse(base).ok_or_else(unknown)?;
            let keys = keys
                .as_object()
                .ok_or_else(|| shape(format!("{operator} is not a mapping of keys")))?;
            for (key, values) in keys {
                let values = strings(values)
                    .ok_or_else(|| shape(format!("{operator} {key}: values are not strings")))?;
                if let Some(variable) = values.iter().find(|v| v.contains("${")) {
                    return Err(shape(format!(
                        "policy variables are not evaluated ({variable})"
                    )));
                }
                conditions.push(Condition {
                    operator: operator.clone(),
                    qualifier,
                    comparison,
                    if_exists,
                    key: key.clone(),
                    values,
                });
            }
        }
    }
    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        conditions,
    })
}

/// A string, a bool or number (IAM reads them as strings), or a list of those.
fn strings(value: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        other => one(other).map(|s| vec![s]),
    }
}

/// IAM wildcard matching: `*` any run of characters (also none), `?` exactly one.
pub fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `ArnLike`/`ArnEquals`: each of the six colon-separated parts matched on its own.
fn arn_like(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == 6 && a.len() == 6 && p.iter().zip(&a).all(|(p, a)| glob(p, a, false))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/packr";

    fn statements(document: Value) -> Vec<Statement> {
        parse_document(&document).expect("the test policy parses")
    }

    fn request(action: &str, resource: &str, leading_keys: &[&str]) -> Request {
        let mut context = Context::new();
        if !leading_keys.is_empty() {
            context.insert(
                "dynamodb:LeadingKeys".to_owned(),
                leading_keys.iter().map(|k| (*k).to_owned()).collect(),
            );
        }
        Request {
            action: action.to_owned(),
            resource: resource.to_owned(),
            context,
        }
    }

    fn tenant_data() -> Vec<Statement> {
        statements(json!({
            "Statement": [{
                "Sid": "TenantData",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                "Resource": [TABLE, format!("{TABLE}/index/*")],
                "Condition": { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["T#*"] } }
            }]
        }))
    }

    #[test]
    fn a_covered_request_is_allowed_by_its_statement() {
        // given / when
        let decision = evaluate(
            &tenant_data(),
            &request("dynamodb:PutItem", TABLE, &["T#acme#ORDER#1"]),
        );
        // then
        assert_eq!(decision, Decision::Allowed(vec![0]));
    }

    #[test]
    fn an_action_no_statement_grants_is_denied() {
        let decision = evaluate(
            &tenant_data(),
            &request("dynamodb:DeleteItem", TABLE, &["T#acme#ORDER#1"]),
        );
        assert_eq!(decision, Decision::ImplicitDeny);
    }

    #[test]
    fn another_resource_is_denied() {
        let other = "arn:aws:dynamodb:us-east-1:123456789012:table/other";
        assert_eq!(
            evaluate(
                &tenant_data(),
                &request("dynamodb:GetItem", other, &["T#a"])
            ),
            Decision::ImplicitDeny
        );
        // the index wildcard covers any index of the table
        assert_eq!(
            evaluate(
                &tenant_data(),
                &request("dynamodb:GetItem", &format!("{TABLE}/index/gsi1"), &["T#a"])
            ),
            Decision::Allowed(vec![0])
        );
    }

    #[test]
    fn a_leading_key_outside_the_condition_is_denied_and_the_failing_condition_named() {
        // given
        let policy = tenant_data();
        let unroutable = request("dynamodb:PutItem", TABLE, &["UNROUTABLE#conn_x"]);
        // when / then
        assert_eq!(evaluate(&policy, &unroutable), Decision::ImplicitDeny);
        assert_eq!(policy[0].applies(&unroutable), Applies::ConditionFails(0));
        // ForAllValues: one key outside the pattern among several is enough to deny
        let batch = request("dynamodb:GetItem", TABLE, &["T#a#X", "CONN#1"]);
        assert_eq!(evaluate(&policy, &batch), Decision::ImplicitDeny);
    }

    #[test]
    fn for_all_values_holds_for_an_absent_key_as_on_aws() {
        // The known trap: a request without leading keys (a Scan) passes ForAllValues.
        let policy = tenant_data();
        assert_eq!(
            evaluate(&policy, &request("dynamodb:GetItem", TABLE, &[])),
            Decision::Allowed(vec![0])
        );
    }

    #[test]
    fn an_explicit_deny_wins_over_an_allow() {
        let policy = statements(json!({
            "Statement": [
                { "Effect": "Allow", "Action": "dynamodb:*", "Resource": "*" },
                { "Sid": "NoConnections", "Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": TABLE,
                  "Condition": { "ForAnyValue:StringLike": { "dynamodb:LeadingKeys": ["CONN#*"] } } }
            ]
        }));
        assert_eq!(
            evaluate(&policy, &request("dynamodb:PutItem", TABLE, &["CONN#c1"])),
            Decision::ExplicitDeny(1)
        );
        assert_eq!(
            evaluate(&policy, &request("dynamodb:PutItem", TABLE, &["T#a"])),
            Decision::Allowed(vec![0])
        );
    }

    #[test]
    fn wildcards_match_runs_and_single_characters() {
        assert!(glob("T#*#SYNC#*", "T#acme#SYNC#conn_1#orders", false));
        assert!(!glob("T#*#SYNC#*", "T#acme#ORDER#1", false));
        assert!(glob("secret:name-??????", "secret:name-AbC123", false));
        assert!(!glob("secret:name-??????", "secret:name-AbC12", false));
        assert!(!glob("secret:name-??????", "secret:name-AbC1234", false));
        assert!(glob("*", "", false));
        assert!(glob("sqs:Send*", "SQS:SendMessage", true));
        assert!(!glob("sqs:Send*", "SQS:SendMessage", false));
        assert!(glob("a*b*c", "aXXbYYbc", false));
        assert!(!glob("a*b*c", "aXXbYYbd", false));
    }

    #[test]
    fn actions_match_without_case_and_not_action_inverts() {
        let policy = statements(json!({
            "Statement": [{ "Effect": "Allow", "NotAction": "dynamodb:Scan", "Resource": "*" }]
        }));
        assert_eq!(
            evaluate(&policy, &request("DynamoDB:getitem", TABLE, &[])),
            Decision::Allowed(vec![0])
        );
        assert_eq!(
            evaluate(&policy, &request("dynamodb:Scan", TABLE, &[])),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn string_equals_arn_like_and_negated_operators() {
        let policy = statements(json!({
            "Statement": [{
                "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*",
                "Condition": {
                    "StringEquals": { "aws:RequestedRegion": "us-east-1" },
                    "ArnLike": { "aws:SourceArn": "arn:aws:sqs:*:123456789012:packr-*" },
                    "StringNotLike": { "x:Tag": ["secret*"] }
                }
            }]
        }));
        let mut ok = request("sqs:SendMessage", "q", &[]);
        ok.context
            .insert("aws:RequestedRegion".into(), vec!["us-east-1".into()]);
        ok.context.insert(
            "aws:sourcearn".into(),
            vec!["arn:aws:sqs:eu-west-1:123456789012:packr-jobs".into()],
        );
        assert_eq!(evaluate(&policy, &ok), Decision::Allowed(vec![0]));
        let mut wrong_region = ok.clone();
        wrong_region
            .context
            .insert("aws:RequestedRegion".into(), vec!["us-east-2".into()]);
        assert_eq!(evaluate(&policy, &wrong_region), Decision::ImplicitDeny);
        let mut tagged = ok.clone();
        tagged
            .context
            .insert("x:Tag".into(), vec!["secret-x".into()]);
        assert_eq!(evaluate(&policy, &tagged), Decision::ImplicitDeny);
        // ArnLike compares the six parts: a wildcard does not cross a colon
        let mut other_account = ok.clone();
        other_account.context.insert(
            "aws:sourcearn".into(),
            vec!["arn:aws:sqs:eu-west-1:999:packr-jobs".into()],
        );
        assert_eq!(evaluate(&policy, &other_account), Decision::ImplicitDeny);
    }

    #[test]
    fn an_unknown_condition_operator_is_an_error_not_a_pass() {
        let error = parse_document(&json!({
            "Statement": [{ "Sid": "Odd", "Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": { "StringLooksLike": { "a:b": "c" } } }]
        }))
        .unwrap_err();
        assert_eq!(
            error,
            PolicyError::UnknownOperator {
                sid: "Odd".into(),
                operator: "StringLooksLike".into()
            }
        );
        assert!(parse_document(&json!({
            "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "${aws:username}" }]
        }))
        .is_err());
        assert!(parse_document(&json!({
            "Statement": [{ "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*" }]
        }))
        .is_err());
    }

    #[test]
    fn null_and_if_exists() {
        let policy = statements(json!({
            "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*",
                "Condition": { "Null": { "dynamodb:LeadingKeys": "false" },
                               "StringEqualsIfExists": { "x:y": "z" } } }]
        }));
        assert_eq!(
            evaluate(&policy, &request("dynamodb:Scan", TABLE, &[])),
            Decision::ImplicitDeny
        );
        assert_eq!(
            evaluate(&policy, &request("dynamodb:Query", TABLE, &["T#a"])),
            Decision::Allowed(vec![0])
        );
    }
}
