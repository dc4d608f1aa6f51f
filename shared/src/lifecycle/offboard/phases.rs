//! The phases of each offboarding job, in order: a pure function of the job's kind and of
//! the plan its `plan` phase saved in the job's state, so a resumed job finds its phase in
//! the same list.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::eraser::Source;
use crate::domain::{BrandId, ConnectionId, TenantId};
use crate::lifecycle::JobKind;
use crate::resource::ResourceKind;
use crate::store::keys::{
    self, Index, CHANGE_SHARDS, QUOTA_ADMIN_SK, QUOTA_API_SK, TRACKSTAR_BUDGET_SK,
};

/// What a brand's or tenant's offboarding found to do before erasing anything (saved in
/// the job's state under `plan`): the ids whose items are known keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The connections to disconnect (a brand's own; all of a tenant's).
    pub connections: Vec<ConnectionId>,
    /// The brands whose messages and items go (the one brand; all of a tenant's).
    pub brands: Vec<BrandId>,
    /// Their warehouse customer ids (the `WHC#` mapping items).
    pub customers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// The export (another module's; see `ExportPhase`).
    Export,
    /// Reads what is to be erased into [`Plan`].
    Plan,
    /// Disconnects the planned connections, one per step (checkpoint: how many done).
    Disconnect,
    /// Deletes a partition's items, a page per step.
    Query {
        name: String,
        count: &'static str,
        source: Source,
        /// Keep only items of this connection (checked on the items: the index does not
        /// project `connection_id`).
        connection: Option<ConnectionId>,
    },
    /// Deletes items by known key, in one step.
    Known {
        name: String,
        count: &'static str,
        keys: Vec<(String, String)>,
    },
    /// Deletes the seen-id pages of each reconciliation report, a page of reports per step.
    ReconSeen,
    /// Marks the connection erased.
    FinishConnection,
}

impl Phase {
    pub fn name(&self) -> String {
        match self {
            Phase::Export => "export".into(),
            Phase::Plan => "plan".into(),
            Phase::Disconnect => "disconnect".into(),
            Phase::Query { name, .. } | Phase::Known { name, .. } => name.clone(),
            Phase::ReconSeen => "erase:recon_seen".into(),
            Phase::FinishConnection => "finish".into(),
        }
    }

    /// Whether the job's saved `phase` is this one (the export names its own sub-phases).
    pub fn is(&self, phase: &str) -> bool {
        match self {
            Phase::Export => phase.is_empty() || phase == "export" || phase.starts_with("export:"),
            other => other.name() == phase,
        }
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// The objects of every kind in `partition(kind)` (an index), optionally filtered.
fn objects(
    index: Index,
    partition: impl Fn(&str) -> String,
    filter: Option<(&str, Vec<(&str, AttributeValue)>)>,
) -> Vec<Phase> {
    ResourceKind::ALL
        .iter()
        .map(|kind| {
            let mut source = Source::index(index, partition(kind.spec().key));
            if let Some((expression, values)) = &filter {
                source = source.filtered(expression, values.clone());
            }
            Phase::Query {
                name: format!("erase:{}", kind.as_str()),
                count: kind.as_str(),
                source,
                connection: None,
            }
        })
        .collect()
}

/// The changes feed's partitions of the tenant (every object, tombstones too; `gsi5`).
fn feed(
    tenant: &TenantId,
    filter: Option<(&str, Vec<(&str, AttributeValue)>)>,
    connection: Option<&ConnectionId>,
) -> Vec<Phase> {
    (0..CHANGE_SHARDS)
        .map(|shard| {
            let mut source = Source::index(Index::Changes, keys::change_pk(tenant, shard));
            if let Some((expression, values)) = &filter {
                source = source.filtered(expression, values.clone());
            }
            Phase::Query {
                name: format!("erase:tombstones:{shard}"),
                count: "tombstones",
                source,
                connection: connection.cloned(),
            }
        })
        .collect()
}

/// A connection's own items: sync states, rate budget, webhook stats, backfills.
fn connection_items(tenant: &TenantId, c: &ConnectionId, suffix: &str) -> Vec<Phase> {
    let mut known: Vec<(String, String)> = ResourceKind::ALL
        .iter()
        .map(|r| {
            (
                keys::sync_state_pk(tenant, c, r.as_str()),
                "SYNC".to_owned(),
            )
        })
        .collect();
    known.push((
        keys::trackstar_budget_pk(tenant, c),
        TRACKSTAR_BUDGET_SK.to_owned(),
    ));
    vec![
        Phase::Known {
            name: format!("erase:sync_states{suffix}"),
            count: "sync_states",
            keys: known,
        },
        Phase::Query {
            name: format!("erase:webhook_stats{suffix}"),
            count: "webhook_stats",
            source: Source::table(keys::webhook_stats_pk(tenant, c)),
            connection: None,
        },
        Phase::Query {
            name: format!("erase:backfills{suffix}"),
            count: "backfills",
            source: Source::table(keys::backfill_pk(tenant, c)),
            connection: None,
        },
    ]
}

fn brand_items(tenant: &TenantId, plan: &Plan) -> Vec<(String, String)> {
    let mut known: Vec<(String, String)> = plan
        .brands
        .iter()
        .map(|b| (keys::brand_pk(tenant, b), "BRAND".to_owned()))
        .collect();
    known.extend(
        plan.customers
            .iter()
            .map(|w| (keys::warehouse_customer_pk(tenant, w), "BRAND".to_owned())),
    );
    known
}

/// Every phase of `kind`'s job for `tenant`, given its plan.
pub fn phases(tenant: &TenantId, kind: &JobKind, plan: &Plan) -> Vec<Phase> {
    match kind {
        JobKind::ConnectionErasure { connection_id: c } => {
            let mut all = objects(
                Index::ByTenantUpdated,
                |key| keys::by_tenant_pk(tenant, key),
                Some(("connection_id = :c", vec![(":c", s(c.as_str()))])),
            );
            // Tombstones left the listings; the feed lists them (not their connection).
            all.extend(feed(
                tenant,
                Some(("attribute_exists(deleted_at)", vec![])),
                Some(c),
            ));
            all.extend(connection_items(tenant, c, ""));
            all.push(Phase::FinishConnection);
            all
        }
        JobKind::BrandOffboarding { brand_id: b } => {
            let mut all = vec![Phase::Export, Phase::Plan, Phase::Disconnect];
            all.extend(objects(
                Index::ByBrandUpdated,
                |key| keys::by_brand_pk(tenant, b, key),
                None,
            ));
            all.extend(feed(
                tenant,
                Some(("brand_id = :b", vec![(":b", s(b.as_str()))])),
                None,
            ));
            all.push(Phase::Query {
                name: "erase:messages".into(),
                count: "messages",
                source: Source::table(keys::messages_pk(tenant, b)),
                connection: None,
            });
            all.push(Phase::Known {
                name: "erase:brand".into(),
                count: "brands",
                keys: brand_items(tenant, plan),
            });
            all
        }
        JobKind::TenantOffboarding => {
            let mut all = vec![Phase::Export, Phase::Plan, Phase::Disconnect];
            all.extend(objects(
                Index::ByTenantUpdated,
                |key| keys::by_tenant_pk(tenant, key),
                None,
            ));
            all.extend(feed(tenant, None, None));
            for b in &plan.brands {
                all.push(Phase::Query {
                    name: format!("erase:messages:{b}"),
                    count: "messages",
                    source: Source::table(keys::messages_pk(tenant, b)),
                    connection: None,
                });
            }
            for c in &plan.connections {
                all.extend(connection_items(tenant, c, &format!(":{c}")));
            }
            all.push(Phase::Query {
                name: "erase:failed_receipts".into(),
                count: "failed_receipts",
                source: Source::index(Index::ByTenantUpdated, keys::failed_events_pk(tenant)),
                connection: None,
            });
            all.push(Phase::ReconSeen);
            all.push(Phase::Query {
                name: "erase:recon".into(),
                count: "reconciliation_reports",
                source: Source::table(keys::reconcile_pk(tenant)),
                connection: None,
            });
            let mut connections: Vec<(String, String)> = Vec::new();
            for c in &plan.connections {
                connections.push((
                    keys::object_pk(tenant, "CONNECTION", c.as_str()),
                    "CONNECTION".into(),
                ));
                connections.push((keys::connection_route_pk(c), "ROUTE".into()));
            }
            all.push(Phase::Known {
                name: "erase:connections".into(),
                count: "connections",
                keys: connections,
            });
            let mut rest = brand_items(tenant, plan);
            rest.push((keys::quota_pk(tenant), QUOTA_API_SK.to_owned()));
            rest.push((keys::quota_pk(tenant), QUOTA_ADMIN_SK.to_owned()));
            rest.push((keys::tenant_pk(tenant), "TENANT".to_owned()));
            all.push(Phase::Known {
                name: "erase:tenant".into(),
                count: "tenant_items",
                keys: rest,
            });
            all
        }
        JobKind::PersonErasure { .. } => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(kind: &JobKind, plan: &Plan) -> Vec<String> {
        phases(&TenantId::parse("acme").unwrap(), kind, plan)
            .iter()
            .map(Phase::name)
            .collect()
    }

    #[test]
    fn brand_and_tenant_offboarding_export_first_and_phase_names_are_unique() {
        let plan = Plan {
            connections: vec![
                ConnectionId::parse("c1").unwrap(),
                ConnectionId::parse("c2").unwrap(),
            ],
            brands: vec![BrandId::parse("b1").unwrap(), BrandId::parse("b2").unwrap()],
            customers: vec!["w1".into()],
        };
        for kind in [
            JobKind::TenantOffboarding,
            JobKind::BrandOffboarding {
                brand_id: BrandId::parse("b1").unwrap(),
            },
            JobKind::ConnectionErasure {
                connection_id: ConnectionId::parse("c1").unwrap(),
            },
        ] {
            let all = names(&kind, &plan);
            let mut unique = all.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), all.len(), "{kind:?}: {all:?}");
            if !matches!(kind, JobKind::ConnectionErasure { .. }) {
                assert_eq!(all[0], "export");
            }
        }
    }

    #[test]
    fn the_export_phase_owns_the_empty_phase_and_its_sub_phases() {
        assert!(Phase::Export.is(""));
        assert!(Phase::Export.is("export:orders"));
        assert!(!Phase::Export.is("exported"));
        assert!(!Phase::Plan.is(""));
    }
}
