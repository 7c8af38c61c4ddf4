//! Encoding of stage-controlled text for every place the host writes it.
//!
//! A stage is untrusted: any string it returns (a version, a message, an output value, a
//! file name) may have been written to break out of the place the host prints it. Each
//! function here encodes for exactly one such place:
//!
//! | Where the host writes                        | Function                                  |
//! |----------------------------------------------|-------------------------------------------|
//! | one line of a terminal or CI log             | [`terminal`]                              |
//! | a GitHub workflow command (`::error ...::`)  | [`command_data`], [`command_property`]    |
//! | inline text in a Markdown job summary        | [`markdown`]                              |
//! | a step output (`$GITHUB_OUTPUT`)             | [`output_name_ok`], [`output_value`], [`github_output`] |
//!
//! [`parse_github_output`] reads the `$GITHUB_OUTPUT` format back the way the GitHub
//! runner does, so tests can assert the exact entries a run produced.
//!
//! Source for the GitHub formats: GitHub Actions documentation, "Workflow commands for
//! GitHub Actions" (sections "Setting an error message" and siblings for the `::` command
//! syntax, "Multiline strings" and "Setting an output parameter" for `$GITHUB_OUTPUT`),
//! and the reference implementation in `actions/toolkit` (`@actions/core`, `command.ts`:
//! `escapeData`, `escapeProperty`; `file-command.ts`: `prepareKeyValueMessage`), read by
//! `actions/runner` (`FileCommandManager.cs`).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest string value, in bytes, that [`output_value`] accepts as a step output.
const OUTPUT_VALUE_MAX_BYTES: usize = 1024;

/// Longest name, in bytes, that [`output_name_ok`] accepts.
const OUTPUT_NAME_MAX_BYTES: usize = 64;

/// Prefix of every `$GITHUB_OUTPUT` heredoc delimiter, as in `@actions/core`.
const DELIMITER_PREFIX: &str = "ghadelimiter_";

/// The Unicode line and paragraph separators, which some terminals, log viewers and
/// editors treat as a line break.
fn is_unicode_line_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}')
}

/// The bidirectional formatting controls (embeddings, overrides, isolates and marks) that
/// can reorder how the text around them is displayed ("Trojan Source", CVE-2021-42574).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Whether [`terminal`] replaces `c`: a control character (C0 including ESC, CR, LF and
/// TAB, DEL, C1), a Unicode line or paragraph separator, or a bidi control.
fn needs_terminal_escape(c: char) -> bool {
    c.is_control() || is_unicode_line_separator(c) || is_bidi_control(c)
}

/// Appends the visible escape of `c` that [`terminal`] uses.
fn push_terminal_escape(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        _ => {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

/// Text safe to print as (part of) one terminal or CI log line.
///
/// Every character that could start a new line, move the cursor, start an escape sequence
/// or reorder the display is replaced by a visible, Rust-style escape:
///
/// - LF, CR and TAB become `\n`, `\r` and `\t`;
/// - every other control character (`char::is_control`: C0 including ESC and BEL, DEL,
///   C1 U+0080–U+009F including NEL and CSI), the line and paragraph separators
///   U+2028/U+2029 and the bidi controls U+202A–U+202E, U+2066–U+2069, U+200E, U+200F and
///   U+061C become `\u{XX}` with lowercase hex digits (`\u{1b}`, `\u{2028}`).
///
/// A backslash is left as it is, so the output is meant for humans to read, not to be
/// decoded. Everything else, including printable non-ASCII text, is kept.
///
/// Returns the input borrowed when nothing needs replacing.
///
/// ```
/// use airlock::encode::terminal;
/// assert_eq!(terminal("v1.2.3"), "v1.2.3");
/// assert_eq!(terminal("\x1b]0;title\x07"), "\\u{1b}]0;title\\u{7}");
/// assert_eq!(terminal("a\n::error::x"), "a\\n::error::x");
/// ```
pub fn terminal(s: &str) -> Cow<'_, str> {
    let Some(first) = s.find(needs_terminal_escape) else {
        return Cow::Borrowed(s);
    };
    let (clean, rest) = s.split_at(first);
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(clean);
    for c in rest.chars() {
        if needs_terminal_escape(c) {
            push_terminal_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Shared body of [`command_data`] and [`command_property`].
fn workflow_command_escape(s: &str, property: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' if property => out.push_str("%3A"),
            ',' if property => out.push_str("%2C"),
            c if needs_terminal_escape(c) => push_terminal_escape(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// The message (data) part of a GitHub workflow command, `::error title=T::DATA`.
///
/// Escaping as in `escapeData` of `@actions/core` (GitHub Actions docs, "Workflow commands
/// for GitHub Actions"): `%` becomes `%25`, CR `%0D` and LF `%0A`; the runner decodes these
/// back, so a multi-line message still shows as several lines in the annotation while the
/// command itself stays on one log line (a stage cannot start a new `::command::` line, for
/// example `::stop-commands::` or `::add-mask::`).
///
/// In addition, every other character [`terminal`] escapes (TAB, ESC and the other control
/// characters, U+2028/U+2029, bidi controls) gets the [`terminal`] escape (`\t`,
/// `\u{1b}`), so the result contains no control character at all, whatever a runner or log
/// viewer treats as a line break.
///
/// ```
/// use airlock::encode::command_data;
/// assert_eq!(command_data("100%\nok"), "100%25%0Aok");
/// ```
pub fn command_data(s: &str) -> String {
    workflow_command_escape(s, false)
}

/// A property value of a GitHub workflow command, `::error title=PROPERTY,file=...::`.
///
/// Everything [`command_data`] does, and also (as `escapeProperty` of `@actions/core`)
/// `:` becomes `%3A` and `,` becomes `%2C`, so the value can neither end the property list
/// (`::`) nor start another property (`,name=`).
///
/// ```
/// use airlock::encode::command_property;
/// assert_eq!(command_property("a,file=x::y"), "a%2Cfile=x%3A%3Ay");
/// ```
pub fn command_property(s: &str) -> String {
    workflow_command_escape(s, true)
}

/// A stage string as inline text in a GitHub-flavoured Markdown job summary
/// (`$GITHUB_STEP_SUMMARY`), including inside a table cell.
///
/// - `&`, `<`, `>`, `"` and `'` become the HTML entities `&amp;`, `&lt;`, `&gt;`,
///   `&quot;` and `&#39;`, so no HTML tag, attribute or entity can be formed;
/// - `:` becomes `&#58;`, so no `scheme://` autolink (GFM extended autolinks) survives;
/// - every other ASCII punctuation character (among them `` \ ` * _ { } [ ] ( ) # + - . ! |
///   ~ / @ = ``) is escaped with a backslash, which CommonMark allows for any ASCII
///   punctuation: no emphasis, code span, link, image, heading, list, thematic break,
///   strikethrough or email autolink can start, `|` becomes `\|` so it cannot end a table
///   cell, and `www.` becomes `www\.` so it is no autolink;
/// - every control character (including CR, LF and TAB), U+2028/U+2029 and every bidi
///   control becomes a single space, so the text stays on its line and in its cell.
///
/// The result is meant for inline positions (a paragraph, a list item, a table cell);
/// whitespace is kept as it is.
///
/// ```
/// use airlock::encode::markdown;
/// assert_eq!(markdown("[a](javascript:x)"), "\\[a\\]\\(javascript&#58;x\\)");
/// assert_eq!(markdown("| a |"), "\\| a \\|");
/// ```
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if needs_terminal_escape(c) => out.push(' '),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            ':' => out.push_str("&#58;"),
            c if c.is_ascii_punctuation() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether `name` can be a step output name: `[A-Za-z_][A-Za-z0-9_-]{0,63}`.
///
/// That is the shape of an identifier in a GitHub Actions expression
/// (`steps.<id>.outputs.<name>`), and it contains nothing the `$GITHUB_OUTPUT` format
/// gives meaning to (`=`, `<<`, line breaks).
pub fn output_name_ok(name: &str) -> bool {
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    name.len() <= OUTPUT_NAME_MAX_BYTES
        && (first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `c` is a line break for [`output_value`]: LF, CR, VT, FF, NEL, U+2028, U+2029.
fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}') || is_unicode_line_separator(c)
}

/// The text of a JSON value as a step output, or why it cannot be one.
///
/// - a boolean or a number: its JSON text (`true`, `3`, `1.5`);
/// - a string: itself, when it is at most 1024 bytes long and has no control character
///   (CR, LF, TAB, ESC, ...) and no U+2028/U+2029;
/// - null, an array or an object: an error.
///
/// The error is one sentence without a subject, meant to follow the output's name
/// ("output `notes` " + error), for example "has a line break", "is 2048 bytes, over 1024"
/// or "is an object: only a string, number or boolean can be a step output". It never
/// contains the value itself, which is untrusted and may be a secret.
pub fn output_value(v: &serde_json::Value) -> Result<String, String> {
    use serde_json::Value;
    const ONLY: &str = "only a string, number or boolean can be a step output";
    match v {
        Value::Null => Err(format!("is null: {ONLY}")),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(_) => Err(format!("is an array: {ONLY}")),
        Value::Object(_) => Err(format!("is an object: {ONLY}")),
        Value::String(s) => {
            if s.chars().any(is_line_break) {
                Err("has a line break".to_string())
            } else if s.chars().any(char::is_control) {
                Err("has a control character".to_string())
            } else if s.len() > OUTPUT_VALUE_MAX_BYTES {
                Err(format!(
                    "is {} bytes, over {OUTPUT_VALUE_MAX_BYTES}",
                    s.len()
                ))
            } else {
                Ok(s.clone())
            }
        }
    }
}

/// The text to append to the `$GITHUB_OUTPUT` file for `entries` (name, value), in order.
///
/// Every entry is written in the multiline form of the GitHub Actions docs ("Workflow
/// commands for GitHub Actions", "Multiline strings"), as `@actions/core` does:
///
/// ```text
/// NAME<<DELIMITER
/// VALUE
/// DELIMITER
/// ```
///
/// with `\n` line ends. The delimiter is `ghadelimiter_` followed by 32 lowercase hex
/// digits (128 bits) from the operating system's random source, new on every call, so a
/// stage cannot guess it to end the value early and add outputs of its own; should the
/// delimiter occur anywhere in a name or a value, another one is drawn. If the random
/// source fails, the bits come from SHA-256 of the time, the process id and a counter.
/// The function never panics.
///
/// Entries whose name fails [`output_name_ok`] are skipped: the caller validates names and
/// values (with [`output_name_ok`] and [`output_value`]) and reports what it rejected.
/// Any value round-trips through this format, line breaks included; an empty list gives
/// an empty string.
pub fn github_output(entries: &[(String, String)]) -> String {
    github_output_with(entries, new_delimiter)
}

/// [`github_output`] with the delimiter source as a parameter (tests draw colliding ones).
fn github_output_with(
    entries: &[(String, String)],
    mut next_delimiter: impl FnMut() -> String,
) -> String {
    let entries: Vec<&(String, String)> = entries
        .iter()
        .filter(|(name, _)| output_name_ok(name))
        .collect();
    if entries.is_empty() {
        return String::new();
    }
    let delimiter = loop {
        let candidate = next_delimiter();
        if !entries
            .iter()
            .any(|(name, value)| name.contains(&candidate) || value.contains(&candidate))
        {
            break candidate;
        }
    };
    let mut out = String::new();
    for (name, value) in entries {
        for part in [
            name.as_str(),
            "<<",
            &delimiter,
            "\n",
            value,
            "\n",
            &delimiter,
            "\n",
        ] {
            out.push_str(part);
        }
    }
    out
}

/// A fresh `ghadelimiter_` + 32 lowercase hex digits.
fn new_delimiter() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = fallback_random_bytes();
    }
    format!("{DELIMITER_PREFIX}{}", hex::encode(bytes))
}

/// 16 bytes that differ on every call, for when the operating system's random source
/// fails: SHA-256 of the wall-clock time, the process id, a per-process counter and a stack
/// address (randomised by ASLR).
fn fallback_random_bytes() -> [u8; 16] {
    use sha2::{Digest, Sha256};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let local = 0u8;
    let mut hasher = Sha256::new();
    hasher.update(b"airlock github_output delimiter\0");
    hasher.update(nanos.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hasher.update((std::ptr::addr_of!(local) as usize).to_le_bytes());
    let digest = hasher.finalize();
    let mut out = [0u8; 16];
    for (o, d) in out.iter_mut().zip(digest.iter()) {
        *o = *d;
    }
    out
}

/// The next line of `text` from byte `*pos`: the line without its `\n`, and the byte index
/// where it ends. `None` at the end of the text.
fn read_line<'a>(text: &'a str, pos: &mut usize) -> Option<(&'a str, usize)> {
    let start = *pos;
    let rest = text.get(start..).filter(|r| !r.is_empty())?;
    match rest.split_once('\n') {
        Some((line, _)) => {
            *pos = start + line.len() + 1;
            Some((line, start + line.len()))
        }
        None => {
            *pos = text.len();
            Some((rest, text.len()))
        }
    }
}

/// The entries of a `$GITHUB_OUTPUT` file, in order (a name may repeat; the runner keeps
/// the last), read as the GitHub runner on Linux and macOS reads it
/// (`actions/runner`, `FileCommandManager.cs`):
///
/// - lines end at `\n` (a CR is part of the line; the Windows runner also accepts CRLF);
/// - empty lines are skipped;
/// - a line whose first `=` comes before any `<<` is `NAME=VALUE` (the value is the rest of
///   the line, and may contain `=` or `<<`);
/// - a line whose first `<<` comes first is `NAME<<DELIMITER`; the value is every line
///   after it up to, not including, the first line equal to `DELIMITER` (the newline
///   before that line is not part of the value);
/// - any other line is an error.
///
/// Strict where the runner is: an empty name, an empty delimiter, a line with neither `=`
/// nor `<<`, and a heredoc without its closing delimiter line are errors (the runner fails
/// the step). Names are returned as written, not checked with [`output_name_ok`]. Errors
/// name the line number, never the content.
pub fn parse_github_output(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut entries = Vec::new();
    let mut pos = 0;
    let mut line_no = 0usize;
    while let Some((line, _)) = read_line(text, &mut pos) {
        line_no += 1;
        if line.is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let (name, value) = (&line[..e], &line[e + 1..]);
                if name.is_empty() {
                    return Err(format!("line {line_no}: the name before `=` is empty"));
                }
                entries.push((name.to_string(), value.to_string()));
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                if name.is_empty() || delimiter.is_empty() {
                    return Err(format!(
                        "line {line_no}: the name and the delimiter around `<<` must not be empty"
                    ));
                }
                let start_line = line_no;
                let start = pos;
                let mut end = pos;
                loop {
                    let Some((value_line, line_end)) = read_line(text, &mut pos) else {
                        return Err(format!(
                            "line {start_line}: no line closes the value with its delimiter"
                        ));
                    };
                    line_no += 1;
                    if value_line == delimiter {
                        break;
                    }
                    end = line_end;
                }
                let value = text.get(start..end).unwrap_or_default();
                entries.push((name.to_string(), value.to_string()));
            }
            _ => {
                return Err(format!(
                    "line {line_no}: neither `NAME=VALUE` nor `NAME<<DELIMITER`"
                ));
            }
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    // ---- terminal ----

    #[test]
    fn terminal_keeps_clean_text_borrowed() {
        for s in ["", "v1.2.3", "héllo wörld ✓", "back\\slash \\n literal"] {
            assert!(matches!(terminal(s), Cow::Borrowed(b) if b == s), "{s:?}");
        }
    }

    #[test]
    fn terminal_escapes_ansi_and_osc_sequences() {
        assert_eq!(
            terminal("\x1b[31mred\x1b[0m \x1b[2J\x1b[H"),
            "\\u{1b}[31mred\\u{1b}[0m \\u{1b}[2J\\u{1b}[H"
        );
        // OSC 0 (set window title), ended by BEL; OSC 8 hyperlink ended by ST.
        assert_eq!(terminal("\x1b]0;title\x07"), "\\u{1b}]0;title\\u{7}");
        assert_eq!(
            terminal("\x1b]8;;http://x\x1b\\link"),
            "\\u{1b}]8;;http://x\\u{1b}\\link"
        );
        // C1 CSI and NEL, DEL.
        assert_eq!(
            terminal("\u{9b}31m\u{85}\u{7f}"),
            "\\u{9b}31m\\u{85}\\u{7f}"
        );
    }

    #[test]
    fn terminal_escapes_line_breaks_and_bidi() {
        assert_eq!(
            terminal("ok\n::stop-commands::x"),
            "ok\\n::stop-commands::x"
        );
        assert_eq!(terminal("a\r\n\tb"), "a\\r\\n\\tb");
        assert_eq!(terminal("a\u{2028}b\u{2029}"), "a\\u{2028}b\\u{2029}");
        assert_eq!(
            terminal("\u{202e}txt.exe\u{202c}\u{2066}\u{2069}\u{200e}\u{200f}\u{61c}"),
            "\\u{202e}txt.exe\\u{202c}\\u{2066}\\u{2069}\\u{200e}\\u{200f}\\u{61c}"
        );
        assert_eq!(terminal("\0\x08\x0b\x0c"), "\\u{0}\\u{8}\\u{b}\\u{c}");
    }

    // ---- workflow commands ----

    #[test]
    fn command_data_follows_escape_data() {
        assert_eq!(command_data("100% done\r\n"), "100%25 done%0D%0A");
        assert_eq!(command_data("%0A"), "%250A");
        // `:` and `,` are data, not syntax, after the second `::`.
        assert_eq!(command_data("a:b,c"), "a:b,c");
        assert_eq!(
            command_data("ok\n::stop-commands::x"),
            "ok%0A::stop-commands::x"
        );
        assert_eq!(command_data("\x1b[2J\t\u{2028}"), "\\u{1b}[2J\\t\\u{2028}");
    }

    #[test]
    fn command_property_follows_escape_property() {
        assert_eq!(
            command_property("t,file=/etc/passwd::boom\n%"),
            "t%2Cfile=/etc/passwd%3A%3Aboom%0A%25"
        );
        assert_eq!(command_property("\x1b\r"), "\\u{1b}%0D");
    }

    // ---- markdown ----

    #[test]
    fn markdown_neutralises_html() {
        assert_eq!(
            markdown("<img src=x onerror=alert(1)>"),
            "&lt;img src\\=x onerror\\=alert\\(1\\)&gt;"
        );
        assert_eq!(markdown("\"'&amp;"), "&quot;&#39;&amp;amp\\;");
        assert_eq!(markdown("<!-- x -->"), "&lt;\\!\\-\\- x \\-\\-&gt;");
    }

    #[test]
    fn markdown_neutralises_links_and_autolinks() {
        assert_eq!(
            markdown("[a](javascript:x)"),
            "\\[a\\]\\(javascript&#58;x\\)"
        );
        assert_eq!(
            markdown("![i](https://e.x/i.png)"),
            "\\!\\[i\\]\\(https&#58;\\/\\/e\\.x\\/i\\.png\\)"
        );
        assert_eq!(markdown("www.evil.example"), "www\\.evil\\.example");
        assert_eq!(markdown("a@b.example"), "a\\@b\\.example");
        let out = markdown("see https://evil.example/x and <https://y>");
        assert!(!out.contains("://"), "{out}");
        assert!(!out.contains('<'), "{out}");
    }

    #[test]
    fn markdown_keeps_table_cells_and_lines() {
        assert_eq!(markdown("| a | b |"), "\\| a \\| b \\|");
        assert_eq!(markdown("\\|"), "\\\\\\|");
        assert_eq!(
            markdown("a\nb\r\nc\u{2028}d\u{2029}e\tf\x1bg\u{202e}h"),
            "a b  c d e f g h"
        );
        assert_eq!(
            markdown("# h\n---\n* _e_ **s** `c` ~~d~~ {x} +1. 2)"),
            "\\# h \\-\\-\\- \\* \\_e\\_ \\*\\*s\\*\\* \\`c\\` \\~\\~d\\~\\~ \\{x\\} \\+1\\. 2\\)"
        );
        assert_eq!(markdown("v1.2.3 – ünïcode ✓"), "v1\\.2\\.3 – ünïcode ✓");
    }

    // ---- output names and values ----

    #[test]
    fn output_names() {
        let max = format!("a{}", "b".repeat(63));
        for ok in ["a", "_", "version", "_private", "A-b_9", "x-", max.as_str()] {
            assert!(output_name_ok(ok), "{ok:?}");
        }
        let long = format!("a{}", "b".repeat(64));
        for bad in [
            "",
            "1a",
            "-a",
            "a b",
            "a=b",
            "a<<b",
            "a.b",
            "é",
            "a\n",
            "a\0",
            long.as_str(),
        ] {
            assert!(!output_name_ok(bad), "{bad:?}");
        }
    }

    #[test]
    fn output_values() {
        assert_eq!(output_value(&json!(true)).unwrap(), "true");
        assert_eq!(output_value(&json!(false)).unwrap(), "false");
        assert_eq!(output_value(&json!(3)).unwrap(), "3");
        assert_eq!(output_value(&json!(-1.5)).unwrap(), "-1.5");
        assert_eq!(output_value(&json!("v1.2.3")).unwrap(), "v1.2.3");
        assert_eq!(output_value(&json!("")).unwrap(), "");
        let max = "é".repeat(OUTPUT_VALUE_MAX_BYTES / 2);
        assert_eq!(output_value(&json!(max)).unwrap(), max);
    }

    #[test]
    fn output_value_errors_say_what_is_wrong_without_the_value() {
        let only = "only a string, number or boolean can be a step output";
        assert_eq!(
            output_value(&json!({"release": true})).unwrap_err(),
            format!("is an object: {only}")
        );
        assert_eq!(
            output_value(&json!(["release"])).unwrap_err(),
            format!("is an array: {only}")
        );
        assert_eq!(
            output_value(&json!(null)).unwrap_err(),
            format!("is null: {only}")
        );
        for injected in [
            "1.0\nrelease=true",
            "1.0\rrelease=true",
            "a\u{2028}release",
            "a\u{85}release",
        ] {
            let err = output_value(&json!(injected)).unwrap_err();
            assert_eq!(err, "has a line break");
            assert!(!err.contains("release"));
        }
        assert_eq!(
            output_value(&json!("a\x1b[2Jrelease")).unwrap_err(),
            "has a control character"
        );
        assert_eq!(
            output_value(&json!("release".repeat(300))).unwrap_err(),
            "is 2100 bytes, over 1024"
        );
        assert_eq!(
            output_value(&json!("x".repeat(2048))).unwrap_err(),
            "is 2048 bytes, over 1024"
        );
    }

    // ---- GITHUB_OUTPUT ----

    fn entries(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn is_delimiter(d: &str) -> bool {
        d.strip_prefix(DELIMITER_PREFIX).is_some_and(|hex| {
            hex.len() == 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
    }

    #[test]
    fn github_output_shape() {
        let text = github_output(&entries(&[("version", "1.2.3")]));
        let (header, rest) = text.split_once('\n').unwrap();
        let delimiter = header.strip_prefix("version<<").unwrap();
        assert!(is_delimiter(delimiter), "{delimiter}");
        assert_eq!(rest, format!("1.2.3\n{delimiter}\n"));
        assert_eq!(github_output(&[]), "");
    }

    #[test]
    fn github_output_delimiter_is_new_per_call() {
        let e = entries(&[("a", "b")]);
        let (x, y) = (github_output(&e), github_output(&e));
        assert_ne!(x, y);
        assert_eq!(
            parse_github_output(&x).unwrap(),
            parse_github_output(&y).unwrap()
        );
    }

    #[test]
    fn github_output_value_cannot_inject_entries() {
        let written = entries(&[
            ("notes", "1.0\nrelease=true\nother<<EOF\nx\nEOF"),
            ("version", "1.0"),
        ]);
        let text = github_output(&written);
        assert_eq!(parse_github_output(&text).unwrap(), written);
    }

    #[test]
    fn github_output_skips_invalid_names() {
        let text = github_output(&entries(&[
            ("release=true\nx", "1"),
            ("ok", "2"),
            ("a<<b", "3"),
            ("", "4"),
        ]));
        assert_eq!(parse_github_output(&text).unwrap(), entries(&[("ok", "2")]));
    }

    #[test]
    fn github_output_survives_a_guessed_delimiter() {
        let guess = format!("{DELIMITER_PREFIX}{}", "0".repeat(32));
        let written = entries(&[("v", &guess), ("w", &format!("x\n{guess}\nrelease=true"))]);
        let text = github_output(&written);
        assert_eq!(parse_github_output(&text).unwrap(), written);

        // Even a delimiter source that first hands out the guessed one: it is redrawn.
        let mut draws = vec![
            format!("{DELIMITER_PREFIX}{}", "1".repeat(32)),
            guess.clone(),
        ];
        let text = github_output_with(&written, || draws.pop().unwrap());
        assert!(draws.is_empty(), "the colliding delimiter was redrawn");
        assert!(
            text.starts_with(&format!("v<<{DELIMITER_PREFIX}1111")),
            "{text}"
        );
        assert_eq!(parse_github_output(&text).unwrap(), written);
    }

    #[test]
    fn fallback_delimiter_bits_differ() {
        let (a, b) = (fallback_random_bytes(), fallback_random_bytes());
        assert_ne!(a, b);
        assert!(is_delimiter(&format!(
            "{DELIMITER_PREFIX}{}",
            hex::encode(a)
        )));
    }

    #[test]
    fn parse_reads_both_forms_like_the_runner() {
        let text = "a=1\n\nb<<EOF\nx\n\ny\nEOF\nc=d<<e\nf<<g=h\nz\ng=h\nempty<<E\nE\nlast<<E\nv\nE";
        assert_eq!(
            parse_github_output(text).unwrap(),
            entries(&[
                ("a", "1"),
                ("b", "x\n\ny"),
                ("c", "d<<e"),
                ("f", "z"),
                ("empty", ""),
                ("last", "v"),
            ])
        );
        assert_eq!(
            parse_github_output("a<<E\n\nE\n").unwrap(),
            entries(&[("a", "")])
        );
        assert_eq!(
            parse_github_output("a<<E\nx\n\nE\n").unwrap(),
            entries(&[("a", "x\n")])
        );
        // Linux runner: a CR is part of the line.
        assert_eq!(
            parse_github_output("a=1\r\n").unwrap(),
            entries(&[("a", "1\r")])
        );
        assert_eq!(parse_github_output("").unwrap(), vec![]);
    }

    #[test]
    fn parse_is_strict() {
        for bad in [
            "=x\n",
            "<<E\nx\nE\n",
            "a<<\nx\n\n",
            "just text\n",
            "a<<E\nx\n",
            "a<<E\nx\nE \n",
            "a<<E\nx\nEE",
        ] {
            let err = parse_github_output(bad).unwrap_err();
            assert!(err.starts_with("line "), "{bad:?}: {err}");
        }
        assert_eq!(
            parse_github_output("ok=1\nsecret-value\n").unwrap_err(),
            "line 2: neither `NAME=VALUE` nor `NAME<<DELIMITER`"
        );
    }

    // ---- properties ----

    /// Characters that matter to the encoders, mixed with arbitrary ones (proptest's
    /// `any::<String>()` never generates control characters).
    fn any_char() -> impl Strategy<Value = char> {
        prop_oneof![
            3 => any::<char>(),
            3 => (0u8..0x80).prop_map(char::from),
            4 => prop::sample::select(vec![
                '\n', '\r', '\t', '\x1b', '\x07', '\0', '\u{7f}', '\u{85}', '\u{9b}', '\u{2028}',
                '\u{2029}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200e}',
                '\u{200f}', '\u{61c}', '%', ':', ',', '|', '\\', '<', '>', '&', '"', '\'', '[',
                ']', '(', ')', '/', '.', 'w', '#', '*', '_', '`', '!', '~', '=', '0', 'A', 'D',
                '2', '5', 'é',
            ]),
        ]
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop::collection::vec(any_char(), 0..48).prop_map(|v| v.into_iter().collect())
    }

    fn is_unsafe(c: char) -> bool {
        c.is_control() || is_unicode_line_separator(c) || is_bidi_control(c)
    }

    /// What the runner's unescaping of command data gives back: `None` if a `%` is not one
    /// of the escapes [`workflow_command_escape`] produces.
    fn decode_command(s: &str, property: bool) -> Option<String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('%') {
            out.push_str(&rest[..i]);
            let code = rest.get(i + 1..i + 3)?;
            out.push(match code {
                "25" => '%',
                "0D" => '\r',
                "0A" => '\n',
                "3A" if property => ':',
                "2C" if property => ',',
                _ => return None,
            });
            rest = &rest[i + 3..];
        }
        out.push_str(rest);
        Some(out)
    }

    /// The input with every [`terminal`]-escaped character except CR and LF escaped.
    fn terminal_except_crlf(s: &str) -> String {
        s.chars()
            .map(|c| match c {
                '\r' | '\n' => c.to_string(),
                c => terminal(&c.to_string()).into_owned(),
            })
            .collect()
    }

    /// Reads `markdown` output back token by token: `\` + ASCII punctuation, one of the
    /// entities it writes, or a character that is neither ASCII punctuation nor unsafe.
    /// `None` if anything else occurs, i.e. if some punctuation is left unescaped.
    fn decode_markdown(s: &str) -> Option<String> {
        const ENTITIES: [(&str, char); 6] = [
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&#39;", '\''),
            ("&#58;", ':'),
        ];
        let mut out = String::new();
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            if c == '\\' {
                let escaped = rest[1..]
                    .chars()
                    .next()
                    .filter(char::is_ascii_punctuation)?;
                out.push(escaped);
                rest = &rest[2..];
            } else if c == '&' {
                let (entity, decoded) = ENTITIES.iter().find(|(e, _)| rest.starts_with(e))?;
                out.push(*decoded);
                rest = &rest[entity.len()..];
            } else if c.is_ascii_punctuation() || is_unsafe(c) {
                return None;
            } else {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        Some(out)
    }

    fn output_name() -> impl Strategy<Value = String> {
        "[A-Za-z_][A-Za-z0-9_-]{0,63}"
    }

    proptest! {
        #[test]
        fn terminal_leaves_nothing_that_breaks_a_line(s in any_text()) {
            let out = terminal(&s);
            prop_assert!(!out.chars().any(is_unsafe), "{:?}", out);
            prop_assert_eq!(matches!(out, Cow::Borrowed(_)), !s.chars().any(is_unsafe));
            // Character by character: safe ones are kept, unsafe ones become an ASCII
            // escape starting with a backslash.
            let mut joined = String::new();
            for c in s.chars() {
                let one = c.to_string();
                let escaped = terminal(&one);
                if is_unsafe(c) {
                    prop_assert!(escaped.starts_with('\\') && escaped.is_ascii() && escaped.len() > 1);
                } else {
                    prop_assert_eq!(&escaped, &one);
                }
                joined.push_str(&escaped);
            }
            prop_assert_eq!(out, joined);
        }

        #[test]
        fn command_escapes_decode_back(s in any_text()) {
            let data = command_data(&s);
            prop_assert!(!data.chars().any(is_unsafe), "{:?}", data);
            prop_assert_eq!(decode_command(&data, false), Some(terminal_except_crlf(&s)));

            let property = command_property(&s);
            prop_assert!(!property.chars().any(is_unsafe), "{:?}", property);
            prop_assert!(!property.contains([':', ',']), "{:?}", property);
            prop_assert_eq!(decode_command(&property, true), Some(terminal_except_crlf(&s)));
        }

        #[test]
        fn markdown_leaves_no_markup(s in any_text()) {
            let out = markdown(&s);
            prop_assert!(!out.contains(['<', '>', '\n', '\r']), "{:?}", out);
            prop_assert!(!out.chars().any(is_unsafe), "{:?}", out);
            prop_assert!(!out.contains("]("), "{:?}", out);
            prop_assert!(!out.contains("://"), "{:?}", out);
            prop_assert!(!out.contains("www."), "{:?}", out);
            // Every `|` is escaped: preceded by an odd number of backslashes.
            for (i, _) in out.match_indices('|') {
                let slashes = out[..i].bytes().rev().take_while(|&b| b == b'\\').count();
                prop_assert!(slashes % 2 == 1, "{:?}", out);
            }
            let expected: String = s.chars().map(|c| if is_unsafe(c) { ' ' } else { c }).collect();
            prop_assert_eq!(decode_markdown(&out), Some(expected));
        }

        #[test]
        fn output_value_accepts_only_single_short_lines(s in any_text()) {
            match output_value(&serde_json::Value::String(s.clone())) {
                Ok(v) => {
                    prop_assert_eq!(&v, &s);
                    prop_assert!(!v.chars().any(|c| c.is_control() || is_unicode_line_separator(c)));
                }
                Err(e) => prop_assert!(s.is_empty() || !e.contains(&s), "{}", e),
            }
        }

        #[test]
        fn github_output_round_trips(written in prop::collection::vec((output_name(), any_text()), 0..6)) {
            let text = github_output(&written);
            prop_assert_eq!(parse_github_output(&text), Ok(written));
        }

        #[test]
        fn github_output_skips_exactly_the_invalid_names(
            written in prop::collection::vec((prop_oneof![output_name(), any_text()], any_text()), 0..6)
        ) {
            let text = github_output(&written);
            let valid: Vec<_> = written.into_iter().filter(|(n, _)| output_name_ok(n)).collect();
            prop_assert_eq!(parse_github_output(&text), Ok(valid));
        }
    }
}
