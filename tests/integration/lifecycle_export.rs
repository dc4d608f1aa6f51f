//! The offboarding export (`packr::lifecycle::export`) against the emulator's S3 and
//! DynamoDB: what a brand's and a tenant's exports hold (every object the API lists, per
//! resource, and nothing of another brand or tenant), a large export cut midway, and the
//! presigned URL.

use std::collections::{BTreeMap, BTreeSet};

use packr::domain::{
    Brand, Message, MessageBody, MessageId, Tenant, TenantId, UserId, WarehouseCustomerId,
};
use packr::lifecycle::{ExportScope, Exporter, JobKind, LifecycleJob, Step};
use packr::resource::{DomainObject, Owner, ResourceKind};
use packr::store::{
    ConnectionStore, ListQuery, MessageStore, ObjectStore, PageLimit, PageRequest, TenantStore,
};

use crate::helpers::{at, brand, connection, inventory, order, stack, tenant, Stack};

struct ExportStack {
    s: Stack,
    bucket: String,
    /// The exporter as data-lifecycle builds it (its requests are checked against its role).
    exporter: Exporter,
}

async fn export_stack() -> ExportStack {
    let s = stack().await;
    let bucket = packr_local::testing::fresh_export_bucket(&s.sdk).await;
    let exporter = Exporter::new(
        s.store_as("data-lifecycle"),
        packr::lifecycle::wiring::s3_client(&s.sdk_as("data-lifecycle")),
        bucket.clone(),
    );
    ExportStack {
        s,
        bucket,
        exporter,
    }
}

impl ExportStack {
    /// Runs `job`'s export to its end; the number of steps it took.
    async fn run(&self, job: &mut LifecycleJob, scope: &ExportScope) -> usize {
        for steps in 1..=200 {
            if self.exporter.export_step(job, scope.clone()).await.unwrap() == Step::Done {
                return steps;
            }
        }
        panic!("the export did not finish in 200 steps");
    }

    /// The file's bytes, read by the test itself.
    async fn file(&self, key: &str) -> Vec<u8> {
        let s3 = packr::lifecycle::wiring::s3_client(&self.s.sdk);
        let out = s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
        out.body.collect().await.unwrap().into_bytes().to_vec()
    }

    /// The export's lines per resource, as JSON.
    async fn lines(&self, job: &LifecycleJob) -> BTreeMap<String, Vec<serde_json::Value>> {
        let mut files = BTreeMap::new();
        for file in &job.exports {
            let bytes = self.file(&file.key).await;
            assert_eq!(bytes.len() as u64, file.bytes, "{}", file.resource);
            let lines: Vec<serde_json::Value> = bytes
                .split(|b| *b == b'\n')
                .filter(|line| !line.is_empty())
                .map(|line| serde_json::from_slice(line).expect("each line is JSON"))
                .collect();
            assert_eq!(lines.len() as u64, file.lines, "{}", file.resource);
            files.insert(file.resource.clone(), lines);
        }
        files
    }
}

/// Every object of `kind` the API lists for `brand` (every brand: `None`), by id.
async fn listed(
    s: &Stack,
    t: &TenantId,
    kind: ResourceKind,
    brand_id: Option<&str>,
) -> BTreeSet<String> {
    let query = ListQuery {
        brand_id: brand_id.map(brand),
        ..ListQuery::default()
    };
    let limit = PageLimit::parse(Some(100)).unwrap();
    let mut page = PageRequest::first(limit);
    let mut ids = BTreeSet::new();
    loop {
        let p = s.store.list_objects(t, kind, &query, &page).await.unwrap();
        ids.extend(p.items.iter().map(|o| o.id().to_owned()));
        match p.next_cursor {
            Some(c) => page = PageRequest::after(limit, c),
            None => return ids,
        }
    }
}

async fn thread(s: &Stack, t: &TenantId, b: &str) -> BTreeSet<String> {
    let limit = PageLimit::parse(Some(100)).unwrap();
    let mut page = PageRequest::first(limit);
    let mut ids = BTreeSet::new();
    loop {
        let p = MessageStore::list(&s.store, t, &brand(b), &page)
            .await
            .unwrap();
        ids.extend(p.items.iter().map(|m| m.id.to_string()));
        match p.next_cursor {
            Some(c) => page = PageRequest::after(limit, c),
            None => return ids,
        }
    }
}

fn message(t: &TenantId, b: &str, n: i64, text: String) -> Message {
    Message {
        tenant_id: t.clone(),
        brand_id: brand(b),
        id: MessageId::generate(),
        author: UserId::parse("user_1").unwrap(),
        author_role: "tenant_staff".into(),
        body: MessageBody::parse(text).unwrap(),
        created_at: at(n),
    }
}

async fn seed_tenant(s: &Stack, id: &str, brands: &[&str]) -> TenantId {
    let t = tenant(id);
    s.store
        .create_tenant(&Tenant {
            id: t.clone(),
            name: format!("{id} 3PL"),
            default_currency: packr::domain::Currency::parse("USD").unwrap(),
            created_at: at(0),
        })
        .await
        .unwrap();
    for b in brands {
        s.store
            .create_brand(
                &t,
                &Brand {
                    tenant_id: t.clone(),
                    id: brand(b),
                    name: b.to_uppercase(),
                    warehouse_customer_ids: vec![
                        WarehouseCustomerId::parse(format!("cust-{b}")).unwrap()
                    ],
                    created_at: at(0),
                },
            )
            .await
            .unwrap();
    }
    s.store
        .create_connection(&t, &connection(&t, &format!("conn_{id}")))
        .await
        .unwrap();
    t
}

/// Tenant `acme` (brands b1, b2) and tenant `globex` (brand b1 too), with orders,
/// inventory, warehouses and messages of each, one of acme's b1 orders tombstoned.
async fn seed(s: &Stack) -> (TenantId, TenantId) {
    let acme = seed_tenant(s, "acme", &["b1", "b2"]).await;
    let globex = seed_tenant(s, "globex", &["b1"]).await;
    let mut objects = Vec::new();
    for (t, b, orders, items) in [
        (&acme, "b1", 7, 3),
        (&acme, "b2", 4, 2),
        (&globex, "b1", 3, 2),
    ] {
        for n in 0..orders {
            let id = format!("ord_{}_{b}_{n}", t.as_str());
            objects.push(DomainObject::new(order(t, &id, Some(&brand(b)), n)));
        }
        for n in 0..items {
            let id = format!("inv_{}_{b}_{n}", t.as_str());
            let sku = format!("SKU-{b}-{n}");
            objects.push(DomainObject::new(inventory(t, &id, &sku, Some(&brand(b)))));
        }
    }
    for (t, n) in [(&acme, 2), (&globex, 1)] {
        for i in 0..n {
            let id = format!("wh_{}_{i}", t.as_str());
            objects.push(DomainObject::new(crate::warehouse_objects::warehouse(
                t, &id, i,
            )));
        }
    }
    for object in &objects {
        let t = tenant(object.erased().tenant().as_str());
        s.store.upsert_object(&t, object).await.unwrap();
    }
    assert!(s
        .store
        .tombstone_object(&acme, ResourceKind::Orders, "ord_acme_b1_0", at(100))
        .await
        .unwrap());
    for (t, b, n) in [(&acme, "b1", 5), (&acme, "b2", 3), (&globex, "b1", 2)] {
        for i in 0..n {
            let m = message(t, b, i, format!("message {i} to {b}"));
            s.store.append(t, &m).await.unwrap();
        }
    }
    (acme, globex)
}

fn job(t: &TenantId, kind: JobKind) -> LifecycleJob {
    LifecycleJob::new(
        t.clone(),
        kind,
        Some("user_1".into()),
        packr::domain::Timestamp::now(),
    )
}

#[tokio::test]
async fn a_brands_export_holds_every_object_the_api_lists_for_it_and_nothing_of_another_brand_or_tenant(
) {
    // given two tenants with two and one brands (the same brand id in both)
    let x = export_stack().await;
    let (acme, _globex) = seed(&x.s).await;
    let scope = ExportScope::Brand(brand("b1"));
    let mut job = job(
        &acme,
        JobKind::BrandOffboarding {
            brand_id: brand("b1"),
        },
    );

    // when acme's brand b1 is exported
    x.run(&mut job, &scope).await;

    // then each brand-owned kind's file holds exactly the objects its listing serves
    let files = x.lines(&job).await;
    for kind in ResourceKind::ALL {
        if kind.spec().owner != Owner::Brand {
            assert!(
                !files.contains_key(kind.as_str()),
                "{kind}: tenant-wide kind"
            );
            continue;
        }
        let expected = listed(&x.s, &acme, kind, Some("b1")).await;
        let exported: BTreeSet<String> = files[kind.as_str()]
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            exported.len(),
            files[kind.as_str()].len(),
            "{kind}: no duplicates"
        );
        assert_eq!(exported, expected, "{kind}");
        assert_eq!(
            job.counts[&format!("exported.{kind}")],
            expected.len() as u64
        );
    }
    assert_eq!(files["orders"].len(), 6, "7 orders, one tombstoned");
    assert!(!files["orders"].iter().any(|o| o["id"] == "ord_acme_b1_0"));
    assert_eq!(files["inventory"].len(), 3);
    // and the messages file holds the brand's thread
    let messages: BTreeSet<String> = files["messages"]
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(messages, thread(&x.s, &acme, "b1").await);
    assert_eq!(messages.len(), 5);
    // and every line is acme's and b1's
    for (resource, lines) in &files {
        for line in lines {
            assert_eq!(line["tenant_id"], "acme", "{resource}");
            assert_eq!(line["brand_id"], "b1", "{resource}");
        }
    }
    // and the files are where the job says, under the tenant and job
    assert_eq!(job.phase, "export:done");
    for file in &job.exports {
        assert_eq!(
            file.key,
            format!("exports/acme/{}/{}.jsonl", job.id, file.resource)
        );
    }
}

#[tokio::test]
async fn a_tenants_export_holds_every_listed_object_brand_message_and_connection_and_nothing_of_another_tenant(
) {
    // given two tenants
    let x = export_stack().await;
    let (acme, _globex) = seed(&x.s).await;
    let mut job = job(&acme, JobKind::TenantOffboarding);

    // when acme is exported
    x.run(&mut job, &ExportScope::Tenant).await;

    // then every kind's file holds exactly what its tenant-wide listing serves
    let files = x.lines(&job).await;
    for kind in ResourceKind::ALL {
        let expected = listed(&x.s, &acme, kind, None).await;
        let exported: BTreeSet<String> = files[kind.as_str()]
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            exported.len(),
            files[kind.as_str()].len(),
            "{kind}: no duplicates"
        );
        assert_eq!(exported, expected, "{kind}");
    }
    assert_eq!(files["orders"].len(), 10, "11 orders, one tombstoned");
    assert_eq!(files["warehouses"].len(), 2);
    // and brands, both threads and the connection (without its secret's name)
    let brands: Vec<&str> = files["brands"]
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(brands, ["b1", "b2"]);
    let mut threads = thread(&x.s, &acme, "b1").await;
    threads.extend(thread(&x.s, &acme, "b2").await);
    let messages: BTreeSet<String> = files["messages"]
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(messages, threads);
    assert_eq!(messages.len(), 8);
    assert_eq!(files["connections"].len(), 1);
    assert_eq!(files["connections"][0]["connection_id"], "conn_acme");
    assert!(files["connections"][0].get("access_token_secret").is_none());
    // and nothing of globex
    for (resource, lines) in &files {
        for line in lines {
            let owner = line.get("tenant_id").and_then(|v| v.as_str());
            assert!(
                owner.is_none() || owner == Some("acme"),
                "{resource}: {line}"
            );
            assert!(!line.to_string().contains("globex"), "{resource}: {line}");
        }
    }
    assert_eq!(job.exports.len(), ResourceKind::ALL.len() + 3);
}

#[tokio::test]
async fn a_large_export_cut_midway_resumes_and_produces_the_same_file() {
    // given a brand thread of about 12 MiB (three parts of an S3 multipart upload)
    let x = export_stack().await;
    let t = seed_tenant(&x.s, "bulk", &["b1"]).await;
    let text = "x".repeat(MessageBody::MAX_CHARS - 10);
    let all: Vec<Message> = (0..3000)
        .map(|i| message(&t, "b1", i, format!("{i:05} {text}")))
        .collect();
    for chunk in all.chunks(50) {
        futures::future::join_all(chunk.iter().map(|m| x.s.store.append(&t, m)))
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
    }
    let scope = ExportScope::Brand(brand("b1"));

    // when one export runs through, and another is cut after its first part: the step that
    // uploads the second part runs, but the job it leaves is lost (a crash before the save)
    let mut whole = job(
        &t,
        JobKind::BrandOffboarding {
            brand_id: brand("b1"),
        },
    );
    x.run(&mut whole, &scope).await;

    let mut cut = job(
        &t,
        JobKind::BrandOffboarding {
            brand_id: brand("b1"),
        },
    );
    let parts = |j: &LifecycleJob| {
        j.state["export"]["upload"]["parts"]
            .as_array()
            .map_or(0, Vec::len)
    };
    while parts(&cut) == 0 {
        assert_eq!(
            x.exporter
                .export_step(&mut cut, scope.clone())
                .await
                .unwrap(),
            Step::More
        );
    }
    let saved = cut.clone();
    let mut lost = cut.clone();
    assert_eq!(
        x.exporter
            .export_step(&mut lost, scope.clone())
            .await
            .unwrap(),
        Step::More
    );
    assert_eq!(parts(&lost), 2, "the lost step uploaded the second part");
    let mut resumed = saved;
    x.run(&mut resumed, &scope).await;

    // then both files hold the 3000 messages, byte for byte the same
    let file = |j: &LifecycleJob| {
        j.exports
            .iter()
            .find(|f| f.resource == "messages")
            .cloned()
            .expect("messages file")
    };
    let (a, b) = (file(&whole), file(&resumed));
    assert_eq!(a.lines, 3000);
    assert_eq!(b.lines, 3000);
    assert!(a.bytes > 2 * packr::lifecycle::export::PART_BYTES as u64);
    let (bytes_a, bytes_b) = (x.file(&a.key).await, x.file(&b.key).await);
    assert_eq!(bytes_a.len() as u64, a.bytes);
    assert!(bytes_a == bytes_b, "the resumed export's file differs");
    // and no upload is left open
    assert!(resumed.state["export"].get("upload").is_none());
}

#[tokio::test]
async fn the_presigned_url_of_an_export_file_fetches_it_from_the_emulator() {
    // given a brand's export
    let x = export_stack().await;
    let t = seed_tenant(&x.s, "presign", &["b1"]).await;
    for i in 0..3 {
        x.s.store
            .append(&t, &message(&t, "b1", i, format!("hello {i}")))
            .await
            .unwrap();
    }
    let mut job = job(
        &t,
        JobKind::BrandOffboarding {
            brand_id: brand("b1"),
        },
    );
    x.run(&mut job, &ExportScope::Brand(brand("b1"))).await;
    let file = job
        .exports
        .iter()
        .find(|f| f.resource == "messages")
        .unwrap()
        .clone();

    // when api-connections presigns it for an hour
    let api = Exporter::new(
        x.s.store_as("api-connections"),
        packr::lifecycle::wiring::s3_client(&x.s.sdk_as("api-connections")),
        x.bucket.clone(),
    );
    let url = api
        .presign(&file.key, packr::lifecycle::export::PRESIGN_TTL)
        .await
        .unwrap();

    // then a plain GET of the URL answers the file
    assert!(url.contains("X-Amz-Expires=3600"), "{url}");
    let answer = reqwest::get(&url).await.unwrap();
    assert_eq!(answer.status(), 200);
    let body = answer.bytes().await.unwrap();
    assert_eq!(body.to_vec(), x.file(&file.key).await);
    assert_eq!(body.iter().filter(|b| **b == b'\n').count(), 3);
}
