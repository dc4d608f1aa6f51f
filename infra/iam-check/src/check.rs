//! Every recorded authorization against its function's statements: denials (a failure,
//! with the statement that would be needed), functions whose permissions no test
//! exercised (a failure unless excused), and statements, actions and resources no request
//! used (least privilege; reported, not a failure).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::policy::{evaluate, Applies, Decision, Effect};
use crate::recording::{Authorization, LEADING_KEYS};
use crate::roles::FunctionPolicy;

/// Actions the Lambda service uses with the function's role on its behalf (log delivery):
/// never made by the code, so never in a recording.
const SERVICE_ACTION_PREFIXES: &[&str] = &["logs:"];

/// One kind of denied request of a function.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DenialKey {
    pub function: String,
    pub action: String,
    pub resource: String,
    /// Leading-key shapes (`UNROUTABLE#*`).
    pub key_shapes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Denial {
    pub count: u64,
    pub operations: BTreeSet<String>,
    pub example_keys: BTreeSet<String>,
    /// Statements that cover action and resource but whose condition refused.
    pub near_misses: BTreeSet<String>,
    pub explicit_deny: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unused {
    pub function: String,
    pub statement: String,
    pub what: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub checked: BTreeMap<String, u64>,
    pub denials: BTreeMap<DenialKey, Denial>,
    pub not_exercised: Vec<String>,
    pub excused: Vec<(String, String)>,
    pub unknown_functions: BTreeMap<String, u64>,
    pub unused: Vec<Unused>,
    pub service_only: Vec<Unused>,
}

impl Report {
    pub fn failed(&self) -> bool {
        !self.denials.is_empty()
            || !self.not_exercised.is_empty()
            || !self.unknown_functions.is_empty()
    }
}

/// `T#acme#ORDER#1` → `T#*`; `SYNCSCHED` stays.
pub fn key_shape(key: &str) -> String {
    match key.split_once('#') {
        Some((head, _)) => format!("{head}#*"),
        None => key.to_owned(),
    }
}

fn service_only(actions: &[String]) -> bool {
    actions
        .iter()
        .all(|a| SERVICE_ACTION_PREFIXES.iter().any(|p| a.starts_with(p)))
}

/// The action and resource patterns of a statement that allowed some request.
type UsedPatterns = (BTreeSet<String>, BTreeSet<String>);

/// Evaluates `authorizations` against `functions`; `excused` names functions (by name)
/// whose permissions the suite need not exercise, with the reason.
pub fn run(
    functions: &[FunctionPolicy],
    authorizations: &[Authorization],
    excused: &BTreeMap<String, String>,
) -> Report {
    let mut report = Report::default();
    // per function, per statement index: (actions used, resources used)
    let mut used: BTreeMap<&str, BTreeMap<usize, UsedPatterns>> = BTreeMap::new();
    let by_name: BTreeMap<&str, &FunctionPolicy> =
        functions.iter().map(|f| (f.name.as_str(), f)).collect();
    let compiled: BTreeMap<&str, Vec<crate::policy::Statement>> = functions
        .iter()
        .map(|f| (f.name.as_str(), f.statements()))
        .collect();
    for authorization in authorizations {
        let Some(function) = by_name.get(authorization.function.as_str()) else {
            *report
                .unknown_functions
                .entry(authorization.function.clone())
                .or_insert(0) += 1;
            continue;
        };
        *report.checked.entry(function.name.clone()).or_insert(0) += 1;
        let statements = &compiled[function.name.as_str()];
        let request = &authorization.request;
        match evaluate(statements, request) {
            Decision::Allowed(indexes) => {
                let slots = used.entry(function.name.as_str()).or_default();
                for index in indexes {
                    let slot = slots.entry(index).or_default();
                    let statement = &statements[index];
                    slot.0.extend(
                        statement
                            .actions
                            .patterns
                            .iter()
                            .filter(|p| crate::policy::glob(p, &request.action, true))
                            .cloned(),
                    );
                    slot.1.extend(
                        statement
                            .resources
                            .patterns
                            .iter()
                            .filter(|p| crate::policy::glob(p, &request.resource, false))
                            .cloned(),
                    );
                }
            }
            decision => {
                let keys = authorization.leading_keys();
                let mut key_shapes: Vec<String> = keys.iter().map(|k| key_shape(k)).collect();
                key_shapes.sort();
                key_shapes.dedup();
                let denial = report
                    .denials
                    .entry(DenialKey {
                        function: function.name.clone(),
                        action: request.action.clone(),
                        resource: request.resource.clone(),
                        key_shapes,
                    })
                    .or_default();
                denial.count += 1;
                denial.operations.insert(authorization.operation.clone());
                if denial.example_keys.len() < 3 {
                    denial.example_keys.extend(keys.iter().take(3).cloned());
                }
                for (index, statement) in statements.iter().enumerate() {
                    if let Applies::ConditionFails(condition) = statement.applies(request) {
                        if statement.effect == Effect::Allow {
                            denial.near_misses.insert(format!(
                                "{} (its condition {} fails)",
                                statement.sid,
                                statement.conditions[condition].describe()
                            ));
                        }
                    }
                    if let Decision::ExplicitDeny(deny) = decision {
                        if deny == index {
                            denial.explicit_deny = Some(statement.sid.clone());
                        }
                    }
                }
            }
        }
    }
    for function in functions {
        let grants_aws = function.statements.iter().any(|g| {
            g.statement.effect == Effect::Allow && !service_only(&g.statement.actions.patterns)
        });
        let exercised = report.checked.contains_key(&function.name);
        if grants_aws && !exercised {
            match excused.get(&function.name) {
                Some(reason) => report.excused.push((function.name.clone(), reason.clone())),
                None => report.not_exercised.push(function.name.clone()),
            }
        }
        let slots = used.get(function.name.as_str());
        for (index, granted) in function.statements.iter().enumerate() {
            let statement = &granted.statement;
            if statement.effect != Effect::Allow {
                continue;
            }
            let entry = |what: String| Unused {
                function: function.name.clone(),
                statement: statement.sid.clone(),
                what,
            };
            if service_only(&statement.actions.patterns) {
                report
                    .service_only
                    .push(entry(statement.actions.patterns.join(", ")));
                continue;
            }
            match slots.and_then(|s| s.get(&index)) {
                None => report.unused.push(entry("the whole statement".to_owned())),
                Some((actions, resources)) => {
                    let idle_actions: Vec<&str> = statement
                        .actions
                        .patterns
                        .iter()
                        .filter(|p| !actions.contains(*p))
                        .map(String::as_str)
                        .collect();
                    if !idle_actions.is_empty() && !statement.actions.negated {
                        report
                            .unused
                            .push(entry(format!("actions {}", idle_actions.join(", "))));
                    }
                    let idle_resources: Vec<&str> = statement
                        .resources
                        .patterns
                        .iter()
                        .filter(|p| !resources.contains(*p))
                        .map(String::as_str)
                        .collect();
                    if !idle_resources.is_empty() && !statement.resources.negated {
                        report
                            .unused
                            .push(entry(format!("resources {}", idle_resources.join(", "))));
                    }
                }
            }
        }
    }
    report
}

/// The report as text.
pub fn render(report: &Report, functions: &[FunctionPolicy]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Requests checked per function:");
    for function in functions {
        let count = report.checked.get(&function.name).copied().unwrap_or(0);
        let _ = writeln!(out, "  {:<20} {count:>7}", function.name);
    }
    if !report.unused.is_empty() || !report.service_only.is_empty() {
        let _ = writeln!(
            out,
            "\nLeast privilege: granted but used by no request of the suite (not a failure):"
        );
        let _ = writeln!(out, "  {:<20} {:<28} unused", "function", "statement");
        for u in &report.unused {
            let _ = writeln!(out, "  {:<20} {:<28} {}", u.function, u.statement, u.what);
        }
        for u in &report.service_only {
            let _ = writeln!(
                out,
                "  {:<20} {:<28} {} (Lambda's log delivery uses it; never recorded)",
                u.function, u.statement, u.what
            );
        }
    }
    for (name, reason) in &report.excused {
        let _ = writeln!(out, "\nnot exercised, excused: {name}: {reason}");
    }
    if !report.denials.is_empty() {
        let _ = writeln!(
            out,
            "\nDENIED: requests the functions made that their role in template.yaml refuses:"
        );
        for (key, denial) in &report.denials {
            let _ = writeln!(
                out,
                "\n  {} {} on {} ({} request(s), via {})",
                key.function,
                key.action,
                key.resource,
                denial.count,
                denial
                    .operations
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if !denial.example_keys.is_empty() {
                let _ = writeln!(
                    out,
                    "    {LEADING_KEYS}: {}",
                    denial
                        .example_keys
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            if let Some(sid) = &denial.explicit_deny {
                let _ = writeln!(out, "    explicitly denied by statement {sid}");
            }
            for near in &denial.near_misses {
                let _ = writeln!(out, "    closest: {near}");
            }
            let condition = if key.key_shapes.is_empty() {
                String::new()
            } else {
                format!(
                    ", Condition: {{ ForAllValues:StringLike: {{ {LEADING_KEYS}: [{}] }} }}",
                    key.key_shapes
                        .iter()
                        .map(|s| format!("\"{s}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let function = functions.iter().find(|f| f.name == key.function);
            let _ = writeln!(
                out,
                "    needed in {}: {{ Effect: Allow, Action: {}, Resource: {}{condition} }}",
                function.map_or("its role", |f| f.role.as_str()),
                key.action,
                key.resource
            );
        }
    }
    for name in &report.not_exercised {
        let _ = writeln!(
            out,
            "\nNOT EXERCISED: {name} has AWS permissions, but no test made a request as {name} \
             (build its clients with packr_local::testing::function_config, or excuse it with \
             --not-exercised {name}=<reason>)"
        );
    }
    for (name, count) in &report.unknown_functions {
        let _ = writeln!(
            out,
            "\nUNKNOWN FUNCTION: {count} request(s) signed as {name}, which template.yaml does not declare"
        );
    }
    out
}
