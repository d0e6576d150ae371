//! The flag of the commands that sample processes: `--sample-interval`.

use clap::Args;

use super::parse_seconds;
use crate::source::LiveOptions;

/// `--sample-interval`: how often every process's CPU time and memory are read.
#[derive(Args, Debug, Clone)]
pub struct SampleArgs {
    /// How often to sample every process's CPU time, memory, state and threads (`sample`
    /// events; `events` prints them only with `--kinds sample`), in seconds; 0: never.
    #[arg(long, value_name = "SECS", value_parser = parse_sample_interval,
          default_value = "1")]
    pub sample_interval: std::time::Duration,
}

impl SampleArgs {
    /// `options`, sampling as `--sample-interval` says.
    pub fn apply(&self, options: LiveOptions) -> LiveOptions {
        LiveOptions {
            sample_interval: (!self.sample_interval.is_zero()).then_some(self.sample_interval),
            ..options
        }
    }
}

/// The shortest sample interval: a round reads every process.
const MIN_SAMPLE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

fn parse_sample_interval(s: &str) -> Result<std::time::Duration, String> {
    match parse_seconds(s)? {
        d if !d.is_zero() && d < MIN_SAMPLE_INTERVAL => {
            Err("the sample interval must be 0 (no samples) or at least 0.01 seconds".into())
        }
        d => Ok(d),
    }
}
