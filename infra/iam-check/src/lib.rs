//! The IAM check: is every AWS request the functions made during the test suite allowed by
//! that function's role in `template.yaml`? The emulator (moto) enforces no IAM, so without
//! this a missing permission shows only on AWS, as a 500.
//!
//! - [`recording`]: the emulator's request recording, attributed per function by the
//!   access key id its clients sign with (`packr_local::testing::function_config`), read
//!   as IAM authorizations (action, resource ARN, `dynamodb:LeadingKeys`).
//!   S3 requests (`s3`) by method and path; a presigned URL's download is its signer's.
//! - [`roles`]: each function's statements from the template, intrinsics resolved as the
//!   local stack resolves them.
//! - [`policy`]: the evaluator (written here; see its module comment).
//! - [`check`]: denials, functions no test exercised, unused grants.
//!
//! `make test` records the whole suite and runs `iam-check` afterwards
//! (`infra/scripts/test.sh`).

pub mod check;
pub mod policy;
pub mod recording;
pub mod roles;
mod s3;
