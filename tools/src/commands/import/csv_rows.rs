//! Importing CSV rows into `profiles` (upserts) or `events` (appends).

use super::input::Input;
use super::plan::{ColumnOptions, Plan, RowKind};
use super::progress::Progress;
use super::records::{Record, RecordReader};
use super::rejects::Rejects;
use super::summary::{self, Counts};
use super::types::Inference;
use super::writer::{check_profile, BatchWriter};
use super::{open_for_writing, open_if_exists, Settings};
use crate::error::ToolError;
use crate::Outcome;
use profiledb::engine::profiles::IDENTITY_COLUMN;
use profiledb::{ColumnType, Database, TableKind};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::time::Instant;

/// Rows of a stream (stdin) that types are inferred from; later rows that do not fit are
/// rejected. Files are read in full for inference.
const SAMPLE_ROWS: usize = 10_000;

type Reader = RecordReader<Box<dyn BufRead>>;

pub(crate) fn run(
    data: &Path,
    input: Input,
    kind: RowKind,
    options: &ColumnOptions,
    settings: &Settings,
) -> Result<Outcome, ToolError> {
    let started = Instant::now();
    let input = if settings.strict {
        input.into_rereadable()?
    } else {
        input
    };
    let existing = open_if_exists(data)?;
    if let Some(db) = &existing {
        refuse_ingested(db, data)?;
    }
    let table = match kind {
        RowKind::Profiles => TableKind::Profiles,
        RowKind::Events => TableKind::Events,
    };
    let types = existing
        .as_ref()
        .map(|db| stored_types(db, table))
        .unwrap_or_default();
    let mut reader = open_records(&input)?;
    let header = read_header(&mut reader, &input)?;
    let mut plan = Plan::build(kind, &header, options, &types)?;
    let sample = infer_types(&mut plan, &input, &mut reader)?;
    let mut rejects = Rejects::new(settings.rejects.clone());
    if settings.strict {
        let counts = validate(&plan, &input, existing.as_ref(), &mut rejects)?;
        if rejects.count() > 0 {
            rejects.finish()?;
            summary::print(counts, &rejects, started.elapsed(), true)?;
            return Ok(Outcome::ProblemsFound);
        }
    }
    let db = open_for_writing(data, existing)?;
    let counts = write_rows(&db, &plan, sample, reader, &mut rejects, settings)?;
    super::close_after_import(db)?;
    rejects.finish()?;
    summary::print(counts, &rejects, started.elapsed(), false)?;
    Ok(if rejects.count() > 0 {
        Outcome::ProblemsFound
    } else {
        Outcome::Clean
    })
}

/// Rows of a database built from messages belong to the ingestion pipeline (identity graph,
/// trait stamps, computed traits): direct row writes would bypass it.
fn refuse_ingested(db: &Database, data: &Path) -> Result<(), ToolError> {
    let ingested = db
        .snapshot()
        .schema(TableKind::Profiles)
        .column(IDENTITY_COLUMN)
        .is_some();
    if ingested {
        return Err(ToolError::BadInput {
            context: data.display().to_string(),
            message: "this database is built from Tracking Spec messages; import CSV rows into \
                      another database, or send them as NDJSON identify/track messages"
                .to_owned(),
        });
    }
    Ok(())
}

/// Column types the database already has (they win over inference).
fn stored_types(db: &Database, table: TableKind) -> HashMap<String, ColumnType> {
    db.snapshot()
        .schema(table)
        .columns()
        .iter()
        .map(|c| (c.name.clone(), c.column_type))
        .collect()
}

fn open_records(input: &Input) -> Result<Reader, ToolError> {
    Ok(RecordReader::new(input.open()?))
}

fn next(reader: &mut Reader, input: &Input) -> Result<Option<Record>, ToolError> {
    reader
        .next_record()
        .map_err(ToolError::io(format!("reading {}", input.name())))
}

fn read_header(reader: &mut Reader, input: &Input) -> Result<Vec<String>, ToolError> {
    let bad = |message: String| ToolError::BadInput {
        context: input.name(),
        message,
    };
    let record = next(reader, input)?
        .ok_or_else(|| bad("the input is empty; a CSV import needs a header row".to_owned()))?;
    record.fields.map_err(|reason| {
        bad(format!(
            "the header (line {}) is not valid CSV: {reason}",
            record.line
        ))
    })
}

/// Infers the types the plan lacks: from the whole input when it can be read again,
/// otherwise from the first rows, which are returned to be imported.
fn infer_types(
    plan: &mut Plan,
    input: &Input,
    reader: &mut Reader,
) -> Result<Vec<Record>, ToolError> {
    if !plan.needs_inference() {
        return Ok(Vec::new());
    }
    let mut inferences = vec![Inference::default(); plan.width];
    let mut observe = |record: &Record| {
        if let Ok(fields) = &record.fields {
            if fields.len() == inferences.len() {
                inferences
                    .iter_mut()
                    .zip(fields)
                    .for_each(|(i, f)| i.observe(f));
            }
        }
    };
    let mut sample = Vec::new();
    if input.rereadable() {
        let mut pass = open_records(input)?;
        next(&mut pass, input)?;
        while let Some(record) = next(&mut pass, input)? {
            observe(&record);
        }
    } else {
        while sample.len() < SAMPLE_ROWS {
            let Some(record) = next(reader, input)? else {
                break;
            };
            observe(&record);
            sample.push(record);
        }
    }
    plan.apply_inference(&inferences);
    Ok(sample)
}

/// `--strict`: converts every row without writing, collecting the rejects.
fn validate(
    plan: &Plan,
    input: &Input,
    existing: Option<&Database>,
    rejects: &mut Rejects,
) -> Result<Counts, ToolError> {
    let deleted = existing
        .map(|db| db.snapshot().deleted_rows(TableKind::Profiles).clone())
        .unwrap_or_default();
    let mut reader = open_records(input)?;
    next(&mut reader, input)?;
    let mut counts = Counts::default();
    while let Some(record) = next(&mut reader, input)? {
        counts.read += 1;
        let checked = record
            .fields
            .clone()
            .and_then(|fields| plan.convert(&fields))
            .and_then(|row| check_profile(&deleted, &row));
        if let Err(reason) = checked {
            rejects.reject(record.line, &record.text, &reason)?;
        }
    }
    Ok(counts)
}

/// Converts and writes every row (the sampled ones first), in batches.
fn write_rows(
    db: &Database,
    plan: &Plan,
    sample: Vec<Record>,
    mut reader: Reader,
    rejects: &mut Rejects,
    settings: &Settings,
) -> Result<Counts, ToolError> {
    let progress = Progress::new("importing");
    let mut writer = BatchWriter::new(db, plan.kind, settings.batch_size);
    writer.define_columns(plan.columns())?;
    let mut counts = Counts::default();
    let mut handle = |record: Record, writer: &mut BatchWriter<'_>| -> Result<(), ToolError> {
        counts.read += 1;
        match record.fields.and_then(|fields| plan.convert(&fields)) {
            Ok(row) => writer.push(record.line, &record.text, row, rejects, &progress),
            Err(reason) => rejects.reject(record.line, &record.text, &reason),
        }
    };
    for record in sample {
        handle(record, &mut writer)?;
    }
    let name = settings.input_name.clone();
    while let Some(record) = reader
        .next_record()
        .map_err(|error| ToolError::io(format!("reading {name}"))(error))?
    {
        handle(record, &mut writer)?;
    }
    writer.flush(rejects)?;
    progress.finish();
    counts.imported = writer.imported();
    Ok(counts)
}
