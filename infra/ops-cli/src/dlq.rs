//! `packr dlq …`: resolves the queues, runs the operation with a progress bar, prints the
//! table.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use packr::ops::{
    inspect as inspect_dlq, redrive as redrive_dlq, InspectOptions, Method, Progress,
    RedriveOptions, RedriveTarget,
};

use crate::args::{InspectArgs, MethodArg, QueueArgs, QueueName, RedriveArgs};
use crate::render;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueueError {
    #[error("--queue {queue} needs the environment variable {variable} (or pass --dlq-url)")]
    MissingEnv {
        queue: &'static str,
        variable: &'static str,
    },
}

impl QueueName {
    fn label(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::SyncJobs => "sync-jobs",
        }
    }

    /// (source queue variable, dead-letter queue variable)
    fn variables(self) -> (&'static str, &'static str) {
        match self {
            Self::Webhook => ("WEBHOOK_QUEUE_URL", "WEBHOOK_DLQ_URL"),
            Self::SyncJobs => ("SYNC_JOBS_QUEUE_URL", "SYNC_JOBS_DLQ_URL"),
        }
    }
}

/// The dead-letter queue and (when known) its source queue: from flags, else from the
/// environment for `--queue`. A source left unknown is resolved from the queues themselves.
pub fn resolve_queues(
    queues: &QueueArgs,
    source_url: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RedriveTarget, QueueError> {
    let present = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    match (queues.queue, &queues.dlq_url) {
        (_, Some(dlq_url)) => Ok(RedriveTarget {
            dlq_url: dlq_url.clone(),
            source_url: source_url.map(str::to_owned),
        }),
        (Some(queue), None) => {
            let (source_var, dlq_var) = queue.variables();
            let dlq_url = present(dlq_var).ok_or(QueueError::MissingEnv {
                queue: queue.label(),
                variable: dlq_var,
            })?;
            Ok(RedriveTarget {
                dlq_url,
                source_url: source_url
                    .map(str::to_owned)
                    .or_else(|| present(source_var)),
            })
        }
        // clap requires one of the two; kept total for callers that build args by hand.
        (None, None) => Err(QueueError::MissingEnv {
            queue: "(none)",
            variable: "--queue or --dlq-url",
        }),
    }
}

impl From<&RedriveArgs> for RedriveOptions {
    fn from(args: &RedriveArgs) -> Self {
        Self {
            max_messages: args.max_messages,
            batch_size: usize::from(args.batch_size),
            max_per_second: args.rate,
            dry_run: args.dry_run,
            method: match args.method {
                MethodArg::Auto => Method::Auto,
                MethodArg::MoveTask => Method::MoveTask,
                MethodArg::Fallback => Method::Fallback,
            },
            visibility_timeout: Duration::from_secs(args.visibility_timeout),
            ..Self::default()
        }
    }
}

pub async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    args: &RedriveArgs,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let target = resolve_queues(&args.queues, args.source_url.as_deref(), env)?;
    let options = RedriveOptions::from(args);
    let bar = progress_bar();
    let shown = bar.clone();
    let on_progress = move |p: Progress| {
        if let Some(total) = p.total {
            shown.set_length(total.max(p.moved + p.failed));
        }
        shown.set_position(p.moved + p.failed);
        shown.set_message(format!("{} moved, {} failed", p.moved, p.failed));
    };
    let result = redrive_dlq(sqs, &target, &options, &on_progress).await;
    bar.finish_and_clear();
    let summary = result.with_context(|| format!("redriving {}", target.dlq_url))?;
    render::redrive_summary(out, &summary)?;
    Ok(if summary.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub async fn inspect(
    sqs: &aws_sdk_sqs::Client,
    args: &InspectArgs,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let target = resolve_queues(&args.queues, None, env)?;
    let options = InspectOptions {
        limit: args.limit,
        ..InspectOptions::default()
    };
    let report = inspect_dlq(sqs, &target.dlq_url, &options)
        .await
        .with_context(|| format!("inspecting {}", target.dlq_url))?;
    render::dlq_report(out, &report)?;
    Ok(ExitCode::SUCCESS)
}

/// A bar on a terminal; nothing when stdout is piped or redirected.
pub(crate) fn progress_bar() -> ProgressBar {
    let target = if std::io::stdout().is_terminal() {
        ProgressDrawTarget::stdout()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} {msg} ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
