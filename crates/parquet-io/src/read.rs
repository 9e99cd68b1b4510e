//! Reading a Parquet file back as rows: JSON objects keyed by column name, each with its 1-based
//! row number, one record batch in memory at a time.

use crate::write::{SCHEMA_KEY, SCHEMA_VERSION_KEY};
use crate::{ParquetIoError, convert};
use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::file::reader::ChunkReader;
use serde_json::{Map, Value};

/// Rows decoded at once.
const READ_BATCH_ROWS: usize = 1024;

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
    let builder = ParquetRecordBatchReaderBuilder::try_new(input)?;
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
    let batches = builder.with_batch_size(READ_BATCH_ROWS).build()?;
    Ok(ParquetRows {
        batches,
        batch: None,
        next_in_batch: 0,
        row_number: 0,
        total_rows,
        schema_name,
        schema_version,
        failed: false,
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
                let row = self.row(batch, i).map(|r| (self.row_number, r));
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
