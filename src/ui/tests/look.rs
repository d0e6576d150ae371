//! The config file's look on screen: its columns in its order, its styles, its linger,
//! and a screen without colour for `NO_COLOR`.

use std::{ffi::OsStr, path::Path};

use super::*;
use crate::config::Config;

fn config(text: &str) -> Config {
    Config::parse(Path::new("config.toml"), text.to_owned()).unwrap()
}

/// [`machine`], its model and look as `config` sets them.
fn machine_with(config: &Config, no_color: Option<&str>) -> App {
    let mut model = Model::new(config.model());
    model.seed(&machine_processes());
    let source = SourceInfo {
        name: "eBPF".into(),
        ..SourceInfo::default()
    };
    let mut app = App::new(model, source, noon_clock(), 990 * S, users());
    app.tree.look = config.look(no_color.map(OsStr::new));
    update(&mut app, AppEvent::Events(make_events()));
    update(&mut app, AppEvent::Tick(1_000 * S));
    app
}

#[test]
fn the_tree_draws_the_configured_columns_in_their_order() {
    let config = config(
        r#"
columns = ["age", "user", "pid", "command"]
[colours]
selection = "white on blue bold"
"#,
    );
    let mut app = machine_with(&config, None);
    let buf = draw_at(&mut app, 80, 6);
    assert_screen(
        &text(&buf),
        r"
   AGE USER         PID COMMAND
16m39s root           1 /sbin/init
16m30s root         400 ├─ /usr/sbin/sshd -D
 8m20s alice        812 │  └─ -bash
   10s alice        900 │     └─ make -j2
eBPF │ 8 processes, 2 exited │ 0 lost │           █          0/s │ ? help
",
    );
    let selected = style_at(&buf, "/sbin/init");
    assert_eq!(
        (selected.fg, selected.bg),
        (Some(Color::White), Some(Color::Blue))
    );
    assert!(selected.add_modifier.contains(Modifier::BOLD));
    // Narrower: USER goes first, then AGE; the command stays.
    assert_screen(
        &screen(&mut app, 45, 3),
        r"
   AGE     PID COMMAND
16m39s       1 /sbin/init
eBPF │ 8 processes, 2 exited │ 0 lost │ 0/s │
",
    );
    assert_screen(
        &screen(&mut app, 30, 3),
        r"
    PID COMMAND
      1 /sbin/init
eBPF │ 8 processes, 2 exited │
",
    );
}

#[test]
fn the_configured_linger_decides_when_exited_processes_leave() {
    let short = screen(
        &mut machine_with(&config("linger = \"500ms\""), None),
        80,
        12,
    );
    assert!(!short.contains("cc -c"), "{short}");
    let default = screen(&mut machine_with(&config(""), None), 80, 12);
    assert!(default.contains("[exit 0] cc -c main.c"), "{default}");
}

/// Every cell of `buf` in the terminal's own colours.
fn colourless(buf: &Buffer) -> bool {
    buf.content()
        .iter()
        .all(|cell| cell.fg == Color::Reset && cell.bg == Color::Reset)
}

#[test]
fn no_color_gives_a_screen_without_colour_where_the_selection_still_shows() {
    let mut plain = machine_with(&config(""), Some("1"));
    // The details pane, a search match and the help dialog draw in colour too.
    key(&mut plain, KeyCode::Char('d'));
    key(&mut plain, KeyCode::Char('/'));
    type_text(&mut plain, "make");
    key(&mut plain, KeyCode::Enter);
    let buf = draw_at(&mut plain, 100, 20);
    assert!(colourless(&buf), "{buf:?}");
    // The selected row, and the command there (after `└─ `), the search's match.
    let (x, y) = find(&buf, "└─ make -j2");
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
    let command = buf[(x + 3, y)].modifier;
    assert!(
        command.contains(Modifier::REVERSED | Modifier::BOLD),
        "{command:?}"
    );
    assert!(style_at(&buf, "/usr/sbin/cron").add_modifier.is_empty());
    assert!(
        style_at(&buf, "PID")
            .add_modifier
            .contains(Modifier::REVERSED)
    );
    key(&mut plain, KeyCode::Char('?'));
    assert!(colourless(&draw_at(&mut plain, 100, 30)));

    // The same screens have colours otherwise: the check above can fail.
    let mut coloured = machine_with(&config(""), Some(""));
    key(&mut coloured, KeyCode::Char('d'));
    assert!(!colourless(&draw_at(&mut coloured, 100, 20)));
    let always = config("colour = \"always\"");
    assert!(!colourless(&draw_at(
        &mut machine_with(&always, Some("1")),
        100,
        20
    )));
    let new = style_at(&draw_at(&mut coloured, 100, 20), "ld -o app");
    assert_eq!(new.fg, Some(Color::Green), "a new process");
}
