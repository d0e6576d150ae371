//! Loss on the proc connector, counted from the gaps in each CPU's sequence numbers.

/// Counts lost messages from the gaps in each CPU's sequence numbers. A count is exact for
/// messages lost between two that arrived; messages lost after a CPU's last arrival are
/// counted only when that CPU sends again.
#[derive(Default, Debug)]
pub(super) struct LossCounter {
    /// Per CPU, the sequence number its next message should have.
    next_seq: Vec<Option<u32>>,
    /// Lost messages counted and not yet reported.
    unreported: u64,
    /// ENOBUFS that no gap explained yet were each reported as one lost message; the gap
    /// that shows them later must not count them again.
    credit: u64,
}

impl LossCounter {
    /// Notes a message; true if messages before it on its CPU are missing.
    pub(super) fn check(&mut self, cpu: u32, seq: u32) -> bool {
        let cpu = cpu as usize;
        if cpu >= 1 << 16 {
            return false;
        }
        if self.next_seq.len() <= cpu {
            self.next_seq.resize(cpu + 1, None);
        }
        let expected = self.next_seq[cpu].replace(seq.wrapping_add(1));
        let gap = expected.map_or(0, |e| seq.wrapping_sub(e));
        // A "gap" of more than half the number space is a message from the past, which a
        // per-CPU stream does not produce: count afresh from here rather than report it.
        if gap == 0 || gap > u32::MAX / 2 {
            return false;
        }
        let gap = u64::from(gap);
        let credited = gap.min(self.credit);
        self.credit -= credited;
        self.unreported += gap - credited;
        true
    }

    /// The kernel said it dropped messages (ENOBUFS) and no gap showed which: at least one.
    pub(super) fn overflowed(&mut self) {
        self.unreported += 1;
        self.credit += 1;
    }

    /// The count to report now, if any.
    pub(super) fn take(&mut self) -> Option<u64> {
        (self.unreported > 0).then(|| std::mem::take(&mut self.unreported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_in_each_cpus_numbers_are_counted_once() {
        let mut loss = LossCounter::default();
        assert!(!loss.check(0, 10));
        assert!(!loss.check(1, 500));
        assert!(!loss.check(0, 11));
        assert_eq!(loss.take(), None);
        assert!(loss.check(0, 15), "12, 13 and 14 are missing");
        assert!(loss.check(1, 501 + 7));
        assert_eq!(loss.take(), Some(3 + 7));
        assert_eq!(loss.take(), None);
        // Numbers wrap around.
        assert!(!loss.check(2, u32::MAX));
        assert!(loss.check(2, 1));
        assert_eq!(loss.take(), Some(1));
    }

    #[test]
    fn an_overflow_counts_one_until_a_gap_shows_how_many() {
        let mut loss = LossCounter::default();
        loss.check(0, 1);
        loss.overflowed();
        assert_eq!(loss.take(), Some(1), "at least one");
        loss.check(0, 1 + 1 + 5);
        assert_eq!(
            loss.take(),
            Some(4),
            "the one already reported is not counted again"
        );
    }
}
