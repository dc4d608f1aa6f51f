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
