//! The tree's columns before the command: their cells, padded to their widths. Which
//! columns there are, in which order and from which width, is the [`Look`]'s.

use crate::event::host::shown_pid;
use unicode_width::UnicodeWidthChar;

use super::super::{
    component::View,
    look::{Column, Look},
};
use crate::{
    event::{container::container_of, duration},
    text,
    tracker::model::Process,
};

/// The header before COMMAND, for a pane `width` cells wide.
pub fn header(look: &Look, width: u16) -> String {
    prefix(look, width, |column| column.title().to_owned())
}

/// The cells before the command of `process`'s row, for a pane `width` cells wide.
pub fn cells(look: &Look, width: u16, process: &Process, view: &View) -> String {
    prefix(look, width, |column| cell(column, process, view))
}

/// The shown columns but the command, each padded or cut to its width, and a space.
fn prefix(look: &Look, width: u16, text: impl Fn(Column) -> String) -> String {
    let mut out = String::new();
    for column in look.shown(width).filter(|&c| c != Column::Command) {
        let whole = text(column);
        let (text, used) = fit(&whole, column.width());
        let pad = " ".repeat(column.width() - used);
        if column.right_aligned() {
            out.push_str(&pad);
            out.push_str(text);
        } else {
            out.push_str(text);
            out.push_str(&pad);
        }
        out.push(' ');
    }
    out
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
        Column::Age => match process.run_ns() {
            Some(run) => duration::run_time(run),
            None => duration::age(view.now_ns.saturating_sub(process.start_ns)),
        },
        Column::Command => String::new(),
    }
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
