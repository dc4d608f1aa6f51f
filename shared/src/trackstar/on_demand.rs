//! On-demand syncs (backfills): `POST /connections/on-demand-syncs {start_time, end_time,
//! function_name}` asks Trackstar to re-read one function's data over a window from the WMS;
//! `GET /connections/on-demand-syncs/{id}` shows the job. Trackstar runs them per
//! integration and function where enabled (else 400 "not enabled"), never for
//! `get_inventory` (a full snapshot), and sends no resource webhooks for what they read: it
//! moves the objects' `trackstar_updated_date`, and `connection.sync-job-completed` follows.

use serde::{Deserialize, Serialize};

use crate::domain::Timestamp;

/// The body of `POST /connections/on-demand-syncs`. Dates go as Trackstar's whole-second
/// `YYYY-MM-DDTHH:MM:SSZ`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnDemandSyncRequest {
    pub start_time: String,
    pub end_time: String,
    /// Trackstar's function, e.g. `get_orders`.
    pub function_name: String,
}

impl OnDemandSyncRequest {
    pub fn new(function_name: &str, start: Timestamp, end: Timestamp) -> Self {
        Self {
            start_time: start.to_trackstar_filter(),
            end_time: end.to_trackstar_filter(),
            function_name: function_name.to_owned(),
        }
    }
}

/// A job's status as Trackstar reports it; one it adds later reads as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDemandSyncStatus {
    Open,
    Completed,
    Cancelled,
    Stuck,
    #[serde(other)]
    Other,
}

/// An on-demand sync job (`data` of the create and get answers). Fields Packr does not need
/// are tolerated and dropped; the ones it needs are required.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OnDemandSyncJob {
    pub id: String,
    pub function_name: String,
    pub status: OnDemandSyncStatus,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    #[serde(default)]
    pub created_date: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_whole_second_dates_and_the_function() {
        let start = Timestamp::parse("2026-11-01T10:00:00.250Z").unwrap();
        let end = Timestamp::parse("2026-11-02T00:00:00Z").unwrap();
        let body =
            serde_json::to_value(OnDemandSyncRequest::new("get_orders", start, end)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "start_time": "2026-11-01T10:00:00Z",
                "end_time": "2026-11-02T00:00:00Z",
                "function_name": "get_orders"
            })
        );
    }

    #[test]
    fn a_job_tolerates_unknown_fields_and_statuses() {
        let job: OnDemandSyncJob = serde_json::from_value(serde_json::json!({
            "id": "sync_job_1",
            "function_name": "get_orders",
            "status": "paused",
            "objects_synced": 3,
            "connection_id": "conn_1"
        }))
        .unwrap();
        assert_eq!(job.status, OnDemandSyncStatus::Other);
        assert_eq!(job.id, "sync_job_1");
        assert!(
            serde_json::from_value::<OnDemandSyncJob>(serde_json::json!({
                "function_name": "get_orders",
                "status": "open"
            }))
            .is_err()
        );
    }
}
