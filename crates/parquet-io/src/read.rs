//! Reading a Parquet file back as rows: JSON objects keyed by column name, each with its 1-based
//! row number, one record batch in memory at a time.

use crate::write::{SCHEMA_KEY, SCHEMA_VERSION_KEY};
use crate::{ParquetIoError, convert};
use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::reader::ChunkReader;
use serde_json::{Map, Value};

/// Rows decoded at once, at most.
const READ_BATCH_ROWS: usize = 1024;

/// The decoded bytes a batch of rows may take: the batch holds `BATCH_BYTES / max_row_bytes`
/// rows, so memory stays bounded by about this while every row keeps to its budget.
const BATCH_BYTES: u64 = 8 << 20;

/// What one file may make the reader decode (a Parquet file is compressed and
/// dictionary-encoded: a few kilobytes can stand for gigabytes of rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadBounds {
    /// The most bytes one row may decode to (its JSON text, roughly).
    pub max_row_bytes: u64,
    /// The most rows a file may hold.
    pub max_file_rows: u64,
}

impl Default for ReadBounds {
    fn default() -> Self {
        Self {
            max_row_bytes: 1 << 20,
            max_file_rows: 20_000_000,
        }
    }
}

/// The size of a row's JSON text, near enough (a bound check, not a serialisation).
fn json_bytes(value: &Value) -> u64 {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 8,
        Value::String(s) => s.len() as u64 + 2,
        Value::Array(items) => 2 + items.iter().map(json_bytes).sum::<u64>(),
        Value::Object(map) => object_bytes(map),
    }
}

fn object_bytes(map: &Map<String, Value>) -> u64 {
    2 + map
        .iter()
        .map(|(k, v)| k.len() as u64 + 3 + json_bytes(v))
        .sum::<u64>()
}

/// The rows of a Parquet file, in order: `(row number from 1, {column: value})`.
pub struct ParquetRows {
    batches: ParquetRecordBatchReader,
    batch: Option<RecordBatch>,
    next_in_batch: usize,
    row_number: u64,
    total_rows: u64,
    schema_name: Option<String>,
    schema_version: Option<u32>,
    failed: bool,
    bounds: ReadBounds,
    /// The first row number of each row group after the first (to name a row's group).
    group_starts: Vec<u64>,
}

impl std::fmt::Debug for ParquetRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetRows")
            .field("schema", &self.schema_name)
            .field("row_number", &self.row_number)
            .field("total_rows", &self.total_rows)
            .finish()
    }
}

/// Opens a Parquet file (a `std::fs::File`, or `bytes::Bytes` in memory) for reading row by row.
/// Fails at once when the input is not Parquet or its schema has a type JSON cannot hold.
pub fn read_rows<R: ChunkReader + 'static>(input: R) -> Result<ParquetRows, ParquetIoError> {
    read_rows_bounded(input, ReadBounds::default())
}

/// [`read_rows`] within `bounds`: a file with more rows, or a row group that says it decodes to
/// more than its rows' budget, is refused before anything is decoded; rows are decoded a few at
/// a time, and the first row over its budget ends the reading with an error that names its row
/// group ([`ParquetIoError::OverBudget`]).
pub fn read_rows_bounded<R: ChunkReader + 'static>(
    input: R,
    bounds: ReadBounds,
) -> Result<ParquetRows, ParquetIoError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(input)?;
    let max_row_bytes = bounds.max_row_bytes.max(1);
    let file_rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    if file_rows > bounds.max_file_rows {
        return Err(ParquetIoError::OverBudget(format!(
            "the file has {file_rows} rows, more than imports.max_file_rows = {}",
            bounds.max_file_rows
        )));
    }
    let mut group_starts = Vec::new();
    let mut first = 1u64;
    for (i, group) in builder.metadata().row_groups().iter().enumerate() {
        let rows = u64::try_from(group.num_rows()).unwrap_or(0);
        let declared = u64::try_from(group.total_byte_size()).unwrap_or(u64::MAX);
        if declared > max_row_bytes.saturating_mul(rows.max(1)) {
            return Err(ParquetIoError::OverBudget(format!(
                "row group {} (rows {first}–{}) decodes to {declared} bytes, more than \
                 imports.max_row_bytes = {max_row_bytes} per row",
                i + 1,
                first + rows.saturating_sub(1)
            )));
        }
        if i > 0 {
            group_starts.push(first);
        }
        first += rows;
    }
    let batch_rows = usize::try_from(BATCH_BYTES / max_row_bytes)
        .unwrap_or(READ_BATCH_ROWS)
        .clamp(1, READ_BATCH_ROWS);
    for field in builder.schema().fields() {
        convert::check_readable(field.name(), field.data_type())?;
    }
    let metadata = builder.metadata().file_metadata();
    let total_rows = u64::try_from(metadata.num_rows()).unwrap_or(0);
    let value = |key: &str| {
        metadata
            .key_value_metadata()?
            .iter()
            .find(|kv| kv.key == key)?
            .value
            .clone()
    };
    let schema_name = value(SCHEMA_KEY);
    let schema_version = value(SCHEMA_VERSION_KEY).and_then(|v| v.parse().ok());
    let batches = builder.with_batch_size(batch_rows).build()?;
    Ok(ParquetRows {
        batches,
        batch: None,
        next_in_batch: 0,
        row_number: 0,
        total_rows,
        schema_name,
        schema_version,
        failed: false,
        bounds,
        group_starts,
    })
}

impl ParquetRows {
    /// The export schema the arena wrote the file in (`arena.schema` metadata), if any.
    pub fn schema_name(&self) -> Option<&str> {
        self.schema_name.as_deref()
    }

    /// The version of that schema's rendering (`arena.schema_version`).
    pub fn schema_version(&self) -> Option<u32> {
        self.schema_version
    }

    /// The row count in the file's footer.
    pub fn total_rows(&self) -> u64 {
        self.total_rows
    }

    /// The column names, in order.
    pub fn columns(&self) -> Vec<String> {
        use arrow_array::RecordBatchReader;
        self.batches
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    fn row(&self, batch: &RecordBatch, i: usize) -> Result<Map<String, Value>, ParquetIoError> {
        let mut out = Map::new();
        for (field, column) in batch.schema_ref().fields().iter().zip(batch.columns()) {
            out.insert(
                field.name().clone(),
                convert::to_value(field.name(), column.as_ref(), i)?,
            );
        }
        Ok(out)
    }
}

impl Iterator for ParquetRows {
    type Item = Result<(u64, Map<String, Value>), ParquetIoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            if let Some(batch) = &self.batch
                && self.next_in_batch < batch.num_rows()
            {
                let i = self.next_in_batch;
                self.next_in_batch += 1;
                self.row_number += 1;
                let row = self.row(batch, i).and_then(|r| {
                    let bytes = object_bytes(&r);
                    if bytes > self.bounds.max_row_bytes {
                        let group = 1 + self
                            .group_starts
                            .iter()
                            .filter(|start| **start <= self.row_number)
                            .count();
                        return Err(ParquetIoError::OverBudget(format!(
                            "row {} (row group {group}) decodes to {bytes} bytes, more than \
                             imports.max_row_bytes = {}",
                            self.row_number, self.bounds.max_row_bytes
                        )));
                    }
                    Ok((self.row_number, r))
                });
                self.failed = row.is_err();
                return Some(row);
            }
            match self.batches.next()? {
                Ok(batch) => {
                    self.batch = Some(batch);
                    self.next_in_batch = 0;
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(ParquetIoError::Arrow(e)));
                }
            }
        }
    }
}
