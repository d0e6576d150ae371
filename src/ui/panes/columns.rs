//! The tree's columns before the command: their cells, padded to their widths. Which
//! columns there are, in which order and from which width, is the [`Look`]'s.

use crate::event::host::shown_pid;
use unicode_width::UnicodeWidthChar;

use super::super::{
    component::View,
    look::{Column, Look},
    sort::{self, Sort},
};
use crate::{
    event::{bytes_short, container::container_of, duration},
    text,
    tracker::model::{Model, Process},
};

/// What a folded row shows of its whole subtree, itself included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Live processes below it, folded away.
    pub hidden_alive: usize,
    /// The CPU shares of its live processes summed, per mille of one CPU; none if no
    /// process has one yet.
    pub cpu_permille: Option<u64>,
    /// The resident memory of its live processes summed; none if none was sampled.
    pub rss_bytes: Option<u64>,
}

impl Totals {
    /// The totals of the subtree of `process`: walked at each frame, for the folded rows
    /// on screen only.
    pub fn of(model: &Model, process: &Process) -> Self {
        let mut totals = Self::default();
        for member in model.subtree(process.key).filter(|p| p.is_alive()) {
            if member.key != process.key {
                totals.hidden_alive += 1;
            }
            if let Some(cpu) = sort::cpu_permille(member) {
                *totals.cpu_permille.get_or_insert(0) += u64::from(cpu);
            }
            if let Some(rss) = sort::rss_bytes(member) {
                *totals.rss_bytes.get_or_insert(0) += rss;
            }
        }
        totals
    }

    /// Whether `column` shows a total rather than the process's own value.
    pub fn sums(column: Column) -> bool {
        matches!(column, Column::Cpu | Column::Mem)
    }
}

/// The header's titles for a pane `width` cells wide, COMMAND's last, each with its
/// column: a descending sort marks its column's title with a `v`.
pub fn header(look: &Look, width: u16, sort: Sort) -> Vec<(String, Column)> {
    let title = |column: Column| {
        let mut title = column.title().to_owned();
        if sort.by.column() == column && sort.descending {
            title.push('v');
        }
        title
    };
    let mut titles = prefix(look, width, title);
    titles.push((title(Column::Command), Column::Command));
    titles
}

/// The cells before the command of `process`'s row, for a pane `width` cells wide, each
/// with whether it is a total of the folded subtree (`totals`, for a folded row).
pub fn cells(
    look: &Look,
    width: u16,
    process: &Process,
    view: &View,
    totals: Option<&Totals>,
) -> Vec<(String, bool)> {
    prefix(look, width, |column| match totals {
        Some(totals) if Totals::sums(column) => total(column, totals),
        _ => cell(column, process, view),
    })
    .into_iter()
    .map(|(text, column)| (text, totals.is_some() && Totals::sums(column)))
    .collect()
}

/// The shown columns but the command, each padded or cut to its width, and a space.
fn prefix(look: &Look, width: u16, text: impl Fn(Column) -> String) -> Vec<(String, Column)> {
    let mut out = Vec::new();
    for column in look.shown(width).filter(|&c| c != Column::Command) {
        let whole = text(column);
        let (text, used) = fit(&whole, column.width());
        let pad = " ".repeat(column.width() - used);
        let cell = if column.right_aligned() {
            format!("{pad}{text} ")
        } else {
            format!("{text}{pad} ")
        };
        out.push((cell, column));
    }
    out
}

/// A summed column of a folded row.
fn total(column: Column, totals: &Totals) -> String {
    match column {
        Column::Cpu => totals
            .cpu_permille
            .map_or_else(String::new, |p| format!("{}.{}", p / 10, p % 10)),
        Column::Mem => totals.rss_bytes.map_or_else(String::new, bytes_short),
        _ => String::new(),
    }
}

/// The longest start of `text` that takes at most `width` cells, and the cells it takes:
/// a wide character in a name must not push the next column out of line.
fn fit(text: &str, width: usize) -> (&str, usize) {
    let mut used = 0;
    for (at, c) in text.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > width {
            return (&text[..at], used);
        }
        used += w;
    }
    (text, used)
}

/// What `column` shows of `process` (the command is drawn by the tree, after its guides).
fn cell(column: Column, process: &Process, view: &View) -> String {
    match column {
        Column::Pid => shown_pid(process.key.pid).to_string(),
        Column::User => match process.creds {
            Some(c) => match view.users.name(c.uid) {
                Some(name) => name.to_owned(),
                None => c.uid.to_string(),
            },
            None => "?".to_owned(),
        },
        // Only the rows on screen are drawn, so the path is read again at each frame for
        // a screenful of rows, not for the whole tree. Its bytes are anyone's who may
        // make a cgroup: escaped.
        Column::Container => process
            .cgroup
            .as_ref()
            .and_then(|path| container_of(path.as_bytes()))
            .map_or_else(String::new, |c| text::escape(c.short()).into_owned()),
        Column::Cpu => (process.resources.sampled)
            .filter(|_| process.is_alive())
            .map_or_else(String::new, |s| s.cpu_percent()),
        Column::Mem => sort::rss_bytes(process).map_or_else(String::new, bytes_short),
        Column::State => sampled(process).map_or_else(String::new, |s| s.state.to_string()),
        Column::Threads => sampled(process).map_or_else(String::new, |s| s.threads.to_string()),
        Column::Age => match process.run_ns() {
            Some(run) => duration::run_time(run),
            None => duration::age(view.now_ns.saturating_sub(process.start_ns)),
        },
        Column::Command => String::new(),
    }
}

/// A live process's latest sample: an exited one shows none.
fn sampled(process: &Process) -> Option<crate::event::Sample> {
    let sampled = process.resources.sampled.filter(|_| process.is_alive())?;
    Some(sampled.sample)
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn cells_are_cut_by_the_cells_characters_take() {
        assert_eq!(fit("ウェブ.service", 5), ("ウェ", 4));
        assert_eq!(fit("web.service", 5), ("web.s", 5));
        assert_eq!(fit("web", 5), ("web", 3));
    }
}
