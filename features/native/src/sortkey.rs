//! The driver's sort key of a parsed message record (scripts/pipeline/parse.py
//! `_sort_key`), read from its JSON text without decoding the rest: the
//! parse stage orders every message of the job's output by it.

use std::borrow::Cow;
use std::fmt;

use pyo3::prelude::*;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::vectors::FieldValue;

/// An object's values of `keys` (None: absent), or None for an object that
/// holds one of them twice (a decoded dict keeps one: Python decides) or a
/// value that is not an object (`is_object`: false).
struct Fields<'k> {
    keys: &'k [&'k str],
}

/// What a `Fields` read: null, an object's values, or any other value.
enum Object<'a> {
    Null,
    Values(Option<Vec<Option<FieldValue<'a>>>>),
    Other,
}

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = Object<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Object::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Object::Null)
    }
    fn visit_borrowed_str<E>(self, _: &'de str) -> Result<Self::Value, E> {
        Ok(Object::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Object::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Object::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Object::Other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Object::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Object::Other)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Object::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: Vec<Option<FieldValue<'de>>> = self.keys.iter().map(|_| None).collect();
        let mut twice = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match self.keys.iter().position(|wanted| *wanted == key) {
                Some(position) => {
                    twice |= values[position].is_some();
                    values[position] = Some(map.next_value::<FieldValue<'de>>()?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Object::Values(if twice { None } else { Some(values) }))
    }
}

/// The top-level record: its message id and its source's fields.
struct Record;

impl<'de> Visitor<'de> for Record {
    type Value = Option<(Option<FieldValue<'de>>, Object<'de>)>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut message_id = None;
        let mut source = None;
        let mut twice = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "message_id" => {
                    twice |= message_id.is_some();
                    message_id = Some(map.next_value::<FieldValue<'de>>()?);
                }
                "source" => {
                    twice |= source.is_some();
                    source = Some(map.next_value_seed(SourceSeed)?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(if twice { None } else { Some((message_id, source.unwrap_or(Object::Null))) })
    }
}

struct SourceSeed;

const SOURCE_KEYS: [&str; 3] = ["uri", "index", "offset"];

impl<'de> DeserializeSeed<'de> for SourceSeed {
    type Value = Object<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(Fields { keys: &SOURCE_KEYS })
    }
}

/// `message_sort_key(value)`: a message record's JSON text -> its sort key
/// `(message_id, str(uri), index or 0, offset or 0)` as `_sort_key` makes it
/// from the decoded record; None when only that can (not one strict JSON
/// object; a key there twice; a message id that is not a str; a source that
/// is not an object or null; a uri not a str or null; an index or offset not
/// an int64 or null).
#[pyfunction]
pub fn message_sort_key(value: &[u8]) -> Option<(String, String, i64, i64)> {
    let text = std::str::from_utf8(value).ok()?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let (message_id, source) = deserializer.deserialize_map(Record).ok()??;
    deserializer.end().ok()?;
    let message_id = match message_id {
        Some(FieldValue::Text(id)) => id.into_owned(),
        _ => return None,
    };
    let (uri, index, offset) = match source {
        Object::Null => ("None".to_owned(), 0, 0),
        Object::Values(Some(mut values)) => {
            let number = |value: Option<FieldValue<'_>>| match value {
                None | Some(FieldValue::Null) => Some(0),
                Some(FieldValue::Int(number)) => Some(number),
                _ => None,
            };
            let offset = number(values.pop().unwrap())?;
            let index = number(values.pop().unwrap())?;
            let uri = match values.pop().unwrap() {
                None | Some(FieldValue::Null) => "None".to_owned(),
                Some(FieldValue::Text(uri)) => uri.into_owned(),
                _ => return None,
            };
            (uri, index, offset)
        }
        _ => return None,
    };
    Some((message_id, uri, index, offset))
}

/// A sort key as `message_sort_key` returns it.
type SortKey = (String, String, i64, i64);

/// `index_lines(data)`: the lines of a parse job's output part (bytes), as
/// scripts/pipeline/parse.py's `_lines` cuts them, each with the sort key of
/// its value when its key is a message row's (`"message"` or `["message"...`):
/// `[(key bytes, value start, value end, sort key or None)]`. A line made only
/// of ASCII white space (Python's `bytes.isspace`) is skipped; the key runs to
/// the first tab (no tab: the whole line, the value empty); the line end is
/// the byte `\n`. A None sort key: not a message row, or one only the decoded
/// record can key (`message_sort_key`).
#[pyfunction]
pub fn index_lines<'py>(
    py: Python<'py>,
    data: &[u8],
) -> PyResult<Vec<(Bound<'py, pyo3::types::PyBytes>, usize, usize, Option<SortKey>)>> {
    // cut and keyed without the GIL (the bytes cannot change), so the driver
    // indexes several part files at once; the keys made into bytes after
    let found = py.detach(|| cut_lines(data));
    Ok(found
        .into_iter()
        .map(|(key_start, key_end, value_start, end, sort_key)| {
            (pyo3::types::PyBytes::new(py, &data[key_start..key_end]), value_start, end, sort_key)
        })
        .collect())
}

/// `index_lines`' lines: (key start, key end, value start, value end, sort key).
fn cut_lines(data: &[u8]) -> Vec<(usize, usize, usize, usize, Option<SortKey>)> {
    let mut lines = Vec::new();
    let size = data.len();
    let mut start = 0;
    while start < size {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(size, |at| start + at);
        let line = &data[start..end];
        let line_start = start;
        start = end + 1;
        if line.iter().all(|&byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)) {
            continue;
        }
        let (key_end, value_start) = match memchr::memchr(b'\t', line) {
            Some(tab) => (line_start + tab, line_start + tab + 1),
            None => (end, end),
        };
        let key = &data[line_start..key_end];
        let sort_key = if key.starts_with(b"[\"message\"") || key == b"\"message\"" {
            message_sort_key(&data[value_start..end])
        } else {
            None
        };
        lines.push((line_start, key_end, value_start, end, sort_key));
    }
    lines
}
