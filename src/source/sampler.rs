//! Live samples of every process, a round every `--sample-interval`, as `sample` events:
//! through the probe's task iterator where the eBPF backend runs it, else through /proc.

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::time::{Interval, MissedTickBehavior};

use super::ebpf::TaskIterator;
use crate::{
    clock,
    event::Event,
    proc::sample::{ProcSampler, ProcessSample},
};

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// How the samples are read.
enum Method {
    Iterator(TaskIterator),
    Proc(ProcSampler, Vec<ProcessSample>),
}

/// A round of samples every interval.
pub struct Sampler {
    method: Method,
    every: Duration,
    interval: Interval,
    /// Why the task iterator does not run, when the eBPF backend could have run it.
    iterator_refused: Option<String>,
}

impl Sampler {
    /// Samples through the task iterator if there is one, else through /proc, keeping at
    /// most `max_files` stat files open. `iterator` is the probe's answer: the iterator,
    /// or why it cannot run; `None` without the probe. Must run inside a tokio runtime.
    pub fn new(
        every: Duration,
        iterator: Option<Result<TaskIterator, String>>,
        max_files: usize,
    ) -> Self {
        let (method, iterator_refused) = match iterator {
            Some(Ok(iterator)) => (Method::Iterator(iterator), None),
            Some(Err(why)) => (
                Method::Proc(ProcSampler::new(max_files), Vec::new()),
                Some(why),
            ),
            None => (Method::Proc(ProcSampler::new(max_files), Vec::new()), None),
        };
        // The first round one interval from now, not at once: the processes were just read
        // (a snapshot, or the iterator's first run), and a CPU share over a few
        // milliseconds says little.
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        // A late round is not made up for: samples are a view of now.
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let sampler = Self {
            method,
            every,
            interval,
            iterator_refused,
        };
        tracing::info!(how = %sampler.summary(), "sampling processes");
        sampler
    }

    /// `samples: eBPF task iterator every 1s`, or through /proc and why: for the notices.
    pub fn summary(&self) -> String {
        let every = self.every;
        match (&self.method, &self.iterator_refused) {
            (Method::Iterator(_), _) => format!("samples: eBPF task iterator every {every:?}"),
            (Method::Proc(..), None) => format!("samples: /proc every {every:?}"),
            (Method::Proc(..), Some(why)) => {
                format!("samples: /proc every {every:?} (the task iterator cannot run: {why})")
            }
        }
    }

    /// Whether it samples through /proc because the task iterator could not run.
    pub fn limited(&self) -> bool {
        self.iterator_refused.is_some()
    }

    /// Waits until the next round is due.
    pub async fn due(&mut self) {
        self.interval.tick().await;
    }

    /// Appends a sample event of every process now, stamped with this moment.
    pub fn round(&mut self, out: &mut Vec<Event>) -> Result<()> {
        let now = clock::boottime_ns();
        match &mut self.method {
            Method::Iterator(iterator) => iterator.round(now, out),
            Method::Proc(sampler, samples) => {
                sampler.round(samples).context("cannot read /proc")?;
                out.extend(samples.iter().map(|s| s.event(now)));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn says_how_it_samples_and_why_not_with_the_iterator() {
        let every = Duration::from_millis(1500);
        let refused = Sampler::new(every, Some(Err("EPERM (os error 1)".into())), 8);
        assert_eq!(
            refused.summary(),
            "samples: /proc every 1.5s (the task iterator cannot run: EPERM (os error 1))"
        );
        assert!(refused.limited());
        let plain = Sampler::new(every, None, 8);
        assert_eq!(plain.summary(), "samples: /proc every 1.5s");
        assert!(!plain.limited());
    }

    /// A round through /proc has every process, this one with its threads and memory.
    #[tokio::test]
    async fn a_round_through_proc_has_this_process() {
        let mut sampler = Sampler::new(Duration::from_secs(1), None, 8);
        let mut out = Vec::new();
        sampler.round(&mut out).unwrap();
        let me = out.iter().find(|e| e.pid == std::process::id()).unwrap();
        let crate::event::Kind::Sample(sample) = me.kind else {
            panic!("{me:?}")
        };
        assert!(sample.rss_bytes > 0 && sample.threads >= 1);
        assert!(me.creds.is_none() && me.cgroup.is_none());
        assert!(out.iter().all(|e| e.ts_ns == me.ts_ns));
    }
}
