//! `profiledb import`: CSV rows into profiles or events, NDJSON Tracking Spec messages
//! through identity resolution.
//!
//! Rows are written in batches (`--batch-size`), each one `Database::write` (CSV rows) or
//! `Profiles::ingest` (messages), with the WAL synced every 200 ms and once more at the end. A batch is
//! *acknowledged* when its write returns: the progress line and the summary count only
//! acknowledged rows, and an import that is interrupted (Ctrl-C, a crash) keeps every
//! acknowledged batch — all of them after a process crash, all but those of the last
//! 200 ms after a power loss.

mod csv_rows;
mod input;
mod messages;
mod plan;
mod progress;
mod records;
mod rejects;
mod summary;
mod types;
mod writer;

use crate::error::ToolError;
use crate::{ImportArgs, ImportFormat, ImportKind, Outcome};
use input::Input;
use plan::{ColumnOptions, RowKind};
use profiledb::{ColumnType, Database, Error as EngineError, Options, SyncMode};
use std::path::{Path, PathBuf};

/// How often the WAL is synced while importing.
pub(crate) const SYNC_EVERY_MILLIS: u32 = 200;

/// CSV rows per write: plain upserts and appends are cheap, so small batches keep memory low
/// and acknowledge often at no cost in speed.
const CSV_BATCH_ROWS: usize = 1_000;

/// Messages per `ingest` call: identity resolution and trait reads pay a fixed cost per call
/// (a 1 M-message import takes about a quarter less CPU than with calls of 1,000).
const MESSAGE_BATCH: usize = 10_000;

/// Settings every import kind shares.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub strict: bool,
    pub rejects: PathBuf,
    pub batch_size: usize,
    pub input_name: String,
}

pub(crate) fn run(data: &Path, args: &ImportArgs) -> Result<Outcome, ToolError> {
    let format = match args.format {
        Some(format) => format,
        None => format_from_name(&args.input)?,
    };
    let kind = args.kind.unwrap_or(match format {
        ImportFormat::Csv => ImportKind::Profiles,
        ImportFormat::Ndjson => ImportKind::Messages,
    });
    check_flags(args, format, kind)?;
    let input = Input::from_arg(&args.input);
    let settings = Settings {
        strict: args.strict,
        rejects: args
            .rejects
            .clone()
            .unwrap_or_else(|| rejects_path(&args.input)),
        batch_size: args.batch_size.unwrap_or(match kind {
            ImportKind::Messages => MESSAGE_BATCH,
            ImportKind::Profiles | ImportKind::Events => CSV_BATCH_ROWS,
        }),
        input_name: input.name(),
    };
    match kind {
        ImportKind::Profiles | ImportKind::Events => {
            let row_kind = if kind == ImportKind::Profiles {
                RowKind::Profiles
            } else {
                RowKind::Events
            };
            let options = ColumnOptions {
                key_column: args.id.clone().or_else(|| args.profile_column.clone()),
                schema: parse_schema(args.schema.as_deref())?,
            };
            csv_rows::run(data, input, row_kind, &options, &settings)
        }
        ImportKind::Messages => messages::run(data, input, &settings),
    }
}

/// The format from the file name (`.csv`, `.ndjson`, `.jsonl`, `.json`, each maybe `.gz`).
fn format_from_name(input: &Path) -> Result<ImportFormat, ToolError> {
    let name = input.to_string_lossy().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".csv") {
        Ok(ImportFormat::Csv)
    } else if [".ndjson", ".jsonl", ".json"]
        .iter()
        .any(|e| name.ends_with(e))
    {
        Ok(ImportFormat::Ndjson)
    } else {
        Err(ToolError::usage(format!(
            "cannot tell the format of {} from its name; pass --format csv or --format ndjson",
            input.display()
        )))
    }
}

/// Flags that only make sense for some formats and kinds.
fn check_flags(args: &ImportArgs, format: ImportFormat, kind: ImportKind) -> Result<(), ToolError> {
    let problem = match (format, kind) {
        (ImportFormat::Csv, ImportKind::Messages) => {
            Some("messages are NDJSON; CSV imports are --kind profiles or --kind events")
        }
        (ImportFormat::Ndjson, ImportKind::Profiles | ImportKind::Events) => {
            Some("NDJSON imports are Tracking Spec messages (--kind messages)")
        }
        _ if args.id.is_some() && kind != ImportKind::Profiles => {
            Some("--id is for --kind profiles")
        }
        _ if args.profile_column.is_some() && kind != ImportKind::Events => {
            Some("--profile-column is for --kind events")
        }
        _ if args.schema.is_some() && format != ImportFormat::Csv => {
            Some("--schema is for CSV imports")
        }
        _ if args.batch_size == Some(0) => Some("--batch-size must be at least 1"),
        _ => None,
    };
    problem.map_or(Ok(()), |p| Err(ToolError::usage(p)))
}

/// `name:type,name:type`.
fn parse_schema(spec: Option<&str>) -> Result<Vec<(String, ColumnType)>, ToolError> {
    let Some(spec) = spec else {
        return Ok(Vec::new());
    };
    spec.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (name, type_name) = part.rsplit_once(':').ok_or_else(|| {
                ToolError::usage(format!("--schema: `{part}` is not NAME:TYPE"))
            })?;
            let column_type = types::type_from_name(type_name).ok_or_else(|| {
                ToolError::usage(format!(
                    "--schema: unknown type `{type_name}` (bool, int64, float64, timestamp, string, string_list)"
                ))
            })?;
            Ok((name.trim().to_owned(), column_type))
        })
        .collect()
}

/// `<input>.rejects`, or `stdin.rejects` for `-`.
fn rejects_path(input: &Path) -> PathBuf {
    if input.as_os_str() == "-" {
        PathBuf::from("stdin.rejects")
    } else {
        let mut name = input.as_os_str().to_owned();
        name.push(".rejects");
        PathBuf::from(name)
    }
}

pub(crate) fn import_options(create: bool) -> Options {
    Options {
        sync_mode: SyncMode::EveryMillis(SYNC_EVERY_MILLIS),
        create_if_missing: create,
        ..Options::default()
    }
}

/// The database in `data` if there is one (nothing is created).
pub(crate) fn open_if_exists(data: &Path) -> Result<Option<Database>, ToolError> {
    match Database::open(data, import_options(false)) {
        Ok(db) => Ok(Some(db)),
        Err(EngineError::NotFound { .. }) => Ok(None),
        Err(error) => Err(ToolError::engine(format!(
            "cannot open the database in {}",
            data.display()
        ))(error)),
    }
}

/// `existing`, or a database created in `data`.
pub(crate) fn open_for_writing(
    data: &Path,
    existing: Option<Database>,
) -> Result<Database, ToolError> {
    match existing {
        Some(db) => Ok(db),
        None => Database::open(data, import_options(true)).map_err(ToolError::engine(format!(
            "cannot create a database in {}",
            data.display()
        ))),
    }
}

/// Flushes the imported rows into segments and closes (syncing the WAL).
pub(crate) fn close_after_import(db: Database) -> Result<(), ToolError> {
    db.flush()
        .map_err(ToolError::engine("flushing the imported rows"))?;
    db.close()
        .map_err(ToolError::engine("closing the database"))
}
