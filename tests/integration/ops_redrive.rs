//! `packr dlq redrive` / `inspect` against the emulator. moto has no `StartMessageMoveTask`
//! (it answers 500), so these runs exercise the receive → send → delete fallback; failures
//! are injected through the `Destination` port, not by mocking the SDK.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use clap::Parser;
use packr::ops::redrive::{move_messages, Destination, OutgoingMessage, Refusal, SqsDestination};
use packr::ops::{
    inspect, redrive, EntryFailure, FallbackReason, InspectOptions, Method, OpsError, Progress,
    RedriveMode, RedriveOptions, RedriveTarget,
};
use packr_cli::{Cli, Command, DlqCommand, QueueName};

/// A stack's webhook queue pair.
struct Queues {
    sdk: aws_config::SdkConfig,
    sqs: aws_sdk_sqs::Client,
    source_url: String,
    dlq_url: String,
}

async fn queues() -> Queues {
    let sdk = packr_local::testing::emulator_config().await;
    let stack = packr_local::testing::fresh_stack(&sdk).await;
    Queues {
        sqs: aws_sdk_sqs::Client::new(&sdk),
        sdk: sdk.clone(),
        source_url: stack.queue_url("WebhookQueue").unwrap().to_owned(),
        dlq_url: stack
            .queue_url("WebhookDeadLetterQueue")
            .unwrap()
            .to_owned(),
    }
}

fn text(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .unwrap()
}

fn tenant_of(i: usize) -> String {
    format!("tenant_{}", i % 3)
}

fn body_of(i: usize) -> String {
    format!(r#"{{"event_id":"evt_{i:03}","n":{i}}}"#)
}

/// `count` dead letters: body `body_of(i)`, attributes tenant_id / event_id / event_type;
/// the first `with_group` also carry MessageGroupId = tenant (the rest only the attribute).
async fn fill_dlq(q: &Queues, count: usize, with_group: usize) {
    let indices: Vec<usize> = (0..count).collect();
    for chunk in indices.chunks(10) {
        let mut request = q.sqs.send_message_batch().queue_url(&q.dlq_url);
        for &i in chunk {
            let tenant = tenant_of(i);
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .message_body(body_of(i))
                .message_attributes("tenant_id", text(&tenant))
                .message_attributes("event_id", text(&format!("evt_{i:03}")))
                .message_attributes("event_type", text("order.updated"));
            if i < with_group {
                entry = entry.message_group_id(tenant);
            }
            request = request.entries(entry.build().unwrap());
        }
        let out = request.send().await.unwrap();
        assert!(
            out.failed().is_empty(),
            "seeding failed: {:?}",
            out.failed()
        );
    }
}

#[derive(Debug)]
struct Received {
    body: String,
    tenant_id: Option<String>,
    event_id: Option<String>,
    group_id: Option<String>,
}

/// Every message of a queue (received and deleted), until two empty polls.
async fn drain(q: &Queues, url: &str) -> Vec<Received> {
    let mut all = Vec::new();
    let mut empty = 0;
    while empty < 2 {
        let out = q
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            empty += 1;
            continue;
        }
        for m in messages {
            let attribute = |name: &str| {
                m.message_attributes()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.string_value())
                    .map(str::to_owned)
            };
            all.push(Received {
                body: m.body().unwrap_or_default().to_owned(),
                tenant_id: attribute("tenant_id"),
                event_id: attribute("event_id"),
                group_id: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                    .cloned(),
            });
            q.sqs
                .delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    all
}

fn bodies(messages: &[Received]) -> Vec<String> {
    let mut bodies: Vec<String> = messages.iter().map(|m| m.body.clone()).collect();
    bodies.sort();
    bodies
}

fn expected_bodies(range: std::ops::Range<usize>) -> Vec<String> {
    let mut bodies: Vec<String> = range.map(body_of).collect();
    bodies.sort();
    bodies
}

fn no_progress(_: Progress) {}

fn target(q: &Queues) -> RedriveTarget {
    RedriveTarget {
        dlq_url: q.dlq_url.clone(),
        source_url: Some(q.source_url.clone()),
    }
}

/// Fails the n-th send call (1-based) as a whole; passes the others through.
struct FailingCall {
    inner: SqsDestination,
    calls: AtomicUsize,
    fail_call: usize,
}

#[async_trait]
impl Destination for FailingCall {
    async fn send_batch(
        &self,
        batch: &[OutgoingMessage],
    ) -> Result<Vec<Result<(), Refusal>>, OpsError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_call {
            return Err(OpsError::Sqs {
                operation: "SendMessageBatch",
                source: "injected: source queue unavailable".into(),
            });
        }
        self.inner.send_batch(batch).await
    }
}

/// Refuses (per entry) every message whose body matches; sends the others.
struct RefusingEntries {
    inner: SqsDestination,
    refuse: fn(&str) -> bool,
}

#[async_trait]
impl Destination for RefusingEntries {
    async fn send_batch(
        &self,
        batch: &[OutgoingMessage],
    ) -> Result<Vec<Result<(), Refusal>>, OpsError> {
        let passed: Vec<OutgoingMessage> = batch
            .iter()
            .filter(|m| !(self.refuse)(&m.body))
            .cloned()
            .collect();
        let mut sent = self.inner.send_batch(&passed).await?.into_iter();
        Ok(batch
            .iter()
            .map(|m| {
                if (self.refuse)(&m.body) {
                    Err(Refusal {
                        code: "InjectedRefusal".into(),
                        message: None,
                    })
                } else {
                    sent.next().unwrap_or(Err(Refusal {
                        code: "Missing".into(),
                        message: None,
                    }))
                }
            })
            .collect())
    }
}

#[tokio::test]
async fn redrive_moves_every_dead_letter_back_with_its_attributes_and_tenant_group() {
    // given 25 dead letters, 20 with a MessageGroupId and 5 with only the tenant_id attribute
    let q = queues().await;
    fill_dlq(&q, 25, 20).await;
    let seen = std::sync::Mutex::new(Vec::new());
    let record = |p: Progress| seen.lock().unwrap().push(p);

    // when redriving with the source resolved from the queues themselves
    let summary = redrive(
        &q.sqs,
        &RedriveTarget {
            dlq_url: q.dlq_url.clone(),
            source_url: None,
        },
        &RedriveOptions::default(),
        &record,
    )
    .await
    .unwrap();

    // then the emulator's missing move task made it fall back, and all 25 moved
    assert_eq!(summary.mode, RedriveMode::Fallback);
    assert!(matches!(
        summary.fallback_reason,
        Some(FallbackReason::MoveTaskUnavailable(_))
    ));
    assert_eq!(summary.source_url, q.source_url);
    assert_eq!(
        (summary.moved, summary.failed, summary.undeleted),
        (25, 0, 0)
    );
    assert!(summary.is_clean());
    let last = *seen.lock().unwrap().last().unwrap();
    assert_eq!((last.moved, last.failed, last.total), (25, 0, Some(25)));

    // and the source queue holds exactly those bodies, with attributes and group ids
    let moved = drain(&q, &q.source_url).await;
    assert_eq!(bodies(&moved), expected_bodies(0..25));
    for m in &moved {
        let n: usize = m.event_id.as_deref().unwrap()[4..].parse().unwrap();
        assert_eq!(m.body, body_of(n));
        assert_eq!(m.tenant_id.as_deref(), Some(tenant_of(n).as_str()));
        assert_eq!(m.group_id.as_deref(), Some(tenant_of(n).as_str()), "{m:?}");
    }
    // and the dead-letter queue is empty
    assert!(drain(&q, &q.dlq_url).await.is_empty());
}

#[tokio::test]
async fn send_failing_part_way_leaves_the_failed_batch_in_the_dlq_without_duplicates() {
    // given 25 dead letters and a source queue whose second send call fails
    let q = queues().await;
    fill_dlq(&q, 25, 25).await;
    let destination = FailingCall {
        inner: SqsDestination::new(q.sqs.clone(), q.source_url.clone()),
        calls: AtomicUsize::new(0),
        fail_call: 2,
    };

    // when moving
    let moved = move_messages(
        &q.sqs,
        &q.dlq_url,
        &destination,
        &RedriveOptions::default(),
        None,
        &no_progress,
    )
    .await;

    // then one batch of 10 failed and is reported, the rest moved
    assert_eq!((moved.moved, moved.failed, moved.undeleted), (15, 10, 0));
    assert_eq!(moved.failures.len(), 10);
    assert!(moved
        .failures
        .iter()
        .all(|f| matches!(f.failure, EntryFailure::SendFailed(_))));
    assert!(moved.stopped_by.is_none());
    // and every message is in exactly one queue: the failed ones (visible again) in the DLQ
    let in_source = drain(&q, &q.source_url).await;
    let in_dlq = drain(&q, &q.dlq_url).await;
    assert_eq!((in_source.len(), in_dlq.len()), (15, 10));
    let mut all = bodies(&in_source);
    all.extend(bodies(&in_dlq));
    all.sort();
    assert_eq!(all, expected_bodies(0..25));
    let failed_ids: BTreeSet<&str> = moved
        .failures
        .iter()
        .map(|f| f.message_id.as_str())
        .collect();
    assert_eq!(failed_ids.len(), 10);
}

#[tokio::test]
async fn refused_entries_stay_in_the_dlq_and_the_rest_of_their_batch_moves() {
    // given 12 dead letters and a source queue that refuses those with an even number
    let q = queues().await;
    fill_dlq(&q, 12, 12).await;
    let destination = RefusingEntries {
        inner: SqsDestination::new(q.sqs.clone(), q.source_url.clone()),
        refuse: |body| {
            body.split("\"n\":")
                .nth(1)
                .and_then(|n| n.trim_end_matches('}').parse::<usize>().ok())
                .is_some_and(|n| n % 2 == 0)
        },
    };

    // when moving
    let moved = move_messages(
        &q.sqs,
        &q.dlq_url,
        &destination,
        &RedriveOptions::default(),
        None,
        &no_progress,
    )
    .await;

    // then the odd ones moved, the even ones failed with the refusal and stay in the DLQ
    assert_eq!((moved.moved, moved.failed), (6, 6));
    assert!(moved.failures.iter().all(|f| matches!(
        &f.failure,
        EntryFailure::SendRefused(r) if r.code == "InjectedRefusal"
    )));
    let odd: Vec<usize> = (0..12).filter(|n| n % 2 == 1).collect();
    let even: Vec<usize> = (0..12).filter(|n| n % 2 == 0).collect();
    let sorted = |ns: &[usize]| {
        let mut b: Vec<String> = ns.iter().map(|&n| body_of(n)).collect();
        b.sort();
        b
    };
    assert_eq!(bodies(&drain(&q, &q.source_url).await), sorted(&odd));
    assert_eq!(bodies(&drain(&q, &q.dlq_url).await), sorted(&even));
}

#[tokio::test]
async fn redrive_to_a_missing_source_queue_fails_before_touching_the_dlq() {
    // given 5 dead letters and a source URL naming no queue
    let q = queues().await;
    fill_dlq(&q, 5, 5).await;
    let missing = format!("{}-missing", q.source_url);

    // when redriving there
    let result = redrive(
        &q.sqs,
        &RedriveTarget {
            dlq_url: q.dlq_url.clone(),
            source_url: Some(missing),
        },
        &RedriveOptions::default(),
        &no_progress,
    )
    .await;

    // then it is an error and all 5 are still in the DLQ
    assert!(matches!(result, Err(OpsError::Sqs { .. })), "{result:?}");
    assert_eq!(bodies(&drain(&q, &q.dlq_url).await), expected_bodies(0..5));
}

#[tokio::test]
async fn max_messages_stops_the_redrive_early() {
    // given 25 dead letters
    let q = queues().await;
    fill_dlq(&q, 25, 25).await;

    // when redriving at most 7
    let options = RedriveOptions {
        max_messages: Some(7),
        ..RedriveOptions::default()
    };
    let summary = redrive(&q.sqs, &target(&q), &options, &no_progress)
        .await
        .unwrap();

    // then 7 moved (by the fallback: a move task cannot stop at a count) and 18 remain
    assert_eq!(summary.mode, RedriveMode::Fallback);
    assert!(matches!(
        summary.fallback_reason,
        Some(FallbackReason::MessageLimit)
    ));
    assert_eq!((summary.moved, summary.failed), (7, 0));
    let in_source = drain(&q, &q.source_url).await;
    let in_dlq = drain(&q, &q.dlq_url).await;
    assert_eq!((in_source.len(), in_dlq.len()), (7, 18));
    let mut all = bodies(&in_source);
    all.extend(bodies(&in_dlq));
    all.sort();
    assert_eq!(all, expected_bodies(0..25));
}

#[tokio::test]
async fn dry_run_counts_and_moves_nothing() {
    // given 5 dead letters
    let q = queues().await;
    fill_dlq(&q, 5, 5).await;

    // when dry-running
    let options = RedriveOptions {
        dry_run: true,
        ..RedriveOptions::default()
    };
    let summary = redrive(&q.sqs, &target(&q), &options, &no_progress)
        .await
        .unwrap();

    // then it says what would move, and nothing did
    assert_eq!(summary.mode, RedriveMode::DryRun);
    assert_eq!(summary.would_move, Some(5));
    assert_eq!(summary.moved, 0);
    assert!(drain(&q, &q.source_url).await.is_empty());
    assert_eq!(drain(&q, &q.dlq_url).await.len(), 5);
}

#[tokio::test]
async fn inspect_lists_each_dead_letter_once_and_leaves_them_all_in_place() {
    // given 12 dead letters
    let q = queues().await;
    fill_dlq(&q, 12, 12).await;

    // when inspecting
    let report = inspect(&q.sqs, &q.dlq_url, &InspectOptions::default())
        .await
        .unwrap();

    // then it counts and lists each with its tenant, event and receive count
    assert_eq!(report.visible, 12);
    assert_eq!(report.messages.len(), 12);
    assert!(!report.truncated);
    let events: BTreeMap<String, Option<String>> = report
        .messages
        .iter()
        .map(|m| (m.event_id.clone().unwrap(), m.tenant_id.clone()))
        .collect();
    assert_eq!(events.len(), 12);
    for (event, tenant) in &events {
        let n: usize = event[4..].parse().unwrap();
        assert_eq!(tenant.as_deref(), Some(tenant_of(n).as_str()));
    }
    assert!(report
        .messages
        .iter()
        .all(|m| m.receive_count >= Some(1) && m.sent_at.is_some()));
    // and every message is still there, visible right away
    assert_eq!(bodies(&drain(&q, &q.dlq_url).await), expected_bodies(0..12));
}

#[tokio::test]
async fn inspect_stops_at_the_limit() {
    // given 12 dead letters
    let q = queues().await;
    fill_dlq(&q, 12, 12).await;

    // when listing at most 5
    let options = InspectOptions {
        limit: 5,
        ..InspectOptions::default()
    };
    let report = inspect(&q.sqs, &q.dlq_url, &options).await.unwrap();

    // then 5 are listed, the listing says so, and all 12 remain
    assert_eq!(report.messages.len(), 5);
    assert!(report.truncated);
    assert_eq!(drain(&q, &q.dlq_url).await.len(), 12);
}

// ---------------------------------------------------------------------------------------
// The `packr` binary's command line.
// ---------------------------------------------------------------------------------------

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn cli_parses_a_redrive_of_a_known_queue() {
    let cli = Cli::try_parse_from([
        "packr",
        "dlq",
        "redrive",
        "--queue",
        "webhook",
        "--max",
        "5",
        "--dry-run",
    ])
    .unwrap();
    let Command::Dlq(DlqCommand::Redrive(args)) = cli.command else {
        panic!("not a redrive: {cli:?}");
    };
    assert_eq!(args.queues.queue, Some(QueueName::Webhook));
    assert_eq!(args.max_messages, Some(5));
    assert!(args.dry_run);
    assert_eq!(args.batch_size, 10);
}

#[test]
fn cli_parses_a_redrive_between_explicit_urls_and_an_inspect() {
    let cli = Cli::try_parse_from([
        "packr",
        "dlq",
        "redrive",
        "--dlq-url",
        "http://q/dlq",
        "--source-url",
        "http://q/src",
    ])
    .unwrap();
    let Command::Dlq(DlqCommand::Redrive(args)) = cli.command else {
        panic!("not a redrive: {cli:?}");
    };
    assert_eq!(args.queues.dlq_url.as_deref(), Some("http://q/dlq"));
    assert_eq!(args.source_url.as_deref(), Some("http://q/src"));

    let cli = Cli::try_parse_from(["packr", "dlq", "inspect", "--queue", "sync-jobs"]).unwrap();
    assert!(matches!(
        cli.command,
        Command::Dlq(DlqCommand::Inspect(ref a)) if a.queues.queue == Some(QueueName::SyncJobs)
    ));
}

#[test]
fn cli_rejects_ambiguous_or_missing_queues_and_bad_numbers() {
    for argv in [
        vec!["packr", "dlq", "redrive"],
        vec![
            "packr",
            "dlq",
            "redrive",
            "--queue",
            "webhook",
            "--dlq-url",
            "u",
        ],
        vec!["packr", "dlq", "redrive", "--source-url", "u"],
        vec!["packr", "dlq", "redrive", "--queue", "orders"],
        vec![
            "packr", "dlq", "redrive", "--queue", "webhook", "--max", "-1",
        ],
        vec![
            "packr",
            "dlq",
            "redrive",
            "--queue",
            "webhook",
            "--batch-size",
            "11",
        ],
        vec!["packr", "dlq", "inspect"],
    ] {
        assert!(Cli::try_parse_from(&argv).is_err(), "accepted {argv:?}");
    }
}

#[test]
fn known_queue_urls_come_from_the_environment() {
    // given the webhook variables set
    let env = |name: &str| match name {
        "WEBHOOK_DLQ_URL" => Some("http://q/dlq".to_owned()),
        "WEBHOOK_QUEUE_URL" => Some("http://q/src".to_owned()),
        _ => None,
    };
    let cli = Cli::try_parse_from(["packr", "dlq", "redrive", "--queue", "webhook"]).unwrap();
    let Command::Dlq(DlqCommand::Redrive(args)) = cli.command else {
        panic!("not a redrive");
    };

    // when resolving, then both URLs come from the environment
    let target = packr_cli::resolve_queues(&args.queues, None, &env).unwrap();
    assert_eq!(target.dlq_url, "http://q/dlq");
    assert_eq!(target.source_url.as_deref(), Some("http://q/src"));
    // and without them it names the missing variable
    let missing = packr_cli::resolve_queues(&args.queues, None, &no_env).unwrap_err();
    assert!(missing.to_string().contains("WEBHOOK_DLQ_URL"), "{missing}");
}

#[tokio::test]
async fn cli_redrive_prints_the_summary_and_exits_successfully() {
    // given 3 dead letters
    let q = queues().await;
    fill_dlq(&q, 3, 3).await;
    let env = |name: &str| match name {
        "WEBHOOK_DLQ_URL" => Some(q.dlq_url.clone()),
        "WEBHOOK_QUEUE_URL" => Some(q.source_url.clone()),
        _ => None,
    };
    let cli = Cli::try_parse_from([
        "packr", "dlq", "redrive", "--queue", "webhook", "--method", "fallback",
    ])
    .unwrap();

    // when running it
    let mut out = Vec::new();
    let code = packr_cli::run(cli, &q.sdk, &env, &mut out).await.unwrap();

    // then it succeeded and the table says so
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{out}");
    assert!(out.contains("moved       3"), "{out}");
    assert!(out.contains("failed      0"), "{out}");
    assert_eq!(drain(&q, &q.source_url).await.len(), 3);
}

#[test]
fn method_flag_maps_to_the_library_method() {
    let cli = Cli::try_parse_from([
        "packr",
        "dlq",
        "redrive",
        "--queue",
        "webhook",
        "--method",
        "move-task",
        "--rate",
        "50",
    ])
    .unwrap();
    let Command::Dlq(DlqCommand::Redrive(args)) = cli.command else {
        panic!("not a redrive");
    };
    let options = RedriveOptions::from(&args);
    assert_eq!(options.method, Method::MoveTask);
    assert_eq!(options.max_per_second, Some(50));
}
