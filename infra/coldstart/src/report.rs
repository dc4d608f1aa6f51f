//! The stage's output: `10-coldstart.json` (raw medians, the fields `make bench`'s cost
//! model reads) and `10-coldstart.md` (each figure beside the floor of the same run).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::bench::{Measured, Results};

/// Goals of issue 12: init ≤ 2 × hello-world, peak RSS ≤ 20 MB.
pub const INIT_GOAL_RATIO: f64 = 2.0;
pub const PEAK_RSS_GOAL_KB: u64 = 20 * 1024;

/// Medians over the runs of one binary. Times in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Figures {
    pub name: String,
    /// `MemorySize` of the function in template.yaml (the floor: 256, the global default).
    pub memory_mb: u64,
    pub binary_bytes: u64,
    /// Spawn → first `GET /next`.
    pub init_ms: f64,
    /// Spawn → first invocation answered.
    pub first_invoke_ms: f64,
    /// The warm (second) invocation, hand-out → answer.
    pub warm_invoke_ms: f64,
    /// VmHWM after the invocations, kB.
    pub peak_rss_kb: u64,
    /// How many cold starts the medians are over.
    pub runs: usize,
    /// Every run's init, ms (to judge the spread).
    pub init_ms_runs: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub floor: Figures,
    pub functions: Vec<Figures>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median (mean of the middle two for an even count); 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn figures(measured: &Measured) -> Figures {
    let init: Vec<f64> = measured.runs.iter().map(|r| ms(r.init)).collect();
    let first: Vec<f64> = measured.runs.iter().map(|r| ms(r.first_invoke)).collect();
    let warm: Vec<f64> = measured
        .runs
        .iter()
        .flat_map(|r| r.warm_invokes().into_iter().map(ms))
        .collect();
    let rss: Vec<f64> = measured.runs.iter().map(|r| r.peak_rss_kb as f64).collect();
    Figures {
        name: measured.name.clone(),
        memory_mb: measured.memory_mb,
        binary_bytes: measured.binary_bytes,
        init_ms: median(&init),
        first_invoke_ms: median(&first),
        warm_invoke_ms: median(&warm),
        peak_rss_kb: median(&rss).round() as u64,
        runs: measured.runs.len(),
        init_ms_runs: init,
    }
}

impl Report {
    pub fn from_results(results: &Results) -> Self {
        Self {
            floor: figures(&results.floor),
            functions: results.functions.iter().map(figures).collect(),
        }
    }

    /// The markdown fragment: a `## ` heading, the command, the tables.
    pub fn markdown(&self, command: &str, profile: &str, before: Option<&Report>) -> String {
        let f = &self.floor;
        let mut out = String::new();
        out.push_str("## Cold start and memory of every function (10-coldstart)\n\n");
        out.push_str(&format!("```sh\n{command}\n```\n"));
        out.push_str(&format!(
            "Each function's release binary (profile: {profile}) spawned as Lambda starts a \
             `provided.al2023` sandbox (fresh process, Lambda's variables, the function's \
             template environment with local values, its `SSL_CERT_FILE` pointed at this machine's \
             copy of the CA bundle it names) against a local Lambda Runtime API \
             (`infra/coldstart`), fed a first and a warm event that succeed on the local stack \
             (moto, the Trackstar simulator). Medians of {} cold starts per binary, \
             interleaved; floor: lambda_runtime's hello-world (`coldstart-hello`) built in \
             the same run with the same profile. init = spawn → first `GET /next`; first \
             invoke = spawn → first answer; warm = the second invocation, hand-out → answer \
             (local stack calls included); peak RSS = VmHWM after the invocations.\n\n",
            f.runs
        ));
        out.push_str(
            "| function | memory | binary | init | first invoke | warm invoke | peak RSS | init ≤ 2× floor | RSS ≤ 20 MiB |\n\
             |---|---|---|---|---|---|---|---|---|\n",
        );
        out.push_str(&format!(
            "| **{} (floor)** | {} MB | {} | {:.2} ms | {:.2} ms | {:.2} ms | {} | | |\n",
            f.name,
            f.memory_mb,
            mib(f.binary_bytes),
            f.init_ms,
            f.first_invoke_ms,
            f.warm_invoke_ms,
            mb(f.peak_rss_kb),
        ));
        for g in &self.functions {
            let init_ratio = ratio(g.init_ms, f.init_ms);
            out.push_str(&format!(
                "| {} | {} MB | {} ({}) | {:.2} ms ({}) | {:.2} ms ({}) | {:.2} ms ({}) | {} ({}) | {} | {} |\n",
                g.name,
                g.memory_mb,
                mib(g.binary_bytes),
                times(ratio(g.binary_bytes as f64, f.binary_bytes as f64)),
                g.init_ms,
                times(init_ratio),
                g.first_invoke_ms,
                times(ratio(g.first_invoke_ms, f.first_invoke_ms)),
                g.warm_invoke_ms,
                times(ratio(g.warm_invoke_ms, f.warm_invoke_ms)),
                mb(g.peak_rss_kb),
                times(ratio(g.peak_rss_kb as f64, f.peak_rss_kb as f64)),
                verdict(init_ratio <= INIT_GOAL_RATIO),
                verdict(g.peak_rss_kb <= PEAK_RSS_GOAL_KB),
            ));
        }
        let short: Vec<&str> = self
            .functions
            .iter()
            .filter(|g| {
                ratio(g.init_ms, f.init_ms) > INIT_GOAL_RATIO || g.peak_rss_kb > PEAK_RSS_GOAL_KB
            })
            .map(|g| g.name.as_str())
            .collect();
        out.push_str(&format!(
            "\nGoal (issue 12): init ≤ {INIT_GOAL_RATIO}× the floor and peak RSS ≤ 20 MiB for every function: {}.\n",
            if short.is_empty() {
                "met by every function".to_owned()
            } else {
                format!("short for {}", short.join(", "))
            }
        ));
        if let Some(before) = before {
            out.push_str(&before_after(before, self));
        }
        out
    }
}

/// A before/after table against an earlier run's JSON (`COLDSTART_BEFORE`).
fn before_after(before: &Report, after: &Report) -> String {
    let mut out = String::from(
        "\nBefore → after (the earlier run's JSON, `COLDSTART_BEFORE`; each run against its own floor):\n\n\
         | binary | size before → after | init before → after (× its floor) | peak RSS before → after |\n\
         |---|---|---|---|\n",
    );
    let rows = std::iter::once((&before.floor, &after.floor)).chain(
        after
            .functions
            .iter()
            .filter_map(|a| Some((before.functions.iter().find(|b| b.name == a.name)?, a))),
    );
    for (b, a) in rows {
        out.push_str(&format!(
            "| {} | {} → {} | {:.2} ms ({}) → {:.2} ms ({}) | {} → {} |\n",
            a.name,
            mib(b.binary_bytes),
            mib(a.binary_bytes),
            b.init_ms,
            times(ratio(b.init_ms, before.floor.init_ms)),
            a.init_ms,
            times(ratio(a.init_ms, after.floor.init_ms)),
            mb(b.peak_rss_kb),
            mb(a.peak_rss_kb),
        ));
    }
    out
}

fn ratio(value: f64, floor: f64) -> f64 {
    if floor > 0.0 {
        value / floor
    } else {
        f64::NAN
    }
}

fn times(r: f64) -> String {
    format!("{r:.1}×")
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn mb(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "**no**"
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_of_an_odd_count_is_the_middle_value_and_of_an_even_count_the_mean_of_the_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
