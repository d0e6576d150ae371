//! The keys in use: the bindings tables (`keys::BINDINGS`, `replay::REPLAY_BINDINGS`) as
//! they are, or with some actions given other keys ([`Keymap::with_overrides`], from the
//! config file's `[keys]`). The application looks keys up in it and the help lists it,
//! so the two cannot disagree. Keys are plain: Ctrl-C always quits, outside any keymap.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::{
    keys::{Action, BINDINGS, Binding, Key},
    replay::REPLAY_BINDINGS,
};

/// An action with the keys it has in this keymap.
#[derive(Clone, Debug)]
struct Entry {
    binding: &'static Binding,
    keys: Vec<Key>,
    /// What the help calls the keys.
    label: String,
    /// A replay's: listed in the help only in a replay.
    replay: bool,
}

/// Which keys do what.
#[derive(Clone, Debug)]
pub struct Keymap {
    entries: Vec<Entry>,
}

impl Default for Keymap {
    fn default() -> Self {
        let entry = |replay| {
            move |binding: &'static Binding| Entry {
                binding,
                keys: binding.keys.to_vec(),
                label: binding.label.to_owned(),
                replay,
            }
        };
        let entries = BINDINGS
            .iter()
            .map(entry(false))
            .chain(REPLAY_BINDINGS.iter().map(entry(true)))
            .collect();
        Self { entries }
    }
}

impl Keymap {
    /// The default keys, but for the actions named in `overrides` (action name, key
    /// names), which get exactly the keys given (none: unbound). A key given to an action
    /// is taken from the action that had it by default. Errors name the unknown action,
    /// the key name not understood, or the key given to two actions, in one line.
    pub fn with_overrides<S: AsRef<str>>(overrides: &[(S, Vec<S>)]) -> Result<Self, String> {
        let mut keymap = Self::default();
        let mut given: Vec<(Key, &str)> = Vec::new();
        let mut changed = Vec::new();
        for (name, keys) in overrides {
            let name = name.as_ref();
            let at = keymap
                .entries
                .iter()
                .position(|e| e.binding.name == name)
                .ok_or_else(|| format!("`{name}` is not an action; the actions: {}", names()))?;
            let mut parsed = Vec::new();
            for key in keys {
                let key = parse_key(key.as_ref()).map_err(|e| format!("{e} (for `{name}`)"))?;
                if let Some((_, other)) = given.iter().find(|(k, _)| *k == key) {
                    return Err(format!(
                        "{} is given to both `{other}` and `{name}`",
                        key_name(key)
                    ));
                }
                given.push((key, name));
                parsed.push(key);
            }
            keymap.entries[at].keys = parsed;
            changed.push(at);
        }
        for (at, entry) in keymap.entries.iter_mut().enumerate() {
            let before = entry.keys.len();
            if !changed.contains(&at) {
                entry
                    .keys
                    .retain(|key| !given.iter().any(|(k, _)| k == key));
            }
            if changed.contains(&at) || entry.keys.len() != before {
                let names: Vec<String> = entry.keys.iter().map(|&k| key_name(k)).collect();
                entry.label = names.join(" ");
            }
        }
        Ok(keymap)
    }

    /// What `key` does in the tree view.
    pub fn action(&self, key: KeyEvent) -> Option<Action> {
        // Shift only makes capitals; other modifiers make keys of their own, unbound here.
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return None;
        }
        let key = match key.code {
            KeyCode::Char(c) => Key::Char(c),
            code => Key::Code(code),
        };
        self.entries
            .iter()
            .find(|e| e.keys.contains(&key))
            .map(|e| e.binding.action)
    }

    /// What the help lists: the keys of each action (`replaying`: a replay's too) and
    /// what it does.
    pub fn help(&self, replaying: bool) -> Vec<(String, &'static str)> {
        self.entries
            .iter()
            .filter(|e| replaying || !e.replay)
            .map(|e| (e.label.clone(), e.binding.help))
            .collect()
    }
}

impl Action {
    /// What a keymap calls it: stable, for the config file.
    pub fn name(self) -> &'static str {
        BINDINGS
            .iter()
            .chain(REPLAY_BINDINGS)
            .find(|b| b.action == self)
            .map_or("", |b| b.name)
    }
}

/// Every action's name, for an error.
fn names() -> String {
    let names: Vec<&str> = BINDINGS
        .iter()
        .chain(REPLAY_BINDINGS)
        .map(|b| b.name)
        .collect();
    names.join(", ")
}

/// Named keys, as a keymap writes them.
const NAMED: &[(&str, KeyCode)] = &[
    ("Enter", KeyCode::Enter),
    ("Esc", KeyCode::Esc),
    ("Tab", KeyCode::Tab),
    ("Backspace", KeyCode::Backspace),
    ("Delete", KeyCode::Delete),
    ("Insert", KeyCode::Insert),
    ("Up", KeyCode::Up),
    ("Down", KeyCode::Down),
    ("Left", KeyCode::Left),
    ("Right", KeyCode::Right),
    ("PageUp", KeyCode::PageUp),
    ("PageDown", KeyCode::PageDown),
    ("Home", KeyCode::Home),
    ("End", KeyCode::End),
];

/// A key from its name: one character (`q`, `\`, `?`), `Space`, a name of [`NAMED`], or
/// `F1` to `F12`. Keys with Ctrl or Alt are not keymap keys.
pub fn parse_key(name: &str) -> Result<Key, String> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Ok(Key::Char(c));
    }
    if name == "Space" {
        return Ok(Key::Char(' '));
    }
    if let Some(&(_, code)) = NAMED.iter().find(|(n, _)| *n == name) {
        return Ok(Key::Code(code));
    }
    if let Some(n) = name.strip_prefix('F').and_then(|n| n.parse::<u8>().ok())
        && (1..=12).contains(&n)
    {
        return Ok(Key::Code(KeyCode::F(n)));
    }
    let named: Vec<&str> = NAMED.iter().map(|(n, _)| *n).collect();
    Err(format!(
        "`{}` is not a key: a single character, Space, {}, or F1 to F12 (without Ctrl or Alt)",
        crate::text::escape_str(name),
        named.join(", ")
    ))
}

/// A key's name, as [`parse_key`] reads it.
pub fn key_name(key: Key) -> String {
    match key {
        Key::Char(' ') => "Space".to_owned(),
        Key::Char(c) => c.to_string(),
        Key::Code(KeyCode::F(n)) => format!("F{n}"),
        Key::Code(code) => NAMED
            .iter()
            .find(|(_, c)| *c == code)
            .map_or_else(|| format!("{code:?}"), |(n, _)| (*n).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(keymap: &Keymap, code: KeyCode) -> Option<Action> {
        keymap.action(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn every_action_has_a_name_of_its_own_and_every_key_name_reads_back() {
        let all: Vec<&Binding> = BINDINGS.iter().chain(REPLAY_BINDINGS).collect();
        for (i, b) in all.iter().enumerate() {
            assert!(
                b.name.bytes().all(|c| c.is_ascii_lowercase() || c == b'-'),
                "{}",
                b.name
            );
            assert!(all[i + 1..].iter().all(|o| o.name != b.name), "{}", b.name);
            assert_eq!(b.action.name(), b.name);
            for &key in b.keys {
                assert_eq!(parse_key(&key_name(key)), Ok(key));
            }
        }
        assert_eq!(Action::Signal.name(), "signal");
    }

    #[test]
    fn overrides_take_their_keys_from_the_defaults() {
        let keymap = Keymap::with_overrides(&[
            ("up", vec!["Up", "k"]),
            ("signal", vec!["F9", "x"]),
            ("quit", vec![]),
        ])
        .unwrap();
        assert_eq!(press(&keymap, KeyCode::Char('k')), Some(Action::Up));
        assert_eq!(press(&keymap, KeyCode::Char('x')), Some(Action::Signal));
        assert_eq!(press(&keymap, KeyCode::Char('q')), None, "quit is unbound");
        let help = keymap.help(false);
        assert!(help.contains(&("Up k".to_owned(), "move up")));
        assert!(help.contains(&("F9 x".to_owned(), "send a signal (to the tagged ones)")));
        assert!(help.contains(&("? F1".to_owned(), "this help")));
        let keymap = Keymap::with_overrides(&[("help", vec!["\\", "Space"])]).unwrap();
        assert_eq!(press(&keymap, KeyCode::Char('\\')), Some(Action::Help));
        assert_eq!(press(&keymap, KeyCode::Char(' ')), Some(Action::Help));
        let help = keymap.help(false);
        assert!(help.contains(&("F4".to_owned(), "type a filter (empty: all)")));
        assert!(help.contains(&(String::new(), "tag or untag the process")));
    }

    #[test]
    fn a_bad_action_or_key_is_one_line_naming_it() {
        let err = Keymap::with_overrides(&[("jump", vec!["j"])]).unwrap_err();
        assert!(
            err.starts_with("`jump` is not an action; the actions: up, down,"),
            "{err}"
        );
        let err = Keymap::with_overrides(&[("quit", vec!["Ctrl-c"])]).unwrap_err();
        assert!(
            err.starts_with("`Ctrl-c` is not a key: a single character,"),
            "{err}"
        );
        assert!(err.ends_with("(for `quit`)"), "{err}");
        let err = Keymap::with_overrides(&[("up", vec!["F13"])]).unwrap_err();
        assert!(err.starts_with("`F13` is not a key"), "{err}");
        let err = Keymap::with_overrides(&[("up", vec!["x"]), ("down", vec!["x"])]).unwrap_err();
        assert_eq!(err, "x is given to both `up` and `down`");
        let err = Keymap::with_overrides(&[("up", vec!["\u{1b}]52"])]).unwrap_err();
        assert!(err.starts_with(r"`\e]52` is not a key"), "{err}");
    }
}
