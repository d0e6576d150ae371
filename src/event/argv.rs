//! Command lines and file names as the kernel holds them: bytes, not text.
//!
//! An argument or a file name is whatever bytes a process chose, valid UTF-8 or not. They
//! are kept exactly (a recording holds the bytes), shown through [`crate::text::escape`]
//! (undecodable bytes as `\xNN`), and written to JSON losslessly (see [`super::json`]).

use std::{borrow::Cow, fmt};

use serde::{Serialize, Serializer};

use crate::text;

/// The most of a command line any source keeps, in bytes (a closing NUL may be added): what
/// the probe can copy in the kernel, so that every backend and the /proc snapshot agree on
/// what a process's argv is, and what bounds one process's memory.
pub const MAX_ARGV_BYTES: usize = forkwatch_abi::ARGS_CAP;
/// The longest file name any source keeps, in bytes: PATH_MAX, the longest path the kernel
/// accepts (the probe keeps less).
pub const MAX_FILENAME_BYTES: usize = 4096;

/// A command line: each argument followed by a NUL, in one buffer, as the kernel keeps it
/// in a process's memory and /proc/PID/cmdline shows it. One allocation for the whole argv:
/// 8,000 empty arguments take 8,000 bytes, not 8,000 strings.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Argv(Box<[u8]>);

impl Argv {
    /// The argv area as read from the kernel or /proc: NUL-separated arguments. A last
    /// argument without its NUL (cut at a cap, or rewritten by the process) is kept.
    pub fn from_area(area: &[u8]) -> Self {
        if area.is_empty() || area.ends_with(&[0]) {
            return Self(area.into());
        }
        let mut buf = Vec::with_capacity(area.len() + 1);
        buf.extend_from_slice(area);
        buf.push(0);
        Self(buf.into())
    }

    /// [`from_area`](Self::from_area) for an area already in a buffer of its own: taken
    /// without a copy when it ends with its NUL (or is empty) and has no spare capacity.
    pub fn from_vec(mut area: Vec<u8>) -> Self {
        if !area.is_empty() && !area.ends_with(&[0]) {
            area.push(0);
        }
        Self(area.into_boxed_slice())
    }

    /// An argv of these arguments, given by forkwatch itself. Panics on an argument holding
    /// a NUL, which no process can have: bytes from elsewhere are read with their checks
    /// (the recording codec, [`Argv`]'s JSON form).
    pub fn from_args<A: AsRef<[u8]>>(args: impl IntoIterator<Item = A>) -> Self {
        let mut buf = Vec::new();
        for arg in args {
            let arg = arg.as_ref();
            assert!(!arg.contains(&0), "an argument holds a NUL byte");
            buf.extend_from_slice(arg);
            buf.push(0);
        }
        Self(buf.into())
    }

    /// The arguments, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        let body = self.0.strip_suffix(&[0]).unwrap_or(&self.0);
        let empty = self.0.is_empty();
        body.split(|&b| b == 0).filter(move |_| !empty)
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        memchr::memchr_iter(0, &self.0).count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first argument (the name the program was started as), if any.
    pub fn first(&self) -> Option<&[u8]> {
        self.iter().next()
    }

    /// The whole buffer: every argument followed by a NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Bytes held, for byte budgets.
    pub fn byte_len(&self) -> usize {
        self.0.len()
    }

    /// The command line cut to its first `max` bytes (plus a closing NUL), as the sources
    /// cut it; `None` if it is no longer than that.
    pub fn cut(&self, max: usize) -> Option<Self> {
        (self.0.len() > max + 1).then(|| Self::from_area(&self.0[..max]))
    }

    /// Whether every argument is valid UTF-8 (JSON then needs no lossless form).
    pub fn is_utf8(&self) -> bool {
        std::str::from_utf8(&self.0).is_ok()
    }

    /// Each argument as text, undecodable bytes replaced by U+FFFD: for JSON's `argv`.
    pub fn lossy(&self) -> impl Iterator<Item = Cow<'_, str>> + '_ {
        self.iter().map(String::from_utf8_lossy)
    }

    /// Each argument as text, undecodable bytes replaced by U+FFFD.
    pub fn to_strings(&self) -> Vec<String> {
        self.lossy().map(Cow::into_owned).collect()
    }

    /// The arguments joined by spaces, each [escaped](text::escape): what a tree row shows.
    pub fn joined(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        for (i, arg) in self.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            text::push_escaped(&mut out, arg);
        }
        out
    }

    /// Shell-style quoting for display, every argument [escaped](text::escape): words with
    /// spaces, quotes, shell characters or escapes are single-quoted ([`text::push_quoted`]).
    pub fn quoted(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + 8);
        for (i, arg) in self.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            text::push_quoted(&mut out, arg);
        }
        out
    }
}

impl fmt::Debug for Argv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|a| text::escape(a)))
            .finish()
    }
}

/// Compares with a list of arguments given as text: `argv == ["sleep", "30"]`.
impl<S: AsRef<str>> PartialEq<[S]> for Argv {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other)
                .all(|(a, b)| a == b.as_ref().as_bytes())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for Argv {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for Argv {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

/// A string of bytes from a process or the kernel that need not be UTF-8: a file name.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ByteString(Box<[u8]>);

impl ByteString {
    pub fn new(bytes: &[u8]) -> Self {
        Self(bytes.into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Its first `max` bytes; `None` if it is no longer than that.
    pub fn cut(&self, max: usize) -> Option<Self> {
        (self.0.len() > max).then(|| Self::new(&self.0[..max]))
    }

    pub fn is_utf8(&self) -> bool {
        std::str::from_utf8(&self.0).is_ok()
    }

    /// As text, undecodable bytes replaced by U+FFFD.
    pub fn lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// As a terminal may show it: [escaped](text::escape).
    pub fn escaped(&self) -> Cow<'_, str> {
        text::escape(&self.0)
    }
}

impl From<&str> for ByteString {
    fn from(s: &str) -> Self {
        Self::new(s.as_bytes())
    }
}

impl From<String> for ByteString {
    fn from(s: String) -> Self {
        Self(s.into_bytes().into())
    }
}

impl From<Vec<u8>> for ByteString {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes.into())
    }
}

impl PartialEq<str> for ByteString {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

impl PartialEq<&str> for ByteString {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

/// Shown [escaped](text::escape): safe to print anywhere.
impl fmt::Display for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.escaped())
    }
}

impl fmt::Debug for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.escaped())
    }
}

impl Serialize for ByteString {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        super::json::TerminalSafe(&self.lossy()).serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_area_splits_into_arguments_and_keeps_empty_ones() {
        let argv = Argv::from_area(b"sh\0-c\0\0echo hi\0");
        assert_eq!(argv, ["sh", "-c", "", "echo hi"]);
        assert_eq!(argv.len(), 4);
        assert_eq!(Argv::from_area(b"cut at the c"), ["cut at the c"]);
        assert_eq!(Argv::from_area(b"\0"), [""]);
        assert!(Argv::from_area(b"").is_empty());
        assert_eq!(Argv::from_area(b"").iter().count(), 0);
        let area = b"sh\0-c\0".to_vec();
        let at = area.as_ptr();
        let taken = Argv::from_vec(area);
        assert_eq!(
            (taken.as_bytes().as_ptr(), &taken),
            (at, &Argv::from_area(b"sh\0-c"))
        );
        assert_eq!(Argv::from_vec(b"cut".to_vec()), ["cut"]);
        assert!(Argv::from_vec(Vec::new()).is_empty());
        let empties = Argv::from_args(std::iter::repeat_n("", 8000));
        assert_eq!((empties.len(), empties.byte_len()), (8000, 8000));
    }

    #[test]
    fn cutting_keeps_the_first_bytes_and_a_closing_nul() {
        let argv = Argv::from_args(["sleep", "600"]);
        assert_eq!(argv.cut(10), None, "10 bytes and the closing NUL fit");
        assert_eq!(argv.cut(8).unwrap(), ["sleep", "60"]);
        assert_eq!(argv.cut(8).unwrap().byte_len(), 9);
        assert_eq!(argv.cut(6).unwrap(), ["sleep"]);
        assert_eq!(argv.cut(6).unwrap().byte_len(), 6);
        let file = ByteString::from("/usr/bin/sleep");
        assert_eq!(file.cut(14), None);
        assert_eq!(file.cut(4).unwrap(), "/usr");
    }

    #[test]
    fn bytes_that_are_not_text_survive_and_show_escaped() {
        let argv = Argv::from_args([&b"\xff"[..], b"ok", b"a\x1b[2Jb"]);
        assert_eq!(argv.iter().next(), Some(&b"\xff"[..]));
        assert!(!argv.is_utf8());
        assert_eq!(argv.joined(), r"\xff ok a\e[2Jb");
        assert_eq!(argv.lossy().next().unwrap(), "\u{fffd}");
        assert_eq!(ByteString::new(b"/tmp/\xfe\n").to_string(), r"/tmp/\xfe\n");
    }

    #[test]
    fn quoting_reads_like_a_shell_and_escapes() {
        let argv = Argv::from_args(["sh", "-c", "echo 'hi'", ""]);
        assert_eq!(argv.quoted(), r"sh -c 'echo '\''hi'\''' ''");
        let argv = Argv::from_args(["printf", "\x1b]52;c;aGk=\x07", "x\ny"]);
        assert_eq!(argv.quoted(), r"printf '\e]52;c;aGk=\a' 'x\ny'");
    }
}
