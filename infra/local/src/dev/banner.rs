//! The table `packr-dev` prints once everything is up.

use std::path::Path;

use super::state::StateDir;
use crate::emulator::MotoProcess;
use crate::stack::LocalStack;

pub(super) fn print(stack: &LocalStack, moto: &MotoProcess, gateway: &str, state: &StateDir) {
    let relative = |path: &Path| path.display().to_string();
    let mut rows: Vec<(String, String)> = vec![
        (
            "AWS emulator (moto)".to_owned(),
            format!(
                "{}  pid {}, log {}",
                stack.aws_endpoint_url,
                moto.pid(),
                relative(&state.moto_log())
            ),
        ),
        (
            "local gateway".to_owned(),
            format!("http://{gateway}  GET /_local/health, GET /_local/stack"),
        ),
        (
            "DynamoDB table".to_owned(),
            stack.resources.table_name.clone(),
        ),
    ];
    for (id, url) in &stack.resources.queue_urls {
        rows.push((format!("SQS {id}"), url.clone()));
    }
    for (id, arn) in &stack.resources.secret_arns {
        rows.push((format!("secret {id}"), arn.clone()));
    }
    let width = rows.iter().map(|(what, _)| what.len()).max().unwrap_or(0);

    println!();
    println!("Packr local stack is up. Ctrl-C stops everything.");
    println!();
    for (what, whereabouts) in &rows {
        println!("  {what:<width$}  {whereabouts}");
    }
    println!();
    println!(
        "Environment (also in {}; `source` it):",
        relative(&state.env_file())
    );
    for (name, value) in stack.environment() {
        println!("  export {name}={value}");
    }
    println!();
    println!("State: {}", relative(state.dir()));
}
