//! Searching the tree (`/` and `n`/`N`, and the filter `f` that keeps only what matches,
//! are the tree pane's: `panes::tree`): what a search finds is what the screen shows, the
//! name and argv, escaped, ignoring case.

use crate::{event::Comm, tracker::model::Process};

/// A search of process names and argv that ignores case, prepared once for many processes.
#[derive(Clone, Debug)]
pub struct Search {
    finder: memchr::memmem::Finder<'static>,
}

impl Search {
    pub fn new(text: &str) -> Self {
        Self {
            finder: memchr::memmem::Finder::new(text.to_lowercase().as_bytes()).into_owned(),
        }
    }

    /// Whether the text is in the process's name or argv (across arguments too), as the
    /// screen shows them: escaped, so that `\e]52` typed finds the process shown so.
    pub fn matches(&self, process: &Process) -> bool {
        self.matches_comm(&process.comm)
            || self
                .finder
                .find(process.program.search_text().as_bytes())
                .is_some()
    }

    fn matches_comm(&self, comm: &Comm) -> bool {
        let shown = comm.escaped();
        // 15 bytes escaped take at most 60 (`\xNN` each): no allocation for ASCII.
        let mut lower = [0u8; 64];
        match lower.get_mut(..shown.len()) {
            Some(lower) if shown.is_ascii() => {
                lower.copy_from_slice(shown.as_bytes());
                lower.make_ascii_lowercase();
                self.finder.find(lower).is_some()
            }
            _ => self.finder.find(shown.to_lowercase().as_bytes()).is_some(),
        }
    }
}

/// The text searched for, and the search made from it.
pub struct SearchText {
    pub text: String,
    pub search: Search,
}

impl SearchText {
    /// `None` for an empty text: no search.
    pub fn new(text: &str) -> Option<Self> {
        (!text.is_empty()).then(|| Self {
            text: text.to_owned(),
            search: Search::new(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        event::{Creds, Event},
        tracker::model::testing::{p, seeded},
    };

    #[test]
    fn a_search_finds_the_name_and_the_argv_across_arguments() {
        let mut model = seeded();
        let a = p(100, 1, 1000);
        model.apply(&a.fork());
        let root = Creds {
            uid: 1000,
            euid: 0,
            gid: 1000,
            egid: 1000,
        };
        model.apply(&Event {
            creds: Some(root),
            ..a.exec(1010, &["sudo", "-i"])
        });
        let a_now = model.get(a.key()).unwrap();
        assert!(
            Search::new("SUDO -I").matches(a_now),
            "argv, across arguments"
        );
        assert!(Search::new("sud").matches(a_now), "name");
        assert!(!Search::new("init").matches(a_now));
    }
}
