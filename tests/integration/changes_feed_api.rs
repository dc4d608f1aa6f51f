//! The changes feed through its two front doors: `GET /changes` (brand scoping, filters,
//! another tenant, bad cursors, the object as its `GET` answers it) and `packr changes
//! tail`. The feed itself is specified in `changes_feed`.

use std::time::Duration;

use packr::resource::ResourceKind;
use packr::store::ObjectStore;
use serde_json::Value;

use crate::api_support::*;
use crate::changes_feed::{config, past_horizon, upsert, writer};
use crate::helpers::*;
use crate::warehouse_objects::*;

#[tokio::test]
async fn the_api_serves_the_feed_scoped_to_the_callers_brands() {
    // given acme objects of brands b1 and b2, a warehouse, and a globex order, written
    // through the store and through the API's write-through
    let mut s = api_stack().await;
    s.deps.config.changes = config();
    let w = writer(&s.stack.store);
    let (acme, globex) = (tenant(ACME), tenant(GLOBEX));
    upsert(&w, order(&acme, "o_b1", Some(&brand("b1")), 10)).await;
    upsert(&w, order(&acme, "o_b2", Some(&brand("b2")), 11)).await;
    upsert(&w, warehouse(&acme, "wh_1", 12)).await;
    upsert(&w, order(&globex, "o_g1", Some(&brand("g1")), 13)).await;
    let admin = Caller::admin(ACME);
    let created = s
        .send(
            &admin,
            "POST",
            "/orders",
            &order_body("b1", "feed-1"),
            &[("Idempotency-Key", "feed-create-1")],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let created_id = created.body["id"].as_str().unwrap().to_owned();
    past_horizon().await;

    let feed = |r: &Answer| -> Vec<String> {
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // when the admin reads the feed: every acme object, oldest first, nothing of globex
    let all = s.get(&admin, "/changes").await;
    assert_eq!(feed(&all), ["o_b1", "o_b2", "wh_1", created_id.as_str()]);
    // and each change carries the object as its GET answers it
    let api_written = &all.body["changes"][3];
    assert_eq!(api_written["action"], "created");
    assert_eq!(api_written["kind"], "orders");
    let get = s.get(&admin, &format!("/orders/{created_id}")).await;
    assert_eq!(api_written["object"], get.body);
    // a brand user of b1: b1's orders and the tenant-wide warehouse, not b2's
    let b1_user = Caller::new(ACME, "brand_manager", &["b1"]);
    assert_eq!(
        feed(&s.get(&b1_user, "/changes").await),
        ["o_b1", "wh_1", created_id.as_str()]
    );
    // brand_id narrows to that brand's objects; kinds to those kinds
    assert_eq!(feed(&s.get(&admin, "/changes?brand_id=b2").await), ["o_b2"]);
    assert_eq!(
        feed(&s.get(&admin, "/changes?kinds=warehouses,bills").await),
        ["wh_1"]
    );
    // a brand the caller may not see, or another tenant's, is a 404
    assert_eq!(s.get(&b1_user, "/changes?brand_id=b2").await.status, 404);
    assert_eq!(s.get(&admin, "/changes?brand_id=g1").await.status, 404);
    // an unknown kind, a bad limit, an unknown parameter: 400 naming it
    for (query, field) in [
        ("kinds=orders,labor_activities", "kinds"),
        ("limit=0", "limit"),
        ("since=2024-01-01T00:00:00Z", "since"),
    ] {
        let r = s.get(&admin, &format!("/changes?{query}")).await;
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert!(
            r.body["error"]["details"]["fields"][field].is_array(),
            "{query}: {}",
            r.body
        );
    }
    // a cursor of acme's is refused to globex, and under another filter
    let cursor = all.body["next_cursor"].as_str().unwrap();
    let globex_admin = Caller::admin(GLOBEX);
    let r = s
        .get(&globex_admin, &format!("/changes?cursor={cursor}"))
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_cursor"));
    let r = s
        .get(&admin, &format!("/changes?kinds=orders&cursor={cursor}"))
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_cursor"));
    let mut tampered = cursor.to_owned();
    tampered.replace_range(10..11, if &cursor[10..11] == "A" { "B" } else { "A" });
    let r = s.get(&admin, &format!("/changes?cursor={tampered}")).await;
    assert_eq!((r.status, r.code()), (400, "invalid_cursor"));
    // and globex's own feed has only its order
    assert_eq!(feed(&s.get(&globex_admin, "/changes").await), ["o_g1"]);
    s.sim.shutdown().await;
}

async fn cli_tail(
    s: &Stack,
    args: &[&str],
) -> anyhow::Result<(std::process::ExitCode, Vec<Value>)> {
    use clap::Parser;
    let mut argv = vec!["packr", "changes", "tail", "--tenant", "acme"];
    argv.extend_from_slice(args);
    let cli = packr_cli::Cli::try_parse_from(argv).unwrap();
    let table = s.table.clone();
    let env = move |name: &str| match name {
        "TABLE_NAME" => Some(table.clone()),
        "CHANGES_HORIZON_SECONDS" => Some("6".to_owned()),
        _ => None,
    };
    let mut out = Vec::new();
    let code = packr_cli::run(cli, &s.sdk, &env, &mut out).await?;
    let lines = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Ok((code, lines))
}

#[tokio::test]
async fn packr_changes_tail_prints_the_feed_a_line_per_change() {
    // given three acme changes (an order, a warehouse, a deleted order), older than the
    // CLI's horizon (6 s here), and a globex order
    let s = stack().await;
    let w = s.store.clone();
    let acme = tenant("acme");
    upsert(&w, order(&acme, "o_1", Some(&brand("b1")), 10)).await;
    upsert(&w, warehouse(&acme, "wh_1", 11)).await;
    upsert(&w, order(&acme, "o_2", None, 12)).await;
    w.tombstone_object(&acme, ResourceKind::Orders, "o_2", at(20))
        .await
        .unwrap();
    upsert(&w, order(&tenant("globex"), "o_g", None, 13)).await;
    tokio::time::sleep(Duration::from_millis(6300)).await;

    // when the feed is tailed from the start until caught up
    let (code, lines) = cli_tail(&s, &["--from-start", "--once"]).await.unwrap();
    // then one line per acme object, oldest first, without the objects themselves
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    let got: Vec<(String, String)> = lines
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap().to_owned(),
                l["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("o_1".to_owned(), "created".to_owned()),
            ("wh_1".to_owned(), "created".to_owned()),
            ("o_2".to_owned(), "deleted".to_owned()),
        ]
    );
    assert!(lines.iter().all(|l| l.get("object").is_none()));
    // and the filters and options narrow or widen it
    let (_, warehouses) = cli_tail(&s, &["--from-start", "--once", "--kind", "warehouses"])
        .await
        .unwrap();
    assert_eq!(warehouses.len(), 1);
    let (_, with_objects) = cli_tail(&s, &["--from-start", "--once", "--objects", "--max", "1"])
        .await
        .unwrap();
    assert_eq!(with_objects.len(), 1);
    assert_eq!(with_objects[0]["object"]["id"], "o_1");
    let (_, b1) = cli_tail(&s, &["--from-start", "--once", "--brand", "b1"])
        .await
        .unwrap();
    assert_eq!(b1.len(), 1);
    // and from now (the default), nothing written before shows
    let (_, from_now) = cli_tail(&s, &["--once"]).await.unwrap();
    assert!(from_now.is_empty(), "{from_now:?}");
    // and an unknown resource is an error naming it
    let error = cli_tail(&s, &["--once", "--kind", "labor_activities"])
        .await
        .unwrap_err();
    assert!(error.to_string().contains("labor_activities"), "{error}");
}
