//! The changes feed's horizon: a writer whose commit lands after a later writer's cannot
//! make a consumer skip it (and a reader without the horizon would).

use std::net::SocketAddr;
use std::time::Duration;

use packr::changes::{ChangeFeedConfig, ChangeFilter};
use packr::resource::DomainObject;
use packr::store::dynamo::DynamoStore;
use packr::store::{CursorCodec, ObjectStore};

use crate::changes_feed::{config, past_horizon, upsert, writer, Replica, WINDOW};
use crate::helpers::*;

/// A TCP proxy that holds each new connection `delay` before it reaches `upstream`: a
/// request sent through it commits that much later than its writer stamped it.
async fn holding_proxy(upstream: SocketAddr, delay: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    address
}

fn emulator_address() -> SocketAddr {
    let url = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .replace("localhost", "127.0.0.1");
    host.parse().expect("a loopback address")
}

#[tokio::test]
async fn a_writer_held_back_past_others_cannot_make_a_consumer_skip_it() {
    // given a writer whose requests reach DynamoDB 1.5 s after it stamps them (within its
    // 3 s window), and a prompt writer
    let s = stack().await;
    let acme = tenant("acme");
    let proxy = holding_proxy(emulator_address(), Duration::from_millis(1500)).await;
    let held_config = aws_sdk_dynamodb::config::Builder::from(&s.sdk)
        .endpoint_url(format!("http://{proxy}"))
        .build();
    let held = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(held_config),
        s.table.clone(),
        CursorCodec::new(CURSOR_KEY.to_vec()),
    )
    .with_write_window(WINDOW);
    let prompt = writer(&s.store);
    // and two consumers at the feed's end: one with the horizon, one reading up to now
    let everything = ChangeFilter::everything();
    let naive = ChangeFeedConfig {
        horizon: Duration::ZERO,
        ..config()
    };
    let (mut careful, mut reckless) = (Replica::default(), Replica::default());
    careful
        .catch_up(&s.store, &acme, &everything, &config(), 50)
        .await;
    reckless
        .catch_up(&s.store, &acme, &everything, &naive, 50)
        .await;

    // when the held writer stamps its order first, and the prompt one commits before it
    let slow = {
        let held = held.clone();
        let acme = acme.clone();
        tokio::spawn(async move {
            held.upsert_object(&acme, &DomainObject::new(order(&acme, "o_held", None, 10)))
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    upsert(&prompt, order(&acme, "o_prompt", None, 11)).await;
    // and both consumers read while the held write is still in flight, and after it landed
    reckless
        .catch_up(&s.store, &acme, &everything, &naive, 50)
        .await;
    careful
        .catch_up(&s.store, &acme, &everything, &config(), 50)
        .await;
    assert_eq!(slow.await.unwrap(), packr::store::UpsertOutcome::Applied);
    reckless
        .catch_up(&s.store, &acme, &everything, &naive, 50)
        .await;
    past_horizon().await;
    careful
        .catch_up(&s.store, &acme, &everything, &config(), 50)
        .await;

    // then the consumer with the horizon has both, the held one first (its stamp is older)
    assert_eq!(careful.ids(), ["o_held", "o_prompt"]);
    // and the one without it passed the held order's place before it landed: skipped for
    // good — the case the horizon exists for (this proves the writes really crossed)
    assert_eq!(reckless.ids(), ["o_prompt"]);
}
