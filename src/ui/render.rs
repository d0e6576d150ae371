//! Drawing: a pure function of the state. [`App::prepare`] lays the screen out first (it
//! is part of the state: a mouse click is mapped through it); then `&App` renders as a
//! widget.

use ratatui::{
    buffer::Buffer,
    layout::{Position, Rect},
    style::{Color, Style},
    text::Line,
    widgets::{Block, Clear, Paragraph, Widget},
};

use super::{
    app::App,
    component::Component,
    format,
    panes::{Pane, Place},
    status,
};
use crate::text;

/// Wide enough for side panes beside the tree; narrower, they go below it.
const SIDE_BY_SIDE: u16 = 100;

/// Where each part of the screen goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// The banner with the source's notices, wrapped.
    pub banner: Rect,
    pub banner_lines: Vec<String>,
    /// The tree pane, header line included.
    pub tree: Rect,
    pub panes: Vec<(Pane, Rect)>,
    pub status: Rect,
}

impl Layout {
    pub fn new(area: Rect, app: &App) -> Self {
        let status = Rect {
            y: area.bottom().saturating_sub(1),
            height: area.height.min(1),
            ..area
        };
        let mut main = Rect {
            height: area.height - status.height,
            ..area
        };

        let mut banner_lines = Vec::new();
        if app.banner {
            // Notices quote errors, recordings and file names: escaped, whatever said them.
            let notices = app.source.notices.iter().map(|n| text::escape_str(n));
            for notice in notices.chain(["Esc hides this".into()]) {
                banner_lines.extend(format::wrap(&notice, area.width as usize));
            }
            // A third of the screen, at least a line; none on a screen with no room.
            banner_lines.truncate((main.height / 3).max(1).min(main.height) as usize);
        }
        let banner = Rect {
            height: (banner_lines.len() as u16).min(main.height),
            ..main
        };
        main.y += banner.height;
        main.height -= banner.height;

        let mut panes = Vec::new();
        let bottom: Vec<Pane> = app.panes.open_in(Place::Bottom);
        if !bottom.is_empty() {
            let height = (main.height / 3).max(6).min(main.height / 2);
            let row = Rect {
                y: main.bottom() - height,
                height,
                ..main
            };
            main.height -= height;
            let parts = split(row, bottom.len(), false);
            panes.extend(bottom.into_iter().zip(parts));
        }
        let side: Vec<Pane> = app.panes.open_in(Place::Side);
        if !side.is_empty() {
            let column = if main.width >= SIDE_BY_SIDE {
                let width = main.width * 2 / 5;
                main.width -= width;
                Rect {
                    x: main.right(),
                    width,
                    ..main
                }
            } else {
                let height = main.height / 2;
                main.height -= height;
                Rect {
                    y: main.bottom(),
                    height,
                    ..main
                }
            };
            let parts = split(column, side.len(), true);
            panes.extend(side.into_iter().zip(parts));
        }
        Self {
            banner,
            banner_lines,
            tree: main,
            panes,
            status,
        }
    }

    /// The tree's rows, below its header line.
    pub fn tree_body(&self) -> Rect {
        Rect {
            y: self.tree.y + self.tree.height.min(1),
            height: self.tree.height.saturating_sub(1),
            ..self.tree
        }
    }

    /// How many rows of the tree are shown.
    pub fn tree_height(&self) -> usize {
        self.tree_body().height as usize
    }

    /// Which shown row of the tree is at `at`, counted from the first shown.
    pub fn tree_row_at(&self, at: Position) -> Option<usize> {
        let body = self.tree_body();
        body.contains(at).then(|| (at.y - body.y) as usize)
    }
}

/// `area` in `n` equal parts, stacked (`vertical`) or side by side; the last takes what
/// rounding leaves.
fn split(area: Rect, n: usize, vertical: bool) -> Vec<Rect> {
    let n = n.max(1) as u16;
    let len = if vertical { area.height } else { area.width };
    (0..n)
        .map(|i| {
            let at = len / n * i;
            let part = if i + 1 == n { len - at } else { len / n };
            if vertical {
                Rect {
                    y: area.y + at,
                    height: part,
                    ..area
                }
            } else {
                Rect {
                    x: area.x + at,
                    width: part,
                    ..area
                }
            }
        })
        .collect()
}

/// The entry picked in a dialog's list.
pub const PICKED: Style = Style::new().fg(Color::Black).bg(Color::Cyan);
/// The keys of a dialog that picks from a list.
pub const CHOOSE_KEYS: &str = " ↑↓ choose · Enter · Esc cancels ";

/// Draws a dialog: `lines` in a box of `width` x `height` in the middle of `area`, over
/// what was there, with `title` on its top border and `keys` on its bottom one.
pub fn popup<'a>(
    area: Rect,
    buf: &mut Buffer,
    (width, height): (u16, u16),
    title: impl Into<Line<'a>>,
    keys: impl Into<Line<'a>>,
    lines: Vec<Line<'a>>,
) {
    let popup = centered(area, width, height);
    Clear.render(popup, buf);
    Paragraph::new(lines)
        .block(Block::bordered().title(title).title_bottom(keys))
        .render(popup, buf);
}

/// A `width` x `height` rectangle in the middle of `area` (smaller if it does not fit).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

impl Widget for &App {
    /// Draws the screen laid out by the last [`App::prepare`] (for this `area`).
    fn render(self, area: Rect, buf: &mut Buffer) {
        let layout = &self.layout;
        let banner_style = Style::new().fg(Color::Black).bg(Color::Yellow);
        buf.set_style(layout.banner, banner_style);
        let rows = layout.banner.y..layout.banner.bottom();
        for (line, y) in layout.banner_lines.iter().zip(rows) {
            buf.set_stringn(area.x, y, line, area.width as usize, banner_style);
        }
        self.tree.draw(layout.tree, buf, &self.view(None));
        for &(pane, rect) in &layout.panes {
            self.panes.get(pane).draw(rect, buf, &self.view(Some(pane)));
        }
        status::render(self, layout.status, buf);
        if let Some(dialog) = &self.dialog {
            let area = if dialog.on_status_line() {
                layout.status
            } else {
                area
            };
            dialog.draw(area, buf, &self.view(None));
        }
        // The panes and dialogs draw in colour; without, it is taken out in one place.
        self.tree.look.apply_colour(area, buf);
    }
}
