//! The template's alarms and dashboard watch only metrics the code emits: every `Packr`
//! metric they name must be emitted by non-test code in `shared/src` (a metric nobody
//! emits is a graph that stays empty and an alarm that never fires).

use std::collections::BTreeSet;
use std::path::Path;

fn template() -> serde_yaml::Value {
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A `!Sub` (or plain) string.
fn text(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Tagged(tagged) => text(&tagged.value),
        _ => None,
    }
}

/// Every `Packr` metric an alarm or a dashboard widget names.
fn watched_metrics() -> BTreeSet<String> {
    let template = template();
    let mut names = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        let props = &resource["Properties"];
        match resource["Type"].as_str() {
            Some("AWS::CloudWatch::Alarm") if props["Namespace"].as_str() == Some("Packr") => {
                names.insert(props["MetricName"].as_str().unwrap().to_owned());
            }
            Some("AWS::CloudWatch::Dashboard") => {
                let body = text(&props["DashboardBody"]).unwrap();
                // Widgets name metrics as ["Packr", "<name>", …].
                for rest in body.split("[\"Packr\", \"").skip(1) {
                    names.insert(rest.split('"').next().unwrap().to_owned());
                }
            }
            _ => {}
        }
    }
    names
}

/// The non-test source of every `.rs` file under `dir` (each file up to its
/// `#[cfg(test)]`).
fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            // Comments do not emit anything.
            let code: String = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            out.push(code);
        }
    }
}

#[test]
fn every_metric_the_template_watches_is_emitted_by_the_code() {
    let watched = watched_metrics();
    // the alarms and widgets this test is about are there at all
    for name in [
        "webhook.lag_ms",
        "webhook.failures",
        "sync.lag_ms",
        "trackstar.breaker_opened",
        "reconcile.missing_local",
        "trackstar.errors",
        "sync.records",
    ] {
        assert!(watched.contains(name), "{name} is not watched: {watched:?}");
    }
    let mut code = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src"),
        &mut code,
    );
    let never_emitted: Vec<&String> = watched
        .iter()
        .filter(|name| {
            let literal = format!("\"{name}\"");
            !code.iter().any(|c| c.contains(&literal))
        })
        .collect();
    assert!(
        never_emitted.is_empty(),
        "the template watches metrics no code emits: {never_emitted:?}"
    );
}

#[test]
fn the_check_finds_a_metric_nobody_emits() {
    // given a name that appears nowhere in the code, the same search misses it
    let mut code = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src"),
        &mut code,
    );
    assert!(!code.iter().any(|c| c.contains("\"webhook.never_emitted\"")));
    assert!(code.iter().any(|c| c.contains("\"webhook.lag_ms\"")));
}
