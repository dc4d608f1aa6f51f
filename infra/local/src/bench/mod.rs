//! The measurements behind `make bench` (`infra/scripts/bench.sh`): each stage's figure and
//! its floor, measured side by side in one run on the local stack. The stages' command is
//! the `bench_stage` example; `webhook_bench` and `sync_bench` print the same runs by hand.

pub mod api;
pub mod bare;
pub mod calls;
pub mod feed;
pub mod index_bill;
pub mod index_options;
pub mod ingest;
pub mod lag_stages;
pub mod moves;
pub mod rejections;
pub mod same_calls;
pub mod sync;
pub mod units;
pub mod verdicts;
pub mod webhook;

use std::path::{Path, PathBuf};

/// Where a stage writes `NN-name.md` (a markdown fragment) and `NN-name.json` (raw figures).
#[derive(Debug, Clone)]
pub struct StageOut {
    pub dir: PathBuf,
    pub stage: String,
}

impl StageOut {
    pub fn new(dir: &Path, stage: &str) -> Self {
        Self {
            dir: dir.to_owned(),
            stage: stage.to_owned(),
        }
    }

    pub fn write(&self, markdown: &str, json: &serde_json::Value) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::write(self.dir.join(format!("{}.md", self.stage)), markdown)?;
        std::fs::write(
            self.dir.join(format!("{}.json", self.stage)),
            serde_json::to_string_pretty(json)? + "\n",
        )?;
        Ok(())
    }
}

/// `figure / floor` as "1.23×"; "n/a" when the floor is not positive.
pub fn ratio(figure: f64, floor: f64) -> String {
    if floor > 0.0 && figure.is_finite() {
        format!("{:.2}×", figure / floor)
    } else {
        "n/a".to_owned()
    }
}

/// Milliseconds with a precision that suits their size.
pub fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else if value >= 10.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.2} ms")
    }
}

/// CPU or wall milliseconds too small for [`ms`], in microseconds.
pub fn micros(millis: f64) -> String {
    format!("{:.1} µs", millis * 1000.0)
}

/// "met" / "not met" of `value <= goal`.
pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**not met**"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_is_the_figure_over_its_floor_and_undefined_without_a_floor() {
        assert_eq!(ratio(3.0, 2.0), "1.50×");
        assert_eq!(ratio(3.0, 0.0), "n/a");
    }

    #[test]
    fn microseconds_show_one_decimal() {
        assert_eq!(micros(0.0123), "12.3 µs");
    }

    #[test]
    fn milliseconds_keep_three_significant_figures() {
        assert_eq!(ms(1234.4), "1234 ms");
        assert_eq!(ms(12.345), "12.3 ms");
        assert_eq!(ms(1.2345), "1.23 ms");
    }
}
