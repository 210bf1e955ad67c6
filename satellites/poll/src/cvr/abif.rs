//! ABIF reading and the names written: the ranked subset of the format. Equal rankings
//! (`a=b`, `a,b`) and ratings (`a/5`) are refused with the line that has them: a ballot here
//! is a strict order.

use std::collections::HashMap;

use super::{CastVoteRecord, Counting, CvrError, MAX_OPTIONS};
use crate::tally::OptionIndex;

/// Tokens for `options` in ballot lines: the names themselves when every one is a bare ABIF
/// key (`[A-Za-z][A-Za-z0-9_]*`), otherwise `c1`, `c2`, ... in option order.
pub(super) fn tokens(options: &[String]) -> Vec<String> {
    if options.iter().all(|o| is_bare_key(o)) {
        options.to_vec()
    } else {
        (1..=options.len()).map(|i| format!("c{i}")).collect()
    }
}

/// A name in brackets, or as a JSON string when it has a `]` or a control character.
pub(super) fn quoted_name(name: &str) -> String {
    if name.contains(']') || name.chars().any(char::is_control) || name.trim() != name || name.is_empty() {
        super::json_string(name)
    } else {
        format!("[{name}]")
    }
}

fn is_bare_key(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[derive(Default)]
struct Reader {
    title: Option<String>,
    method: Option<String>,
    seats: Option<usize>,
    options: Vec<String>,
    by_token: HashMap<String, OptionIndex>,
    rankings: Vec<(Vec<OptionIndex>, u64)>,
    ballots: u64,
}

impl Reader {
    fn option(&mut self, line: usize, token: &str, name: Option<String>) -> Result<OptionIndex, CvrError> {
        if let Some(&o) = self.by_token.get(token) {
            if let Some(name) = name
                && self.options[usize::from(o)] != name
            {
                return Err(CvrError::at(line, format!("'{token}' is declared twice with different names")));
            }
            return Ok(o);
        }
        let name = name.unwrap_or_else(|| token.to_owned());
        if let Some(o) = self.options.iter().position(|o| *o == name) {
            // Another token (or a bracketed name in a ballot) for a declared option.
            let o = OptionIndex::try_from(o).unwrap_or(OptionIndex::MAX);
            self.by_token.insert(token.to_owned(), o);
            return Ok(o);
        }
        if self.options.len() == MAX_OPTIONS {
            return Err(CvrError::at(line, format!("more than {MAX_OPTIONS} options")));
        }
        let o = OptionIndex::try_from(self.options.len()).unwrap_or(OptionIndex::MAX);
        self.options.push(name);
        self.by_token.insert(token.to_owned(), o);
        Ok(o)
    }
}

/// Reads an ABIF file.
pub fn parse(text: &str) -> Result<CastVoteRecord, CvrError> {
    let mut r = Reader::default();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = without_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(body) = line.strip_prefix('{') {
            metadata(&mut r, n, body)?;
        } else if line.starts_with(|c: char| c.is_ascii_digit()) {
            ballot(&mut r, n, line)?;
        } else {
            declaration(&mut r, n, line)?;
        }
    }
    let counting = match (r.method.as_deref(), r.seats) {
        (Some("plurality"), None) => Some(Counting::Plurality),
        (Some("plurality"), Some(_)) => return Err(CvrError::at(0, "'seats' does not go with method 'plurality'")),
        (Some("ranked") | None, Some(seats)) => Some(Counting::Ranked { seats }),
        (Some("ranked"), None) => Some(Counting::Ranked { seats: 1 }),
        (None, None) => None,
        (Some(other), _) => {
            return Err(CvrError::at(0, format!("method '{other}' is not known: 'plurality' or 'ranked'")));
        }
    };
    if r.options.len() < 2 {
        return Err(CvrError::at(0, "a record needs at least 2 options"));
    }
    Ok(CastVoteRecord::new(r.title, counting, r.options, r.rankings))
}

/// The line up to a `#` that is outside brackets and quotes.
fn without_comment(line: &str) -> &str {
    let (mut bracket, mut quote, mut escaped) = (false, false, false);
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quote => escaped = true,
            '"' if !bracket => quote = !quote,
            '[' if !quote => bracket = true,
            ']' if !quote => bracket = false,
            '#' if !bracket && !quote => return &line[..i],
            _ => {}
        }
    }
    line
}

/// `{key: value}`: `title` (a string), `method` (`"plurality"` or `"ranked"`), `seats` (a
/// whole number); other keys are kept by the format for other tools and ignored here.
fn metadata(r: &mut Reader, n: usize, body: &str) -> Result<(), CvrError> {
    let body = body.strip_suffix('}').ok_or_else(|| CvrError::at(n, "metadata must end with '}'"))?;
    let Some((key, value)) = body.split_once(':') else { return Err(CvrError::at(n, "metadata must be {key: value}")) };
    let key = key.trim().trim_matches('"');
    let value = value.trim();
    let string = || -> Result<String, CvrError> {
        serde_json::from_str::<String>(value).map_err(|_| CvrError::at(n, format!("'{key}' must be a quoted string")))
    };
    match key {
        "title" => r.title = Some(string()?),
        "method" => r.method = Some(string()?),
        "seats" => {
            let seats: usize = value.parse().map_err(|_| CvrError::at(n, "'seats' must be a whole number"))?;
            if !(1..=MAX_OPTIONS).contains(&seats) {
                return Err(CvrError::at(n, format!("'seats' must be from 1 to {MAX_OPTIONS}")));
            }
            r.seats = Some(seats);
        }
        _ => {}
    }
    Ok(())
}

/// `=token:[Name]`, `token:[Name]` or `token:"Name"`.
fn declaration(r: &mut Reader, n: usize, line: &str) -> Result<(), CvrError> {
    let line = line.strip_prefix('=').unwrap_or(line);
    let Some((token, name)) = line.split_once(':') else {
        return Err(CvrError::at(
            n,
            "expected an option (=token:[Name]), a ballot (count: a>b) or metadata ({key: value})",
        ));
    };
    let token = token.trim();
    if !is_bare_key(token) {
        return Err(CvrError::at(n, format!("'{token}' is not an option token (a letter, then letters, digits or _)")));
    }
    let name = name.trim();
    let name = if let Some(inner) = name.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        inner.to_owned()
    } else if name.starts_with('"') {
        serde_json::from_str::<String>(name).map_err(|_| CvrError::at(n, "a quoted name must be a JSON string"))?
    } else if is_bare_key(name) {
        name.to_owned()
    } else {
        return Err(CvrError::at(n, "an option's name goes in brackets: =token:[Name]"));
    };
    let name = crate::domain::option_name(&name).to_owned();
    if name.is_empty() {
        return Err(CvrError::at(n, "an option's name must not be empty"));
    }
    r.option(n, token, Some(name)).map(|_| ())
}

/// `count: a>b>c`, or `count:` for a blank ballot.
fn ballot(r: &mut Reader, n: usize, line: &str) -> Result<(), CvrError> {
    let Some((count, prefs)) = line.split_once(':') else {
        return Err(CvrError::at(n, "a ballot line is 'count: a>b>c'"));
    };
    let count: u64 = count.trim().parse().map_err(|_| CvrError::at(n, "a ballot count must be a whole number"))?;
    super::add_ballots(&mut r.ballots, count, n)?;
    let prefs = prefs.trim();
    let mut ranking: Vec<OptionIndex> = Vec::new();
    if !prefs.is_empty() {
        for item in split_preferences(n, prefs)? {
            let o = if let Some(inner) = item.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                let name = crate::domain::option_name(inner).to_owned();
                r.option(n, &format!("[{name}]"), Some(name))?
            } else if is_bare_key(item) {
                r.option(n, item, None)?
            } else {
                return Err(CvrError::at(n, format!("'{item}' is not an option")));
            };
            if ranking.contains(&o) {
                return Err(CvrError::at(n, format!("'{}' is ranked twice", r.options[usize::from(o)])));
            }
            ranking.push(o);
        }
    }
    r.rankings.push((ranking, count));
    Ok(())
}

/// The preferences of a ballot line, split on `>`; equal rankings and ratings are refused.
fn split_preferences(n: usize, prefs: &str) -> Result<Vec<&str>, CvrError> {
    let mut items = Vec::new();
    let (mut start, mut bracket) = (0, false);
    for (i, c) in prefs.char_indices() {
        match c {
            '[' => bracket = true,
            ']' => bracket = false,
            '>' if !bracket => {
                items.push(prefs[start..i].trim());
                start = i + 1;
            }
            '=' | ',' if !bracket => {
                return Err(CvrError::at(n, "equal rankings (= or ,) are not supported: a ballot is a strict order"));
            }
            '/' if !bracket => return Err(CvrError::at(n, "ratings (/) are not supported: a ballot is a ranking")),
            _ => {}
        }
    }
    items.push(prefs[start..].trim());
    if items.iter().any(|s| s.is_empty()) {
        return Err(CvrError::at(n, "an empty preference between two '>'"));
    }
    Ok(items)
}
