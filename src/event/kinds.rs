//! The kinds of event, defined once. One table gives each kind every name and number it
//! has outside the program: its name for users (the JSON `kind`, `--kinds` lists, text
//! lines), its tag in recordings, its bit in kmonitor's relayed signals, its label in the
//! mask dialog and the number the probe writes for it. Tags and bits are a file format and
//! a wire ABI: they never change, and the tests pin them.

use std::{fmt, str::FromStr};

use forkwatch_abi::kind as probe;

/// The kinds of event, as a small set (`--kinds`, pin masks, relay rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum KindName {
    Fork,
    ThreadStart,
    Exec,
    Exit,
    ThreadExit,
    Uid,
    Gid,
    Lost,
    Sample,
}

/// What one kind is called and numbered outside the program.
struct Row {
    kind: KindName,
    /// The JSON `kind`, a `--kinds` list's word, a text line's second field.
    name: &'static str,
    /// The record's first byte in an events frame (docs/recording.md).
    tag: u8,
    /// si_int of a kmonitor relayed signal; a loss report concerns no process and is not
    /// relayed.
    kmonitor: Option<i32>,
    /// The mask dialog's label; a pin always logs loss reports, so they have none.
    mask: Option<&'static str>,
    /// `RawEvent::kind` as the probe writes it; the probe writes no loss records.
    probe: Option<u32>,
}

const fn row(
    kind: KindName,
    name: &'static str,
    tag: u8,
    kmonitor: Option<i32>,
    mask: Option<&'static str>,
    probe: Option<u32>,
) -> Row {
    Row {
        kind,
        name,
        tag,
        kmonitor,
        mask,
        probe,
    }
}

/// Every kind, in [`KindName`] order (checked below).
#[rustfmt::skip]
const TABLE: [Row; 9] = [
    //  kind                   name            tag  kmonitor     mask                  probe
    row(KindName::Fork,        "fork",         0,   Some(0x08),  Some("fork"),         Some(probe::FORK)),
    row(KindName::ThreadStart, "thread_start", 1,   Some(0x01),  Some("thread start"), Some(probe::THREAD_START)),
    row(KindName::Exec,        "exec",         2,   Some(0x20),  Some("exec"),         Some(probe::EXEC)),
    row(KindName::Exit,        "exit",         3,   Some(0x40),  Some("exit"),         Some(probe::EXIT)),
    row(KindName::ThreadExit,  "thread_exit",  4,   Some(0x04),  Some("thread exit"),  Some(probe::THREAD_EXIT)),
    row(KindName::Uid,         "uid",          5,   Some(0x80),  Some("uid change"),   Some(probe::UID)),
    row(KindName::Gid,         "gid",          6,   Some(0x100), Some("gid change"),   Some(probe::GID)),
    row(KindName::Lost,        "lost",         7,   None,        None,                 None),
    row(KindName::Sample,      "sample",       8,   None,        None,                 None),
];

/// A kind's row is at its own index, so that looking it up is one step.
const _: () = {
    let mut at = 0;
    while at < TABLE.len() {
        assert!(
            TABLE[at].kind as usize == at,
            "TABLE is not in KindName order"
        );
        at += 1;
    }
};

impl KindName {
    pub const ALL: [KindName; TABLE.len()] = {
        let mut all = [KindName::Fork; TABLE.len()];
        let mut at = 0;
        while at < TABLE.len() {
            all[at] = TABLE[at].kind;
            at += 1;
        }
        all
    };

    const fn row(self) -> &'static Row {
        &TABLE[self as usize]
    }

    /// The name users read and write: the JSON `kind`, `--kinds` lists, text lines.
    pub const fn as_str(self) -> &'static str {
        self.row().name
    }

    /// The kind's tag in a recording's events frame.
    pub const fn codec_tag(self) -> u8 {
        self.row().tag
    }

    /// The kind a recording's tag stands for; `None` for a tag no writer uses.
    pub fn from_codec_tag(tag: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.codec_tag() == tag)
    }

    /// kmonitor's event bit (si_int of the kmonitor layout; uid and gid are new); `None`
    /// for a loss report, which concerns no process.
    pub const fn kmonitor_bit(self) -> Option<i32> {
        self.row().kmonitor
    }

    /// How the mask dialog names the kind; `None` for loss reports, which a pin always
    /// logs.
    pub const fn mask_label(self) -> Option<&'static str> {
        self.row().mask
    }

    /// The kind of a probe record (`RawEvent::kind`); `None` for a number the probe does
    /// not write.
    pub fn from_probe(kind: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.row().probe == Some(kind))
    }
}

impl fmt::Display for KindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KindName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown event kind `{s}` (known: {})", names.join(", "))
            })
    }
}

/// A set of event kinds, parsed from a comma-separated list such as `fork,exec,exit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KindSet(u16);

impl KindSet {
    /// Every kind of lifetime event: all but samples, which are asked for by name
    /// (`--kinds sample`) and never logged, relayed or masked.
    pub const ALL: Self = Self(((1 << KindName::ALL.len()) - 1) & !(1 << KindName::Sample as u8));
    pub const NONE: Self = Self(0);

    pub fn contains(self, kind: KindName) -> bool {
        self.0 & (1 << kind as u8) != 0
    }

    pub fn with(self, kind: KindName) -> Self {
        Self(self.0 | 1 << kind as u8)
    }

    pub fn without(self, kind: KindName) -> Self {
        Self(self.0 & !(1 << kind as u8))
    }

    pub fn iter(self) -> impl Iterator<Item = KindName> {
        KindName::ALL.into_iter().filter(move |&k| self.contains(k))
    }
}

impl Default for KindSet {
    fn default() -> Self {
        Self::ALL
    }
}

impl FromStr for KindSet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut set = Self::NONE;
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            set = set.with(name.parse()?);
        }
        if set == Self::NONE {
            return Err("the list of event kinds is empty".into());
        }
        Ok(set)
    }
}

impl fmt::Display for KindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.iter().map(KindName::as_str).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_lists_parse_and_reject_unknown_names() {
        let set: KindSet = "fork, exec,exit".parse().unwrap();
        assert!(set.contains(KindName::Exec));
        assert!(!set.contains(KindName::Uid));
        assert_eq!(set.to_string(), "fork,exec,exit");
        let err = "fork,spawn".parse::<KindSet>().unwrap_err();
        assert!(
            err.contains("spawn") && err.contains("thread_start"),
            "{err}"
        );
        assert!("".parse::<KindSet>().is_err());
    }

    /// Recordings on disk and programs that read kmonitor signals depend on these numbers.
    #[test]
    fn tags_bits_and_probe_numbers_never_change() {
        let tags = KindName::ALL.map(KindName::codec_tag);
        assert_eq!(tags, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
        let bits = KindName::ALL.map(KindName::kmonitor_bit);
        assert_eq!(
            bits,
            [
                Some(0x08),
                Some(0x01),
                Some(0x20),
                Some(0x40),
                Some(0x04),
                Some(0x80),
                Some(0x100),
                None,
                None
            ]
        );
        let numbers = KindName::ALL.map(|k| k.row().probe);
        let probe_writes = [1, 2, 3, 4, 5, 6, 7].map(Some);
        assert_eq!(numbers[..7], probe_writes);
        assert_eq!(
            numbers[7..],
            [None, None],
            "the probe writes no loss or sample records"
        );
        for kind in KindName::ALL {
            assert_eq!(KindName::from_codec_tag(kind.codec_tag()), Some(kind));
            if let Some(number) = kind.row().probe {
                assert_eq!(KindName::from_probe(number), Some(kind));
            }
        }
        assert_eq!(KindName::from_codec_tag(9), None);
        assert_eq!(KindName::from_probe(0), None);
    }
}
