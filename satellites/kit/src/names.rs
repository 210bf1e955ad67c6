//! The names voters choose between: poll options, nominees and the names on ballots (no I/O).
//! One rule for all of them, and the limits a poll has, defined once so that the
//! ElectionService refuses what the VotingService would.
//!
//! A name is trimmed and put in Unicode normalization form C before it is compared or stored,
//! so `"José"` typed decomposed is `"José"`. It may not be empty or whitespace only, longer than
//! [`MAX_NAME_CHARS`], or hold an invisible or formatting character (controls, format
//! characters such as U+200B or the bidi overrides, default-ignorable code points, line and
//! paragraph separators). Two names of one list may not be equal nor *confusable*: equal
//! skeletons in the sense of Unicode TS #39 (`"Ａnn"` and `"Ann"`, Cyrillic `"Вob"` and
//! `"Bob"`); the refusal names both.

use unicode_normalization::UnicodeNormalization;
use unicode_security::GeneralSecurityProfile;
use unicode_security::general_security_profile::IdentifierType;

use crate::Error;

/// Fewest options a poll has (and nominees an election needs to vote).
pub const MIN_OPTIONS: usize = 2;
/// Most options a poll may have (and nominees an election may have).
pub const MAX_OPTIONS: usize = 100;
/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// `raw` as names are stored and compared: trimmed, NFC. Refuses, naming `field`, an empty or
/// whitespace-only name, one over [`MAX_NAME_CHARS`], and one holding an invisible or
/// formatting character.
pub fn name(field: &str, raw: &str) -> Result<String, Error> {
    let normalized: String = raw.trim().nfc().collect();
    if normalized.is_empty() || normalized.chars().count() > MAX_NAME_CHARS {
        return Err(Error::Invalid(format!(
            "'{field}' must be a non-empty name of at most {MAX_NAME_CHARS} characters"
        )));
    }
    if let Some(c) = normalized.chars().find(|c| is_invisible(*c)) {
        return Err(Error::Invalid(format!(
            "'{field}' must not contain invisible or formatting characters (it holds U+{:04X})",
            u32::from(c)
        )));
    }
    Ok(normalized)
}

/// Whether `c` cannot be seen or only changes how others are shown.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || c.identifier_type() == Some(IdentifierType::Default_Ignorable)
        || is_format(c)
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Format characters (General_Category Cf) that are not default-ignorable, so that
/// [`IdentifierType::Default_Ignorable`] does not catch them: the prepended concatenation marks
/// and the interlinear annotation characters.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{0600}'..='\u{0605}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
    )
}

/// The TS #39 skeleton of a name: equal skeletons look alike.
pub fn skeleton(name: &str) -> String {
    unicode_security::skeleton(name).collect()
}

/// The first name of `names` that `candidate` equals or is confusable with.
pub fn clash<'a>(candidate: &str, names: &'a [String]) -> Option<&'a str> {
    let mine = skeleton(candidate);
    names.iter().find(|n| n.as_str() == candidate || skeleton(n) == mine).map(String::as_str)
}

/// [`Error::Invalid`] naming the first pair of `names` (normalized by [`name`]) that are equal
/// or confusable; `what` names the list (`options`, `nominees`).
pub fn check_distinct(what: &str, names: &[String]) -> Result<(), Error> {
    for (i, candidate) in names.iter().enumerate() {
        if let Some(earlier) = clash(candidate, &names[..i]) {
            return Err(refusal(what, candidate, earlier));
        }
    }
    Ok(())
}

/// The refusal of `candidate` beside `existing` in the list `what`.
pub fn refusal(what: &str, candidate: &str, existing: &str) -> Error {
    if candidate == existing {
        Error::Invalid(format!("{what} must be distinct: '{candidate}' is given twice"))
    } else {
        Error::Invalid(format!("{what} must be distinguishable: '{candidate}' is confusable with '{existing}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::invalid;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| name("n", n).unwrap()).collect()
    }

    #[test]
    fn names_are_trimmed_and_composed() {
        assert_eq!(name("n", "  Ann ").unwrap(), "Ann");
        let decomposed = "Jose\u{301}";
        assert_eq!(name("n", decomposed).unwrap(), "Jos\u{e9}");
        assert_eq!(name("n", "Ａnn").unwrap(), "Ａnn", "alone, a full-width name is a name");
    }

    #[test]
    fn invisible_formatting_and_empty_names_are_refused() {
        for raw in
            ["Ann\u{200b}", "\u{200b}", "A\u{202e}nn", "An\u{ad}n", "A\u{feff}", "A\tB", "A\u{2028}B", "\u{600}A"]
        {
            let why = invalid(name("nominee", raw));
            assert!(why.starts_with("'nominee' must not contain invisible or formatting characters"), "{raw:?}: {why}");
        }
        for raw in ["", "   ", "\u{3000}", &"x".repeat(MAX_NAME_CHARS + 1)] {
            assert!(invalid(name("nominee", raw)).starts_with("'nominee' must be a non-empty name"), "{raw:?}");
        }
        assert_eq!(name("n", &"é".repeat(MAX_NAME_CHARS)).unwrap().chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn equal_and_confusable_names_are_refused_naming_both() {
        assert_eq!(
            invalid(check_distinct("options", &names(&["Bob", "Ann", "Bob"]))),
            "options must be distinct: 'Bob' is given twice"
        );
        assert_eq!(
            invalid(check_distinct("options", &names(&["José", "Jose\u{301}"]))),
            "options must be distinct: 'José' is given twice"
        );
        for look_alike in ["Ｂob", "\u{412}ob", "B\u{43e}b"] {
            assert_eq!(
                invalid(check_distinct("nominees", &names(&["Bob", look_alike]))),
                format!("nominees must be distinguishable: '{look_alike}' is confusable with 'Bob'")
            );
        }
        assert!(check_distinct("options", &names(&["Ann", "ann", "Anne", "Bob", "José", "Jose"])).is_ok());
    }

    #[test]
    fn a_clash_finds_the_name_looked_like() {
        let list = names(&["Alice", "Bob"]);
        assert_eq!(clash("\u{412}ob", &list), Some("Bob"));
        assert_eq!(clash("Alice", &list), Some("Alice"));
        assert_eq!(clash("Carol", &list), None);
    }
}
