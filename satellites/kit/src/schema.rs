//! A satellite's SQL, declared once: the [`sql_schema!`](crate::sql_schema) macro gives the
//! calling module its migrations and its queries, both read from `sql/<schema>/` at compile time.

/// Declares, in the calling module of a satellite crate (and its submodules declared after
/// it), the SQL of one schema:
///
/// - `query!("name")`: the text of `sql/<schema>/queries/name.sql`;
/// - `migrations()`: a refinery runner for the migrations in `sql/<schema>/`;
/// - `MIGRATION_TABLE`: `<schema>_schema_history`, the schema's own history table, so that
///   services can share a database.
///
/// `migrations` is the same folder relative to the crate's manifest (refinery wants a literal).
#[macro_export]
macro_rules! sql_schema {
    (schema: $schema:literal, migrations: $dir:literal) => {
        $crate::sql_schema!(@define ($) $schema, $dir);
    };
    (@define ($d:tt) $schema:literal, $dir:literal) => {
        #[allow(unused_macros)]
        macro_rules! query {
            ($d name:literal) => {
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql/", $schema, "/queries/", $d name, ".sql"))
            };
        }

        mod embedded {
            refinery::embed_migrations!($dir);
        }

        /// A runner for this schema's migrations.
        pub fn migrations() -> refinery::Runner {
            embedded::migrations::runner()
        }

        /// Table recording which migrations ran (its own, so services can share a database).
        pub const MIGRATION_TABLE: &str = concat!($schema, "_schema_history");
    };
}

use vote_runtime::migrate::Superseded;

/// Migrations of the satellites' schemas released with a text that changed later (see
/// [`Superseded`]), by history table: the `outbox` table they each created moved to the shared
/// outbox migration. What they leave in a database that ran them is unchanged.
const SUPERSEDED: &[(&str, Superseded)] = &[
    ("ordering_schema_history", Superseded { version: 1, old_checksum: "8888084971314078449" }),
    ("election_schema_history", Superseded { version: 1, old_checksum: "11668902502502683962" }),
    ("poll_schema_history", Superseded { version: 3, old_checksum: "17313287971123354395" }),
];

/// The superseded migrations of the schema whose history is `history_table`.
pub fn superseded(history_table: &str) -> &'static [Superseded] {
    SUPERSEDED.iter().find(|(table, _)| *table == history_table).map_or(&[], |(_, s)| std::slice::from_ref(s))
}
