//! Live samples of every process through /proc: CPU time, resident memory, state and
//! threads from each `/proc/<pid>/stat`, whose stat files stay open between rounds.

use std::collections::{HashMap, HashSet};

use super::stat::{Stat, StatFile};
use crate::event::{Event, Kind, Sample};

/// One process as one round read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessSample {
    pub pid: u32,
    pub stat: Stat,
}

impl ProcessSample {
    pub fn sample(&self) -> Sample {
        self.stat.sample()
    }

    /// The sample as an event stamped `ts_ns`: /proc's stat tells no ids and no cgroup.
    pub fn event(&self, ts_ns: u64) -> Event {
        let stat = &self.stat;
        Event {
            ts_ns,
            pid: self.pid,
            tid: self.pid,
            ppid: stat.ppid,
            start_ns: stat.start_ns(),
            comm: stat.comm,
            creds: None,
            cgroup_id: None,
            pid_ns: None,
            cgroup: None,
            kernel_thread: stat.kernel_thread(),
            kind: Kind::Sample(self.sample()),
        }
    }
}

/// Reads every process's stat once per round. A process's file is opened the first round
/// it is seen and read again each round after (a `pread`, instead of a path lookup, an open
/// and a close: benches/sampling.rs), until it ends; beyond `max_files` open files, the
/// others are opened and closed each round.
pub struct ProcSampler {
    files: HashMap<u32, StatFile>,
    max_files: usize,
    /// Reused between rounds.
    pids: Vec<u32>,
    seen: HashSet<u32>,
}

impl ProcSampler {
    pub fn new(max_files: usize) -> Self {
        Self {
            files: HashMap::new(),
            max_files,
            pids: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// Replaces the contents of `out` with a sample of every process /proc lists now.
    pub fn round(&mut self, out: &mut Vec<ProcessSample>) -> std::io::Result<()> {
        out.clear();
        super::list_pids(&mut self.pids)?;
        self.seen.clear();
        for &pid in &self.pids {
            let stat = match self.files.get(&pid).map(StatFile::read) {
                Some(Some(stat)) => Some(stat),
                // It ended, and the pid may name another process now: opened afresh.
                Some(None) => {
                    self.files.remove(&pid);
                    Self::open_and_read(pid, &mut self.files, self.max_files)
                }
                None => Self::open_and_read(pid, &mut self.files, self.max_files),
            };
            if let Some(stat) = stat {
                self.seen.insert(pid);
                out.push(ProcessSample { pid, stat });
            }
        }
        // Files of processes that ended and whose pid /proc no longer lists.
        if self.files.len() > self.seen.len() {
            self.files.retain(|pid, _| self.seen.contains(pid));
        }
        Ok(())
    }

    fn open_and_read(
        pid: u32,
        files: &mut HashMap<u32, StatFile>,
        max_files: usize,
    ) -> Option<Stat> {
        let file = StatFile::open(pid)?;
        let stat = file.read()?;
        if files.len() < max_files {
            files.insert(pid, file);
        }
        Some(stat)
    }

    /// How many stat files are open.
    pub fn files_open(&self) -> usize {
        self.files.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_every_process_and_keeps_files_within_the_bound() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        // Until it has exec'd and gone to sleep, it runs.
        for _ in 0..1_000 {
            if crate::proc::stat::read(child.id()).is_some_and(|s| s.state == b'S') {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut sampler = ProcSampler::new(5);
        let mut out = Vec::new();
        sampler.round(&mut out).unwrap();
        sampler.round(&mut out).unwrap();
        let me = out.iter().find(|s| s.pid == std::process::id()).unwrap();
        assert!(me.sample().rss_bytes > 0 && me.sample().threads >= 1);
        let init = out.iter().find(|s| s.pid == 1).unwrap();
        assert!(init.sample().cpu_ns > 0, "init has run since boot");
        let sleeping = out.iter().find(|s| s.pid == child.id()).unwrap();
        assert_eq!(sleeping.sample().state.letter(), 'S');
        assert!(out.iter().any(|s| s.pid == 2 && s.stat.kernel_thread()));
        assert!(out.len() > 5 && sampler.files_open() == 5);
        child.kill().unwrap();
        child.wait().unwrap();
        sampler.round(&mut out).unwrap();
        assert!(!out.iter().any(|s| s.pid == child.id()));
    }
}
