//! The research exports as Parquet (arrow-rs), pure: no database, no async.
//!
//! - [`arrow_schema`]: the explicit Arrow schema of each export schema (every column's type).
//! - [`ParquetWriter`]: rows in ([`Datum`]s or JSON values, columns in the schema's order),
//!   Snappy-compressed Parquet bytes out a row group at a time, so memory stays bounded by one
//!   row group.
//! - [`read_rows`]: a Parquet file back as `(row number, {column: value})`, for imports and tests.
//!
//! A row written and read back is the same JSON object as the row of the JSONL export.

mod convert;
mod read;
mod schema;
mod write;

/// An in-memory file for [`read_rows`].
pub use bytes::Bytes;
pub use convert::Datum;
pub use read::{ParquetRows, ReadBounds, read_rows, read_rows_bounded};
pub use schema::arrow_schema;
pub use write::{
    BATCH_ROWS, ParquetWriter, ROW_GROUP_BYTES, ROW_GROUP_ROWS, SCHEMA_KEY, SCHEMA_VERSION_KEY,
};

/// The MIME type of a Parquet file (registered with IANA in 2024).
pub const CONTENT_TYPE: &str = "application/vnd.apache.parquet";

#[derive(Debug, thiserror::Error)]
pub enum ParquetIoError {
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A value that does not fit its column's type (the column's path, e.g. `conv_a[].role`).
    #[error("column {column}: {message}")]
    Column { column: String, message: String },
    /// A row whose columns are not the schema's.
    #[error("row: {0}")]
    Row(String),
    /// A file, row group or row beyond the reading's bounds (a decompression bomb).
    #[error("over the import budget: {0}")]
    OverBudget(String),
}

impl ParquetIoError {
    pub(crate) fn column(path: &str, e: impl std::fmt::Display) -> Self {
        ParquetIoError::Column {
            column: path.to_owned(),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
