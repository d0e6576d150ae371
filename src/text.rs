//! Terminal-safe text: the one function every string from a process, the kernel, /proc, the
//! user database or a recording goes through before it reaches a terminal or a text line.
//!
//! Any unprivileged user controls argv, command names, file names and cgroup names, and
//! whoever wrote a recording controls all of it. Passed through, an ESC starts a control
//! sequence in root's terminal (OSC 52 writes the clipboard, CSI erases lines), a CR or LF
//! forges a line that looks like a real event, and bidi controls reorder what is shown. So
//! those characters are shown escaped, visibly, and everything else as it is:
//!
//! | what | shown as |
//! | --- | --- |
//! | ESC, LF, CR, TAB, NUL, BEL, backspace | `\e` `\n` `\r` `\t` `\0` `\a` `\b` |
//! | other C0 controls and DEL | `\x01` ... `\x1f`, `\x7f` |
//! | bytes that are not UTF-8 | `\xNN`, one per byte |
//! | C1 controls (U+0080-U+009F) | `\u{9b}` |
//! | bidi, zero-width and other invisible format characters, line and paragraph separators | `\u{202e}` |
//! | spaces other than U+0020 (no-break, en, em, thin, ideographic, ...) | `\u{a0}` |
//!
//! The other spaces look like the space that separates fields and words: shown as they
//! are, a command name `x\u{a0}exit_code=0` would pass for two fields.
//!
//! A backslash stays a backslash: a literal `\e` typed into an argument is shown as it is,
//! and it cannot do harm. JSON output does not use this function, it is valid JSON with
//! JSON's own escaping; but it escapes the same characters ([`is_escaped`]), as `\u009b`.

use std::{borrow::Cow, fmt::Write as _, os::unix::ffi::OsStrExt, path::Path};

/// `bytes` as terminal-safe text: borrowed when there is nothing to escape.
pub fn escape(bytes: &[u8]) -> Cow<'_, str> {
    if is_plain(bytes) {
        // SAFETY-free fast path: printable ASCII is UTF-8.
        return Cow::Borrowed(std::str::from_utf8(bytes).expect("printable ASCII is UTF-8"));
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    push_escaped_slow(&mut out, bytes);
    Cow::Owned(out)
}

/// [`escape`] for text that is already a `str` (it may still hold control characters).
pub fn escape_str(s: &str) -> Cow<'_, str> {
    escape(s.as_bytes())
}

/// A path as [`escape`] shows its bytes: a file name is whatever bytes its maker chose,
/// and [`Path::display`] would pass its control characters through.
pub fn escape_path(path: &Path) -> Cow<'_, str> {
    escape(path.as_os_str().as_bytes())
}

/// Appends `bytes` to `out` as [`escape`] shows them, without a temporary string: for the
/// paths that write every event (text output).
pub fn push_escaped(out: &mut String, bytes: &[u8]) {
    if is_plain(bytes) {
        out.push_str(std::str::from_utf8(bytes).expect("printable ASCII is UTF-8"));
    } else {
        push_escaped_slow(out, bytes);
    }
}

/// Appends `word` as one shell word, [escaped](escape): as it is when it is printable ASCII
/// without spaces, quotes or shell characters, else single-quoted (a quote inside as
/// `'\''`). So a text line's field cannot hold what looks like another field.
pub fn push_quoted(out: &mut String, word: &[u8]) {
    let plain = !word.is_empty() && word.iter().all(|&b| SHELL_WORD[usize::from(b)]);
    if plain {
        // Printable ASCII: nothing to escape.
        push_escaped(out, word);
        return;
    }
    out.push('\'');
    for (i, part) in word.split(|&b| b == b'\'').enumerate() {
        if i > 0 {
            out.push_str(r"'\''");
        }
        push_escaped(out, part);
    }
    out.push('\'');
}

/// The bytes a shell word may hold unquoted: printable ASCII but spaces, quotes and shell
/// characters. A table, as this is asked of every byte of every argument of a text line.
const SHELL_WORD: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x21;
    while b < 0x7f {
        table[b] = true;
        b += 1;
    }
    let special = b"'\"\\$`!*?;&|<>(){}[]#~";
    let mut i = 0;
    while i < special.len() {
        table[special[i] as usize] = false;
        i += 1;
    }
    table
};

/// Whether the bytes need no escaping: printable ASCII only (and no NUL). The common case,
/// checked first so that ordinary argv costs one scan; written without an early exit so
/// that the compiler checks many bytes at a time.
pub fn is_plain(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(true, |plain, &b| plain & (b.wrapping_sub(0x20) < 0x5f))
}

fn push_escaped_slow(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(out, c);
        }
        for &b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// Whether a character is shown escaped: a C0 control, DEL, a C1 control, or one of the
/// format characters above. JSON output escapes the same ones.
pub fn is_escaped(c: char) -> bool {
    c.is_ascii_control() || is_hidden(c)
}

fn push_char(out: &mut String, c: char) {
    if !is_escaped(c) {
        out.push(c);
        return;
    }
    match c {
        '\x1b' => out.push_str("\\e"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x00'..='\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// C1 controls, the format characters that reorder, hide or break what a terminal shows,
/// and the spaces that would pass for U+0020.
fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{80}'..='\u{9f}'          // C1 controls (U+009B is CSI)
        | '\u{a0}'                   // no-break space
        | '\u{ad}'                   // soft hyphen
        | '\u{61c}'                  // Arabic letter mark (bidi)
        | '\u{1680}'                 // Ogham space mark
        | '\u{180e}'                 // Mongolian vowel separator
        | '\u{2000}'..='\u{200a}'    // en quad to hair space
        | '\u{200b}'..='\u{200f}'    // zero-width spaces and joiners, LRM, RLM
        | '\u{2028}'..='\u{202e}'    // line and paragraph separators, bidi embeddings
        | '\u{202f}'                 // narrow no-break space
        | '\u{205f}'                 // medium mathematical space
        | '\u{2060}'..='\u{206f}'    // word joiner, invisible operators, bidi isolates
        | '\u{3000}'                 // ideographic space
        | '\u{feff}'                 // zero-width no-break space (BOM)
        | '\u{fff9}'..='\u{fffb}' // interlinear annotation
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_and_unchanged() {
        assert!(matches!(escape(b"make -j8"), Cow::Borrowed("make -j8")));
        assert_eq!(escape("ünï cødé 日本".as_bytes()), "ünï cødé 日本");
        assert_eq!(escape(br"C:\temp \e"), r"C:\temp \e");
    }

    #[test]
    fn controls_bad_bytes_and_bidi_are_escaped_visibly() {
        let hostile = "a\x1b]52;c;aGk=\x07b\r\nexit pid=1\x7f\u{9b}2J\u{202e}cba\u{feff}";
        assert_eq!(
            escape_str(hostile),
            r"a\e]52;c;aGk=\ab\r\nexit pid=1\x7f\u{9b}2J\u{202e}cba\u{feff}"
        );
        assert_eq!(escape(b"\xff\xfe ok \xc3"), r"\xff\xfe ok \xc3");
        assert_eq!(escape(b"\x01\x1f\0\t\x08"), r"\x01\x1f\0\t\b");
        let mut out = String::from("argv: ");
        push_escaped(&mut out, b"\x9b");
        assert_eq!(out, r"argv: \x9b");
        assert_eq!(
            escape_str("x\u{a0}exit_code=0\u{2003}\u{202f}\u{3000}"),
            r"x\u{a0}exit_code=0\u{2003}\u{202f}\u{3000}"
        );
        let path = std::ffi::OsStr::from_bytes(b"/tmp/\x1b]52;c;aGk=\x07\n\xff.fwrec");
        assert_eq!(
            escape_path(Path::new(path)),
            r"/tmp/\e]52;c;aGk=\a\n\xff.fwrec"
        );
    }

    #[test]
    fn escaped_text_holds_no_control_or_format_character() {
        let every_byte: Vec<u8> = (0..=255).collect();
        let all_hidden: String = ('\u{0}'..='\u{ffff}').filter(|&c| is_hidden(c)).collect();
        for input in [&every_byte[..], all_hidden.as_bytes()] {
            let shown = escape(input);
            assert!(
                shown
                    .chars()
                    .all(|c| !c.is_control() && !is_hidden(c) && c != '\u{fffd}'),
                "{shown}"
            );
        }
    }
}
