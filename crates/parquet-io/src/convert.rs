//! JSON values ↔ Arrow arrays for the types the export schemas use (string, int64, double,
//! bool, struct, list), by hand: about a hundred lines instead of arrow-json and arrow-cast.
//! Reading also accepts the other common integer, float and string layouts, so files written by
//! pandas or pyarrow read too.

use crate::ParquetIoError;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, ListArray, StringArray, StructArray,
};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field};
use serde_json::{Map, Value};
use std::sync::Arc;

fn mismatch(column: &str, want: &DataType, got: &Value) -> ParquetIoError {
    let mut shown = got.to_string();
    if shown.len() > 60 {
        let mut end = 60;
        while !shown.is_char_boundary(end) {
            end -= 1;
        }
        shown.truncate(end);
        shown.push('…');
    }
    ParquetIoError::Column {
        column: column.to_owned(),
        message: format!("expected {want}, got {shown}"),
    }
}

/// The column `field` of a batch from one value per row (`path` names it in errors).
pub(crate) fn to_array(
    path: &str,
    field: &Field,
    values: &[&Value],
) -> Result<ArrayRef, ParquetIoError> {
    if !field.is_nullable() && values.iter().any(|v| v.is_null()) {
        return Err(ParquetIoError::Column {
            column: path.to_owned(),
            message: "null in a column that is never null".into(),
        });
    }
    let dt = field.data_type();
    let scalar = |ok: bool, v: &Value| {
        if ok || v.is_null() {
            Ok(())
        } else {
            Err(mismatch(path, dt, v))
        }
    };
    Ok(match dt {
        DataType::Utf8 => {
            for v in values {
                scalar(v.is_string(), v)?;
            }
            Arc::new(values.iter().map(|v| v.as_str()).collect::<StringArray>())
        }
        DataType::Int64 => {
            for v in values {
                scalar(v.is_i64(), v)?;
            }
            Arc::new(values.iter().map(|v| v.as_i64()).collect::<Int64Array>())
        }
        DataType::Float64 => {
            for v in values {
                scalar(v.is_number(), v)?;
            }
            Arc::new(values.iter().map(|v| v.as_f64()).collect::<Float64Array>())
        }
        DataType::Boolean => {
            for v in values {
                scalar(v.is_boolean(), v)?;
            }
            Arc::new(values.iter().map(|v| v.as_bool()).collect::<BooleanArray>())
        }
        DataType::Struct(fields) => {
            for v in values {
                scalar(v.is_object(), v)?;
            }
            let mut children = Vec::with_capacity(fields.len());
            for child in fields {
                let column: Vec<&Value> = values
                    .iter()
                    .map(|v| v.get(child.name()).unwrap_or(&Value::Null))
                    .collect();
                children.push(to_array(
                    &format!("{path}.{}", child.name()),
                    child,
                    &column,
                )?);
            }
            let nulls = NullBuffer::from_iter(values.iter().map(|v| !v.is_null()));
            let nulls = (nulls.null_count() > 0).then_some(nulls);
            Arc::new(
                StructArray::try_new(fields.clone(), children, nulls)
                    .map_err(|e| ParquetIoError::column(path, e))?,
            )
        }
        DataType::List(item) => {
            let mut lengths = Vec::with_capacity(values.len());
            let mut items: Vec<&Value> = Vec::new();
            for v in values {
                match v {
                    Value::Array(list) => {
                        lengths.push(list.len());
                        items.extend(list.iter());
                    }
                    Value::Null => lengths.push(0),
                    other => return Err(mismatch(path, dt, other)),
                }
            }
            let child = to_array(&format!("{path}[]"), item, &items)?;
            let nulls = NullBuffer::from_iter(values.iter().map(|v| !v.is_null()));
            let nulls = (nulls.null_count() > 0).then_some(nulls);
            Arc::new(
                ListArray::try_new(
                    item.clone(),
                    OffsetBuffer::from_lengths(lengths),
                    child,
                    nulls,
                )
                .map_err(|e| ParquetIoError::column(path, e))?,
            )
        }
        other => {
            return Err(ParquetIoError::Column {
                column: path.to_owned(),
                message: format!("{other} is not a type the exports write"),
            });
        }
    })
}

fn int(v: impl Into<i64>) -> Value {
    Value::from(v.into())
}

fn float(v: f64) -> Value {
    // NaN and infinities have no JSON spelling.
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Row `i` of `array` as JSON (`path` names the column in errors).
pub(crate) fn to_value(path: &str, array: &dyn Array, i: usize) -> Result<Value, ParquetIoError> {
    if array.is_null(i) {
        return Ok(Value::Null);
    }
    Ok(match array.data_type() {
        DataType::Null => Value::Null,
        DataType::Boolean => Value::Bool(array.as_boolean().value(i)),
        DataType::Int8 => int(array.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => int(array.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => int(array.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => int(array.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => int(array.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => int(array.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => int(array.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => Value::from(array.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => float(f64::from(array.as_primitive::<Float32Type>().value(i))),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => Value::from(array.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Value::from(array.as_string::<i64>().value(i)),
        DataType::Utf8View => Value::from(array.as_string_view().value(i)),
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut out = Map::new();
            for (field, column) in fields.iter().zip(s.columns()) {
                let child = format!("{path}.{}", field.name());
                out.insert(field.name().clone(), to_value(&child, column, i)?);
            }
            Value::Object(out)
        }
        DataType::List(_) => list(path, &array.as_list::<i32>().value(i))?,
        DataType::LargeList(_) => list(path, &array.as_list::<i64>().value(i))?,
        other => {
            return Err(ParquetIoError::Column {
                column: path.to_owned(),
                message: format!("cannot read {other} as JSON"),
            });
        }
    })
}

/// Fails, naming the column, when [`to_value`] cannot read this type.
pub(crate) fn check_readable(path: &str, dt: &DataType) -> Result<(), ParquetIoError> {
    match dt {
        DataType::Struct(fields) => fields
            .iter()
            .try_for_each(|f| check_readable(&format!("{path}.{}", f.name()), f.data_type())),
        DataType::List(item) | DataType::LargeList(item) => {
            check_readable(&format!("{path}[]"), item.data_type())
        }
        DataType::Null
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float32
        | DataType::Float64
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View => Ok(()),
        other => Err(ParquetIoError::Column {
            column: path.to_owned(),
            message: format!("cannot read {other} as JSON"),
        }),
    }
}

fn list(path: &str, items: &ArrayRef) -> Result<Value, ParquetIoError> {
    let child = format!("{path}[]");
    (0..items.len())
        .map(|j| to_value(&child, items.as_ref(), j))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(field: Field, values: Vec<Value>) -> Vec<Value> {
        let refs: Vec<&Value> = values.iter().collect();
        let array = to_array(field.name(), &field, &refs).unwrap();
        (0..array.len())
            .map(|i| to_value(field.name(), array.as_ref(), i).unwrap())
            .collect()
    }

    #[test]
    fn nested_values_survive_and_bad_ones_are_named() {
        let message = Field::new(
            "item",
            DataType::Struct(
                vec![
                    Field::new("role", DataType::Utf8, false),
                    Field::new("n", DataType::Int64, true),
                ]
                .into(),
            ),
            false,
        );
        let field = Field::new("conv", DataType::List(Arc::new(message)), true);
        let values = vec![
            json!([{"role": "user", "n": 1}, {"role": "assistant", "n": null}]),
            json!([]),
            Value::Null,
        ];
        assert_eq!(round_trip(field.clone(), values.clone()), values);
        let bad = json!([{"role": 3, "n": 1}]);
        let err = to_array("conv", &field, &[&bad]).unwrap_err().to_string();
        assert!(
            err.contains("conv[].role") && err.contains("expected Utf8"),
            "{err}"
        );
        let missing = json!([{"n": 1}]);
        let err = to_array("conv", &field, &[&missing])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("conv[].role") && err.contains("never null"),
            "{err}"
        );
        let f = Field::new("t", DataType::Float64, false);
        assert_eq!(
            round_trip(f, vec![json!(1_700_000_000.5), json!(2.0)]),
            [json!(1_700_000_000.5), json!(2.0)]
        );
    }
}
