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
use std::borrow::Cow;
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

/// One value of a column, as the writer takes it: lighter than JSON (no map per object; a
/// struct's fields by position, in the schema's order; text that is a name need not be copied).
#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'static, str>),
    List(Vec<Datum>),
    /// The fields in the schema's order.
    Struct(Vec<Datum>),
    /// A JSON value for a top-level column: converted by the column's type (objects' keys matched
    /// by name) when the row is pushed.
    Json(Value),
}

static NULL: Datum = Datum::Null;

impl Datum {
    fn is_null(&self) -> bool {
        matches!(self, Datum::Null) || matches!(self, Datum::Json(Value::Null))
    }

    fn kind(&self) -> &'static str {
        match self {
            Datum::Null => "null",
            Datum::Bool(_) => "a boolean",
            Datum::Int(_) => "an integer",
            Datum::Float(_) => "a float",
            Datum::Str(_) => "a string",
            Datum::List(_) => "a list",
            Datum::Struct(_) => "a struct",
            Datum::Json(_) => "JSON",
        }
    }

    /// `v` as a value of `field` (`path` names it in errors).
    pub(crate) fn from_json(path: &str, field: &Field, v: Value) -> Result<Datum, ParquetIoError> {
        Ok(match (field.data_type(), v) {
            (_, Value::Null) => Datum::Null,
            (DataType::Utf8, Value::String(s)) => Datum::Str(Cow::Owned(s)),
            (DataType::Int64, Value::Number(n)) if n.is_i64() => {
                Datum::Int(n.as_i64().unwrap_or_default())
            }
            (DataType::Float64, Value::Number(n)) => Datum::Float(n.as_f64().unwrap_or(f64::NAN)),
            (DataType::Boolean, Value::Bool(b)) => Datum::Bool(b),
            (DataType::Struct(fields), Value::Object(mut map)) => Datum::Struct(
                fields
                    .iter()
                    .map(|f| {
                        let child = format!("{path}.{}", f.name());
                        Datum::from_json(&child, f, map.remove(f.name()).unwrap_or(Value::Null))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (DataType::List(item), Value::Array(items)) => {
                let child = format!("{path}[]");
                Datum::List(
                    items
                        .into_iter()
                        .map(|v| Datum::from_json(&child, item, v))
                        .collect::<Result<_, _>>()?,
                )
            }
            (dt, other) => return Err(mismatch(path, dt, &other)),
        })
    }
}

fn mismatch_datum(column: &str, want: &DataType, got: &Datum) -> ParquetIoError {
    ParquetIoError::Column {
        column: column.to_owned(),
        message: format!("expected {want}, got {}", got.kind()),
    }
}

/// The column `field` of a batch from one value per row (`path` names it in errors).
pub(crate) fn to_array(
    path: &str,
    field: &Field,
    values: &[&Datum],
) -> Result<ArrayRef, ParquetIoError> {
    if !field.is_nullable() && values.iter().any(|v| v.is_null()) {
        return Err(ParquetIoError::Column {
            column: path.to_owned(),
            message: "null in a column that is never null".into(),
        });
    }
    let dt = field.data_type();
    let nulls = || {
        let nulls = NullBuffer::from_iter(values.iter().map(|v| !v.is_null()));
        (nulls.null_count() > 0).then_some(nulls)
    };
    Ok(match dt {
        DataType::Utf8 => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Datum::Str(s) => Some(s.as_ref()),
                    v if v.is_null() => None,
                    other => return Err(mismatch_datum(path, dt, other)),
                });
            }
            Arc::new(StringArray::from(out))
        }
        DataType::Int64 => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Datum::Int(i) => Some(*i),
                    v if v.is_null() => None,
                    other => return Err(mismatch_datum(path, dt, other)),
                });
            }
            Arc::new(Int64Array::from(out))
        }
        DataType::Float64 => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Datum::Float(f) => Some(*f),
                    Datum::Int(i) => Some(*i as f64),
                    v if v.is_null() => None,
                    other => return Err(mismatch_datum(path, dt, other)),
                });
            }
            Arc::new(Float64Array::from(out))
        }
        DataType::Boolean => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Datum::Bool(b) => Some(*b),
                    v if v.is_null() => None,
                    other => return Err(mismatch_datum(path, dt, other)),
                });
            }
            Arc::new(BooleanArray::from(out))
        }
        DataType::Struct(fields) => {
            for v in values {
                if !(v.is_null() || matches!(v, Datum::Struct(_))) {
                    return Err(mismatch_datum(path, dt, v));
                }
            }
            let mut children = Vec::with_capacity(fields.len());
            for (i, child) in fields.iter().enumerate() {
                let column: Vec<&Datum> = values
                    .iter()
                    .map(|v| match v {
                        Datum::Struct(items) => items.get(i).unwrap_or(&NULL),
                        _ => &NULL,
                    })
                    .collect();
                children.push(to_array(
                    &format!("{path}.{}", child.name()),
                    child,
                    &column,
                )?);
            }
            Arc::new(
                StructArray::try_new(fields.clone(), children, nulls())
                    .map_err(|e| ParquetIoError::column(path, e))?,
            )
        }
        DataType::List(item) => {
            let mut lengths = Vec::with_capacity(values.len());
            let mut items: Vec<&Datum> = Vec::new();
            for v in values {
                match v {
                    Datum::List(list) => {
                        lengths.push(list.len());
                        items.extend(list.iter());
                    }
                    v if v.is_null() => lengths.push(0),
                    other => return Err(mismatch_datum(path, dt, other)),
                }
            }
            let child = to_array(&format!("{path}[]"), item, &items)?;
            Arc::new(
                ListArray::try_new(
                    item.clone(),
                    OffsetBuffer::from_lengths(lengths),
                    child,
                    nulls(),
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

    fn array(field: &Field, values: &[Value]) -> Result<ArrayRef, ParquetIoError> {
        let datums = values
            .iter()
            .map(|v| Datum::from_json(field.name(), field, v.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&Datum> = datums.iter().collect();
        to_array(field.name(), field, &refs)
    }

    fn round_trip(field: Field, values: Vec<Value>) -> Vec<Value> {
        let array = array(&field, &values).unwrap();
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
        let err = array(&field, &[bad]).unwrap_err().to_string();
        assert!(
            err.contains("conv[].role") && err.contains("expected Utf8"),
            "{err}"
        );
        let missing = json!([{"n": 1}]);
        let err = array(&field, &[missing]).unwrap_err().to_string();
        assert!(
            err.contains("conv[].role") && err.contains("never null"),
            "{err}"
        );
        let f = Field::new("t", DataType::Float64, false);
        assert_eq!(
            round_trip(f, vec![json!(1_700_000_000.5), json!(2.0)]),
            [json!(1_700_000_000.5), json!(2.0)]
        );
        // Datums straight (a struct's fields by position), and a datum of the wrong type.
        let row = Datum::List(vec![Datum::Struct(vec![
            Datum::Str("user".into()),
            Datum::Int(4),
        ])]);
        let back = to_array("conv", &field, &[&row, &Datum::Null]).unwrap();
        assert_eq!(
            to_value("conv", back.as_ref(), 0).unwrap(),
            json!([{"role": "user", "n": 4}])
        );
        let err = to_array("conv", &field, &[&Datum::Int(1)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("expected List") && err.contains("an integer"),
            "{err}"
        );
    }
}
