//! svmlight lines as `features/tfidf.py`'s `tfidf_lines` writes them:
//! `label id:value id:value # "message id"`, each value as Python's
//! `repr(float)` and the message id as `json.dumps(id, ensure_ascii=False)`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};

/// Appends `repr(value)` as Python writes a float: the shortest digits that
/// read back as `value` (zmij's, as David Gay's dtoa in mode 0 finds them),
/// positional when the decimal exponent is in -4..=15 (with a ".0" when
/// integral), else `d.ddde-05` / `de+16` (an exponent of two digits or more).
pub fn write_float_repr(out: &mut Vec<u8>, value: f64, digits: &mut zmij::Buffer) {
    if !value.is_finite() {
        let text: &[u8] = if value.is_nan() {
            b"nan"
        } else if value > 0.0 {
            b"inf"
        } else {
            b"-inf"
        };
        out.extend_from_slice(text);
        return;
    }
    let text = digits.format_finite(value).as_bytes();
    let unsigned = text.strip_prefix(b"-").unwrap_or(text);
    // zmij is positional for exponents -5..=15 and Python for -4..=15: the
    // two agree on all but exponent -5 ("0.0000d...") and the exponent form
    if !unsigned.contains(&b'e') && !unsigned.starts_with(b"0.0000") {
        out.extend_from_slice(text);
        return;
    }
    relayout(out, text);
}

/// Any decimal text of a finite float (`-ddd.ddde-xx`, sign, point and
/// exponent optional) rewritten in Python's repr layout.
fn relayout(out: &mut Vec<u8>, text: &[u8]) {
    let (negative, text) = match text.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.iter().position(|&byte| byte == b'e') {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => (text, &b""[..]),
    };
    let exponent: i32 = if exponent.is_empty() {
        0
    } else {
        std::str::from_utf8(exponent)
            .ok()
            .and_then(|exponent| exponent.trim_start_matches('+').parse().ok())
            .expect("a decimal exponent")
    };
    let mut digits = [0u8; 40];
    let mut count = 0;
    let mut point = None;
    for &byte in mantissa {
        if byte == b'.' {
            point = Some(count);
        } else if count < digits.len() {
            digits[count] = byte;
            count += 1;
        }
    }
    let mut point = point.unwrap_or(count) as i32;
    let leading = digits[..count].iter().take_while(|&&digit| digit == b'0').count();
    if negative {
        out.push(b'-');
    }
    if leading == count {
        out.extend_from_slice(b"0.0");
        return;
    }
    point -= leading as i32;
    let mut digits = &digits[leading..count];
    while let [rest @ .., b'0'] = digits {
        digits = rest;
    }
    let n = digits.len() as i32;
    // value = 0.DIGITS * 10**(point + exponent) = D.IGITS * 10**scientific
    let scientific = point - 1 + exponent;
    if (-4..=15).contains(&scientific) {
        if scientific < 0 {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + (-scientific - 1) as usize, b'0');
            out.extend_from_slice(digits);
        } else if n <= scientific + 1 {
            out.extend_from_slice(digits);
            out.resize(out.len() + (scientific + 1 - n) as usize, b'0');
            out.extend_from_slice(b".0");
        } else {
            let whole = (scientific + 1) as usize;
            out.extend_from_slice(&digits[..whole]);
            out.push(b'.');
            out.extend_from_slice(&digits[whole..]);
        }
        return;
    }
    out.push(digits[0]);
    if n > 1 {
        out.push(b'.');
        out.extend_from_slice(&digits[1..]);
    }
    out.push(b'e');
    out.push(if scientific < 0 { b'-' } else { b'+' });
    let magnitude = scientific.unsigned_abs();
    if magnitude < 10 {
        out.push(b'0');
    }
    out.extend_from_slice(itoa::Buffer::new().format(magnitude).as_bytes());
}

/// Appends `json.dumps(text, ensure_ascii=False)`: `\"`, `\\`, `\n`, `\r`,
/// `\t`, `\b`, `\f`, other control characters as `\u00xx`, the rest as is.
pub fn write_json_dumps(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let short: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..at]);
        plain_from = at + 1;
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
    }
    out.extend_from_slice(&bytes[plain_from..]);
    out.push(b'"');
}

/// `bytes` as N-byte items, in place (no copy of the columns).
fn words<'a, const N: usize>(bytes: &'a [u8], what: &str) -> PyResult<&'a [[u8; N]]> {
    if bytes.len() % N != 0 {
        return Err(PyValueError::new_err(format!("{what}: not a whole number of {N}-byte items")));
    }
    // SAFETY: [u8; N] has the size N and the alignment 1 of N bytes, and
    // bytes.len() / N of them fill `bytes` exactly
    Ok(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<[u8; N]>(), bytes.len() / N) })
}

/// `format_svmlight(label, ids, values, lengths, message_ids, dumps) -> [str]`:
/// one line per message, `label id:value ... # comment` (`label # comment`
/// without entries), as features/tfidf.py's Python formatting writes it.
///
/// `ids` (int64), `values` (float64) and `lengths` (int64, the entries of
/// each message, in order) are little-endian bytes (numpy's `tobytes()`);
/// `message_ids` a list. The comment of a message id that is an exact str
/// is written here; of any other (or a str with lone surrogates),
/// `dumps(message_id)`. None when `label` is not a str that is valid
/// Unicode (the caller formats in Python then).
#[pyfunction]
pub fn format_svmlight<'py>(
    py: Python<'py>,
    label: &Bound<'py, PyAny>,
    ids: &Bound<'py, PyBytes>,
    values: &Bound<'py, PyBytes>,
    lengths: &Bound<'py, PyBytes>,
    message_ids: &Bound<'py, PyList>,
    dumps: &Bound<'py, PyAny>,
) -> PyResult<Option<Vec<Bound<'py, PyString>>>> {
    let Ok(label) = label.cast_exact::<PyString>() else {
        return Ok(None);
    };
    let Ok(label) = label.to_cow() else {
        return Ok(None);
    };
    let ids = words::<8>(ids.as_bytes(), "ids")?;
    let values = words::<8>(values.as_bytes(), "values")?;
    let lengths = words::<8>(lengths.as_bytes(), "lengths")?;
    if ids.len() != values.len() {
        return Err(PyValueError::new_err("ids and values differ in length"));
    }
    if lengths.len() != message_ids.len() {
        return Err(PyValueError::new_err("lengths and message_ids differ in length"));
    }
    let mut lines = Vec::with_capacity(lengths.len());
    let mut line = Vec::new();
    let mut digits = zmij::Buffer::new();
    let mut numbers = itoa::Buffer::new();
    let mut start = 0usize;
    for (length, message_id) in lengths.iter().zip(message_ids.iter()) {
        let length = i64::from_le_bytes(*length);
        let end = usize::try_from(length)
            .ok()
            .and_then(|length| start.checked_add(length))
            .filter(|&end| end <= ids.len())
            .ok_or_else(|| PyValueError::new_err("lengths do not add up to the entries"))?;
        line.clear();
        line.extend_from_slice(label.as_bytes());
        for (id, value) in ids[start..end].iter().zip(&values[start..end]) {
            line.push(b' ');
            line.extend_from_slice(numbers.format(i64::from_le_bytes(*id)).as_bytes());
            line.push(b':');
            write_float_repr(&mut line, f64::from_le_bytes(*value), &mut digits);
        }
        start = end;
        line.extend_from_slice(b" # ");
        let text = match message_id.cast_exact::<PyString>() {
            Ok(text) => text.to_cow().ok(),
            Err(_) => None,
        };
        if let Some(text) = text {
            write_json_dumps(&mut line, &text);
        } else {
            let comment = dumps.call1((&message_id,))?.cast_into::<PyString>()?;
            match comment.to_cow() {
                Ok(comment) => line.extend_from_slice(comment.as_bytes()),
                Err(_) => {
                    // a lone surrogate: only Python can join it into a str
                    let head = std::str::from_utf8(&line).expect("UTF-8 pieces");
                    let joined = PyString::new(py, head).add(&comment)?;
                    lines.push(joined.cast_into::<PyString>()?);
                    continue;
                }
            }
        }
        lines.push(PyString::new(py, std::str::from_utf8(&line).expect("UTF-8 pieces")));
    }
    if start != ids.len() {
        return Err(PyValueError::new_err("lengths do not add up to the entries"));
    }
    Ok(Some(lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(value: f64) -> String {
        let mut out = Vec::new();
        write_float_repr(&mut out, value, &mut zmij::Buffer::new());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn python_layout() {
        for (value, text) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (123.0, "123.0"),
            (0.5, "0.5"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (5.5e-5, "5.5e-05"),
            (-5.5e-5, "-5.5e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.25e16, "1.25e+16"),
            (1e-300, "1e-300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(repr(value), text, "{value:e}");
        }
    }
}
