//! Trackstar's change clock apart from the WMS's: records Trackstar sees late (old in the
//! WMS, just read by Trackstar, no webhook) and backfills that re-read a window.

use chrono::Duration;
use rand::seq::IndexedRandom;
use rand::Rng;
use serde::Serialize;

use super::model::{
    Bill, InboundShipment, InventoryItem, Order, Product, Return, ShippingMethod, Timestamp,
    Warehouse,
};
use super::{ConnectionData, Resource, ResourceKind, TrackstarDates};

/// Runs a generic function for the object type of a kind.
macro_rules! for_kind {
    ($kind:expr, $f:ident ( $($arg:expr),* )) => {
        match $kind {
            ResourceKind::Orders => $f::<Order>($($arg),*),
            ResourceKind::Inventory => $f::<InventoryItem>($($arg),*),
            ResourceKind::Products => $f::<Product>($($arg),*),
            ResourceKind::InboundShipments => $f::<InboundShipment>($($arg),*),
            ResourceKind::Returns => $f::<Return>($($arg),*),
            ResourceKind::Warehouses => $f::<Warehouse>($($arg),*),
            ResourceKind::ShippingMethods => $f::<ShippingMethod>($($arg),*),
            ResourceKind::Bills => $f::<Bill>($($arg),*),
        }
    };
}

/// The id prefix of objects of a kind.
pub fn id_prefix(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Orders => "ord",
        ResourceKind::Inventory => "inv",
        ResourceKind::Products => "prd",
        ResourceKind::InboundShipments => "ibs",
        ResourceKind::Returns => "ret",
        ResourceKind::Warehouses => "wh",
        ResourceKind::ShippingMethods => "sm",
        ResourceKind::Bills => "bill",
    }
}

/// A record inserted by [`late_record`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LateRecord {
    pub id: String,
    pub kind: ResourceKind,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
    #[serde(flatten)]
    pub trackstar: TrackstarDates,
}

/// Inserts a copy of a random object of `kind` that the WMS last changed `age` before
/// `now` (created an hour before that) and Trackstar first read `now`; `None` when the
/// connection has no object of that kind to copy. Sends nothing: Trackstar raises no
/// webhook for what it first sees old.
pub fn late_record(
    data: &mut ConnectionData,
    kind: ResourceKind,
    rng: &mut impl Rng,
    now: Timestamp,
    age: Duration,
) -> Option<LateRecord> {
    let updated = now - age;
    let created = updated - Duration::hours(1);
    let id = data.mint_id(id_prefix(kind));
    for_kind!(kind, insert_copy(data, rng, id.clone(), created, updated))?;
    if kind == ResourceKind::Warehouses {
        data.warehouse_ids.push(id.clone());
    }
    if let Some(order) = data.orders.iter_mut().find(|o| o.id == id) {
        order.order_number = format!("SO-LATE-{}", data.next_serial);
        order.reference_id = format!("#LATE-{}", data.next_serial);
    }
    let trackstar = TrackstarDates {
        trackstar_created_date: now,
        trackstar_updated_date: now,
    };
    data.trackstar_seen.insert(id.clone(), trackstar);
    Some(LateRecord {
        id,
        kind,
        created_date: created,
        updated_date: updated,
        trackstar,
    })
}

fn insert_copy<T: Resource>(
    data: &mut ConnectionData,
    rng: &mut impl Rng,
    id: String,
    created: Timestamp,
    updated: Timestamp,
) -> Option<()> {
    let mut obj = T::all(data).choose(rng)?.clone();
    obj.restamp(id, created, updated);
    T::all_mut(data).push(obj);
    Some(())
}

/// Trackstar re-read every object of `kind` whose `updated_date` lies in `[start, end]`:
/// their `trackstar_updated_date` becomes `now`. Returns their ids.
pub fn reread_window(
    data: &mut ConnectionData,
    kind: ResourceKind,
    start: Timestamp,
    end: Timestamp,
    now: Timestamp,
) -> Vec<String> {
    for_kind!(kind, reread(data, start, end, now))
}

fn reread<T: Resource>(
    data: &mut ConnectionData,
    start: Timestamp,
    end: Timestamp,
    now: Timestamp,
) -> Vec<String> {
    let ids: Vec<String> = T::all(data)
        .iter()
        .filter(|o| (start..=end).contains(&o.updated()))
        .map(|o| o.id().to_owned())
        .collect();
    for id in &ids {
        data.mark_seen::<T>(id, now);
    }
    ids
}

/// Trackstar's clock of one object, `None` when there is no such object of that kind.
pub fn trackstar_dates_of(
    data: &ConnectionData,
    kind: ResourceKind,
    id: &str,
) -> Option<TrackstarDates> {
    for_kind!(kind, dates_of(data, id))
}

fn dates_of<T: Resource>(data: &ConnectionData, id: &str) -> Option<TrackstarDates> {
    data.find::<T>(id).map(|o| data.trackstar_dates(o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::seed::{anchor, generate, rng_for, SeedSizes};
    use crate::filters::parse;
    use crate::pagination::page_in;

    fn data() -> ConnectionData {
        generate(
            8,
            "c",
            &["wc".to_owned()],
            SeedSizes {
                orders: 20,
                inventory: 4,
                products: 4,
                ..Default::default()
            },
        )
    }

    fn window(field: &str, since: Timestamp) -> Vec<(String, String)> {
        vec![(
            format!("{field}[gte]"),
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )]
    }

    #[test]
    fn a_late_record_is_missed_by_an_updated_date_window_and_read_by_a_trackstar_one() {
        for kind in ResourceKind::ALL {
            // given a connection last synced an hour ago
            let mut data = data();
            let now = crate::data::now();
            let last_run = now - Duration::hours(1);
            // when Trackstar first sees a record the WMS last changed two days ago
            let late = late_record(
                &mut data,
                kind,
                &mut rng_for(8, "late"),
                now,
                Duration::days(2),
            )
            .expect("a record to copy");
            assert_eq!(late.updated_date, now - Duration::days(2));
            assert_eq!(late.trackstar.trackstar_updated_date, now);
            // then only the window on Trackstar's clock reads it
            let ids = |field: &str| -> Vec<String> {
                let pairs = window(field, last_run);
                for_kind!(kind, ids_of(&data, &pairs))
            };
            assert_eq!(ids("updated_date"), Vec::<String>::new(), "{kind:?}");
            assert_eq!(
                ids("trackstar_updated_date"),
                vec![late.id.clone()],
                "{kind:?}"
            );
            assert_eq!(
                ids("trackstar_created_date"),
                vec![late.id.clone()],
                "{kind:?}"
            );
        }
    }

    fn ids_of<T: Resource>(data: &ConnectionData, pairs: &[(String, String)]) -> Vec<String> {
        let query = parse::<T>(pairs).expect("valid query");
        page_in::<T>(data, &query)
            .expect("page")
            .data
            .iter()
            .map(|o| o.id().to_owned())
            .collect()
    }

    #[test]
    fn a_reread_window_restamps_only_objects_the_wms_changed_in_it() {
        // given seeded orders spread over the 90 days before the anchor
        let mut data = data();
        let now = crate::data::now();
        let (start, end) = (anchor() - Duration::days(30), anchor());
        let inside = data
            .orders
            .iter()
            .filter(|o| (start..=end).contains(&o.updated_date))
            .count();
        // when Trackstar re-reads the last 30 days of orders
        let ids = reread_window(&mut data, ResourceKind::Orders, start, end, now);
        // then exactly those orders carry the new clock, with their creation kept
        assert_eq!(ids.len(), inside);
        assert!(inside > 0 && inside < data.orders.len());
        for order in &data.orders {
            let clock = trackstar_dates_of(&data, ResourceKind::Orders, &order.id).expect("order");
            assert_eq!(clock.trackstar_created_date, order.created_date);
            let expected = if ids.contains(&order.id) {
                now
            } else {
                order.updated_date
            };
            assert_eq!(clock.trackstar_updated_date, expected);
        }
        assert!(trackstar_dates_of(&data, ResourceKind::Bills, "no_such_bill").is_none());
    }
}
