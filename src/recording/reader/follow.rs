//! Reading a recording that may still grow: what has not arrived yet is not damage.

use super::{Damage, Frame, Input, Reader};

impl<R: Input> Reader<R> {
    /// Reads on as the recording grows: at its end, [`Reader::next_batch`] says there is
    /// nothing more *yet* (it can be called again), and a frame cut there is left to be
    /// read whole later rather than being damage ([`Reader::cut_frame`] says where).
    pub(in crate::recording) fn follow(&mut self) {
        self.follow = true;
    }

    /// Where a frame is cut by the end of what arrived, if reading stopped at one: damage
    /// once nothing more will arrive.
    pub(in crate::recording) fn cut_frame(&self) -> Option<Damage> {
        self.cut.then(|| Damage::truncated(self.offset))
    }

    /// The frame at `at` goes past the end: damage, or when following, not yet; it is
    /// read again from its start.
    pub(super) fn cut_at_end(&mut self, at: u64) -> Result<Frame, Damage> {
        if !self.follow {
            return Err(Damage::truncated(at));
        }
        self.seek(at)
            .map_err(|e| Damage::new(at, format!("cannot read: {e}")))?;
        self.cut = true;
        Ok(Frame::EndOfFile)
    }
}
