//! The `profiledb` command: operator tools over a ProfileDB database directory.
//!
//! The engine owns the logic (dump format, restore, integrity check); each subcommand here
//! parses its arguments, calls one engine API and prints the result.

mod commands;
mod error;
mod output;

pub use error::ToolError;
pub use output::ResultFormat;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Environment variable naming the database directory when `--data` is not given.
pub const DATA_ENV: &str = "PROFILEDB_DATA";
/// Database directory used when neither `--data` nor `PROFILEDB_DATA` is given.
pub const DEFAULT_DATA_DIR: &str = "./profiledb-data";

/// Command-line arguments of `profiledb`.
#[derive(Debug, Parser)]
#[command(
    name = "profiledb",
    version,
    about = "Operate a ProfileDB customer-profile database"
)]
pub struct Cli {
    /// Database directory [default: $PROFILEDB_DATA, else ./profiledb-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Build a realistic sample database and take a tour of it (start here)
    #[command(
        long_about = "Build a sample customer database in --data and take a short tour of it.\n\n\
            Generates the history of --profiles people as Tracking Spec messages (anonymous \
            browsing on several devices, sign-ups, logins, orders, email engagement, consent, a \
            few shared devices and placeholder emails), ingests them through identity \
            resolution, defines computed traits and segments, and reports what happened with \
            the SQL it ran. The data is the same on every run. Refuses a non-empty --data \
            directory unless it holds an earlier demo database, which it replaces.",
        after_help = "Example: profiledb demo --profiles 20000"
    )]
    Demo {
        /// How many people to generate
        #[arg(long, value_name = "N", default_value_t = 200_000,
              value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        profiles: u32,
    },
    /// Run SQL: one statement, statements from stdin, or an interactive shell
    #[command(
        long_about = "Run SQL against the database.\n\n\
            With STATEMENT, runs it (several may be separated by `;`). Without one, reads \
            statements ending in `;` from stdin when it is not a terminal (stopping at the first \
            error), or starts an interactive shell with line editing and history \
            (\\help lists its commands: \\d, \\segments, \\timing, \\q).",
        after_help = "Example: profiledb sql \"SELECT plan, COUNT(*) FROM profiles GROUP BY plan\" --format csv"
    )]
    Sql {
        /// The statement to run; omit it for a shell or a script on stdin
        statement: Option<String>,
        /// How to write result rows
        #[arg(long, value_enum, default_value_t = ResultFormat::Table)]
        format: ResultFormat,
    },
    /// Import CSV profiles or events, or NDJSON Tracking Spec messages
    #[command(
        long_about = "Import rows into the database (created if missing).\n\n\
            CSV needs a header row. Column types are inferred from the data (int64, float64, \
            bool, RFC 3339 timestamp, JSON string array, else string; the narrowest type that \
            fits every non-empty value), or given with --schema; a column the database already \
            has keeps its type. An empty field is NULL.\n\n\
            Bad rows are reported with their line numbers and written, with the reason, to the \
            reject file; the good rows are imported and the exit code is 1. With --strict \
            nothing is written when any row is bad.\n\n\
            Rows are written in batches of --batch-size. A batch is acknowledged when its write \
            returns; the progress and the summary count acknowledged rows, and an interrupted \
            import keeps every acknowledged batch (a power loss may lose the last 200 ms).",
        after_help = "Example: profiledb import people.csv --id customer_id --schema zip:string"
    )]
    Import(ImportArgs),
    /// Show one whole profile as JSON: attributes and latest events
    #[command(after_help = "Example: profiledb profile profile_id:42")]
    Profile {
        /// `profile_id:N`, or an identifier such as `email:alice@example.com` or `user_id:42`
        identifier: String,
        /// How many of the latest events to include
        #[arg(long, value_name = "N", default_value_t = 20)]
        events: usize,
    },
    /// Show row counts, files and per-column storage (types, encodings, compression)
    #[command(after_help = "Example: profiledb --data ./crm stats")]
    Stats,
    /// Rewrite each table's segments into one, dropping deleted rows' bytes
    #[command(after_help = "Example: profiledb --data ./crm compact")]
    Compact,
    /// Verify every file of the database read-only (exit 1 when damage is found)
    #[command(after_help = "Example: profiledb --data ./crm check")]
    Check,
    /// Write a logical dump of the database (to stdout unless --out is given)
    #[command(after_help = "Example: profiledb --data ./crm dump --out crm.pdump")]
    Dump {
        /// File to write the dump to (replaced atomically when complete)
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Restore a dump into an empty or non-existent --data directory
    #[command(after_help = "Example: profiledb --data ./crm-copy restore --in crm.pdump")]
    Restore {
        /// The dump file to restore
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
    },
}

/// Input formats of `profiledb import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// One JSON Tracking Spec message per line.
    Ndjson,
    /// Comma-separated values with a header row.
    Csv,
}

/// What the imported rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportKind {
    /// Tracking Spec messages (identify, track, page, …), resolved into profiles.
    Messages,
    /// One profile per row (upserted).
    Profiles,
    /// One event per row (appended).
    Events,
}

/// Arguments of `profiledb import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The file to import, or `-` for stdin; gzip-compressed input is recognised
    #[arg(value_name = "FILE|-")]
    pub input: PathBuf,
    /// Input format [default: from the file name: .csv, .ndjson/.jsonl/.json, maybe .gz]
    #[arg(long, value_enum)]
    pub format: Option<ImportFormat>,
    /// What the rows are [default: profiles for CSV, messages for NDJSON]
    #[arg(long, value_enum)]
    pub kind: Option<ImportKind>,
    /// CSV profiles: the column holding the profile id (u32) [default: a `profile_id` column;
    /// without one, new ids are assigned in order]
    #[arg(long, value_name = "COLUMN")]
    pub id: Option<String>,
    /// CSV events: the column holding each event's profile id [default: a `profile_id` column]
    #[arg(long, value_name = "COLUMN")]
    pub profile_column: Option<String>,
    /// CSV: column types instead of inferring them, e.g. `zip:string,age:int64`
    /// (bool, int64, float64, timestamp, string, string_list)
    #[arg(long, value_name = "NAME:TYPE,...")]
    pub schema: Option<String>,
    /// Where to write rejected rows with their line numbers and reasons [default: FILE.rejects]
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// All or nothing: check every row first and write nothing if any is bad (exit 1)
    #[arg(long)]
    pub strict: bool,
    /// Rows per write; each completed batch is acknowledged (kept if the import is interrupted)
    /// [default: 1,000 CSV rows, 10,000 messages]
    #[arg(long, value_name = "ROWS")]
    pub batch_size: Option<usize>,
}

/// How a successful run ended, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything is fine (exit 0).
    Clean,
    /// The operation ran and found a problem, e.g. `check` found damage (exit 1).
    ProblemsFound,
}

impl Cli {
    /// The database directory: `--data`, else `$PROFILEDB_DATA`, else `./profiledb-data`.
    #[must_use]
    pub fn data_dir(&self) -> PathBuf {
        self.data
            .clone()
            .or_else(|| {
                std::env::var_os(DATA_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }
}

/// Runs the command `cli` asks for.
///
/// # Errors
/// A [`ToolError`] describing what failed, with a hint for the operator.
pub fn run(cli: &Cli) -> Result<Outcome, ToolError> {
    let data = cli.data_dir();
    match &cli.command {
        Cmd::Demo { profiles } => commands::demo::run(&data, *profiles),
        Cmd::Sql { statement, format } => commands::sql::run(&data, statement.as_deref(), *format),
        Cmd::Import(args) => commands::import::run(&data, args),
        Cmd::Profile { identifier, events } => commands::profile::run(&data, identifier, *events),
        Cmd::Stats => commands::stats::run(&data),
        Cmd::Compact => commands::compact::run(&data),
        Cmd::Check => commands::check::run(&data),
        Cmd::Dump { out } => commands::dump::run(&data, out.as_deref()),
        Cmd::Restore { input } => commands::restore::run(&data, input),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn explicit_data_wins_and_is_global() {
        let cli = Cli::parse_from(["profiledb", "check", "--data", "x"]);
        assert_eq!(cli.data_dir(), PathBuf::from("x"));
        let cli = Cli::parse_from(["profiledb", "--data", "y", "dump", "--out", "f"]);
        assert_eq!(cli.data_dir(), PathBuf::from("y"));
        assert!(matches!(cli.command, Cmd::Dump { out: Some(_) }));
    }

    #[test]
    fn human_bytes_uses_binary_units() {
        assert_eq!(output::human_bytes(512), "512 B");
        assert_eq!(output::human_bytes(1536), "1.5 KiB");
        assert_eq!(output::human_bytes(3 << 20), "3.0 MiB");
    }
}
