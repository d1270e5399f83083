//! Text from Git or a cluster made safe to print: control characters (C0, DEL, C1), the
//! Unicode controls that reorder or break lines (bidi overrides and isolates, line and
//! paragraph separators) become visible escapes such as `\x1b` or `\u{202e}`, so that no
//! value can move the cursor, erase a line, set a title or forge a prompt. Every output path
//! of kdrift that writes such text to a terminal, a report or a log passes it through here.
//! Pure.

use std::borrow::Cow;

/// Whether a character is shown as an escape. `keep_breaks` leaves line feeds and tabs as
/// they are (for multi-line text kdrift lays out itself).
fn needs_escape(c: char, keep_breaks: bool) -> bool {
    match c {
        '\n' | '\t' => !keep_breaks,
        c if c.is_control() => true,
        '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => true,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

fn escape(text: &str, keep_breaks: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| needs_escape(c, keep_breaks)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c, keep_breaks) {
            let n = c as u32;
            if n < 0x100 {
                out.push_str(&format!("\\x{n:02x}"));
            } else {
                out.push_str(&format!("\\u{{{n:04x}}}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One line of text: every control character, line breaks and tabs included, made visible.
/// For names, kinds, keys, paths, field managers: anything that must stay on its line.
pub fn visible_line(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// Text that kdrift lays out in lines itself (a rendered report, a preview): line feeds and
/// tabs stay, every other control character is made visible.
pub fn visible_text(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

/// A rendered JSON or YAML document with the characters `visible_text` escapes written as
/// `\uXXXX` escapes instead, which both formats read back inside quoted strings (JSON's
/// serializer escapes C0 controls itself, not DEL, C1 or the bidi controls).
pub fn escaped_for_json(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| needs_escape(c, true)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c, true) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Cuts `text` to at most `max` bytes on a character boundary, saying how much was left
/// out: for output of other programs (kustomize, exec plugins) shown in an error.
pub fn bounded(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!(
        "{} … ({} more bytes)",
        &text[..end],
        text.len() - end
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_are_visible_and_plain_text_is_borrowed() {
        assert!(matches!(visible_line("web-1"), Cow::Borrowed("web-1")));
        assert_eq!(visible_line("a\x1b[2Kb"), "a\\x1b[2Kb");
        assert_eq!(visible_line("a\nb\tc\r"), "a\\x0ab\\x09c\\x0d");
        assert_eq!(visible_text("a\nb\tc\r"), "a\nb\tc\\x0d");
        assert_eq!(visible_line("x\u{202e}y\u{9b}z"), "x\\u{202e}y\\x9bz");
        assert_eq!(visible_line("naïve ✓"), "naïve ✓");
    }

    #[test]
    fn json_escapes_read_back() {
        let v = serde_json::json!({"name": "a\u{9b}b\u{202e}c\u{7f}"});
        let text = serde_json::to_string(&v).unwrap();
        let safe = escaped_for_json(&text);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn bounded_cuts_on_a_character_boundary() {
        assert_eq!(bounded("abc", 5), "abc");
        assert_eq!(bounded("ééé", 3), "é … (4 more bytes)");
    }

    proptest! {
        #[test]
        fn nothing_that_drives_a_terminal_survives(s in any::<String>()) {
            let line = visible_line(&s);
            prop_assert!(!line.chars().any(|c| c.is_control()));
            let text = visible_text(&s);
            prop_assert!(!text.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
        }
    }
}
