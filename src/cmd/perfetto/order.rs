//! The tracks' order: the tree's, written at the end of the trace.

use std::io::{self, Write};

use serde_json::json;

use super::{NO_PARENT, Trace, TraceEvent};

impl<W: Write> Trace<W> {
    /// `thread_sort_index` (and `process_sort_index` for subtrees) in tree order: a
    /// parent, then each child's subtree in the order they started.
    pub(super) fn write_tree_order(&mut self) -> io::Result<()> {
        let placed = std::mem::take(&mut self.placed);
        let n = placed.len();
        let mut first_child = vec![NO_PARENT; n];
        let mut next_sibling = vec![NO_PARENT; n];
        let mut roots = Vec::new();
        for (seq, p) in placed.iter().enumerate().rev() {
            match placed.get(p.parent as usize) {
                Some(_) => {
                    next_sibling[seq] = first_child[p.parent as usize];
                    first_child[p.parent as usize] = seq as u32;
                }
                None => roots.push(seq as u32),
            }
        }
        // `roots` is latest first: the stack pops the earliest first.
        let mut stack = roots;
        let mut index = 0u32;
        while let Some(seq) = stack.pop() {
            let p = placed[seq as usize];
            let sort = |name| TraceEvent {
                args: json!({"sort_index": index}),
                ..TraceEvent::new("M", name, 0.0, (p.group, p.tid))
            };
            self.write(&sort("thread_sort_index"))?;
            if p.group == p.tid {
                self.write(&sort("process_sort_index"))?;
            }
            index += 1;
            let mut children = Vec::new();
            let mut child = first_child[seq as usize];
            while child != NO_PARENT {
                children.push(child);
                child = next_sibling[child as usize];
            }
            stack.extend(children.into_iter().rev());
        }
        Ok(())
    }
}
