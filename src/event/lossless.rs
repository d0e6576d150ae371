//! Bytes in JSON, losslessly: the form events (README "JSON fields") and a recording's
//! snapshot frames (docs/recording.md) share. A command name, file name or argv is its text,
//! undecodable bytes replaced by U+FFFD, so that every consumer can read it; when that text
//! is not the exact bytes, they come beside it in a `_base64` field (RFC 4648, padded; for
//! an argv one string per argument, every argument).
//!
//! What is read here may come from someone else's recording: an argument holding a NUL
//! (which no process can have) is an error, not two arguments.

use std::{borrow::Cow, fmt};

use base64::{DecodeError, Engine, engine::general_purpose::STANDARD as BASE64};
use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{self, DeserializeSeed, SeqAccess, Visitor},
    ser::SerializeSeq,
};

use super::{Argv, ByteString, CgroupPath, Comm, json::TerminalSafe};

/// For a `_base64` field: the exact bytes, when their text is not them.
fn base64_beside(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes)
        .is_err()
        .then(|| BASE64.encode(bytes))
}

/// The exact bytes of a text field and the `_base64` field beside it.
fn exact<'a>(text: &'a str, base64: Option<&str>) -> Result<Cow<'a, [u8]>, DecodeError> {
    match base64 {
        Some(b) => BASE64.decode(b).map(Cow::Owned),
        None => Ok(Cow::Borrowed(text.as_bytes())),
    }
}

impl Comm {
    /// For `comm_base64`: the exact bytes, when [`Comm::as_str`] is not them.
    pub fn base64_beside(&self) -> Option<String> {
        base64_beside(self.as_bytes())
    }

    /// The name a JSON `comm` and `comm_base64` give.
    pub fn from_json(text: &str, base64: Option<&str>) -> Result<Self, DecodeError> {
        Ok(Self::from_bytes(&exact(text, base64)?))
    }
}

impl CgroupPath {
    /// For `cgroup_base64`: the exact bytes, when [`CgroupPath::as_str`] is not them.
    pub fn base64_beside(&self) -> Option<String> {
        base64_beside(self.as_bytes())
    }

    /// The path a JSON `cgroup` and `cgroup_base64` give.
    pub fn from_json(text: &str, base64: Option<&str>) -> Result<Self, DecodeError> {
        Ok(Self::new(&exact(text, base64)?))
    }
}

impl ByteString {
    /// For a `_base64` field: the exact bytes, when [`ByteString::lossy`] is not them.
    pub fn base64_beside(&self) -> Option<String> {
        base64_beside(self.as_bytes())
    }

    /// The bytes a JSON text field and its `_base64` field give.
    pub fn from_json(text: &str, base64: Option<&str>) -> Result<Self, DecodeError> {
        Ok(Self::new(&exact(text, base64)?))
    }
}

impl Argv {
    /// For `argv_base64`: the exact arguments, when the text form (`argv`) is not them.
    pub fn base64_beside(&self) -> Option<ExactArgv<'_>> {
        (!self.is_utf8()).then_some(ExactArgv(Cow::Borrowed(self)))
    }

    /// The argv a JSON `argv` and `argv_base64` give: the exact form where there is one.
    pub fn from_json(text: Option<Argv>, base64: Option<ExactArgv<'_>>) -> Self {
        match base64 {
            Some(exact) => exact.0.into_owned(),
            None => text.unwrap_or_default(),
        }
    }
}

/// JSON: an array of strings, undecodable bytes as U+FFFD.
impl Serialize for Argv {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Almost every argv is UTF-8: validated once as a whole and split as text, rather
        // than checked and converted argument by argument (a third of `events --json`'s
        // time on exec-heavy output).
        match std::str::from_utf8(self.as_bytes()) {
            Ok(text) => s.collect_seq(text.split_terminator('\0').map(TerminalSafe)),
            Err(_) => {
                let mut seq = s.serialize_seq(Some(self.len()))?;
                for arg in self.lossy() {
                    seq.serialize_element(&TerminalSafe(&arg))?;
                }
                seq.end()
            }
        }
    }
}

/// Read from the text form into one buffer, so that an array of millions of empty strings
/// in someone's recording costs a byte each, not a `String` each.
impl<'de> Deserialize<'de> for Argv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(ArgsVisitor::<false>)
    }
}

/// An argv's exact bytes in JSON (`argv_base64`): an array of one base64 string per
/// argument.
#[derive(Debug, PartialEq, Eq)]
pub struct ExactArgv<'a>(Cow<'a, Argv>);

impl ExactArgv<'_> {
    pub fn into_owned(self) -> ExactArgv<'static> {
        ExactArgv(Cow::Owned(self.0.into_owned()))
    }
}

impl Serialize for ExactArgv<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for arg in self.0.iter() {
            seq.serialize_element(&BASE64.encode(arg))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for ExactArgv<'static> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self(Cow::Owned(d.deserialize_seq(ArgsVisitor::<true>)?)))
    }
}

/// Arguments, text or (`EXACT`) base64, into one buffer.
struct ArgsVisitor<const EXACT: bool>;

impl<'de, const EXACT: bool> Visitor<'de> for ArgsVisitor<EXACT> {
    type Value = Argv;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Argv, A::Error> {
        let mut area = Vec::new();
        while seq.next_element_seed(Arg::<EXACT>(&mut area))?.is_some() {}
        Ok(Argv::from_vec(area))
    }
}

/// One argument, appended to the buffer with its NUL.
struct Arg<'a, const EXACT: bool>(&'a mut Vec<u8>);

impl<'de, const EXACT: bool> DeserializeSeed<'de> for Arg<'_, EXACT> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<const EXACT: bool> Visitor<'_> for Arg<'_, EXACT> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(if EXACT { "base64" } else { "a string" })
    }

    fn visit_str<E: de::Error>(self, arg: &str) -> Result<(), E> {
        let start = self.0.len();
        if EXACT {
            BASE64.decode_vec(arg, self.0).map_err(E::custom)?;
        } else {
            self.0.extend_from_slice(arg.as_bytes());
        }
        if self.0[start..].contains(&0) {
            return Err(E::custom("an argument holds a NUL byte"));
        }
        self.0.push(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_base64_beside_it_give_the_exact_bytes() {
        let odd = Argv::from_args([&b"\xff"[..], b"", b"ok"]);
        let json = serde_json::to_string(&(&odd, odd.base64_beside())).unwrap();
        assert_eq!(json, r#"[["�","","ok"],["/w==","","b2s="]]"#);
        let (text, exact): (Argv, Option<ExactArgv>) = serde_json::from_str(&json).unwrap();
        assert_eq!(text, ["\u{fffd}", "", "ok"]);
        assert_eq!(Argv::from_json(Some(text), exact), odd);
        let plain = Argv::from_args(["ls"]);
        assert_eq!(plain.base64_beside(), None);
        assert_eq!(Argv::from_json(Some(plain.clone()), None), plain);
        let comm = Comm::from_bytes(b"\xffx");
        let b64 = comm.base64_beside().unwrap();
        assert_eq!(Comm::from_json("\u{fffd}x", Some(&b64)).unwrap(), comm);
        assert_eq!(Comm::from_json("make", None).unwrap(), Comm::from("make"));
        assert!(Comm::from_json("x", Some("not base64!")).is_err());
        assert_eq!(ByteString::from("/bin/ls").base64_beside(), None);
        assert_eq!(
            ByteString::from_json("/tmp/\u{fffd}", Some("L3RtcC/+")).unwrap(),
            ByteString::new(b"/tmp/\xfe")
        );
    }

    /// Someone else's recording cannot make one argument two, nor give an argument a NUL.
    #[test]
    fn an_argument_holding_a_nul_is_an_error() {
        let text = serde_json::from_str::<Argv>(r#"["a\u0000b"]"#).unwrap_err();
        assert!(
            text.to_string().contains("an argument holds a NUL byte"),
            "{text}"
        );
        // "a\0b" in base64.
        let exact = serde_json::from_str::<ExactArgv>(r#"["YQBi"]"#).unwrap_err();
        assert!(
            exact.to_string().contains("an argument holds a NUL byte"),
            "{exact}"
        );
        let fine = serde_json::from_str::<Argv>(r#"["a","","b"]"#).unwrap();
        assert_eq!(fine, ["a", "", "b"]);
    }
}
