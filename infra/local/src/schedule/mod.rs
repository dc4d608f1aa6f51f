//! EventBridge schedules, emulated: every enabled `AWS::Events::Rule` of `template.yaml`
//! with a `ScheduleExpression` fires on its schedule and invokes its target functions'
//! handlers with a real scheduled event (`detail-type: Scheduled Event`, `source:
//! aws.events`, `resources: [rule ARN]`).
//!
//! Pace (for demos and tests; real time when neither is set):
//! - `PACKR_LOCAL_SCHEDULE_SPEEDUP=60`: schedule time runs 60× faster than the wall clock
//!   (`rate(10 minutes)` fires every 10 s; a cron's next minute comes 60× sooner);
//! - `PACKR_LOCAL_SCHEDULE_EVERY_MS=5000`: every enabled schedule fires every 5 s,
//!   whatever its expression.
//!
//! Rules fire one invocation at a time: a tick that is still running when the next is due
//! delays it, and missed ticks are skipped rather than fired in a burst (EventBridge would
//! invoke concurrently; Packr's handlers must tolerate both).

pub mod expression;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use expression::{ExpressionError, Schedule};

use crate::emulator::{LOCAL_ACCOUNT_ID, LOCAL_REGION};
use crate::template::RuleSpec;

pub const SPEEDUP_VAR: &str = "PACKR_LOCAL_SCHEDULE_SPEEDUP";
pub const EVERY_MS_VAR: &str = "PACKR_LOCAL_SCHEDULE_EVERY_MS";

/// A hosted function as a schedule target: the handler called with what EventBridge sends
/// it — the scheduled event, or the target's constant `Input`.
pub type Target = Arc<
    dyn Fn(serde_json::Value) -> BoxFuture<'static, anyhow::Result<serde_json::Value>>
        + Send
        + Sync,
>;

/// How fast schedule time runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    RealTime,
    /// Schedule time runs this many times faster than the wall clock.
    Speedup(u32),
    /// Every enabled schedule fires at this interval, whatever its expression.
    Every(Duration),
}

impl Pace {
    /// From [`SPEEDUP_VAR`] and [`EVERY_MS_VAR`] of the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(
            std::env::var(SPEEDUP_VAR).ok().as_deref(),
            std::env::var(EVERY_MS_VAR).ok().as_deref(),
        )
    }

    pub fn from_vars(speedup: Option<&str>, every_ms: Option<&str>) -> Result<Self, String> {
        fn present(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        match (present(speedup), present(every_ms)) {
            (Some(_), Some(_)) => Err(format!("set {SPEEDUP_VAR} or {EVERY_MS_VAR}, not both")),
            (Some(factor), None) => factor
                .parse::<u32>()
                .ok()
                .filter(|f| *f >= 1)
                .map(Pace::Speedup)
                .ok_or_else(|| format!("{SPEEDUP_VAR}={factor:?}: expected an integer ≥ 1")),
            (None, Some(ms)) => ms
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms >= 10)
                .map(|ms| Pace::Every(Duration::from_millis(ms)))
                .ok_or_else(|| format!("{EVERY_MS_VAR}={ms:?}: expected milliseconds ≥ 10")),
            (None, None) => Ok(Pace::RealTime),
        }
    }

    fn factor(self) -> u32 {
        match self {
            Pace::Speedup(factor) => factor,
            _ => 1,
        }
    }
}

/// One rule of the template, its expression parsed.
#[derive(Debug, Clone)]
pub struct ScheduledRule {
    pub spec: RuleSpec,
    /// `None` for a rule without a `ScheduleExpression` (an event pattern: not run here).
    pub schedule: Option<Schedule>,
    /// `arn:aws:events:<region>:<account>:rule/<prefix>-<LogicalId>`
    pub arn: String,
}

/// Runs the template's schedules against the functions hosted locally.
pub struct ScheduleRunner {
    rules: Vec<ScheduledRule>,
    targets: HashMap<String, Target>,
    pace: Pace,
    fired: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for ScheduleRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScheduleRunner")
            .field("rules", &self.rules)
            .field("targets", &self.targets.keys().collect::<Vec<_>>())
            .field("pace", &self.pace)
            .finish()
    }
}

impl ScheduleRunner {
    /// Parses every rule's expression (disabled ones too, so a bad one is reported now).
    pub fn new(rules: Vec<RuleSpec>, prefix: &str, pace: Pace) -> Result<Self, ExpressionError> {
        let rules = rules
            .into_iter()
            .map(|spec| {
                let schedule = spec
                    .schedule_expression
                    .as_deref()
                    .map(Schedule::parse)
                    .transpose()?;
                let arn = format!(
                    "arn:aws:events:{LOCAL_REGION}:{LOCAL_ACCOUNT_ID}:rule/{prefix}-{}",
                    spec.logical_id
                );
                Ok(ScheduledRule {
                    spec,
                    schedule,
                    arn,
                })
            })
            .collect::<Result<_, ExpressionError>>()?;
        Ok(Self {
            rules,
            targets: HashMap::new(),
            pace,
            fired: Mutex::new(HashMap::new()),
        })
    }

    /// Hosts a function (by logical id) as a target.
    pub fn host(&mut self, function: &str, target: Target) {
        self.targets.insert(function.to_owned(), target);
    }

    pub fn pace(&self) -> Pace {
        self.pace
    }

    pub fn rules(&self) -> &[ScheduledRule] {
        &self.rules
    }

    /// The rules that run: enabled, scheduled, with at least one hosted target.
    pub fn active(&self) -> impl Iterator<Item = &ScheduledRule> {
        self.rules.iter().filter(|rule| {
            rule.spec.enabled
                && rule.schedule.is_some()
                && rule
                    .spec
                    .targets
                    .iter()
                    .any(|t| self.targets.contains_key(&t.function))
        })
    }

    /// How often a rule has fired so far.
    pub fn fired(&self, rule: &str) -> u64 {
        self.fired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(rule)
            .copied()
            .unwrap_or(0)
    }

    /// The event EventBridge sends a rule's targets.
    pub fn event(rule: &ScheduledRule, time: DateTime<Utc>) -> EventBridgeEvent {
        let mut event = EventBridgeEvent::default();
        event.version = Some("0".to_owned());
        event.id = Some(uuid::Uuid::new_v4().to_string());
        "Scheduled Event".clone_into(&mut event.detail_type);
        "aws.events".clone_into(&mut event.source);
        event.account = Some(LOCAL_ACCOUNT_ID.to_owned());
        event.time = Some(time);
        event.region = Some(LOCAL_REGION.to_owned());
        event.resources = Some(vec![rule.arn.clone()]);
        event.detail = serde_json::json!({});
        event
    }

    /// Fires a rule now (whether enabled or not): every hosted target is invoked once, in
    /// order. Returns the targets' results; an unknown rule or one without a hosted target
    /// is an error.
    pub async fn fire(&self, rule_id: &str) -> anyhow::Result<Vec<serde_json::Value>> {
        let rule = self
            .rules
            .iter()
            .find(|r| r.spec.logical_id == rule_id)
            .ok_or_else(|| anyhow::anyhow!("template.yaml has no rule {rule_id}"))?;
        self.fire_rule(rule, Utc::now()).await
    }

    async fn fire_rule(
        &self,
        rule: &ScheduledRule,
        time: DateTime<Utc>,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let targets: Vec<(&Target, Option<&serde_json::Value>)> = rule
            .spec
            .targets
            .iter()
            .filter_map(|t| self.targets.get(&t.function).map(|f| (f, t.input.as_ref())))
            .collect();
        anyhow::ensure!(
            !targets.is_empty(),
            "rule {} has no target hosted locally",
            rule.spec.logical_id
        );
        *self
            .fired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(rule.spec.logical_id.clone())
            .or_insert(0) += 1;
        let mut results = Vec::with_capacity(targets.len());
        for (target, input) in targets {
            let payload = match input {
                Some(input) => input.clone(),
                None => serde_json::to_value(Self::event(rule, time))?,
            };
            results.push(target(payload).await?);
        }
        Ok(results)
    }

    /// One task per active rule, firing on the rule's schedule at the runner's pace until
    /// `shutdown` turns true (a tick in progress finishes first).
    pub fn spawn(self: &Arc<Self>, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let ids: Vec<String> = self.active().map(|r| r.spec.logical_id.clone()).collect();
        ids.into_iter()
            .map(|id| {
                let runner = Arc::clone(self);
                let shutdown = shutdown.clone();
                tokio::spawn(async move { runner.run_rule(&id, shutdown).await })
            })
            .collect()
    }

    async fn run_rule(&self, id: &str, mut shutdown: watch::Receiver<bool>) {
        let Some(rule) = self.rules.iter().find(|r| r.spec.logical_id == id) else {
            return;
        };
        let Some(schedule) = rule.schedule.clone() else {
            return;
        };
        let real_start = tokio::time::Instant::now();
        let anchor = Utc::now();
        let factor = self.pace.factor();
        // Schedule time: the wall clock, sped up by the pace's factor.
        let schedule_now = |at: tokio::time::Instant| {
            let elapsed = at.saturating_duration_since(real_start) * factor;
            anchor + chrono::Duration::from_std(elapsed).unwrap_or_default()
        };
        let mut last = anchor;
        loop {
            let wait = match self.pace {
                Pace::Every(interval) => interval,
                Pace::RealTime | Pace::Speedup(_) => {
                    let Some(next) = schedule.next_after(last, anchor) else {
                        tracing::info!(rule = id, "the schedule will not fire again");
                        return;
                    };
                    let ahead = (next - schedule_now(tokio::time::Instant::now()))
                        .to_std()
                        .unwrap_or_default();
                    last = next;
                    ahead / factor
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            if *shutdown.borrow() {
                return;
            }
            match self.fire_rule(rule, Utc::now()).await {
                Ok(results) => tracing::info!(rule = id, ?results, "schedule fired"),
                Err(error) => {
                    tracing::warn!(rule = id, error = %format!("{error:#}"), "schedule target failed")
                }
            }
            // Missed ticks (a slow target) are skipped, not fired in a burst.
            last = last.max(schedule_now(tokio::time::Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_comes_from_one_of_the_two_variables() {
        assert_eq!(Pace::from_vars(None, None), Ok(Pace::RealTime));
        assert_eq!(Pace::from_vars(Some("60"), None), Ok(Pace::Speedup(60)));
        assert_eq!(
            Pace::from_vars(None, Some("250")),
            Ok(Pace::Every(Duration::from_millis(250)))
        );
        assert_eq!(Pace::from_vars(Some(""), Some(" ")), Ok(Pace::RealTime));
        assert!(Pace::from_vars(Some("0"), None).is_err());
        assert!(Pace::from_vars(None, Some("fast")).is_err());
        assert!(Pace::from_vars(Some("60"), Some("250")).is_err());
    }

    #[tokio::test]
    async fn a_rule_fires_its_target_with_a_scheduled_event_at_the_pace() {
        // given a 10-minute rate rule sped up 6000× (a tick every 100 ms)
        let rule = RuleSpec {
            logical_id: "Tick".into(),
            description: None,
            schedule_expression: Some("rate(10 minutes)".into()),
            enabled: true,
            targets: vec![crate::template::RuleTarget {
                id: "t".into(),
                function: "Fn".into(),
                input: None,
            }],
        };
        let mut runner = ScheduleRunner::new(vec![rule], "p", Pace::Speedup(6000)).unwrap();
        let seen = Arc::new(Mutex::new(Vec::<EventBridgeEvent>::new()));
        let sink = Arc::clone(&seen);
        runner.host(
            "Fn",
            Arc::new(move |event| {
                let sink = Arc::clone(&sink);
                Box::pin(async move {
                    sink.lock()
                        .unwrap()
                        .push(serde_json::from_value::<EventBridgeEvent>(event)?);
                    Ok(serde_json::Value::Null)
                })
            }),
        );
        let runner = Arc::new(runner);
        let (stop, shutdown) = watch::channel(false);
        let tasks = runner.spawn(shutdown);

        // when it has fired twice (at most 5 s)
        for _ in 0..100 {
            if runner.fired("Tick") >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = stop.send(true);
        for task in tasks {
            task.await.unwrap();
        }

        // then each invocation carried the rule's scheduled event
        let seen = seen.lock().unwrap();
        assert!(seen.len() >= 2, "fired {} times", seen.len());
        assert_eq!(runner.fired("Tick"), seen.len() as u64);
        let event = &seen[0];
        assert_eq!(event.detail_type, "Scheduled Event");
        assert_eq!(event.source, "aws.events");
        assert_eq!(
            event.resources.as_deref(),
            Some(&["arn:aws:events:us-east-1:123456789012:rule/p-Tick".to_owned()][..])
        );
        assert_ne!(seen[0].id, seen[1].id);
    }
}
