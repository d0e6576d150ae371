//! Searching the tree: `/` and `n`/`N`, and the filter (`f`) that keeps only what matches.
//! What a search finds is what the screen shows: the name and argv, escaped, ignoring case.

use super::{
    app::App,
    dialog::{Prompt, PromptPurpose},
};
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

impl App {
    /// `f`: filters the tree to the search, or ends the filter; without a search, asks
    /// what to filter by.
    pub(super) fn toggle_filter(&mut self) {
        if self.options.filter.take().is_some() {
            return;
        }
        match &self.search {
            Some(search) => self.options.filter = Some(search.text.clone()),
            None => self.open(Prompt::new(PromptPurpose::Filter, self)),
        }
    }

    /// `n` and `N`: the next or previous row that matches the search, wrapping around.
    pub(super) fn jump_to_match(&mut self, forward: bool) {
        let Some(search) = &self.search else {
            self.say("no search: press / to search");
            return;
        };
        let text = search.text.clone();
        let len = self.rows().len();
        let from = self.cursor.index;
        let found = (1..=len)
            .map(|step| {
                if forward {
                    (from + step) % len
                } else {
                    (from + len - step % len) % len
                }
            })
            .find(|&i| self.row_matches(i));
        match found {
            Some(index) => self.select(index),
            None => self.say(format!("no match for `{text}`")),
        }
    }

    /// Whether row `index` matches the search.
    pub(super) fn row_matches(&self, index: usize) -> bool {
        let (Some(search), Some(row)) = (&self.search, self.rows().get(index)) else {
            return false;
        };
        self.model()
            .get(row.key)
            .is_some_and(|p| search.search.matches(p))
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
