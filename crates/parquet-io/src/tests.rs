//! Round trips of every schema's rows, row-group flushing, and refusals.

use super::*;
use arena_domain::export::Schema;
use arrow_schema::{DataType, Field};
use serde_json::{Map, Value, json};

/// A value for `field` that varies with `k`: strings with commas, quotes, newlines and non-ASCII
/// text, negative numbers, empty and longer lists, and nulls where the column allows them.
fn sample(field: &Field, k: usize) -> Value {
    if field.is_nullable() && k % 3 == 2 {
        return Value::Null;
    }
    match field.data_type() {
        DataType::Utf8 => json!(format!("{} {k}, \"é\"\n✓", field.name())),
        DataType::Int64 => json!(k as i64 * 7 - 3),
        DataType::Float64 => json!(1_700_000_000.25 + k as f64),
        DataType::Boolean => json!(k.is_multiple_of(2)),
        DataType::Struct(fields) => Value::Object(
            fields
                .iter()
                .map(|f| (f.name().clone(), sample(f, k + 1)))
                .collect(),
        ),
        DataType::List(item) => Value::Array((0..k % 3).map(|j| sample(item, k + j)).collect()),
        other => panic!("no sample for {other}"),
    }
}

fn rows(schema: Schema, n: usize) -> Vec<Vec<(String, Value)>> {
    let arrow = arrow_schema(schema);
    (0..n)
        .map(|k| {
            arrow
                .fields()
                .iter()
                .map(|f| (f.name().clone(), sample(f, k)))
                .collect()
        })
        .collect()
}

fn write(writer: &mut ParquetWriter, row: &[(String, Value)]) -> Vec<u8> {
    writer
        .push(row.iter().map(|(k, v)| (k.as_str(), v.clone())))
        .unwrap()
}

fn as_map(row: &[(String, Value)]) -> Map<String, Value> {
    row.iter().cloned().collect()
}

#[test]
fn every_schema_round_trips_its_rows() {
    for schema in Schema::ALL {
        let input = rows(schema, 11);
        let mut writer = ParquetWriter::with_row_group_rows(schema, 4).unwrap();
        let mut file = Vec::new();
        for row in &input {
            file.extend(write(&mut writer, row));
        }
        assert_eq!(writer.rows(), 11);
        file.extend(writer.finish().unwrap());
        let rows = read_rows(bytes::Bytes::from(file)).unwrap();
        assert_eq!(rows.schema_name(), Some(schema.as_str()));
        assert_eq!(rows.schema_version(), Some(schema.version()));
        assert_eq!(rows.total_rows(), 11);
        let names: Vec<String> = input[0].iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(rows.columns(), names, "{schema}");
        let back: Vec<(u64, Map<String, Value>)> = rows.map(Result::unwrap).collect();
        assert_eq!(back.len(), 11, "{schema}");
        for (i, ((number, row), expected)) in back.iter().zip(&input).enumerate() {
            assert_eq!(*number, i as u64 + 1);
            assert_eq!(row, &as_map(expected), "{schema} row {number}");
        }
    }
}

#[test]
fn row_groups_leave_as_they_fill() {
    let schema = Schema::Full;
    let mut writer = ParquetWriter::with_row_group_rows(schema, 100).unwrap();
    let mut chunks = Vec::new();
    for (i, row) in rows(schema, 1050).iter().enumerate() {
        let bytes = write(&mut writer, row);
        if !bytes.is_empty() {
            chunks.push((i + 1, bytes));
        }
    }
    // Every hundredth row closes a row group and hands its bytes back at once.
    let at: Vec<usize> = chunks.iter().map(|(i, _)| *i).collect();
    assert_eq!(at, (1..=10).map(|k| k * 100).collect::<Vec<_>>());
    assert!(chunks[0].1.starts_with(b"PAR1"));
    let tail = writer.finish().unwrap();
    assert!(tail.ends_with(b"PAR1"));
    let file: Vec<u8> = chunks
        .into_iter()
        .flat_map(|(_, b)| b)
        .chain(tail)
        .collect();
    let reader =
        parquet::file::serialized_reader::SerializedFileReader::new(bytes::Bytes::from(file))
            .unwrap();
    use parquet::file::reader::FileReader;
    let metadata = reader.metadata();
    assert_eq!(metadata.num_row_groups(), 11);
    assert_eq!(metadata.row_group(10).num_rows(), 50);
    let column = metadata.row_group(0).column(0);
    assert_eq!(column.compression(), parquet::basic::Compression::SNAPPY);
}

#[test]
fn the_default_writer_and_an_empty_export() {
    let file = ParquetWriter::new(Schema::Dpo).unwrap().finish().unwrap();
    let rows = read_rows(bytes::Bytes::from(file)).unwrap();
    assert_eq!(rows.total_rows(), 0);
    assert_eq!(
        rows.columns(),
        [
            "prompt",
            "chosen",
            "rejected",
            "chosen_model",
            "rejected_model"
        ]
    );
    assert_eq!(rows.count(), 0);
}

#[test]
fn rows_that_are_not_the_schemas_are_refused() {
    let mut writer = ParquetWriter::new(Schema::Dpo).unwrap();
    let err = writer
        .push([("prompt", json!("p")), ("rejected", json!("r"))])
        .unwrap_err();
    assert!(err.to_string().contains("\"rejected\""), "{err}");
    let err = writer.push([("prompt", json!("p"))]).unwrap_err();
    assert!(err.to_string().contains("missing \"chosen\""), "{err}");
    // The refused rows left nothing behind.
    let dpo = |chosen: Value| {
        [
            ("prompt", json!("p")),
            ("chosen", chosen),
            ("rejected", json!("r")),
            ("chosen_model", json!("x")),
            ("rejected_model", json!("y")),
        ]
    };
    writer.push(dpo(json!("c"))).unwrap();
    // A value of the wrong type is refused when pushed, and leaves nothing behind either.
    let err = writer.push(dpo(json!(3))).unwrap_err().to_string();
    assert!(
        err.contains("column chosen") && err.contains("expected Utf8"),
        "{err}"
    );
    let err = writer
        .push_row([("prompt", Datum::Int(1))])
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing \"chosen\""), "{err}");
    let file = writer.finish().unwrap();
    let back: Vec<_> = read_rows(bytes::Bytes::from(file))
        .unwrap()
        .map(|r| r.unwrap().1)
        .collect();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0]["chosen"], "c");
    assert!(read_rows(bytes::Bytes::from_static(b"not parquet")).is_err());
}

#[test]
fn the_reader_and_the_writer_move_between_threads() {
    fn send<T: Send + 'static>() {}
    send::<ParquetRows>();
    send::<ParquetWriter>();
}
