//! Brand message threads: newest first, paginated, separate per brand and tenant.

use packr::domain::{Message, MessageBody, MessageId, UserId};
use packr::store::{MessageStore, PageLimit, PageRequest};

use crate::helpers::*;

#[tokio::test]
async fn a_thread_lists_newest_first_across_pages_and_only_its_own_messages() {
    let s = stack().await;
    let t = tenant("acme");
    let mut written = Vec::new();
    for i in 0..23 {
        let m = Message {
            tenant_id: t.clone(),
            brand_id: brand(if i % 2 == 0 { "b1" } else { "b2" }),
            id: MessageId::generate(),
            author: UserId::parse("user_1").unwrap(),
            author_role: "tenant_staff".into(),
            body: MessageBody::parse(format!("message {i}")).unwrap(),
            created_at: at(i),
        };
        s.store.append(&t, &m).await.unwrap();
        written.push(m);
    }
    let other = tenant("globex");

    let limit = PageLimit::parse(Some(5)).unwrap();
    let mut page = PageRequest::first(limit);
    let mut seen: Vec<Message> = Vec::new();
    loop {
        let p = MessageStore::list(&s.store, &t, &brand("b1"), &page)
            .await
            .unwrap();
        seen.extend(p.items);
        match p.next_cursor {
            Some(c) => page = PageRequest::after(limit, c),
            None => break,
        }
    }

    let mut expected: Vec<Message> = written
        .into_iter()
        .filter(|m| m.brand_id == brand("b1"))
        .collect();
    expected.reverse();
    assert_eq!(seen, expected);
    let foreign = MessageStore::list(&s.store, &other, &brand("b1"), &PageRequest::default())
        .await
        .unwrap();
    assert!(foreign.items.is_empty());
}

mod posting {
    //! `POST /brands/{brand_id}/messages` takes an `Idempotency-Key` like the other writes.

    use serde_json::json;

    use crate::api_support::*;

    async fn post(s: &ApiStack, caller: &Caller, brand: &str, text: &str, key: &str) -> Answer {
        s.send(
            caller,
            "POST",
            &format!("/brands/{brand}/messages"),
            &json!({ "body": text }),
            &[("Idempotency-Key", key)],
        )
        .await
    }

    async fn thread(s: &ApiStack, caller: &Caller, brand: &str) -> Vec<serde_json::Value> {
        s.get(caller, &format!("/brands/{brand}/messages"))
            .await
            .body["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    #[tokio::test]
    async fn a_retried_post_answers_the_first_message_and_posts_it_once() {
        // given a message posted with a key
        let s = api_stack().await;
        let staff = Caller::new(ACME, "tenant_staff", &[]);
        let first = post(&s, &staff, "b1", "hello", "m-1").await;
        // when the same request is sent again
        let again = post(&s, &staff, "b1", "hello", "m-1").await;
        // then it answers the saved message, marked as a replay, and the thread has one
        assert_eq!(first.status, 201, "{}", first.body);
        assert_eq!(again.status, 201, "{}", again.body);
        assert_eq!(again.body, first.body);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(first.header("idempotent-replayed"), None);
        let messages = thread(&s, &staff, "b1").await;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["id"], first.body["id"]);
    }

    #[tokio::test]
    async fn the_same_key_with_another_body_or_brand_is_422_and_posts_nothing() {
        // given a message posted with a key
        let s = api_stack().await;
        let staff = Caller::new(ACME, "tenant_staff", &[]);
        assert_eq!(post(&s, &staff, "b1", "hello", "m-1").await.status, 201);
        // when the key is used again for another text, and on another brand's thread
        let other_text = post(&s, &staff, "b1", "goodbye", "m-1").await;
        let other_brand = post(&s, &staff, "b2", "hello", "m-1").await;
        // then both are refused as a reused key, and only the first message exists
        assert_eq!(
            (other_text.status, other_text.code()),
            (422, "idempotency_key_reused")
        );
        assert_eq!(
            (other_brand.status, other_brand.code()),
            (422, "idempotency_key_reused")
        );
        assert_eq!(thread(&s, &staff, "b1").await.len(), 1);
        assert!(thread(&s, &staff, "b2").await.is_empty());
    }

    #[tokio::test]
    async fn a_post_without_a_key_is_400_and_posts_nothing() {
        // given a staff member
        let s = api_stack().await;
        let staff = Caller::new(ACME, "tenant_staff", &[]);
        // when a message is posted without an Idempotency-Key
        let r = s
            .send(
                &staff,
                "POST",
                "/brands/b1/messages",
                &json!({ "body": "hello" }),
                &[],
            )
            .await;
        // then it is refused with the API's envelope, and nothing is posted
        assert_eq!((r.status, r.code()), (400, "idempotency_key_required"));
        assert!(r.body["error"]["request_id"].is_string());
        assert!(thread(&s, &staff, "b1").await.is_empty());
    }

    #[tokio::test]
    async fn keys_are_the_tenants_own() {
        // given acme posted with a key
        let s = api_stack().await;
        let acme = Caller::new(ACME, "tenant_staff", &[]);
        let globex = Caller::new(GLOBEX, "tenant_staff", &[]);
        assert_eq!(post(&s, &acme, "b1", "hello", "shared").await.status, 201);
        // when globex uses the same key on its own brand
        let r = post(&s, &globex, "g1", "hello", "shared").await;
        // then globex's message is posted, not a replay of acme's
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.header("idempotent-replayed"), None);
        assert_eq!(thread(&s, &globex, "g1").await.len(), 1);
    }
}
