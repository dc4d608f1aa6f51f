//! Object writes billed as DynamoDB bills them under a layout of indexes (issue 22): the
//! table ⌈size / 1 KB⌉ (an update the larger of the item before and after), and in each
//! index the entry the write leaves there, by its projection:
//! - an entry is the table's keys, the index's keys and the projected attributes (ALL:
//!   the item; INCLUDE: those named; KEYS_ONLY: none), billed ⌈size / 1 KB⌉;
//! - an item that enters the index is one put, one that leaves it one delete (the old
//!   entry's size); an update that moves the entry's key is a delete and a put; one that
//!   changes neither the keys nor a projected attribute writes nothing;
//! - a refused conditional write is billed the item's size in the table and nothing in
//!   any index.
//!
//! The same recorded writes are billed under the layout of `template.yaml` (Packr's) and
//! under others (the one before issue 22, which the cost model's reference keeps, and the
//! options BENCHMARKS.md weighs), so each option is measured on the same requests.

use std::collections::{BTreeMap, HashMap};

use crate::template::{IndexSpec, Projection, TableSpec};
use base64::Engine;

use crate::recorder::item_size;

/// An item as the recorder holds it (DynamoDB JSON).
pub type JsonItem = serde_json::Map<String, serde_json::Value>;

/// One index as billed: its name, key attributes and projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BilledIndex {
    pub name: String,
    pub pk: String,
    pub sk: String,
    pub projection: Projection,
}

impl BilledIndex {
    fn new(name: &str, pk: &str, sk: &str, projection: Projection) -> Self {
        Self {
            name: name.to_owned(),
            pk: pk.to_owned(),
            sk: sk.to_owned(),
            projection,
        }
    }

    pub fn from_spec(spec: &IndexSpec) -> Self {
        Self {
            name: spec.name.clone(),
            pk: spec.key_schema.hash.clone(),
            sk: spec.key_schema.range.clone().unwrap_or_default(),
            projection: spec.projection.clone(),
        }
    }

    /// The entry `item` has in this index (`None`: it lacks a key attribute).
    pub fn entry(&self, item: &JsonItem) -> Option<JsonItem> {
        if !item.contains_key(&self.pk) || (!self.sk.is_empty() && !item.contains_key(&self.sk)) {
            return None;
        }
        let keys = ["pk", "sk", self.pk.as_str(), self.sk.as_str()];
        Some(
            item.iter()
                .filter(|(name, _)| match &self.projection {
                    Projection::All => true,
                    Projection::KeysOnly => keys.contains(&name.as_str()),
                    Projection::Include(projected) => {
                        keys.contains(&name.as_str()) || projected.iter().any(|p| p == *name)
                    }
                })
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        )
    }

    fn same_keys(&self, a: &JsonItem, b: &JsonItem) -> bool {
        a.get(&self.pk) == b.get(&self.pk) && a.get(&self.sk) == b.get(&self.sk)
    }

    /// Write units of a write that takes the item from `old` to `new` (`None`: absent).
    pub fn write_units(&self, old: Option<&JsonItem>, new: Option<&JsonItem>) -> u64 {
        let units = |entry: &JsonItem| item_size(entry).div_ceil(1024) as u64;
        match (
            old.and_then(|o| self.entry(o)),
            new.and_then(|n| self.entry(n)),
        ) {
            (None, None) => 0,
            (None, Some(put)) => units(&put),
            (Some(deleted), None) => units(&deleted),
            (Some(before), Some(after)) if self.same_keys(&before, &after) => {
                if before == after {
                    0
                } else {
                    units(&before).max(units(&after))
                }
            }
            (Some(before), Some(after)) => units(&before) + units(&after),
        }
    }
}

/// A layout of the table's indexes, with how the objects' items look under it.
#[derive(Debug, Clone)]
pub struct Layout {
    pub name: String,
    pub indexes: Vec<BilledIndex>,
    /// The items as the code of this layout writes them, from the items recorded.
    pub item: fn(&JsonItem) -> JsonItem,
}

/// The feed's projection (issue 21), unchanged by every layout here.
fn feed() -> BilledIndex {
    BilledIndex::new(
        "gsi5",
        "chgpk",
        "chgsk",
        Projection::Include(vec![
            "brand_id".into(),
            "deleted_at".into(),
            "created_us".into(),
        ]),
    )
}

fn include(names: &[&str]) -> Projection {
    Projection::Include(names.iter().map(|n| (*n).to_owned()).collect())
}

/// What a listing reads and filters on (`gsi6` of `template.yaml`).
pub const LISTING_ATTRIBUTES: [&str; 5] = ["body", "status", "warehouse_id", "connection_id", "id"];

impl Layout {
    /// The indexes of `template.yaml`'s table (Packr's), items as recorded.
    pub fn of_template(spec: &TableSpec) -> Self {
        Self {
            name: "built (template.yaml)".into(),
            indexes: spec
                .global_secondary_indexes
                .iter()
                .map(BilledIndex::from_spec)
                .collect(),
            item: JsonItem::clone,
        }
    }

    /// Before issue 22: gsi1, gsi2, gsi3 (products too), gsi4 with projection ALL, gsi5.
    /// The cost model's reference design keeps it.
    pub fn before_issue_22() -> Self {
        Self {
            name: "before issue 22: gsi1, gsi2, gsi3 ALL (products in gsi3), gsi5".into(),
            indexes: vec![
                BilledIndex::new("gsi1", "gsi1pk", "gsi1sk", Projection::All),
                BilledIndex::new("gsi2", "gsi2pk", "gsi2sk", Projection::All),
                BilledIndex::new("gsi3", "gsi3pk", "gsi3sk", Projection::All),
                BilledIndex::new("gsi4", "gsi4pk", "gsi4sk", Projection::All),
                feed(),
            ],
            item: with_product_sku_keys,
        }
    }

    /// The options weighed in BENCHMARKS.md ("Issue 22"), the first the reference, each
    /// one step from the one before; `built` marks the one `template.yaml` has. Names are
    /// distinct: a run's stored states are kept by layout name.
    pub fn options() -> Vec<(Layout, &'static str)> {
        let base = |name: &str, gsi1: Projection, gsi2: Projection, gsi3: Projection| {
            vec![
                BilledIndex::new("gsi1", "gsi1pk", "gsi1sk", gsi1),
                BilledIndex::new("gsi2", "gsi2pk", "gsi2sk", gsi2),
                BilledIndex::new(name, "gsi3pk", "gsi3sk", gsi3),
                BilledIndex::new("gsi4", "gsi4pk", "gsi4sk", Projection::All),
                feed(),
            ]
        };
        let lean = || include(&LISTING_ATTRIBUTES);
        vec![
            (Self::before_issue_22(), "reference"),
            (
                Self {
                    name: "SKU lookup KEYS_ONLY (products still in it)".into(),
                    indexes: base(
                        "gsi3",
                        Projection::All,
                        Projection::All,
                        Projection::KeysOnly,
                    ),
                    item: with_product_sku_keys,
                },
                "step",
            ),
            (
                Self {
                    name: "+ products out of the SKU lookup".into(),
                    indexes: base(
                        "gsi3",
                        Projection::All,
                        Projection::All,
                        Projection::KeysOnly,
                    ),
                    item: JsonItem::clone,
                },
                "step",
            ),
            (
                Self {
                    name: "+ brand listing INCLUDE body, status, warehouse_id, connection_id, id"
                        .into(),
                    indexes: base("gsi3", lean(), Projection::All, Projection::KeysOnly),
                    item: JsonItem::clone,
                },
                "built",
            ),
            (
                Self {
                    name: "+ tenant listing INCLUDE the same (gsi2's small collections moved out)"
                        .into(),
                    indexes: base("gsi3", lean(), lean(), Projection::KeysOnly),
                    item: JsonItem::clone,
                },
                "not built",
            ),
            (
                Self {
                    name: "+ listing sort keys that do not move (by creation, not update)".into(),
                    indexes: base("gsi3", lean(), lean(), Projection::KeysOnly),
                    item: with_fixed_listing_keys,
                },
                "not built",
            ),
            (
                Self {
                    name: "built, but the brand listing KEYS_ONLY (its pages read from the table)"
                        .into(),
                    indexes: base(
                        "gsi3",
                        Projection::KeysOnly,
                        Projection::All,
                        Projection::KeysOnly,
                    ),
                    item: JsonItem::clone,
                },
                "not built",
            ),
        ]
    }
}

/// A product's item as the code before issue 22 wrote it: with its SKU lookup keys (the
/// SKU read from the deflated body).
pub fn with_product_sku_keys(item: &JsonItem) -> JsonItem {
    let mut item = item.clone();
    let text = |item: &JsonItem, name: &str| {
        item.get(name)
            .and_then(|v| v["S"].as_str())
            .map(str::to_owned)
    };
    let (Some(pk), Some(id)) = (text(&item, "pk"), text(&item, "id")) else {
        return item;
    };
    let Some(prefix) = pk.strip_suffix(&format!("#PRODUCT#{id}")) else {
        return item;
    };
    let body = item
        .get("body")
        .and_then(|v| v["B"].as_str())
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| packr::store::dynamo::inflate_body(&b).ok())
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok());
    if let Some(sku) = body.as_ref().and_then(|b| b["sku"].as_str()) {
        item.insert(
            "gsi3pk".into(),
            serde_json::json!({"S": format!("{prefix}#PRODUCT#SKU#{sku}")}),
        );
        item.insert("gsi3sk".into(), serde_json::json!({"S": id}));
    }
    item
}

/// The item with listing sort keys that never change (the object's id in place of
/// `<updated>#<id>`): the model of listings ordered by something fixed.
pub fn with_fixed_listing_keys(item: &JsonItem) -> JsonItem {
    let mut item = item.clone();
    let id = item.get("id").cloned();
    for key in ["gsi1sk", "gsi2sk"] {
        if let (Some(_), Some(id)) = (item.get(key), &id) {
            item.insert(key.into(), id.clone());
        }
    }
    item
}

/// What became of one recorded object write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It stored the object first.
    Created,
    /// It replaced a stored state.
    Updated,
    /// Its condition refused it.
    Refused,
    /// Its object was not found afterwards.
    Unknown,
}

/// Units of the object writes under one layout.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Bill {
    pub table_units: u64,
    /// Index name → units.
    pub index_units: BTreeMap<String, u64>,
    /// Index units of the creations and of the updates, and their counts.
    pub creation_index_units: u64,
    pub update_index_units: u64,
    pub creations: u64,
    pub updates: u64,
    pub refused: u64,
    /// Updates of objects whose earlier state this process did not see (billed as if the
    /// object were created: a lower bound).
    pub unseen_before: u64,
}

impl Bill {
    pub fn total_index_units(&self) -> u64 {
        self.index_units.values().sum()
    }
}

/// The stored states (by table and key) the bills go on from: a recording that updates
/// objects an earlier recording created starts from their states.
pub type Stored = HashMap<(String, String), JsonItem>;

/// Bills `writes` (recorded items in the order sent, with their outcomes) under `layout`,
/// from the states in `stored` (updated with the applied writes).
pub fn bill(
    layout: &Layout,
    table: &str,
    writes: &[(&JsonItem, Outcome)],
    stored: &mut Stored,
) -> Bill {
    let mut bill = Bill::default();
    for index in &layout.indexes {
        bill.index_units.insert(index.name.clone(), 0);
    }
    for (recorded, outcome) in writes {
        let mut new = (layout.item)(recorded);
        let Some(pk) = new
            .get("pk")
            .and_then(|v| v["S"].as_str())
            .map(str::to_owned)
        else {
            continue;
        };
        let key = (table.to_owned(), pk);
        let size = item_size(&new).div_ceil(1024) as u64;
        if matches!(outcome, Outcome::Refused | Outcome::Unknown) {
            bill.table_units += size;
            bill.refused += u64::from(*outcome == Outcome::Refused);
            continue;
        }
        let old = stored.get(&key);
        if let Some(created) = old.and_then(|o| o.get("created_us")) {
            // `if_not_exists` keeps the first write's time.
            new.insert("created_us".into(), created.clone());
        }
        let before = old.map_or(0, |o| item_size(o).div_ceil(1024) as u64);
        bill.table_units += size.max(before);
        let mut units = 0;
        for index in &layout.indexes {
            let u = index.write_units(old, Some(&new));
            *bill.index_units.entry(index.name.clone()).or_default() += u;
            units += u;
        }
        match (outcome, old.is_some()) {
            (Outcome::Updated, false) => {
                bill.unseen_before += 1;
                bill.updates += 1;
                bill.update_index_units += units;
            }
            (Outcome::Updated, true) => {
                bill.updates += 1;
                bill.update_index_units += units;
            }
            _ => {
                bill.creations += 1;
                bill.creation_index_units += units;
            }
        }
        stored.insert(key, new);
    }
    bill
}

/// Read units of a listing page of `limit` items (and the one more that tells whether
/// another page exists) from `index`, given the items listed: an eventually consistent
/// Query bills the entries' bytes together, 0.5 per 4 KB; a KEYS_ONLY index's page then
/// reads its items from the table (an eventually consistent BatchGetItem: 0.5 per item
/// under 4 KB).
pub fn listing_page_read_units(index: &BilledIndex, items: &[&JsonItem], limit: usize) -> f64 {
    let entries: Vec<JsonItem> = items.iter().filter_map(|item| index.entry(item)).collect();
    if entries.is_empty() {
        return 0.0;
    }
    let mean = entries.iter().map(item_size).sum::<usize>() as f64 / entries.len() as f64;
    let page_bytes = mean * (limit + 1) as f64;
    let query = 0.5 * (page_bytes / 4096.0).ceil().max(1.0);
    let reads = match index.projection {
        Projection::KeysOnly => {
            let item_mean = items.iter().map(|i| item_size(i)).sum::<usize>() as f64
                / items.len().max(1) as f64;
            limit as f64 * 0.5 * (item_mean / 4096.0).ceil().max(1.0)
        }
        _ => 0.0,
    };
    query + reads
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, &str)]) -> JsonItem {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::json!({ "S": v })))
            .collect()
    }

    fn order(sort: &str, body: &str) -> JsonItem {
        item(&[
            ("pk", "T#t#ORDER#o1"),
            ("sk", "ORDER"),
            ("gsi1pk", "T#t#B#b#ORDER"),
            ("gsi1sk", sort),
            ("body", body),
            ("written_at", sort),
        ])
    }

    #[test]
    fn an_index_entry_is_billed_by_its_projection_and_only_when_it_changes() {
        // Given an item of 1.5 KB of which the body is 1.2 KB, and the same item written
        // again at another time with the same keys and body
        let big = "x".repeat(1200);
        let first = order("1#o1", &big);
        let mut again = first.clone();
        again.insert("written_at".into(), serde_json::json!({"S": "2#o1"}));
        let all = BilledIndex::new("a", "gsi1pk", "gsi1sk", Projection::All);
        let lean = BilledIndex::new("i", "gsi1pk", "gsi1sk", include(&["body"]));
        let keys = BilledIndex::new("k", "gsi1pk", "gsi1sk", Projection::KeysOnly);
        // Then a creation is billed the entry's size: the whole item, the body and keys,
        // the keys alone
        assert_eq!(all.write_units(None, Some(&first)), 2);
        assert_eq!(lean.write_units(None, Some(&first)), 2);
        assert_eq!(keys.write_units(None, Some(&first)), 1);
        // and a rewrite changing only an attribute the index does not project writes
        // nothing there, where projection ALL rewrites the entry
        assert_eq!(all.write_units(Some(&first), Some(&again)), 2);
        assert_eq!(lean.write_units(Some(&first), Some(&again)), 0);
        assert_eq!(keys.write_units(Some(&first), Some(&again)), 0);
        // and a write moving the sort key is a delete and a put, whatever the projection
        let moved = order("3#o1", &big);
        assert_eq!(all.write_units(Some(&first), Some(&moved)), 4);
        assert_eq!(keys.write_units(Some(&first), Some(&moved)), 2);
        // and an item without the index's keys is not in it
        let unlisted = item(&[("pk", "T#t#ORDER#o2"), ("sk", "ORDER")]);
        assert_eq!(all.write_units(None, Some(&unlisted)), 0);
        assert_eq!(all.write_units(Some(&first), Some(&unlisted)), 2);
    }

    #[test]
    fn a_bill_follows_the_writes_outcomes_and_the_states_before_them() {
        // Given a creation, a refused write and an update moving the listing key
        let a = order("1#o1", "small");
        let b = order("2#o1", "smaller");
        let writes = [
            (&a, Outcome::Created),
            (&b, Outcome::Refused),
            (&b, Outcome::Updated),
        ];
        let layout = Layout {
            name: "t".into(),
            indexes: vec![BilledIndex::new("a", "gsi1pk", "gsi1sk", Projection::All)],
            item: JsonItem::clone,
        };
        // When they are billed
        let mut stored = Stored::new();
        let bill = bill(&layout, "table", &writes, &mut stored);
        // Then the table bills each write 1 unit, the index the creation's put and the
        // update's delete and put, the refused write nothing
        assert_eq!(bill.table_units, 3);
        assert_eq!(bill.index_units["a"], 3);
        assert_eq!((bill.creations, bill.updates, bill.refused), (1, 1, 1));
        assert_eq!((bill.creation_index_units, bill.update_index_units), (1, 2));
        // and the state the next recording starts from is the update's
        assert_eq!(stored[&("table".into(), "T#t#ORDER#o1".into())], b);
        // and an update of an object never seen is counted apart
        let mut fresh = Stored::new();
        let unseen = super::bill(&layout, "table", &[(&b, Outcome::Updated)], &mut fresh);
        assert_eq!(unseen.unseen_before, 1);
    }

    #[test]
    fn a_products_item_before_issue_22_had_its_sku_lookup_keys() {
        // Given a product's item as recorded now (no SKU lookup keys), its body deflated
        let json = br#"{"id":"p1","sku":"TEE-1"}"#;
        let body = packr_local_deflate(json);
        let mut item = item(&[("pk", "T#t#PRODUCT#p1"), ("sk", "PRODUCT"), ("id", "p1")]);
        item.insert("body".into(), serde_json::json!({ "B": body }));
        // When it is written as before issue 22
        let old = with_product_sku_keys(&item);
        // Then it carries the lookup keys of its SKU
        assert_eq!(old["gsi3pk"]["S"], "T#t#PRODUCT#SKU#TEE-1");
        assert_eq!(old["gsi3sk"]["S"], "p1");
        // and an order is left as it is
        let o = order("1#o1", "b");
        assert_eq!(with_product_sku_keys(&o), o);
    }

    fn packr_local_deflate(json: &[u8]) -> String {
        let deflated = packr::store::dynamo::deflate_body(json).expect("deflate");
        base64::engine::general_purpose::STANDARD.encode(deflated)
    }

    #[test]
    fn the_option_marked_built_is_the_templates_layout_and_options_are_named_apart() {
        // Given the options and the repository's template
        let options = Layout::options();
        let template = crate::template::Template::repo_default()
            .and_then(|t| t.table())
            .expect("template.yaml's table");
        let shape = |layout: &Layout| {
            let mut s: Vec<(String, String, Projection)> = layout
                .indexes
                .iter()
                .map(|i| (i.pk.clone(), i.sk.clone(), i.projection.clone()))
                .collect();
            s.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
            s
        };
        // Then exactly one is built, with the template's keys and projections
        let built: Vec<&Layout> = options
            .iter()
            .filter(|(_, status)| *status == "built")
            .map(|(l, _)| l)
            .collect();
        assert_eq!(built.len(), 1);
        assert_eq!(shape(built[0]), shape(&Layout::of_template(&template)));
        // and the first is the reference, and no two share a name (their states are kept
        // by name)
        assert_eq!(options[0].1, "reference");
        let mut names: Vec<&str> = options.iter().map(|(l, _)| l.name.as_str()).collect();
        names.push("built (template.yaml)");
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    #[test]
    fn a_keys_only_listing_page_reads_its_items_from_the_table() {
        // Given 3 listed items of ~1 KB
        let body = "x".repeat(900);
        let items: Vec<JsonItem> = (0..3).map(|n| order(&format!("{n}#o"), &body)).collect();
        let refs: Vec<&JsonItem> = items.iter().collect();
        let all = BilledIndex::new("a", "gsi1pk", "gsi1sk", Projection::All);
        let keys = BilledIndex::new("k", "gsi1pk", "gsi1sk", Projection::KeysOnly);
        // Then a page of 50 from ALL is 51 entries' bytes at half rate, from KEYS_ONLY
        // its small entries plus 50 item reads at half rate
        // (an entry: 966 B; 51 of them 49,266 B: 13 × 4 KB)
        assert_eq!(listing_page_read_units(&all, &refs, 50), 6.5);
        // (an entry: 49 B, 51 of them under 4 KB; then 50 items of ~1 KB)
        assert_eq!(listing_page_read_units(&keys, &refs, 50), 25.5);
    }
}
