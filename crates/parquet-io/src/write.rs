//! The streaming Parquet writer: rows in, the bytes of each finished row group out.
//!
//! Rows wait column by column until a batch of [`BATCH_ROWS`] is full; the batch then becomes
//! Arrow arrays and goes to the Arrow writer, which encodes and Snappy-compresses it into the
//! row group in progress. A row group closes at [`ROW_GROUP_ROWS`] rows or about
//! [`ROW_GROUP_BYTES`] encoded bytes, whichever comes first, and its bytes are handed back at
//! once. So memory holds at most one batch of rows and one encoded row group, whatever the size
//! of the export. [`ParquetWriter::finish`] hands back the rest and the footer.

use crate::convert::{self, Datum};
use crate::{ParquetIoError, schema::arrow_schema};
use arena_domain::export::Schema;
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde_json::Value;

/// Rows per row group (a few MiB for short conversations).
pub const ROW_GROUP_ROWS: usize = 4096;
/// A row group closes early past this estimated encoded size (long conversations).
pub const ROW_GROUP_BYTES: usize = 32 << 20;
/// Rows converted to Arrow arrays at once.
pub const BATCH_ROWS: usize = 512;

/// Key-value metadata in every file: which export schema and version it holds.
pub const SCHEMA_KEY: &str = "arena.schema";
pub const SCHEMA_VERSION_KEY: &str = "arena.schema_version";

/// Writes one export schema's rows as a Parquet file, a row group at a time.
pub struct ParquetWriter {
    schema: SchemaRef,
    /// Rows not yet converted, column by column.
    pending: Vec<Vec<Datum>>,
    batch_rows: usize,
    writer: ArrowWriter<Vec<u8>>,
    row_groups: usize,
    rows: u64,
}

impl std::fmt::Debug for ParquetWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetWriter")
            .field("columns", &self.schema.fields().len())
            .field("rows", &self.rows)
            .field("row_groups", &self.row_groups)
            .finish()
    }
}

impl ParquetWriter {
    pub fn new(schema: Schema) -> Result<Self, ParquetIoError> {
        Self::with_row_group_rows(schema, ROW_GROUP_ROWS)
    }

    /// A writer whose row groups hold at most `rows` rows (tests use small ones).
    pub fn with_row_group_rows(schema: Schema, rows: usize) -> Result<Self, ParquetIoError> {
        let rows = rows.max(1);
        let arrow = arrow_schema(schema);
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(rows))
            .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
            .set_created_by(format!("arena {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(vec![
                KeyValue::new(SCHEMA_KEY.to_owned(), schema.as_str().to_owned()),
                KeyValue::new(SCHEMA_VERSION_KEY.to_owned(), schema.version().to_string()),
            ]))
            .build();
        let writer = ArrowWriter::try_new(Vec::new(), arrow.clone(), Some(properties))?;
        Ok(ParquetWriter {
            pending: vec![Vec::new(); arrow.fields().len()],
            schema: arrow,
            batch_rows: BATCH_ROWS.min(rows),
            writer,
            row_groups: 0,
            rows: 0,
        })
    }

    /// The rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds a row of JSON values, its columns in the schema's order (objects' keys are matched
    /// by name). Returns the bytes of the row groups that this row completed (usually none: an
    /// empty vector).
    pub fn push<'a>(
        &mut self,
        row: impl IntoIterator<Item = (&'a str, Value)>,
    ) -> Result<Vec<u8>, ParquetIoError> {
        self.push_row(row.into_iter().map(|(k, v)| (k, Datum::Json(v))))
    }

    /// Adds a row of [`Datum`]s, its columns in the schema's order (a top-level
    /// [`Datum::Json`] is converted by its column's type). Returns the bytes of the row groups
    /// that this row completed (usually none). A row whose column names or count are not the
    /// schema's, or whose JSON does not fit its column, changes nothing; a datum of the wrong
    /// type fails the batch when it is written (the arena's rows are built for the schema).
    pub fn push_row<'a>(
        &mut self,
        row: impl IntoIterator<Item = (&'a str, Datum)>,
    ) -> Result<Vec<u8>, ParquetIoError> {
        let fields = self.schema.fields();
        let mut datums = Vec::with_capacity(fields.len());
        for (name, datum) in row {
            let n = datums.len();
            let field = match fields.get(n) {
                Some(field) if field.name() == name => field,
                expected => {
                    return Err(ParquetIoError::Row(format!(
                        "column {n} is {name:?}, the schema's is {:?}",
                        expected.map_or("(none)", |f| f.name().as_str())
                    )));
                }
            };
            datums.push(match datum {
                Datum::Json(v) => Datum::from_json(name, field, v)?,
                other => other,
            });
        }
        if datums.len() != fields.len() {
            return Err(ParquetIoError::Row(format!(
                "{} columns, the schema has {} (missing {:?})",
                datums.len(),
                fields.len(),
                fields[datums.len()].name()
            )));
        }
        for (column, datum) in self.pending.iter_mut().zip(datums) {
            column.push(datum);
        }
        self.rows += 1;
        if self.pending[0].len() >= self.batch_rows {
            self.write_pending()?;
            return self.take_finished();
        }
        Ok(Vec::new())
    }

    /// Writes the pending rows as one record batch (the Arrow writer closes row groups).
    fn write_pending(&mut self) -> Result<(), ParquetIoError> {
        if self.pending.first().is_none_or(Vec::is_empty) {
            return Ok(());
        }
        let mut columns = Vec::with_capacity(self.pending.len());
        for (field, values) in self.schema.fields().iter().zip(&self.pending) {
            let refs: Vec<&Datum> = values.iter().collect();
            columns.push(convert::to_array(field.name(), field, &refs)?);
        }
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        self.writer.write(&batch)?;
        for column in &mut self.pending {
            column.clear();
        }
        Ok(())
    }

    /// The bytes of the row groups closed since the last call (none while one is open).
    fn take_finished(&mut self) -> Result<Vec<u8>, ParquetIoError> {
        let closed = self.writer.flushed_row_groups().len();
        if closed == self.row_groups {
            return Ok(Vec::new());
        }
        self.row_groups = closed;
        self.writer.sync()?;
        Ok(std::mem::take(self.writer.inner_mut()))
    }

    /// Writes the last row group and the footer; returns the bytes not handed back yet.
    pub fn finish(mut self) -> Result<Vec<u8>, ParquetIoError> {
        self.write_pending()?;
        Ok(self.writer.into_inner()?)
    }
}
