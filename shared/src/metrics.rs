//! Metrics as CloudWatch Embedded Metric Format (EMF) log lines: one JSON object per line
//! on stdout, which CloudWatch Logs turns into metrics. No API calls, no tenant ids in
//! dimensions (they would explode cardinality and leak tenants into dashboards): where a
//! tenant matters (a quota refusal) it is a *property*, a field of the log line that Logs
//! Insights can query and that is no dimension of the metric.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub unit: Unit,
    /// Low-cardinality dimensions only (function, event type).
    pub dimensions: Vec<(&'static str, String)>,
    /// Fields of the log line that are not dimensions (e.g. the tenant of a refusal).
    pub properties: Vec<(&'static str, String)>,
}

impl Metric {
    pub fn count(name: &'static str) -> Self {
        Self {
            name,
            value: 1.0,
            unit: Unit::Count,
            dimensions: Vec::new(),
            properties: Vec::new(),
        }
    }

    /// A count of `value` (units, items).
    pub fn count_of(name: &'static str, value: f64) -> Self {
        Self {
            name,
            value,
            unit: Unit::Count,
            dimensions: Vec::new(),
            properties: Vec::new(),
        }
    }

    pub fn millis(name: &'static str, value: f64) -> Self {
        Self {
            name,
            value,
            unit: Unit::Milliseconds,
            dimensions: Vec::new(),
            properties: Vec::new(),
        }
    }

    pub fn with(mut self, dimension: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((dimension, value.into()));
        self
    }

    /// A property: on the EMF line for queries, never a dimension.
    pub fn property(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.properties.push((name, value.into()));
        self
    }
}

/// Where metrics go.
pub trait MetricsSink: Send + Sync {
    fn emit(&self, metric: Metric);
}

/// Writes EMF lines to stdout (Lambda ships stdout to CloudWatch Logs).
#[derive(Debug, Clone)]
pub struct EmfSink {
    namespace: String,
    function: String,
}

impl EmfSink {
    pub fn new(namespace: impl Into<String>, function: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            function: function.into(),
        }
    }

    /// The EMF document for one metric.
    pub fn document(&self, metric: &Metric, timestamp_ms: i64) -> Value {
        let mut dimension_names = vec![Value::from("function")];
        let mut root = Map::new();
        for (name, value) in &metric.properties {
            root.insert((*name).into(), Value::from(value.clone()));
        }
        root.insert("function".into(), Value::from(self.function.clone()));
        for (name, value) in &metric.dimensions {
            dimension_names.push(Value::from(*name));
            root.insert((*name).into(), Value::from(value.clone()));
        }
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    // Per function (and event type), and once more with no dimensions:
                    // the fleet-wide total that alarms watch.
                    "Dimensions": [dimension_names, []],
                    "Metrics": [{"Name": metric.name, "Unit": metric.unit.as_str()}],
                }],
            }),
        );
        root.insert(metric.name.into(), json!(metric.value));
        Value::Object(root)
    }
}

impl MetricsSink for EmfSink {
    fn emit(&self, metric: Metric) {
        let doc = self.document(&metric, chrono::Utc::now().timestamp_millis());
        let mut out = std::io::stdout().lock();
        // A metric that cannot be written is not worth failing a request for.
        let _ = writeln!(out, "{doc}");
    }
}

/// Keeps metrics in memory: for tests, and for the local gateway's summaries.
#[derive(Debug, Clone, Default)]
pub struct RecordingSink {
    metrics: Arc<Mutex<Vec<Metric>>>,
}

impl RecordingSink {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn all(&self) -> Vec<Metric> {
        self.metrics.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The sum of a metric's values.
    pub fn total(&self, name: &str) -> f64 {
        self.all()
            .iter()
            .filter(|m| m.name == name)
            .map(|m| m.value)
            .sum()
    }

    pub fn values(&self, name: &str) -> Vec<f64> {
        self.all()
            .iter()
            .filter(|m| m.name == name)
            .map(|m| m.value)
            .collect()
    }
}

impl MetricsSink for RecordingSink {
    fn emit(&self, metric: Metric) {
        if let Ok(mut m) = self.metrics.lock() {
            m.push(metric);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_documents_declare_the_metric_and_carry_its_value() {
        let sink = EmfSink::new("Packr", "webhook-processor");
        let doc = sink.document(
            &Metric::millis("webhook.lag_ms", 42.0).with("event_type", "order.updated"),
            1_700_000_000_000,
        );
        assert_eq!(doc["webhook.lag_ms"], json!(42.0));
        assert_eq!(doc["function"], json!("webhook-processor"));
        assert_eq!(doc["event_type"], json!("order.updated"));
        let cw = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], json!("Packr"));
        assert_eq!(cw["Dimensions"], json!([["function", "event_type"], []]));
        assert_eq!(
            cw["Metrics"],
            json!([{"Name": "webhook.lag_ms", "Unit": "Milliseconds"}])
        );
        assert_eq!(doc["_aws"]["Timestamp"], json!(1_700_000_000_000i64));
    }

    #[test]
    fn properties_are_on_the_line_but_are_no_dimension() {
        let sink = EmfSink::new("Packr", "api-orders");
        let doc = sink.document(
            &Metric::count("api.quota_exceeded")
                .with("class", "api")
                .property("tenant_id", "acme"),
            1_700_000_000_000,
        );
        assert_eq!(doc["tenant_id"], json!("acme"));
        let cw = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Dimensions"], json!([["function", "class"], []]));
    }
}
