//! The table of issue 22's options (`index_bill::Layout::options`): the same recorded
//! webhook writes billed under each layout of indexes, with a listing page's read units
//! under it, beside the reference (the layout before issue 22).

use super::units::WebhookUnits;

/// The markdown table of the options, from one run's units.
pub fn markdown(u: &WebhookUnits) -> String {
    let per = |x: f64| u.per_event(x);
    // What every option pays besides the object writes: receipts, stats, budget, other.
    let others = u.write_units - u.object_units - u.index_units;
    let mut md = String::from(
        "| layout of the indexes (each row one step from the one above, but the last) | status | write units per webhook event | of which: index entries | object item | index units per creation / per update | `GET /orders?limit=50` read units: tenant-wide / one brand | write units / the reference's |\n|---|---|---|---|---|---|---|---|\n",
    );
    let reference = u
        .options
        .first()
        .map(|(_, _, b)| per(b.table_units as f64 + b.total_index_units() as f64 + others));
    for ((name, status, bill), (tenant, brand)) in u.options.iter().zip(&u.option_page_reads) {
        let total = per(bill.table_units as f64 + bill.total_index_units() as f64 + others);
        let mean = |units: u64, n: u64| units as f64 / n.max(1) as f64;
        md.push_str(&format!(
            "| {name} | {status} | **{total:.2}** | {:.2} | {:.2} | {:.2} / {:.2} | {tenant:.2} / {brand:.2} | {} |\n",
            per(bill.total_index_units() as f64),
            per(bill.table_units as f64),
            mean(bill.creation_index_units, bill.creations),
            mean(bill.update_index_units, bill.updates),
            reference.map_or_else(|| "—".to_owned(), |r| super::ratio(total, r)),
        ));
    }
    md
}
