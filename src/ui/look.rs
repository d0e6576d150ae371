//! How the UI looks, as the config file sets it: the tree's columns and their order, the
//! styles of what the tree marks ([`Theme`]), and whether there is colour at all
//! (`NO_COLOR`, see [`Look::colour`]).

use std::str::FromStr;

use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Modifier, Style},
};

/// A column of the tree. The command is always shown, last: it takes the rest of the line,
/// after the tree guides. A new column is a variant here, its name, title and widths
/// below, and its cell in `panes::columns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Pid,
    User,
    /// The CPU share since the sample before, in percent of one CPU.
    Cpu,
    /// Resident memory.
    Mem,
    /// The scheduling state's letter.
    State,
    Threads,
    /// The container (or systemd unit) its cgroup path names.
    Container,
    Age,
    Command,
}

impl Column {
    /// Every column, in the order the config file's error lists them.
    pub const ALL: [Self; 9] = [
        Self::Pid,
        Self::User,
        Self::Cpu,
        Self::Mem,
        Self::State,
        Self::Threads,
        Self::Container,
        Self::Age,
        Self::Command,
    ];

    /// The columns without a config file, in order. CONTAINER is the config file's to add:
    /// on a machine without containers it would be an empty column taking the command's
    /// room.
    pub const DEFAULT: [Self; 8] = [
        Self::Pid,
        Self::User,
        Self::Cpu,
        Self::Mem,
        Self::State,
        Self::Threads,
        Self::Age,
        Self::Command,
    ];

    /// Its name in the config file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pid => "pid",
            Self::User => "user",
            Self::Cpu => "cpu",
            Self::Mem => "mem",
            Self::State => "state",
            Self::Threads => "threads",
            Self::Container => "container",
            Self::Age => "age",
            Self::Command => "command",
        }
    }

    /// The column named `name` in the config file (any case).
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    /// Its header.
    pub fn title(self) -> &'static str {
        match self {
            Self::Pid => "PID",
            Self::User => "USER",
            Self::Cpu => "CPU%",
            Self::Mem => "MEM",
            Self::State => "S",
            Self::Threads => "THR",
            Self::Container => "CONTAINER",
            Self::Age => "AGE",
            Self::Command => "COMMAND",
        }
    }

    /// Cells wide (the command: whatever is left).
    pub fn width(self) -> usize {
        match self {
            Self::Pid => 7,
            Self::User => 8,
            // `100.0`, `399.9`: up to four busy CPUs' worth of threads lines up.
            Self::Cpu => 5,
            Self::Mem => 5,
            Self::State => 1,
            Self::Threads => 4,
            // A short id (12 hex digits) and room for a unit's name to be recognised.
            Self::Container => 14,
            Self::Age => 6,
            Self::Command => 0,
        }
    }

    /// Numbers line up on the right, names on the left.
    pub fn right_aligned(self) -> bool {
        matches!(
            self,
            Self::Pid | Self::Cpu | Self::Mem | Self::Threads | Self::Age
        )
    }

    /// The narrowest tree pane that shows it. On narrower ones the command keeps the room:
    /// CONTAINER goes first (under 100 cells), then THR (under 80), S (under 72), USER
    /// (under 60), MEM (under 50), AGE (under 40), CPU% (under 32), PID (under 24).
    pub fn shown_from(self) -> u16 {
        match self {
            Self::Pid => 24,
            Self::Cpu => 32,
            Self::Age => 40,
            Self::Mem => 50,
            Self::User => 60,
            Self::State => 72,
            Self::Threads => 80,
            Self::Container => 100,
            Self::Command => 0,
        }
    }
}

/// The styles of what the tree marks. Each is patched over the row's own style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    /// The header line with the column titles.
    pub header: Style,
    /// The title of the column siblings are sorted by, over `header`.
    pub sorted: Style,
    /// The selected row.
    pub selection: Style,
    /// A process that started in the last two seconds.
    pub new: Style,
    /// An exited process, while it lingers.
    pub exited: Style,
    /// The exit label of a process that failed (non-zero, or killed by a signal).
    pub failed: Style,
    /// A command that matches the search.
    pub matched: Style,
    /// The `[pin]` mark of a pinned process.
    pub pin: Style,
    /// The tree guides, ancestors shown only for a filter's match, and notes.
    pub faint: Style,
    /// The `*` mark of a tagged process.
    pub tag: Style,
    /// A timeline bar of a process that exited 0 (one that failed: `failed`).
    pub succeeded: Style,
    /// A timeline bar of a process killed by a signal.
    pub killed: Style,
    /// A timeline bar of a process still running.
    pub running: Style,
    /// A folded row's sums of its subtree (CPU%, MEM) and its count of live processes
    /// folded away (`[+12]`).
    pub total: Style,
}

impl Default for Theme {
    fn default() -> Self {
        Self {
            header: Style::new().fg(Color::Black).bg(Color::Green),
            // As htop marks it; bold, so that without colour it still stands out.
            sorted: Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            selection: Style::new().fg(Color::Black).bg(Color::Cyan),
            new: Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
            exited: Style::new().fg(Color::DarkGray).add_modifier(Modifier::DIM),
            failed: Style::new().fg(Color::Red),
            matched: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            pin: Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
            faint: Style::new().fg(Color::DarkGray),
            tag: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            succeeded: Style::new().fg(Color::Green),
            killed: Style::new().fg(Color::Magenta),
            running: Style::new().fg(Color::Cyan),
            // Underlined: without colour a total still looks unlike a process's own value.
            total: Style::new()
                .fg(Color::LightBlue)
                .add_modifier(Modifier::UNDERLINED),
        }
    }
}

impl Theme {
    /// The names of its styles in the config file's `[colours]`, with a mutable reference
    /// to each.
    fn styles_mut(&mut self) -> [(&'static str, &mut Style); 14] {
        [
            ("header", &mut self.header),
            ("sorted", &mut self.sorted),
            ("selection", &mut self.selection),
            ("new", &mut self.new),
            ("exited", &mut self.exited),
            ("failed", &mut self.failed),
            ("match", &mut self.matched),
            ("pin", &mut self.pin),
            ("faint", &mut self.faint),
            ("tag", &mut self.tag),
            ("succeeded", &mut self.succeeded),
            ("killed", &mut self.killed),
            ("running", &mut self.running),
            ("total", &mut self.total),
        ]
    }

    /// The names of its styles in the config file's `[colours]`.
    pub fn names() -> [&'static str; 14] {
        Self::default().styles_mut().map(|(name, _)| name)
    }

    /// The style named `name` in the config file's `[colours]`.
    pub fn style_mut(&mut self, name: &str) -> Option<&mut Style> {
        let found = self.styles_mut().into_iter().find(|(n, _)| *n == name);
        found.map(|(_, style)| style)
    }
}

/// A style as the config file writes it: words, in any order, among a colour (the
/// foreground), `on` and a colour (the background), and `bold`, `dim`, `italic`,
/// `underlined`, `reversed`; e.g. `"black on cyan"`, `"bold yellow"`, `"reversed"`.
/// Colours are ratatui's names (`red`, `dark-gray`, `light-blue`, ...), a 256-colour
/// index (`208`) or `#rrggbb`.
pub fn parse_style(text: &str) -> Result<Style, String> {
    let mut style = Style::new();
    let mut words = text.split_whitespace();
    while let Some(word) = words.next() {
        let modifier = match word.to_ascii_lowercase().as_str() {
            "bold" => Modifier::BOLD,
            "dim" => Modifier::DIM,
            "italic" => Modifier::ITALIC,
            "underlined" => Modifier::UNDERLINED,
            "reversed" => Modifier::REVERSED,
            "on" => {
                let colour = words.next().ok_or("`on` needs a colour after it")?;
                style = style.bg(colour_named(colour)?);
                continue;
            }
            _ => {
                style = style.fg(colour_named(word)?);
                continue;
            }
        };
        style = style.add_modifier(modifier);
    }
    Ok(style)
}

fn colour_named(word: &str) -> Result<Color, String> {
    Color::from_str(word).map_err(|_| format!("`{word}` is not a colour or a style word"))
}

/// How the UI looks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Look {
    /// The tree's columns, in order; the command is always there, last.
    pub columns: Vec<Column>,
    pub theme: Theme,
    /// Colours are drawn. Without, every cell is drawn in the terminal's own colours, and
    /// one that had a background is reversed instead, so the selection, the header and the
    /// status line still stand out.
    pub colour: bool,
}

impl Default for Look {
    fn default() -> Self {
        Self {
            columns: Column::DEFAULT.to_vec(),
            theme: Theme::default(),
            colour: true,
        }
    }
}

impl Look {
    /// The columns a tree pane `width` cells wide shows, in order: the command always.
    pub fn shown(&self, width: u16) -> impl Iterator<Item = Column> + '_ {
        self.columns
            .iter()
            .copied()
            .filter(move |c| width >= c.shown_from())
    }

    /// Takes the colours out of what was drawn in `area`, if there are to be none.
    pub fn apply_colour(&self, area: Rect, buf: &mut Buffer) {
        if self.colour {
            return;
        }
        for y in area.top()..area.bottom() {
            for x in area.left()..area.right() {
                let cell = &mut buf[(x, y)];
                if cell.bg != Color::Reset {
                    cell.modifier.insert(Modifier::REVERSED);
                }
                cell.fg = Color::Reset;
                cell.bg = Color::Reset;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_are_read_from_words() {
        assert_eq!(
            parse_style("black on cyan"),
            Ok(Style::new().fg(Color::Black).bg(Color::Cyan))
        );
        assert_eq!(
            parse_style("Bold  dark-gray on #102030 reversed"),
            Ok(Style::new()
                .fg(Color::DarkGray)
                .bg(Color::Rgb(0x10, 0x20, 0x30))
                .add_modifier(Modifier::BOLD | Modifier::REVERSED))
        );
        assert_eq!(parse_style("208"), Ok(Style::new().fg(Color::Indexed(208))));
        assert_eq!(parse_style(""), Ok(Style::new()));
        assert_eq!(
            parse_style("blod red"),
            Err("`blod` is not a colour or a style word".to_owned())
        );
        assert_eq!(
            parse_style("red on"),
            Err("`on` needs a colour after it".to_owned())
        );
    }

    #[test]
    fn narrow_panes_drop_columns_in_the_stated_order() {
        let look = Look {
            columns: Column::ALL.to_vec(),
            ..Look::default()
        };
        let shown = |width| look.shown(width).map(Column::name).collect::<Vec<_>>();
        let all = [
            "pid",
            "user",
            "cpu",
            "mem",
            "state",
            "threads",
            "container",
            "age",
            "command",
        ];
        assert_eq!(shown(100), all);
        let gone_from = [
            (99, "container"),
            (79, "threads"),
            (71, "state"),
            (59, "user"),
            (49, "mem"),
            (39, "age"),
            (31, "cpu"),
            (23, "pid"),
        ];
        let mut left = all.to_vec();
        for (width, gone) in gone_from {
            left.retain(|&c| c != gone);
            assert_eq!(shown(width), left, "at {width} cells");
            assert_eq!(
                shown(width + 1).len(),
                left.len() + 1,
                "at {} cells",
                width + 1
            );
        }
        assert_eq!(shown(23), ["command"]);
    }
}
