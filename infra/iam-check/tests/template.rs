//! The check against template.yaml itself, and against the webhook-ingest role as it was
//! before the check existed (receipts of unroutable and rejected webhooks denied on AWS).

use std::collections::BTreeMap;

use packr_iam_check::check;
use packr_iam_check::policy::{evaluate, Context, Decision, Request};
use packr_iam_check::recording::{Authorization, LEADING_KEYS};
use packr_iam_check::roles::{function_policies, FunctionPolicy};
use packr_local::template::Template;

const TABLE_ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/stack-PackrTable";

fn put(function: &str, key: &str) -> Authorization {
    let mut context = Context::new();
    context.insert(LEADING_KEYS.to_owned(), vec![key.to_owned()]);
    Authorization {
        function: function.to_owned(),
        operation: "PutItem".to_owned(),
        request: Request {
            action: "dynamodb:PutItem".to_owned(),
            resource: TABLE_ARN.to_owned(),
            context,
        },
    }
}

fn policy_of<'a>(functions: &'a [FunctionPolicy], name: &str) -> &'a FunctionPolicy {
    functions
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} is in the template"))
}

/// The webhook-ingest role as it was: receipts only under `T#…`.
const OLD_INGEST_TEMPLATE: &str = r#"
Resources:
  PackrTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - { AttributeName: pk, AttributeType: S }
        - { AttributeName: sk, AttributeType: S }
      KeySchema:
        - { AttributeName: pk, KeyType: HASH }
        - { AttributeName: sk, KeyType: RANGE }
  WebhookIngestFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: webhook-ingest
    Properties:
      Role: !GetAtt WebhookIngestRole.Arn
  WebhookIngestRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: webhook-ingest
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: ConnectionLookup
                Effect: Allow
                Action: dynamodb:GetItem
                Resource: !GetAtt PackrTable.Arn
                Condition:
                  ForAllValues:StringLike:
                    dynamodb:LeadingKeys: ["CONN#*"]
              - Sid: RecordReceipts
                Effect: Allow
                Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem]
                Resource: !GetAtt PackrTable.Arn
                Condition:
                  ForAllValues:StringLike:
                    dynamodb:LeadingKeys: ["T#*"]
"#;

#[test]
fn the_old_ingest_role_denies_the_receipt_of_an_unroutable_webhook_and_the_check_fails() {
    // given the role before the fix, and the PutItem ingest makes for a webhook of an
    // unknown connection
    let template = Template::parse("old-ingest", OLD_INGEST_TEMPLATE).unwrap();
    let functions = function_policies(&template).unwrap();
    let ingest = policy_of(&functions, "webhook-ingest");
    let unroutable = put("webhook-ingest", "UNROUTABLE#conn_nobody");
    // when
    let decision = evaluate(&ingest.statements(), &unroutable.request);
    let report = check::run(
        &functions,
        &[unroutable, put("webhook-ingest", "T#acme#EVT#msg_1")],
        &BTreeMap::new(),
    );
    // then
    assert_eq!(decision, Decision::ImplicitDeny);
    assert!(report.failed());
    assert_eq!(
        report.denials.len(),
        1,
        "only the UNROUTABLE# write is denied"
    );
    let (key, denial) = report.denials.iter().next().unwrap();
    assert_eq!(key.action, "dynamodb:PutItem");
    assert_eq!(key.key_shapes, ["UNROUTABLE#*"]);
    assert!(
        denial
            .near_misses
            .iter()
            .any(|m| m.starts_with("RecordReceipts")),
        "{denial:?}"
    );
    let text = check::render(&report, &functions);
    assert!(text.contains("DENIED"), "{text}");
    assert!(text.contains("\"UNROUTABLE#*\""), "{text}");
}

#[test]
fn the_template_lets_ingest_park_and_record_rejected_events_and_write_nothing_else() {
    // given the repository's template
    let template = Template::repo_default().unwrap();
    let functions = function_policies(&template).unwrap();
    let ingest = policy_of(&functions, "webhook-ingest").statements();
    // then parked events and the ops records of refused deliveries are allowed
    for key in ["PARKED#conn_x", "REJECTED#2026-01-01"] {
        assert!(
            matches!(
                evaluate(&ingest, &put("webhook-ingest", key).request),
                Decision::Allowed(_)
            ),
            "{key}"
        );
    }
    // and nothing else: routes are read-only, and tenant data (receipts included: the
    // processor writes an event's one record) is not ingest's to write
    for key in ["CONN#conn_x", "T#acme#EVT#msg_1", "UNROUTABLE#conn_x"] {
        assert_eq!(
            evaluate(&ingest, &put("webhook-ingest", key).request),
            Decision::ImplicitDeny,
            "{key}"
        );
    }
}

#[test]
fn the_listing_and_lookup_functions_may_query_the_new_indexes_of_issue_22() {
    // given the repository's template (TableIndexStep's default: gsi6 and gsi7 read)
    let template = Template::repo_default().unwrap();
    let functions = function_policies(&template).unwrap();
    let query = |index: &str, key: &str| {
        let mut context = Context::new();
        context.insert(LEADING_KEYS.to_owned(), vec![key.to_owned()]);
        Request {
            action: "dynamodb:Query".to_owned(),
            resource: format!("{TABLE_ARN}/index/{index}"),
            context,
        }
    };
    // then the brand listings may read gsi6 and the SKU lookup gsi7, within the tenant
    for (function, index, key) in [
        ("api-orders", "gsi6", "T#acme#B#b1#ORDER"),
        ("api-inventory", "gsi6", "T#acme#B#b1#INVENTORY"),
        ("api-inventory", "gsi7", "T#acme#INVENTORY#SKU#TEE"),
    ] {
        let statements = policy_of(&functions, function).statements();
        assert!(
            matches!(
                evaluate(&statements, &query(index, key)),
                Decision::Allowed(_)
            ),
            "{function} {index}"
        );
    }
    // and the old ones too (steps 1 and 2 of the migration read them)
    let inventory = policy_of(&functions, "api-inventory").statements();
    for index in ["gsi1", "gsi3"] {
        assert!(matches!(
            evaluate(&inventory, &query(index, "T#acme#INVENTORY#SKU#TEE")),
            Decision::Allowed(_)
        ));
    }
}

#[test]
fn every_function_of_the_template_has_its_statements_resolved() {
    let template = Template::repo_default().unwrap();
    let functions = function_policies(&template).unwrap();
    assert_eq!(functions.len(), template.functions().unwrap().len());
    for function in &functions {
        assert!(!function.statements.is_empty(), "{}", function.name);
        // only the log groups' ARNs have no local value
        for note in &function.unresolved {
            assert!(note.contains("LogGroup"), "{}: {note}", function.name);
        }
    }
}

fn s3_request(action: &str, key: &str) -> Request {
    Request {
        action: action.to_owned(),
        resource: format!("arn:aws:s3:::stack-exportbucket/{key}"),
        context: Context::new(),
    }
}

#[test]
fn data_lifecycle_writes_exports_only_under_exports_and_api_connections_only_reads_them() {
    // given the repository's template
    let template = Template::repo_default().unwrap();
    let functions = function_policies(&template).unwrap();
    let lifecycle = policy_of(&functions, "data-lifecycle").statements();
    let api = policy_of(&functions, "api-connections").statements();
    let allowed = |statements: &[packr_iam_check::policy::Statement], request: &Request| {
        matches!(evaluate(statements, request), Decision::Allowed(_))
    };
    // then data-lifecycle writes (and checks) export files under exports/
    for action in ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"] {
        assert!(
            allowed(
                &lifecycle,
                &s3_request(action, "exports/acme/lc_1/orders.jsonl")
            ),
            "{action}"
        );
    }
    // and nothing elsewhere in the bucket, nor deletes, nor the bucket's configuration
    assert!(!allowed(
        &lifecycle,
        &s3_request("s3:PutObject", "other/x.jsonl")
    ));
    assert!(!allowed(
        &lifecycle,
        &s3_request("s3:DeleteObject", "exports/acme/lc_1/orders.jsonl")
    ));
    let bucket_policy = Request {
        action: "s3:PutBucketPolicy".to_owned(),
        resource: "arn:aws:s3:::stack-exportbucket".to_owned(),
        context: Context::new(),
    };
    assert!(!allowed(&lifecycle, &bucket_policy));
    // and api-connections reads (presigns) export files and writes none
    assert!(allowed(
        &api,
        &s3_request("s3:GetObject", "exports/acme/lc_1/orders.jsonl")
    ));
    assert!(!allowed(
        &api,
        &s3_request("s3:PutObject", "exports/acme/lc_1/orders.jsonl")
    ));
    // and data-lifecycle consumes and continues its queue, and only its queue
    let queue = |name: &str| Request {
        action: "sqs:SendMessage".to_owned(),
        resource: format!("arn:aws:sqs:us-east-1:123456789012:stack-{name}"),
        context: Context::new(),
    };
    assert!(allowed(&lifecycle, &queue("LifecycleJobsQueue")));
    assert!(!allowed(&lifecycle, &queue("SyncJobsQueue")));
    assert!(allowed(&api, &queue("LifecycleJobsQueue")));
}
