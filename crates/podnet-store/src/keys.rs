//! Key ranges: a prefix as a half-open interval of keys.

/// The smallest key greater than every key that starts with `prefix`, or
/// `None` when no such bound exists (the empty prefix, or a prefix of only
/// `char::MAX`). Keys are compared as UTF-8 bytes, and UTF-8 byte order is
/// code point order, so bumping the last character that can be bumped and
/// cutting the rest gives the bound.
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = next_char(last) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn next_char(c: char) -> Option<char> {
    match c {
        char::MAX => None,
        // Surrogates are not characters: the one after U+D7FF is U+E000.
        '\u{D7FF}' => Some('\u{E000}'),
        _ => char::from_u32(c as u32 + 1),
    }
}

/// Where a list starts: at the prefix itself (inclusive) or strictly after
/// a key the caller has already seen, whichever is later.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LowerBound<'a> {
    Inclusive(&'a str),
    Exclusive(&'a str),
}

pub(crate) fn lower_bound<'a>(prefix: &'a str, start_after: Option<&'a str>) -> LowerBound<'a> {
    match start_after {
        Some(after) if after >= prefix => LowerBound::Exclusive(after),
        _ => LowerBound::Inclusive(prefix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_bumps_the_last_character() {
        assert_eq!(
            prefix_end("/registry/pods/").as_deref(),
            Some("/registry/pods0")
        );
        assert_eq!(prefix_end("a").as_deref(), Some("b"));
    }

    #[test]
    fn prefix_end_of_the_empty_prefix_is_unbounded() {
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("\u{10FFFF}\u{10FFFF}"), None);
    }

    #[test]
    fn prefix_end_carries_past_char_max_and_surrogates() {
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("x\u{D7FF}").as_deref(), Some("x\u{E000}"));
    }

    #[test]
    fn every_key_with_the_prefix_sorts_below_the_end_and_no_other_key_does() {
        let prefix = "ns/\u{7F}\u{FF}";
        let end = prefix_end(prefix).expect("bounded");
        for key in [
            prefix.to_owned(),
            format!("{prefix}\u{0}"),
            format!("{prefix}\u{10FFFF}"),
            format!("{prefix}zzz"),
        ] {
            assert!(
                key.as_bytes() >= prefix.as_bytes() && key.as_bytes() < end.as_bytes(),
                "{key:?}"
            );
        }
        for key in ["ns/\u{7F}\u{100}", "ns/\u{80}", "nt"] {
            assert!(key.as_bytes() >= end.as_bytes(), "{key:?}");
        }
    }

    #[test]
    fn lower_bound_is_the_later_of_prefix_and_start_after() {
        assert_eq!(lower_bound("b/", None), LowerBound::Inclusive("b/"));
        assert_eq!(lower_bound("b/", Some("a")), LowerBound::Inclusive("b/"));
        assert_eq!(lower_bound("b/", Some("b/x")), LowerBound::Exclusive("b/x"));
        assert_eq!(lower_bound("b/", Some("b/")), LowerBound::Exclusive("b/"));
    }
}
