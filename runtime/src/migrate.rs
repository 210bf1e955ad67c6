//! Migrations, run with refinery under an advisory lock so that concurrent starts apply them
//! once. Each schema records its history in a table of its own, so services can share a
//! database. A failed migration is reported with its name, the statement that failed and what
//! PostgreSQL said, not refinery's bare "db error".

use refinery::Migration;
use refinery::error::Kind;
use tokio_postgres::error::ErrorPosition;

use crate::postgres::{DbError, DbTarget, advisory_key, describe};

/// A released migration whose text changed later, without changing what it leaves in a
/// database that already ran it: its version, and the checksum refinery recorded for the old
/// text. A database that ran the old text gets the new checksum recorded instead, once, so that
/// refinery's check for edited migrations keeps guarding every other one.
#[derive(Debug, Clone, Copy)]
pub struct Superseded {
    /// The migration's version.
    pub version: i32,
    /// Checksum of its old text, as refinery records it.
    pub old_checksum: &'static str,
}

impl DbTarget {
    /// Applies `runner`'s migrations, recording them in `history_table`, while holding an
    /// advisory lock so that two processes starting together do not race. `superseded` lists
    /// migrations whose old text a database may have run (see [`Superseded`]).
    pub async fn migrate(
        &self,
        mut runner: refinery::Runner,
        history_table: &str,
        superseded: &[Superseded],
    ) -> Result<usize, DbError> {
        let mut client = self.connect().await?;
        let lock_key = advisory_key(history_table);
        client.execute("SELECT pg_advisory_lock($1)", &[&lock_key]).await?;
        let result = async {
            record_new_checksums(&client, &runner, history_table, superseded).await?;
            runner
                .set_migration_table_name(history_table)
                .run_async(&mut client)
                .await
                .map_err(|e| DbError::Migration(explain(&e, runner.get_migrations())))
        }
        .await;
        let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&lock_key]).await;
        Ok(result?.applied_migrations().len())
    }
}

async fn record_new_checksums(
    client: &tokio_postgres::Client,
    runner: &refinery::Runner,
    history_table: &str,
    superseded: &[Superseded],
) -> Result<(), DbError> {
    if superseded.is_empty() {
        return Ok(());
    }
    let exists: bool = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&history_table]).await?.get(0);
    if !exists {
        return Ok(());
    }
    let update = format!(
        "UPDATE \"{}\" SET checksum = $1 WHERE version = $2 AND checksum = $3",
        history_table.replace('"', "\"\"")
    );
    for old in superseded {
        let Some(migration) = runner.get_migrations().iter().find(|m| m.version() == old.version) else { continue };
        let new = migration.checksum().to_string();
        let changed = client.execute(&update, &[&new, &old.version, &old.old_checksum]).await?;
        if changed > 0 {
            tracing::info!(migration = %migration, history_table, "recorded the new text of a superseded migration");
        }
    }
    Ok(())
}

/// One line: the migration, the statement that failed, and what the database said.
fn explain(error: &refinery::Error, migrations: &[Migration]) -> String {
    let Kind::Connection(context, source) = error.kind() else { return error.to_string() };
    let Some(pg) = source.downcast_ref::<tokio_postgres::Error>() else { return format!("{context}: {source}") };
    // refinery says "error applying migration V1__name".
    let name = context.rsplit(' ').next().unwrap_or_default();
    let said = describe(pg);
    let sql = migrations.iter().find(|m| m.to_string() == name).and_then(Migration::sql);
    match sql.and_then(|sql| failed_statement(sql, pg)) {
        Some(statement) => format!("migration {name} failed at `{statement}`: {said}"),
        None => format!("migration {name} failed: {said}"),
    }
}

/// The statement of `sql` the error points at: the one holding the error's position when the
/// server gives one, else the first that names the object the message quotes.
fn failed_statement(sql: &str, error: &tokio_postgres::Error) -> Option<String> {
    let db = error.as_db_error()?;
    let statements = statements(sql);
    let found = match db.position() {
        Some(ErrorPosition::Original(position)) => {
            let offset = sql.char_indices().nth((*position as usize).saturating_sub(1)).map_or(sql.len(), |(i, _)| i);
            statements.iter().find(|(start, text)| offset >= *start && offset <= start + text.len())
        }
        _ => {
            let quoted = db.message().split('"').nth(1)?;
            statements
                .iter()
                .find(|(_, text)| text.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == quoted))
        }
    }?;
    Some(summary(found.1))
}

/// The statements of `sql` with their byte offsets, comments dropped; semicolons inside quotes
/// and dollar-quoted bodies do not split.
fn statements(sql: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let bytes = sql.as_bytes();
    let (mut start, mut i) = (0, 0);
    let mut dollar: Option<&str> = None;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let rest = &sql[i..];
        match (dollar, quote) {
            (Some(tag), _) => {
                if rest.starts_with(tag) {
                    i += tag.len();
                    dollar = None;
                    continue;
                }
            }
            (None, Some(q)) => {
                if bytes[i] == q {
                    quote = None;
                }
            }
            (None, None) => {
                if rest.starts_with("--") {
                    i += rest.find('\n').unwrap_or(rest.len());
                    continue;
                }
                match bytes[i] {
                    b'\'' | b'"' => quote = Some(bytes[i]),
                    b'$' => {
                        if let Some(end) = rest[1..].find('$') {
                            let tag = &rest[..end + 2];
                            if tag[1..tag.len() - 1].chars().all(|c| c.is_alphanumeric() || c == '_') {
                                dollar = Some(tag);
                                i += tag.len();
                                continue;
                            }
                        }
                    }
                    b';' => {
                        push_statement(&mut out, sql, start, i);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    push_statement(&mut out, sql, start, sql.len());
    out
}

fn push_statement<'a>(out: &mut Vec<(usize, &'a str)>, sql: &'a str, start: usize, end: usize) {
    // A statement starts at its first line of code: the comments above it are not part of it.
    let mut offset = start;
    for line in sql[start..end].split_inclusive('\n') {
        let code = line.trim_start();
        if code.is_empty() || code.starts_with("--") {
            offset += line.len();
            continue;
        }
        offset += line.len() - code.len();
        out.push((offset, sql[offset..end].trim_end()));
        return;
    }
}

/// A statement's first line, cut to a readable length.
fn summary(statement: &str) -> String {
    let line = statement.lines().next().unwrap_or_default().trim();
    let cut: String = line.chars().take(100).collect();
    if cut.len() < line.len() || statement.lines().nth(1).is_some() { format!("{cut} …") } else { cut }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQL: &str = "-- a comment; with a semicolon\nCREATE TABLE a (x text DEFAULT ';');\n\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n-- trailing\nCREATE INDEX a_x ON a (x);\n";

    #[test]
    fn statements_split_on_top_level_semicolons_only() {
        let found: Vec<&str> = statements(SQL).into_iter().map(|(_, s)| s.lines().next().unwrap()).collect();
        assert_eq!(
            found,
            [
                "CREATE TABLE a (x text DEFAULT ';')",
                "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
                "CREATE INDEX a_x ON a (x)"
            ]
        );
        for (offset, text) in statements(SQL) {
            assert_eq!(&SQL[offset..offset + text.len()], text);
        }
    }

    #[test]
    fn a_summary_is_the_first_line_marked_when_cut() {
        assert_eq!(summary("CREATE INDEX a_x ON a (x)"), "CREATE INDEX a_x ON a (x)");
        assert_eq!(summary("CREATE TABLE outbox (\n    id bigserial\n)"), "CREATE TABLE outbox ( …");
    }
}
