//! What text taskdeck stores. Decided once, where an event is parsed, so that SQLite, Postgres
//! and MongoDB all hold exactly the same thing and no store can refuse what another took:
//!
//! - U+0000 becomes U+FFFD (Postgres `TEXT` cannot hold it, BSON keys cannot either), in plain
//!   strings, in object keys and as `\u0000` escapes inside JSON payloads;
//! - a JSON escape of a lone UTF-16 surrogate (`\ud800` without its pair) becomes `\ufffd`;
//! - every field has a size: names and ids are short, messages and payloads bounded (see
//!   [`Limits`]). A payload over its bound is kept as a JSON string of its first bytes, so it
//!   stays valid JSON and searchable, and the record says it was cut.
//!
//! `docs/events.md` documents the same rules for senders.

use serde_json::value::RawValue;

/// Sizes of stored fields, in bytes.
pub struct Limits;

impl Limits {
    /// `function`, `exception_type`, `host_name`, `script_name`, `consumer_id`, keys of
    /// `other` fields: names, indexed by some stores.
    pub const NAME: usize = 256;
    /// `exception_msg`.
    pub const MESSAGE: usize = 16 * 1024;
    /// `traceback`.
    pub const TRACEBACK: usize = 64 * 1024;
    /// Each JSON payload: `params`, `result`, every other field's value, and all of them
    /// together in `extra`.
    pub const JSON: usize = 64 * 1024;
}

/// `s` without U+0000, cut to at most `max` bytes (with "…" when cut).
pub fn storable(s: String, max: usize) -> String {
    let s = if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s
    };
    crate::cut(s, max)
}

/// Like [`storable`] for an optional field.
pub fn storable_opt(s: Option<String>, max: usize) -> Option<String> {
    s.map(|s| storable(s, max))
}

/// Whether `s` holds a C0 control character or DEL: refused in ids, which end up in
/// addresses, keys and log lines.
pub fn has_control(s: &str) -> bool {
    s.bytes().any(|b| b < 0x20 || b == 0x7f)
}

/// A JSON payload every store can hold: escapes of U+0000 and of lone surrogates replaced,
/// and, over `max` bytes, a JSON string of its first bytes instead. The second value is the
/// original size when the payload was cut.
pub fn storable_json(raw: Box<RawValue>, max: usize) -> (Box<RawValue>, Option<usize>) {
    let raw = match fix_escapes(raw.get()) {
        Some(fixed) => RawValue::from_string(fixed).unwrap_or(raw),
        None => raw,
    };
    let len = raw.get().len();
    if len <= max {
        return (raw, None);
    }
    let head = crate::cut(raw.get().to_owned(), max.saturating_sub(8));
    let cut = serde_json::value::to_raw_value(&head).expect("a string serialises");
    (cut, Some(len))
}

/// An object key every store can hold.
pub fn storable_key(k: String) -> String {
    storable(k, Limits::NAME)
}

fn hex4(b: &[u8]) -> Option<u16> {
    if b.len() < 4 || !b[..4].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    // Four ASCII hex digits: valid UTF-8, and a valid u16.
    u16::from_str_radix(std::str::from_utf8(&b[..4]).ok()?, 16).ok()
}

/// `text` (valid JSON) with `\u0000` and lone-surrogate escapes replaced by `\ufffd`; `None`
/// when it has none (the common case costs one scan for `\u`). In valid JSON a backslash only
/// ever starts an escape inside a string, so no parse is needed.
pub fn fix_escapes(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if !text.contains("\\u") {
        return None;
    }
    // From the first backslash: `\\u0000` is an escaped backslash, then text.
    let mut i = text.find('\\')?;
    let mut out: Option<String> = None;
    let mut copied = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if b.get(i + 1) != Some(&b'u') {
            // `\\`, `\"`, `\n`…: the escaped character is never the start of another escape.
            i += 2;
            continue;
        }
        let Some(unit) = hex4(&b[i + 2..]) else {
            i += 2;
            continue;
        };
        let low_follows = || {
            b.get(i + 6) == Some(&b'\\')
                && b.get(i + 7) == Some(&b'u')
                && hex4(&b[(i + 8).min(b.len())..]).is_some_and(|l| (0xDC00..0xE000).contains(&l))
        };
        let bad = match unit {
            0 => true,
            0xD800..=0xDBFF => !low_follows(),
            0xDC00..=0xDFFF => true,
            _ => false,
        };
        if bad {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..i]);
            o.push_str("\\ufffd");
            copied = i + 6;
            i += 6;
        } else if (0xD800..=0xDBFF).contains(&unit) {
            i += 12;
        } else {
            i += 6;
        }
    }
    out.map(|mut o| {
        o.push_str(&text[copied..]);
        o
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn nul_and_lone_surrogates_become_replacement_characters() {
        assert_eq!(fix_escapes(r#"{"a":"x"}"#), None);
        assert_eq!(fix_escapes(r#"{"a":"\u00e9"}"#), None);
        assert_eq!(
            fix_escapes(r#"{"a\u0000":"b\u0000c"}"#).unwrap(),
            r#"{"a\ufffd":"b\ufffdc"}"#
        );
        // An escaped backslash followed by `u0000` is text, not an escape.
        assert_eq!(fix_escapes(r#"["\\u0000"]"#), None);
        assert_eq!(fix_escapes(r#"["\\\u0000"]"#).unwrap(), r#"["\\\ufffd"]"#);
        // A pair stays; a lone high or low surrogate does not.
        assert_eq!(fix_escapes(r#"["\ud83d\ude00"]"#), None);
        assert_eq!(fix_escapes(r#"["\ud83d"]"#).unwrap(), r#"["\ufffd"]"#);
        assert_eq!(fix_escapes(r#"["\ude00x"]"#).unwrap(), r#"["\ufffdx"]"#);
        assert_eq!(
            fix_escapes(r#"["\ud83d\u0041"]"#).unwrap(),
            r#"["\ufffd\u0041"]"#
        );
        assert_eq!(fix_escapes(r#"["\uD83D"]"#).unwrap(), r#"["\ufffd"]"#);
        // Every result parses back to strings without U+0000.
        let v: serde_json::Value =
            serde_json::from_str(&fix_escapes(r#"{"k\u0000":["\u0000",1]}"#).unwrap()).unwrap();
        assert!(!v.to_string().contains('\0'));
    }

    #[test]
    fn payloads_over_their_bound_become_a_string_of_their_head() {
        let (kept, cut) = storable_json(raw(r#"{"a":1}"#), 100);
        assert_eq!((kept.get(), cut), (r#"{"a":1}"#, None));
        let big = format!(r#"{{"a":"{}"}}"#, "é".repeat(100));
        let (kept, cut) = storable_json(raw(&big), 50);
        assert_eq!(cut, Some(big.len()));
        assert!(kept.get().len() <= 50 + 4, "{}", kept.get().len());
        let head: String = serde_json::from_str(kept.get()).unwrap();
        assert!(head.starts_with(r#"{"a":"éé"#) && head.ends_with('…'));
    }

    #[test]
    fn plain_text_loses_nul_and_is_bounded() {
        assert_eq!(storable("a\0b".into(), 10), "a\u{FFFD}b");
        assert_eq!(storable("abcdef".into(), 3), "abc…");
        assert!(has_control("a\nb") && has_control("\u{7f}") && !has_control("ü-é"));
    }
}
