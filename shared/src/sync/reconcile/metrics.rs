//! The EMF metrics of a finished reconciliation run: `reconcile.drift` per class (dimension
//! `class`, drift classes only), `reconcile.repaired`, and `reconcile.missing_local` with
//! no dimension of its own — the count of webhooks Packr missed, which the
//! `ReconcileMissingLocalAlarm` in `template.yaml` watches.

use super::report::{DriftClass, ReconcileReport};
use crate::metrics::{Metric, MetricsSink};

pub fn emit_report_metrics(metrics: &dyn MetricsSink, report: &ReconcileReport) {
    for class in DriftClass::ALL {
        if class == DriftClass::InSync {
            continue;
        }
        let mut drift = Metric::count("reconcile.drift")
            .with("class", class.as_str())
            .with("resource", report.resource.as_str());
        drift.value = report.tally.count(class) as f64;
        metrics.emit(drift);
    }
    let mut repaired =
        Metric::count("reconcile.repaired").with("resource", report.resource.as_str());
    repaired.value = report.tally.repaired as f64;
    metrics.emit(repaired);
    // A dry run repairs nothing but still counts what was missed.
    let mut missing = Metric::count("reconcile.missing_local");
    missing.value = report.tally.count(DriftClass::MissingLocal) as f64;
    metrics.emit(missing);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConnectionId, TenantId, Timestamp};
    use crate::metrics::RecordingSink;
    use crate::sync::reconcile::DriftTally;
    use crate::sync::ResourceKind;

    #[test]
    fn a_report_emits_drift_by_class_and_the_missing_local_total() {
        let mut tally = DriftTally::default();
        tally.record(DriftClass::MissingLocal, "o1", None);
        tally.record(DriftClass::MissingLocal, "o2", None);
        tally.record(DriftClass::StaleLocal, "o3", None);
        tally.record(DriftClass::InSync, "o4", None);
        tally.repaired = 3;
        let at = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let report = ReconcileReport {
            id: "run_1".into(),
            tenant_id: TenantId::parse("acme").unwrap(),
            connection_id: ConnectionId::parse("conn_1").unwrap(),
            brand_ids: vec![],
            resource: ResourceKind::Orders,
            dry_run: false,
            started_at: at,
            finished_at: at,
            complete: true,
            incomplete_reason: None,
            tally,
            trackstar_gets: 1,
            duration_ms: 1,
        };
        let sink = RecordingSink::new();
        emit_report_metrics(&sink, &report);
        assert_eq!(sink.total("reconcile.missing_local"), 2.0);
        assert_eq!(sink.total("reconcile.drift"), 3.0);
        assert_eq!(sink.total("reconcile.repaired"), 3.0);
        let missing = sink
            .all()
            .into_iter()
            .find(|m| m.name == "reconcile.missing_local")
            .unwrap();
        assert!(missing.dimensions.is_empty());
    }
}
