//! The tree's columns before the command: their cells, padded to their widths. Which
//! columns there are, in which order and from which width, is the [`Look`]'s.

use super::super::{
    component::View,
    look::{Column, Look},
};
use crate::{event::duration, tracker::model::Process};

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
        let text: String = text(column).chars().take(column.width()).collect();
        let width = column.width();
        if column.right_aligned() {
            out.push_str(&format!("{text:>width$} "));
        } else {
            out.push_str(&format!("{text:<width$} "));
        }
    }
    out
}

/// What `column` shows of `process` (the command is drawn by the tree, after its guides).
fn cell(column: Column, process: &Process, view: &View) -> String {
    match column {
        Column::Pid => process.key.pid.to_string(),
        Column::User => match process.creds {
            Some(c) => match view.users.name(c.uid) {
                Some(name) => name.to_owned(),
                None => c.uid.to_string(),
            },
            None => "?".to_owned(),
        },
        Column::Age => match process.run_ns() {
            Some(run) => duration::run_time(run),
            None => duration::age(view.now_ns.saturating_sub(process.start_ns)),
        },
        Column::Command => String::new(),
    }
}
