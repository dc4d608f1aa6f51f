//! Reconciliation reports on DynamoDB: `T#<tenant>#RECON` / `<run id>`, TTL 90 days.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::report::{ReconcileReport, ReportStore};
use crate::domain::{BrandId, TenantId};
use crate::store::dynamo::{decode, encode, DynamoStore, Filter, KeysetQuery};
use crate::store::keys;
use crate::store::{Page, PageRequest, StoreError};

/// How long the ids a run has seen are kept (a run finishes within hours).
const SEEN_TTL: Duration = Duration::from_secs(3 * 24 * 3600);

#[derive(Serialize, Deserialize)]
struct SeenPage {
    pk: String,
    sk: String,
    expires_at: i64,
    ids: Vec<String>,
}

/// How long reports are kept.
pub const REPORT_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

#[derive(Serialize, Deserialize)]
struct StoredReport {
    pk: String,
    sk: String,
    expires_at: i64,
    #[serde(flatten)]
    report: ReconcileReport,
}

#[async_trait]
impl ReportStore for DynamoStore {
    async fn put_report(&self, report: &ReconcileReport) -> Result<(), StoreError> {
        let stored = StoredReport {
            pk: keys::reconcile_pk(&report.tenant_id),
            sk: report.id.clone(),
            expires_at: report.finished_at.unix_seconds() + REPORT_TTL.as_secs() as i64,
            report: report.clone(),
        };
        self.client()
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(encode(&stored)?))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem", aws_sdk_dynamodb::Error::from(e)))?;
        Ok(())
    }

    async fn get_report(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<ReconcileReport>, StoreError> {
        self.get_item(keys::reconcile_pk(tenant), id)
            .await?
            .map(|item| decode::<StoredReport>(item).map(|s| s.report))
            .transpose()
    }

    async fn list_reports(
        &self,
        tenant: &TenantId,
        brand: Option<&BrandId>,
        page: &PageRequest,
    ) -> Result<Page<ReconcileReport>, StoreError> {
        let query = KeysetQuery {
            index: None,
            partition: keys::reconcile_pk(tenant),
            sort_key_min: None,
            filter: brand.map(|b| Filter {
                expression: "contains(#brands, :brand)".to_owned(),
                names: HashMap::from([("#brands".to_owned(), "brand_ids".to_owned())]),
                values: HashMap::from([(":brand".to_owned(), AttributeValue::S(b.to_string()))]),
            }),
            description: format!("RECON|brand={}", brand.map_or("*", |b| b.as_str())),
        };
        let page = self.query_page(tenant, &query, page).await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|item| decode::<StoredReport>(item).map(|s| s.report))
                .collect::<Result<_, _>>()?,
            next_cursor: page.next_cursor,
        })
    }

    async fn put_seen(
        &self,
        tenant: &TenantId,
        run_id: &str,
        page: u32,
        ids: &[String],
    ) -> Result<(), StoreError> {
        let item = SeenPage {
            pk: keys::reconcile_seen_pk(tenant, run_id),
            sk: format!("P#{page:06}"),
            expires_at: crate::domain::Timestamp::now().unix_seconds() + SEEN_TTL.as_secs() as i64,
            ids: ids.to_vec(),
        };
        self.client()
            .put_item()
            .table_name(self.table_name())
            .set_item(Some(encode(&item)?))
            .send()
            .await
            .map_err(|e| StoreError::dynamo("PutItem", aws_sdk_dynamodb::Error::from(e)))?;
        Ok(())
    }

    async fn seen(
        &self,
        tenant: &TenantId,
        run_id: &str,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut ids = std::collections::HashSet::new();
        for item in self
            .query_partition(None, keys::reconcile_seen_pk(tenant, run_id))
            .await?
        {
            ids.extend(decode::<SeenPage>(item)?.ids);
        }
        Ok(ids)
    }
}
