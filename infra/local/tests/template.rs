//! Reading template.yaml: the repository's template, and clear errors for broken ones.

use packr_local::template::{
    AttributeType, Projection, RedriveAllow, SecretValueSpec, Template, TemplateError,
};

fn repo() -> Template {
    Template::repo_default().expect("the repository's template.yaml parses")
}

fn repo_text() -> String {
    std::fs::read_to_string(packr_local::template::repo_template_path())
        .expect("template.yaml is readable")
}

#[test]
fn repo_template_declares_the_table_with_five_gsis_and_ttl() {
    let table = repo().table().expect("one table");
    assert_eq!(table.logical_id, "PackrTable");
    assert_eq!(
        (
            table.key_schema.hash.as_str(),
            table.key_schema.range.as_deref()
        ),
        ("pk", Some("sk"))
    );
    let indexes: Vec<(&str, &str, Option<&str>)> = table
        .global_secondary_indexes
        .iter()
        .map(|i| {
            (
                i.name.as_str(),
                i.key_schema.hash.as_str(),
                i.key_schema.range.as_deref(),
            )
        })
        .collect();
    // The final layout (TableIndexStep's default): the brand listing and the SKU lookup
    // on their old key attributes under new names (issue 22).
    assert_eq!(
        indexes,
        [
            ("gsi2", "gsi2pk", Some("gsi2sk")),
            ("gsi4", "gsi4pk", Some("gsi4sk")),
            ("gsi5", "chgpk", Some("chgsk")),
            ("gsi6", "gsi1pk", Some("gsi1sk")),
            ("gsi7", "gsi3pk", Some("gsi3sk")),
        ]
    );
    // The tenant listing (shared with the small collections) and the sparse gsi4 project
    // everything; the brand listing what a listing reads and filters on; the feed what it
    // filters and labels on; the SKU lookup only keys.
    let include =
        |names: &[&str]| Projection::Include(names.iter().map(|n| (*n).to_owned()).collect());
    for index in &table.global_secondary_indexes {
        let expected = match index.name.as_str() {
            "gsi5" => include(&["brand_id", "deleted_at", "created_us"]),
            "gsi6" => include(&["body", "status", "warehouse_id", "connection_id", "id"]),
            "gsi7" => Projection::KeysOnly,
            _ => Projection::All,
        };
        assert_eq!(index.projection, expected, "{}", index.name);
    }
    assert!(table
        .attribute_definitions
        .iter()
        .all(|d| d.attribute_type == AttributeType::S));
    assert_eq!(table.attribute_definitions.len(), 12);
    assert_eq!(table.ttl_attribute.as_deref(), Some("expires_at"));
    assert!(table.point_in_time_recovery && table.sse_enabled);
}

/// The table's (index name, projection type) at one step of `TableIndexStep`.
fn indexes_at(step: Option<&str>) -> Vec<(String, String)> {
    let overrides: Vec<(&str, &str)> = step.map(|s| ("TableIndexStep", s)).into_iter().collect();
    Template::parse_with("template.yaml", &repo_text(), &overrides)
        .expect("parses")
        .table()
        .expect("one table")
        .global_secondary_indexes
        .iter()
        .map(|i| (i.name.clone(), i.projection.type_name().to_owned()))
        .collect()
}

#[test]
fn each_step_of_the_index_migration_creates_or_deletes_one_index_at_most() {
    // Given the indexes a stack had before the migration (issue 22)
    let before: Vec<(String, String)> = [
        ("gsi1", "ALL"),
        ("gsi2", "ALL"),
        ("gsi3", "ALL"),
        ("gsi4", "ALL"),
        ("gsi5", "INCLUDE"),
    ]
    .iter()
    .map(|(n, p)| ((*n).to_owned(), (*p).to_owned()))
    .collect();
    // When the stack takes TableIndexStep 1, 2, 3, 4, 5 in turn
    let mut layouts = vec![before];
    for step in ["1", "2", "3", "4", "5"] {
        layouts.push(indexes_at(Some(step)));
    }
    // Then each deploy creates or deletes at most one GSI (DynamoDB's and CloudFormation's
    // rule) and changes no index in place (a projection cannot be changed)
    for (n, pair) in layouts.windows(2).enumerate() {
        let (old, new) = (&pair[0], &pair[1]);
        let names = |l: &Vec<(String, String)>| -> std::collections::BTreeSet<String> {
            l.iter().map(|(n, _)| n.clone()).collect()
        };
        let changed = names(old).symmetric_difference(&names(new)).count();
        assert!(changed <= 1, "step {}: {old:?} → {new:?}", n + 1);
        for (name, projection) in new {
            if let Some((_, was)) = old.iter().find(|(o, _)| o == name) {
                assert_eq!(was, projection, "step {}: {name} changed in place", n + 1);
            }
        }
    }
    // and the last step is the default a new stack takes
    assert_eq!(layouts[5], indexes_at(None));
    // and the steps that keep the old indexes are the ones whose functions read them
    // (TABLE_INDEX_STEP; packr::store::keys::IndexLayout reads the new ones from step 3)
    let has = |step: &str, name: &str| indexes_at(Some(step)).iter().any(|(n, _)| n == name);
    for step in ["1", "2", "3"] {
        assert!(
            has(step, "gsi1") && has(step, "gsi3") && has(step, "gsi6"),
            "{step}"
        );
    }
    assert!(!has("1", "gsi7") && has("2", "gsi7") && has("3", "gsi7"));
}

#[test]
fn every_function_is_told_the_index_migrations_step() {
    // The functions choose which indexes to read from TABLE_INDEX_STEP
    // (packr::store::keys::IndexLayout).
    let functions = repo().functions().expect("functions parse");
    assert!(!functions.is_empty());
    for function in functions {
        assert_eq!(
            function.environment.get("TABLE_INDEX_STEP"),
            Some(&packr_local::template::EnvValue::Ref(
                "TableIndexStep".into()
            )),
            "{}",
            function.logical_id
        );
    }
}

#[test]
fn repo_template_queues_redrive_to_their_dead_letter_queues() {
    let queues = repo().queues().expect("queues parse");
    let ids: Vec<&str> = queues.iter().map(|q| q.logical_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "LifecycleJobsDeadLetterQueue",
            "LifecycleJobsQueue",
            "SyncJobsDeadLetterQueue",
            "SyncJobsQueue",
            "WebhookDeadLetterQueue",
            "WebhookQueue"
        ]
    );
    let webhook = queues
        .iter()
        .find(|q| q.logical_id == "WebhookQueue")
        .expect("WebhookQueue");
    let redrive = webhook
        .redrive
        .as_ref()
        .expect("WebhookQueue has a redrive policy");
    assert_eq!(redrive.dead_letter_queue, "WebhookDeadLetterQueue");
    assert_eq!(redrive.max_receive_count, 5);
    assert_eq!(
        webhook
            .attributes
            .get("VisibilityTimeout")
            .map(String::as_str),
        Some("180")
    );

    let dlq = queues
        .iter()
        .find(|q| q.logical_id == "WebhookDeadLetterQueue")
        .expect("DLQ");
    assert_eq!(dlq.redrive, None);
    assert_eq!(
        dlq.redrive_allow,
        Some(RedriveAllow::ByQueue(vec!["WebhookQueue".to_owned()]))
    );
    assert_eq!(
        dlq.attributes
            .get("MessageRetentionPeriod")
            .map(String::as_str),
        Some("1209600")
    );

    let sync_dlq = queues
        .iter()
        .find(|q| q.logical_id == "SyncJobsDeadLetterQueue")
        .expect("sync DLQ");
    assert_eq!(
        sync_dlq.redrive_allow,
        Some(RedriveAllow::ByQueue(vec!["SyncJobsQueue".to_owned()]))
    );
}

#[test]
fn repo_template_declares_the_five_secrets() {
    let secrets = repo().secrets().expect("secrets parse");
    let ids: Vec<&str> = secrets.iter().map(|s| s.logical_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "AuditChainSecret",
            "CursorSigningSecret",
            "PrivacyHashSecret",
            "TrackstarApiKeySecret",
            "WebhookSigningSecret"
        ]
    );
    // the three keys Packr only ever reads are generated at deploy
    for generated in &secrets[..3] {
        assert!(
            matches!(
                generated.value,
                SecretValueSpec::Generated { length: 64, .. }
            ),
            "{}",
            generated.logical_id
        );
    }
}

#[test]
fn broken_yaml_is_reported_with_its_location() {
    let error =
        Template::parse("broken.yaml", "Resources:\n  A: [unclosed\n").expect_err("invalid YAML");
    let message = error.to_string();
    assert!(matches!(error, TemplateError::Yaml { .. }), "{error:?}");
    assert!(
        message.contains("broken.yaml") && message.contains("line"),
        "{message}"
    );
}

#[test]
fn a_document_without_resources_is_not_a_template() {
    let error = Template::parse("empty.yaml", "Parameters: {}\n").expect_err("no Resources");
    assert_eq!(
        error.to_string(),
        "template empty.yaml is not a CloudFormation template: it has no Resources section"
    );
}

#[test]
fn a_missing_file_names_the_path() {
    let error = Template::load("/nonexistent/template.yaml").expect_err("no such file");
    assert!(
        error.to_string().contains("/nonexistent/template.yaml"),
        "{error}"
    );
}

#[test]
fn an_unknown_table_property_names_resource_and_property() {
    let text = repo_text().replace("      BillingMode: PAY_PER_REQUEST\n", "      BillingMode: PAY_PER_REQUEST\n      StreamSpecification: { StreamViewType: NEW_IMAGE }\n");
    let error = Template::parse("changed.yaml", &text)
        .expect("parses")
        .table()
        .expect_err("unknown property");
    let message = error.to_string();
    assert!(
        message.starts_with("resource PackrTable, property StreamSpecification: not understood"),
        "{message}"
    );
}

#[test]
fn a_redrive_to_an_unknown_queue_is_rejected() {
    let text = repo_text().replace(
        "!GetAtt WebhookDeadLetterQueue.Arn",
        "!GetAtt NoSuchQueue.Arn",
    );
    let error = Template::parse("changed.yaml", &text)
        .expect("parses")
        .queues()
        .expect_err("unknown queue");
    let message = error.to_string();
    assert!(
        message.contains("WebhookQueue") && message.contains("NoSuchQueue"),
        "{message}"
    );
}

#[test]
fn a_key_without_attribute_definition_is_rejected() {
    let text = repo_text().replace(
        "        - { AttributeName: gsi3sk, AttributeType: S }\n",
        "",
    );
    let error = Template::parse("changed.yaml", &text)
        .expect("parses")
        .table()
        .expect_err("undefined key");
    assert!(
        error.to_string().contains("\"gsi3sk\" has no definition"),
        "{error}"
    );
}

#[test]
fn a_template_without_a_table_says_so() {
    let text = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n";
    let error = Template::parse("t.yaml", text)
        .expect("parses")
        .table()
        .expect_err("no table");
    assert_eq!(
        error.to_string(),
        "the template declares no AWS::DynamoDB::Table"
    );
}

#[test]
fn repo_template_schedules_are_found_with_their_parameters_and_targets_resolved() {
    // given the repository's template
    let template = repo();

    // when its rules are read
    let rules = template.rules().expect("the rules parse");

    // then the incremental sync runs at the parameter's default, at sync-scheduler
    let incremental = rules
        .iter()
        .find(|r| r.logical_id == "IncrementalSyncSchedule")
        .expect("IncrementalSyncSchedule");
    let default = template.parameters()["IncrementalSyncRate"].clone();
    assert_eq!(incremental.schedule_expression, default);
    assert_eq!(
        incremental.schedule_expression.as_deref(),
        Some("rate(10 minutes)")
    );
    assert!(incremental.enabled);
    let targets: Vec<&str> = incremental
        .targets
        .iter()
        .map(|t| t.function.as_str())
        .collect();
    assert_eq!(targets, ["SyncSchedulerFunction"]);
    // and the reconcile rule is a nightly cron asking sync-scheduler for reconciliations
    let reconcile = rules
        .iter()
        .find(|r| r.logical_id == "ReconcileSchedule")
        .expect("ReconcileSchedule");
    assert!(reconcile.enabled);
    assert_eq!(reconcile.targets.len(), 1);
    assert_eq!(reconcile.targets[0].function, "SyncSchedulerFunction");
    assert_eq!(
        reconcile.targets[0].input,
        Some(serde_json::json!({"kind": "reconcile"}))
    );
    assert_eq!(
        reconcile.schedule_expression.as_deref(),
        Some("cron(0 3 * * ? *)")
    );
    // and the parked-events sweep asks sync-scheduler hourly
    let sweep = rules
        .iter()
        .find(|r| r.logical_id == "ParkedEventsSweepSchedule")
        .expect("ParkedEventsSweepSchedule");
    assert_eq!(sweep.targets[0].function, "SyncSchedulerFunction");
    assert_eq!(
        sweep.targets[0].input,
        Some(serde_json::json!({"kind": "parked-sweep"}))
    );
    assert_eq!(sweep.schedule_expression.as_deref(), Some("rate(1 hour)"));
    // and every expression is one the local runner understands
    let runner = packr_local::schedule::ScheduleRunner::new(
        rules,
        "t",
        packr_local::schedule::Pace::RealTime,
    )
    .expect("every schedule expression parses");
    assert_eq!(runner.rules().len(), 4);
}

#[test]
fn repo_template_runs_the_retention_sweep_on_data_lifecycle_at_its_rate() {
    // given the repository's template
    let template = repo();
    // when its rules are read
    let rules = template.rules().expect("the rules parse");
    // then the data-lifecycle schedule runs daily by default (DataLifecycleRate), asking
    // data-lifecycle for the retention sweep
    let sweep = rules
        .iter()
        .find(|r| r.logical_id == "DataLifecycleSchedule")
        .expect("DataLifecycleSchedule");
    assert!(sweep.enabled);
    assert_eq!(sweep.schedule_expression.as_deref(), Some("rate(1 day)"));
    assert_eq!(
        template.parameters()["DataLifecycleRate"].as_deref(),
        Some("rate(1 day)")
    );
    assert_eq!(sweep.targets.len(), 1);
    assert_eq!(sweep.targets[0].function, "DataLifecycleFunction");
    assert_eq!(
        sweep.targets[0].input,
        Some(serde_json::json!({"kind": "retention-sweep"}))
    );
}

#[test]
fn repo_template_data_lifecycle_consumes_its_queue_one_job_at_a_time_within_its_visibility() {
    // given the data-lifecycle function and its queue
    let template = repo();
    let function = template
        .function("DataLifecycleFunction")
        .expect("DataLifecycleFunction");
    let queues = template.queues().expect("queues");
    let queue = queues
        .iter()
        .find(|q| q.logical_id == "LifecycleJobsQueue")
        .expect("LifecycleJobsQueue");
    // then it takes one job per invocation, and the queue hides
    // a message for 6 × its timeout, then sends it to its DLQ after 5 receives
    let event = function
        .sqs_events
        .iter()
        .find(|e| e.queue == "LifecycleJobsQueue")
        .expect("an SQS event on LifecycleJobsQueue");
    assert_eq!(event.batch_size, 1);
    let timeout = function.timeout.expect("a timeout");
    assert_eq!(
        queue
            .attributes
            .get("VisibilityTimeout")
            .map(String::as_str),
        Some((6 * timeout).to_string().as_str())
    );
    let redrive = queue.redrive.as_ref().expect("a redrive policy");
    assert_eq!(redrive.dead_letter_queue, "LifecycleJobsDeadLetterQueue");
    assert_eq!(redrive.max_receive_count, 5);
    assert_eq!(function.binary.as_deref(), Some("data-lifecycle"));
}

#[test]
fn repo_template_export_bucket_is_encrypted_private_owner_enforced_tls_only_and_expires() {
    // given the repository's template
    let template = repo();
    // when its buckets are read
    let buckets = template.buckets().expect("buckets parse");
    // then the one bucket is the export bucket
    assert_eq!(buckets.len(), 1);
    let bucket = &buckets[0];
    assert_eq!(bucket.logical_id, "ExportBucket");
    // encrypted at rest, every public access blocked, ACLs off, TLS only
    assert!(
        matches!(bucket.encryption.as_deref(), Some("AES256" | "aws:kms")),
        "{:?}",
        bucket.encryption
    );
    assert_eq!(bucket.public_access_block, [true; 4]);
    assert_eq!(
        bucket.object_ownership.as_deref(),
        Some("BucketOwnerEnforced")
    );
    assert!(
        bucket.tls_only,
        "a bucket policy denies requests without TLS"
    );
    // and its exports expire after ExportExpiryDays (7 by default)
    assert_eq!(
        template.parameters()["ExportExpiryDays"].as_deref(),
        Some("7")
    );
    let rule = bucket
        .lifecycle_rules
        .iter()
        .find(|r| r.enabled && r.prefix.as_deref() == Some("exports/"))
        .expect("an enabled rule on exports/");
    assert_eq!(rule.expiration_days, Some(7));
    assert_eq!(rule.abort_incomplete_upload_days, Some(7));
}

#[test]
fn repo_template_functions_take_the_global_memory_size_unless_they_set_their_own() {
    let functions = repo().functions().expect("functions");
    assert!(!functions.is_empty());
    for function in functions {
        assert_eq!(
            function.memory_mb,
            Some(256),
            "{} (Globals.Function.MemorySize)",
            function.logical_id
        );
    }
}

#[test]
fn repo_template_sync_worker_consumes_sync_jobs_one_at_a_time_within_its_timeout() {
    let worker = repo()
        .function("SyncWorkerFunction")
        .expect("SyncWorkerFunction");
    assert_eq!(worker.timeout, Some(120));
    let event = worker
        .sqs_events
        .iter()
        .find(|e| e.queue == "SyncJobsQueue")
        .expect("an SQS event on SyncJobsQueue");
    assert_eq!(event.batch_size, 1);
    assert_eq!(event.maximum_concurrency, Some(5));
}

#[test]
fn a_rule_targeting_something_that_is_not_a_function_is_refused() {
    let text = r#"
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Tick:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(1 hour)
      Targets:
        - Id: t
          Arn: !GetAtt Topic.Arn
"#;
    let template = Template::parse("inline", text).expect("parses");
    let error = template.rules().expect_err("refused");
    assert!(error.to_string().contains("not a function"), "{error}");
}

#[test]
fn a_function_without_its_own_memory_size_is_billed_by_the_global_one() {
    let template = packr_local::template::Template::parse(
        "inline",
        "Globals:\n  Function:\n    MemorySize: 256\nResources:\n  A:\n    Type: AWS::Serverless::Function\n    Properties: {}\n  B:\n    Type: AWS::Serverless::Function\n    Properties:\n      MemorySize: 1024\n",
    )
    .expect("template parses");
    assert_eq!(template.function("A").expect("A").memory_mb, Some(256));
    assert_eq!(template.function("B").expect("B").memory_mb, Some(1024));
}

/// The route groups of the HTTP API and the scope each needs (template parameters at
/// their defaults): reads, writes, admin actions.
fn expected_scope(method: &str, path: &str) -> &'static str {
    use packr_local::dev_jwt::{ADMIN_SCOPE, READ_SCOPE, WRITE_SCOPE};
    match (method, path) {
        ("GET", "/audit" | "/connections")
        | (_, "/sync/run" | "/sync/backfill" | "/sync/replay") => ADMIN_SCOPE,
        (_, p)
            if p.starts_with("/connections/")
                || p.starts_with("/offboardings/")
                || p.starts_with("/privacy/") =>
        {
            ADMIN_SCOPE
        }
        ("DELETE", p) if p.starts_with("/brands/") => ADMIN_SCOPE,
        ("GET", _) => READ_SCOPE,
        _ => WRITE_SCOPE,
    }
}

#[test]
fn every_authorized_route_declares_the_scope_of_its_group() {
    // given the repository's template
    let routes = repo().http_routes().expect("routes parse");
    assert!(routes.len() >= 20, "{} routes", routes.len());
    // then every route behind the authorizer names its own scopes (ID tokens, which carry
    // none, pass no route), one of the three groups', and only the docs routes are open
    let mut open = Vec::new();
    for route in &routes {
        let Some(authorizer) = &route.authorizer else {
            open.push(route.route_key());
            continue;
        };
        assert_eq!(authorizer, "PackrJwt", "{}", route.route_key());
        assert!(
            route.scopes_declared,
            "{} declares no AuthorizationScopes",
            route.route_key()
        );
        assert_eq!(
            route.scopes,
            vec![expected_scope(&route.method, &route.path)],
            "{}",
            route.route_key()
        );
    }
    open.sort();
    assert_eq!(
        open,
        vec![
            "ANY $default",
            "GET /docs",
            "GET /docs/assets/{file}",
            "GET /openapi.json"
        ]
    );
}

#[test]
fn the_dev_tokens_scopes_are_the_template_s_defaults() {
    use packr_local::dev_jwt::{ADMIN_SCOPE, READ_SCOPE, WRITE_SCOPE};
    let template = repo();
    let default = |name: &str| template.parameters()[name].clone();
    assert_eq!(default("ApiReadScope").as_deref(), Some(READ_SCOPE));
    assert_eq!(default("ApiWriteScope").as_deref(), Some(WRITE_SCOPE));
    assert_eq!(default("ApiAdminScope").as_deref(), Some(ADMIN_SCOPE));
}

#[test]
fn a_route_without_scopes_takes_the_authorizer_s_and_an_open_route_none() {
    // given an API whose authorizer defaults to an admin scope, and three routes
    let text = r#"
Parameters:
  Admin:
    Type: String
    Default: x/admin
  Read:
    Type: String
    Default: x/read
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            AuthorizationScopes: [!Ref Admin]
  F:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Listed:
          Type: HttpApi
          Properties: { ApiId: !Ref Api, Method: GET, Path: /a, Auth: { AuthorizationScopes: [!Ref Read, literal/scope] } }
        Forgotten:
          Type: HttpApi
          Properties: { ApiId: !Ref Api, Method: POST, Path: /a }
        Open:
          Type: HttpApi
          Properties: { ApiId: !Ref Api, Method: GET, Path: /docs, Auth: { Authorizer: NONE } }
"#;
    // when its routes are read
    let routes = Template::parse("inline", text)
        .expect("parses")
        .http_routes()
        .expect("routes");
    let route = |key: &str| {
        routes
            .iter()
            .find(|r| r.route_key() == key)
            .unwrap_or_else(|| panic!("{key}"))
    };
    // then the route's own scopes win, a route without any falls back to the authorizer's
    // (fail closed, as SAM does), and an open route needs none
    assert_eq!(route("GET /a").scopes, vec!["x/read", "literal/scope"]);
    assert!(route("GET /a").scopes_declared);
    assert_eq!(route("POST /a").scopes, vec!["x/admin"]);
    assert!(!route("POST /a").scopes_declared);
    assert_eq!(route("GET /docs").authorizer, None);
    assert!(route("GET /docs").scopes.is_empty());
}

#[test]
fn a_scope_referring_to_no_parameter_is_refused() {
    let text = r#"
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties: { Auth: { DefaultAuthorizer: Jwt } }
  F:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        E:
          Type: HttpApi
          Properties: { ApiId: !Ref Api, Method: GET, Path: /a, Auth: { AuthorizationScopes: [!Ref Missing] } }
"#;
    let error = Template::parse("inline", text)
        .expect("parses")
        .http_routes()
        .expect_err("refused");
    assert!(error.to_string().contains("Missing"), "{error}");
}

#[test]
fn webhook_ingest_runs_within_its_reserved_concurrency_parameter() {
    // given the repository's template
    let template = repo();
    let ingest = template
        .resource_properties("WebhookIngestFunction")
        .expect("WebhookIngestFunction");
    // then its public URL's function has reserved concurrency, from the parameter
    let reserved = ingest
        .get("ReservedConcurrentExecutions")
        .expect("ReservedConcurrentExecutions is set");
    assert_eq!(
        packr_local::template::value_of(reserved),
        packr_local::template::EnvValue::Ref("WebhookIngestReservedConcurrency".into())
    );
    let default: u64 = template.parameters()["WebhookIngestReservedConcurrency"]
        .as_deref()
        .expect("a default")
        .parse()
        .expect("a number");
    assert!((1..=100).contains(&default), "{default}");
}

#[test]
fn every_retention_knob_is_a_parameter_every_function_gets() {
    // given the repository's template
    let template = repo();
    let functions = template.functions().expect("the functions parse");
    assert!(!functions.is_empty());
    for (parameter, default, variable) in [
        (
            "ConnectionErasureGraceDays",
            "30",
            "CONNECTION_ERASURE_GRACE_DAYS",
        ),
        (
            "TombstonePersonalDataDays",
            "7",
            "TOMBSTONE_PERSONAL_DATA_DAYS",
        ),
        ("ReplayWindowDays", "14", "REPLAY_WINDOW_DAYS"),
        (
            "RejectedDeliveryRetentionDays",
            "30",
            "REJECTED_DELIVERY_RETENTION_DAYS",
        ),
        ("AuditRetentionDays", "365", "AUDIT_RETENTION_DAYS"),
        ("BillRetentionYears", "7", "BILL_RETENTION_YEARS"),
        ("MessageRetentionDays", "0", "MESSAGE_RETENTION_DAYS"),
    ] {
        // then the parameter has the README's default
        assert_eq!(
            template.parameters()[parameter].as_deref(),
            Some(default),
            "{parameter}"
        );
        // and every function reads it from its environment
        for function in &functions {
            assert_eq!(
                function.environment.get(variable),
                Some(&packr_local::template::EnvValue::Ref(parameter.into())),
                "{} {variable}",
                function.logical_id
            );
        }
    }
}

#[test]
fn the_point_in_time_recovery_window_is_a_parameter_of_35_days() {
    // given the repository's template
    let template = repo();
    let table = template
        .resource_properties("PackrTable")
        .expect("PackrTable");
    // then point-in-time recovery is on, its window from PointInTimeRecoveryDays
    let pitr = table
        .get("PointInTimeRecoverySpecification")
        .expect("PointInTimeRecoverySpecification");
    assert_eq!(
        pitr.get("PointInTimeRecoveryEnabled"),
        Some(&serde_yaml::Value::Bool(true))
    );
    assert_eq!(
        packr_local::template::value_of(pitr.get("RecoveryPeriodInDays").expect("a window")),
        packr_local::template::EnvValue::Ref("PointInTimeRecoveryDays".into())
    );
    // and its default is DynamoDB's longest window, 35 days
    assert_eq!(
        template.parameters()["PointInTimeRecoveryDays"].as_deref(),
        Some("35")
    );
}
