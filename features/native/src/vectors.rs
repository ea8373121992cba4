//! The vector pass's lookups: a vocabulary's rows by term (`Vocab`) and the
//! rows and counts of a batch of messages (`RowBatch`), which
//! features/tfidf.py weights and normalizes with numpy, as it does the rows
//! the Python path finds (the same arithmetic, so the same values).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder as RandomState;
use hashbrown::HashTable;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBytes, PyString};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::{join_lemmas, Kernel, RowSlot, Totals, ABSENT, SPACED_WORD};

/// A vocabulary.tsv's terms -> their row (their place in the file).
///
/// A term of two words (one space, `join_lemmas`' bigram of two lemmas
/// without spaces) is kept as the pair of its words' ids (`words`, `pairs`):
/// the kernel finds a bigram's row from its lemmas' word ids, which it
/// remembers per lemma, with one lookup of a number, no joined text, no
/// hashing or comparing of it. Every other term is kept by its text
/// (`terms`). `row` finds any term's row either way.
#[pyclass(module = "jeeves_kernel")]
pub struct Vocab {
    terms: Terms,
    words: Terms,
    pairs: HashTable<(u32, u32, u32)>,
    rows: usize,
    /// the last two-word term's first word (id, start, end in `words`): a
    /// vocabulary.tsv, sorted by term, has runs of them with the same one
    last_first: (u32, u32, u32),
    /// each row's id and idf, when read from a vocabulary.tsv here
    /// (`read_vocabulary`): then `RowBatch.weigh` weights batches natively
    /// (each row's pair side by side: a batch reads both with one cache miss)
    weights: Option<Vec<(i64, f64)>>,
    /// changes with every Vocab, so rows the kernel remembers for another are stale
    pub(crate) generation: u64,
}

/// Texts in one arena, found through a table of (value, start, end) slots
/// of 12 bytes: no allocation per text, and half the table of a map of
/// boxed strings, which a vocabulary of 500,000 terms spent most of its
/// reading time missing the cache in. A lookup reads its slot and the
/// arena, as the map read its bucket and the string.
struct Terms {
    text: String,
    len: usize,
    index: HashTable<(u32, u32, u32)>,
    hasher: RandomState,
}

impl Terms {
    fn with_capacity(rows: usize, bytes: usize) -> Self {
        Terms {
            text: String::with_capacity(bytes),
            len: 0,
            index: HashTable::with_capacity(rows),
            hasher: RandomState::default(),
        }
    }

    fn term<'a>(text: &'a str, &(_, start, end): &(u32, u32, u32)) -> &'a str {
        &text[start as usize..end as usize]
    }

    /// `term`'s slot (value, start, end), after adding it with `value()`
    /// when it is not there; `(slot, added)`, or None when the arena would
    /// pass 4 GB.
    fn find_or_add(
        &mut self,
        term: &str,
        value: impl FnOnce(usize) -> u32,
    ) -> Option<((u32, u32, u32), bool)> {
        if self.text.len() + term.len() >= u32::MAX as usize {
            return None;
        }
        let (text, hasher) = (&self.text, &self.hasher);
        let hash = hasher.hash_one(term);
        match self.index.entry(hash, |slot| Self::term(text, slot) == term,
                               |slot| hasher.hash_one(Self::term(text, slot))) {
            hashbrown::hash_table::Entry::Occupied(entry) => Some((*entry.get(), false)),
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                let start = self.text.len() as u32;
                let slot = (value(self.len), start, start + term.len() as u32);
                vacant.insert(slot);
                self.text.push_str(term);
                self.len += 1;
                Some((slot, true))
            }
        }
    }

    fn get(&self, term: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(term);
        self.index.find(hash, |slot| Self::term(&self.text, slot) == term).map(|slot| slot.0)
    }
}

/// A two-word term's words: `term` cut at its one space.
fn two_words(term: &str) -> Option<(&str, &str)> {
    let space = memchr::memchr(b' ', term.as_bytes())?;
    let (first, second) = (&term[..space], &term[space + 1..]);
    if memchr::memchr(b' ', second.as_bytes()).is_some() {
        return None;
    }
    Some((first, second))
}

/// A pair table's slot: (first word, second word, row), 12 bytes.
fn pair_hash(first: u32, second: u32) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(crate::bigram_of(first, second))
}

impl Vocab {
    /// A Vocab for `rows` terms, `pairs` of them of two words, of `bytes`
    /// bytes in all.
    fn with_capacity(rows: usize, pairs: usize, bytes: usize) -> Self {
        let pairs = pairs.min(rows);
        Vocab {
            terms: Terms::with_capacity(rows - pairs, bytes),
            words: Terms::with_capacity(pairs / 8, bytes / 16),
            pairs: HashTable::with_capacity(pairs),
            rows: 0,
            last_first: (0, 0, 0),
            weights: None,
            generation: crate::next_generation(),
        }
    }

    /// Add `term` as the next row; false when it is there already (or the
    /// table would pass 4 GB or 2**32 rows).
    fn push(&mut self, term: &str) -> bool {
        if self.rows >= u32::MAX as usize - 1 {
            return false;
        }
        let row = self.rows as u32;
        let added = match two_words(term) {
            Some((first, second)) => {
                let slot = |words: &mut Terms, word| words.find_or_add(word, |len| len as u32);
                if self.words.len == 0 || Terms::term(&self.words.text, &self.last_first) != first {
                    match slot(&mut self.words, first) {
                        Some((found, _)) => self.last_first = found,
                        None => return false,
                    }
                }
                let first = self.last_first.0;
                let Some(((second, _, _), _)) = slot(&mut self.words, second) else {
                    return false;
                };
                match self.pairs.entry(pair_hash(first, second),
                                       |&(one, two, _)| (one, two) == (first, second),
                                       |&(one, two, _)| pair_hash(one, two)) {
                    hashbrown::hash_table::Entry::Occupied(_) => false,
                    hashbrown::hash_table::Entry::Vacant(vacant) => {
                        vacant.insert((first, second, row));
                        true
                    }
                }
            }
            None => matches!(self.terms.find_or_add(term, |_| row), Some((_, true))),
        };
        if added {
            self.rows += 1;
        }
        added
    }

    pub(crate) fn row(&self, term: &str) -> Option<u32> {
        match two_words(term) {
            Some((first, second)) => self.pair_row(self.word(first)?, self.word(second)?),
            None => self.terms.get(term),
        }
    }

    /// A word's id when some two-word term has it (the first or the second).
    pub(crate) fn word(&self, word: &str) -> Option<u32> {
        self.words.get(word)
    }

    /// The row of the two-word term of these words' ids.
    pub(crate) fn pair_row(&self, first: u32, second: u32) -> Option<u32> {
        self.pairs
            .find(pair_hash(first, second), |&(one, two, _)| (one, two) == (first, second))
            .map(|&(_, _, row)| row)
    }
}

#[pymethods]
impl Vocab {
    /// `Vocab(terms)`: row i is terms[i]; a term twice is a ValueError.
    #[new]
    fn new(terms: Vec<PyBackedStr>) -> PyResult<Self> {
        if terms.len() >= u32::MAX as usize - 1 {
            return Err(PyValueError::new_err("too many terms"));
        }
        let bytes = terms.iter().map(|term| term.len()).sum();
        let pairs = terms.iter().filter(|term| two_words(term).is_some()).count();
        let mut vocab = Vocab::with_capacity(terms.len(), pairs, bytes);
        for term in &terms {
            if !vocab.push(term) {
                return Err(PyValueError::new_err(format!("{:?} is in the vocabulary twice", &**term)));
            }
        }
        Ok(vocab)
    }

    /// The rows of `terms` as native-endian int64 bytes, -1 where absent.
    fn rows_of<'py>(&self, py: Python<'py>, terms: Vec<PyBackedStr>) -> Bound<'py, PyBytes> {
        let mut out = Vec::with_capacity(terms.len() * 8);
        for term in &terms {
            let row = self.row(term).map_or(-1, i64::from);
            out.extend_from_slice(&row.to_ne_bytes());
        }
        PyBytes::new(py, &out)
    }

    fn __len__(&self) -> usize {
        self.rows
    }
}

/// Three columns of a batch as bytes (ids or rows, values or counts, lengths).
type ThreeColumns<'py> = (Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>);

/// The kept (row, count) entries of a batch of messages, in message order,
/// and each message's number of entries.
#[pyclass(module = "jeeves_kernel")]
#[derive(Default)]
pub struct RowBatch {
    pub(crate) rows: Vec<i64>,
    pub(crate) counts: Vec<f64>,
    pub(crate) lengths: Vec<i64>,
}

#[pymethods]
impl RowBatch {
    #[new]
    fn new() -> Self {
        RowBatch::default()
    }

    /// One message's entries found by the caller: those with a row (>= 0)
    /// and a positive count are kept, in the given order.
    fn add(&mut self, rows: Vec<i64>, counts: Vec<f64>) -> PyResult<()> {
        if rows.len() != counts.len() {
            return Err(PyValueError::new_err("rows and counts differ in length"));
        }
        let before = self.rows.len();
        for (&row, &count) in rows.iter().zip(&counts) {
            if row >= 0 && count > 0.0 {
                self.rows.push(row);
                self.counts.push(count);
            }
        }
        self.lengths.push((self.rows.len() - before) as i64);
        Ok(())
    }

    /// `(rows, counts, lengths)` as native-endian int64, float64 and int64
    /// bytes; the batch is empty afterwards.
    fn take<'py>(&mut self, py: Python<'py>) -> PyResult<ThreeColumns<'py>> {
        let taken = (
            py_bytes_of(py, &self.rows, i64::to_ne_bytes)?,
            py_bytes_of(py, &self.counts, f64::to_ne_bytes)?,
            py_bytes_of(py, &self.lengths, i64::to_ne_bytes)?,
        );
        self.rows.clear();
        self.counts.clear();
        self.lengths.clear();
        Ok(taken)
    }

    /// The largest count in the batch (0.0 when it is empty).
    #[getter]
    fn max_count(&self) -> f64 {
        self.counts.iter().copied().fold(0.0, f64::max)
    }

    /// The batch's tf-idf entries as features/tfidf.py's `weighted_entries`
    /// computes them from the rows' ids and idf in `vocab`: each message's
    /// entries by id (a stable sort), value = count x idf, or with
    /// `tf_logs` (sublinear tf) (1 + log(count)) x idf, divided by the
    /// message's l2 norm (the squares summed in that order, then the square
    /// root), its l1 norm, or left ("none"); an all-zero message as it is.
    /// The same IEEE operations in the same order as numpy's, so the same
    /// doubles. `tf_logs`: native-endian float64 bytes whose i-th value is
    /// numpy's log(i + 1), computed by the caller, so the logarithms are
    /// numpy's own (counts are whole numbers). `(ids, values, lengths)` as
    /// native-endian int64, float64 and int64 bytes, or None, the batch
    /// left as it is, when `vocab` holds no ids and idf or a count is not a
    /// whole number that `tf_logs` covers (the caller weights with numpy);
    /// the batch is empty afterwards.
    #[pyo3(signature = (vocab, norm, tf_logs=None))]
    fn weigh<'py>(
        &mut self,
        py: Python<'py>,
        vocab: PyRef<'_, Vocab>,
        norm: &str,
        tf_logs: Option<&[u8]>,
    ) -> PyResult<Option<ThreeColumns<'py>>> {
        let Some(row_weights) = &vocab.weights else {
            return Ok(None);
        };
        let logs: Option<Vec<f64>> = tf_logs.map(|data| {
            data.chunks_exact(8)
                .map(|chunk| f64::from_ne_bytes(chunk.try_into().expect("8 bytes")))
                .collect()
        });
        if let Some(logs) = &logs {
            let covered = |count: f64| count >= 1.0 && count.fract() == 0.0 && count <= logs.len() as f64;
            if !self.counts.iter().all(|&count| covered(count)) {
                return Ok(None);
            }
        }
        let (l2, l1) = match norm {
            "l2" => (true, false),
            "l1" => (false, true),
            "none" => (false, false),
            _ => return Err(PyValueError::new_err(format!("norm must be l2, l1 or none, not {norm:?}"))),
        };
        let mut ids = Vec::with_capacity(self.rows.len());
        let mut values = Vec::with_capacity(self.rows.len());
        // a message's entries by (id, place): numpy's stable sort by id. As
        // one number when the id and place fit 32 bits each (an unstable
        // sort of numbers, the idf beside the place), else as tuples.
        let mut keys: Vec<u64> = Vec::new();
        let mut idfs: Vec<f64> = Vec::new();
        let mut entries: Vec<(i64, usize, f64)> = Vec::new();
        let mut start = 0;
        for &length in &self.lengths {
            let end = start + length as usize;
            keys.clear();
            idfs.clear();
            entries.clear();
            let row_of = |at: usize| {
                usize::try_from(self.rows[at])
                    .ok()
                    .filter(|&row| row < row_weights.len())
                    .ok_or_else(|| PyValueError::new_err("a row outside the vocabulary"))
            };
            let mut narrow = end - start <= u32::MAX as usize;
            for at in start..end {
                let (id, idf) = row_weights[row_of(at)?];
                if !narrow || !(0..=i64::from(u32::MAX)).contains(&id) {
                    narrow = false;
                    break;
                }
                keys.push(((id as u64) << 32) | (at - start) as u64);
                idfs.push(idf);
            }
            if !narrow {
                for at in start..end {
                    let (id, idf) = row_weights[row_of(at)?];
                    entries.push((id, at, idf));
                }
            }
            let first = values.len();
            let tf = |count: f64| match &logs {
                Some(logs) => 1.0 + logs[count as usize - 1],
                None => count,
            };
            if narrow {
                keys.sort_unstable();
                for &key in &keys {
                    let place = (key & u64::from(u32::MAX)) as usize;
                    ids.push((key >> 32) as i64);
                    values.push(tf(self.counts[start + place]) * idfs[place]);
                }
            } else {
                // (id, place) pairs are distinct: unstable is stable here
                entries.sort_unstable_by_key(|&(id, at, _)| (id, at));
                for &(id, at, idf) in &entries {
                    ids.push(id);
                    values.push(tf(self.counts[at]) * idf);
                }
            }
            if l2 || l1 {
                let mut total = 0.0f64;
                for &value in &values[first..] {
                    total += if l2 { value * value } else { value.abs() };
                }
                if l2 {
                    total = total.sqrt();
                }
                if total == 0.0 {
                    total = 1.0;
                }
                values[first..].iter_mut().for_each(|value| *value /= total);
            }
            start = end;
        }
        let taken = (
            py_bytes_of(py, &ids, i64::to_ne_bytes)?,
            py_bytes_of(py, &values, f64::to_ne_bytes)?,
            py_bytes_of(py, &self.lengths, i64::to_ne_bytes)?,
        );
        self.rows.clear();
        self.counts.clear();
        self.lengths.clear();
        Ok(Some(taken))
    }

    /// Entries in the batch.
    #[getter]
    fn entries(&self) -> usize {
        self.rows.len()
    }

    /// Messages in the batch.
    fn __len__(&self) -> usize {
        self.lengths.len()
    }
}

// --- the jobs' plumbing: a vocabulary.tsv read here, record lines read here ---

/// `read_vocabulary(data, max_terms)`: a whole vocabulary.tsv (its bytes)
/// -> `(Vocab, ids, idf)`, ids and idf as native-endian int64 and float64
/// bytes in file order; None when the file is not one this reader takes
/// exactly as features/vocabulary.py's `read_vocabulary_columns` does (not
/// UTF-8, a carriage return, a row without 4 fields, an id or idf that is
/// not a plain decimal number, a term twice: the caller's Python reader then
/// decides, errors included) or past `max_terms` rows.
///
/// Equal to the Python reader's: an id of ASCII digits (an optional sign)
/// is the same integer, and a decimal float text rounds to the same double
/// (both `float()` and Rust's parser round correctly).
#[pyfunction]
#[pyo3(signature = (data, max_terms=None))]
pub fn read_vocabulary<'py>(
    py: Python<'py>,
    data: &[u8],
    max_terms: Option<usize>,
) -> Option<(Vocab, Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    // universal newlines would split a row at "\r": the Python reader decides
    if memchr::memchr(b'\r', data).is_some() {
        return None;
    }
    let text = std::str::from_utf8(data).ok()?;
    let body = text.strip_prefix("term\tid\tdf\tidf\n")?;
    let rows = memchr::memchr_iter(b'\n', body.as_bytes()).count();
    if max_terms.is_some_and(|limit| rows > limit) || rows >= u32::MAX as usize {
        return None;
    }
    let mut vocab = Vocab::with_capacity(rows, two_word_rows(body), body.len());
    let mut ids: Vec<i64> = Vec::with_capacity(rows);
    let mut idf: Vec<f64> = Vec::with_capacity(rows);
    let mut idf_of: HashMap<&str, f64, RandomState> = HashMap::default();
    // lines and fields cut at the bytes '\n' and '\t' (memchr): `str::split`
    // with a char pattern compared each match with a call to memcmp
    let mut start = 0;
    for _ in 0..rows {
        let end = start + memchr::memchr(b'\n', &body.as_bytes()[start..])?;
        let line = &body[start..end];
        start = end + 1;
        let mut tabs = memchr::memchr_iter(b'\t', line.as_bytes());
        let (first, second, third) = (tabs.next()?, tabs.next()?, tabs.next()?);
        if tabs.next().is_some() {
            return None;
        }
        let (term, id, weight) = (&line[..first], &line[first + 1..second], &line[third + 1..]);
        if !plain_integer(id) {
            return None;
        }
        let weight = match idf_of.get(weight) {
            Some(&value) => value,
            None => {
                if !plain_float(weight) {
                    return None;
                }
                let value: f64 = weight.parse().ok()?;
                idf_of.insert(weight, value);
                value
            }
        };
        if !vocab.push(term) {
            return None;
        }
        ids.push(id.parse::<i64>().ok()?);
        idf.push(weight);
    }
    if start != body.len() {
        return None; // a last line without its end
    }
    let ids_bytes = py_bytes_of(py, &ids, i64::to_ne_bytes).ok()?;
    let idf_bytes = py_bytes_of(py, &idf, f64::to_ne_bytes).ok()?;
    let weights = ids.into_iter().zip(idf).collect();
    vocab.weights = Some(weights);
    Some((vocab, ids_bytes, idf_bytes))
}

/// The rows of a vocabulary.tsv's body whose term has two words
/// (`two_words`; a guess when a row has no tab: the reader refuses such a
/// file anyway).
fn two_word_rows(body: &str) -> usize {
    body.lines()
        .filter(|line| two_words(line.split_once('\t').map_or(line, |(term, _)| term)).is_some())
        .count()
}

/// `values` as the bytes of a new bytes object, each item's 8 bytes by `to_bytes`.
fn py_bytes_of<'py, T: Copy>(
    py: Python<'py>,
    values: &[T],
    to_bytes: fn(T) -> [u8; 8],
) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, values.len() * 8, |out| {
        for (chunk, &value) in out.chunks_exact_mut(8).zip(values) {
            chunk.copy_from_slice(&to_bytes(value));
        }
        Ok(())
    })
}


/// An optional sign and 1 to 18 ASCII digits: what `int()` and Rust read alike.
fn plain_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').or_else(|| text.strip_prefix('+')).unwrap_or(text);
    !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|byte| byte.is_ascii_digit())
}

/// Digits with an optional sign, point and exponent (no "inf", "nan" or
/// underscores): the texts `float()` and Rust's parser read alike.
fn plain_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.iter().any(u8::is_ascii_digit)
        && bytes.iter().all(|&byte| byte.is_ascii_digit() || b"+-.eE".contains(&byte))
}

/// A JSON value as the kernel reads it: null, a str, an int64, or anything
/// else (what it means is then the Python path's to decide).
pub(crate) enum FieldValue<'a> {
    Null,
    Text(Cow<'a, str>),
    Int(i64),
    Other,
}

struct FieldValueVisitor;

impl<'de> Visitor<'de> for FieldValueVisitor {
    type Value = FieldValue<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(FieldValue::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(FieldValue::Null)
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(FieldValue::Text(Cow::Borrowed(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(FieldValue::Text(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(FieldValue::Text(Cow::Owned(value)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(FieldValue::Other)
    }

    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(FieldValue::Int(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(value).map_or(FieldValue::Other, FieldValue::Int))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(FieldValue::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(FieldValue::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(FieldValue::Other)
    }
}

impl<'de> Deserialize<'de> for FieldValue<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldValueVisitor)
    }
}

/// The top-level object of a record line: the values of the wanted keys
/// (the last one where a key is there twice, as a decoded dict holds it).
struct RecordVisitor<'k> {
    keys: &'k [String],
}

impl<'de> Visitor<'de> for RecordVisitor<'_> {
    type Value = Vec<Option<FieldValue<'de>>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: Vec<Option<FieldValue<'de>>> = self.keys.iter().map(|_| None).collect();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match self.keys.iter().position(|wanted| **wanted == *key) {
                Some(position) => values[position] = Some(map.next_value::<FieldValue<'de>>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(values)
    }
}

/// `line`'s record fields, `keys` (the analyzer's fields, then "message_id"),
/// when it is one JSON object (strict JSON: what the jobs' ujson decodes to
/// the same values); None otherwise.
fn record_fields<'a>(line: &'a str, keys: &[String]) -> Option<Vec<Option<FieldValue<'a>>>> {
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let values = deserializer.deserialize_map(RecordVisitor { keys }).ok()?;
    deserializer.end().ok()?;
    Some(values)
}

impl Kernel {
    /// The record of a JSON line into `self.text` as `load_text` loads the
    /// decoded dict -> its message id; None when the line is not a strict
    /// JSON object, its message id not a non-empty str, a field not a str
    /// or null, or the text not ASCII (the caller's Python path then reads
    /// the line, counts its oddities and counts its terms).
    fn load_line(&mut self, py: Python<'_>, line: &Bound<'_, PyString>) -> PyResult<Option<String>> {
        let encoded = match line.encode_utf8() {
            Ok(encoded) => encoded,
            Err(_) => return Ok(None),
        };
        let Ok(line) = std::str::from_utf8(encoded.as_bytes()) else {
            return Ok(None);
        };
        if !line.starts_with('{') {
            return Ok(None);
        }
        let mut keys = Vec::with_capacity(self.fields.len() + 1);
        for field in &self.fields {
            keys.push(field.bind(py).to_cow()?.into_owned());
        }
        keys.push("message_id".to_owned());
        // a key wanted twice (a field named twice, or "message_id") is read
        // into one place only: the Python path reads such records
        if (1..keys.len()).any(|end| keys[..end].contains(&keys[end])) {
            return Ok(None);
        }
        let Some(mut values) = record_fields(line, &keys) else {
            return Ok(None);
        };
        let message_id = match values.pop() {
            Some(Some(FieldValue::Text(id))) if !id.is_empty() => id.into_owned(),
            _ => return Ok(None),
        };
        self.text.clear();
        for (position, value) in values.iter().enumerate() {
            if position > 0 {
                self.text.push(b'\n');
            }
            match value {
                None | Some(FieldValue::Null) => {}
                Some(FieldValue::Text(text)) if text.is_ascii() => {
                    self.text.extend_from_slice(text.as_bytes());
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(message_id))
    }

    /// A record line loaded and its terms counted (`load_line`, then
    /// `count_loaded`) -> its message id; None when only the Python path
    /// can read or count it.
    fn count_line_terms(
        &mut self,
        py: Python<'_>,
        line: &Bound<'_, PyString>,
    ) -> PyResult<Option<String>> {
        let Some(message_id) = self.load_line(py, line)? else {
            return Ok(None);
        };
        Ok(if self.count_loaded(py)? { Some(message_id) } else { None })
    }

    /// `self.text`'s terms counted (`count`'s work up to the counts): false
    /// when only the Python path can count it.
    pub(crate) fn count_loaded(&mut self, py: Python<'_>) -> PyResult<bool> {
        let mut text = std::mem::take(&mut self.text);
        if self.lowercase {
            text.make_ascii_lowercase();
        }
        let tokenized = self.lemma_ids(py, &text);
        self.text = text;
        if !tokenized? {
            return Ok(false);
        }
        self.count_grams();
        Ok(true)
    }

    /// The counted terms that are rows of `vocab`, appended to `batch` as
    /// one message (`Kernel.count_rows`' loop).
    pub(crate) fn rows_of_counted(&mut self, vocab: &Vocab, mut batch: PyRefMut<'_, RowBatch>) {
        let Kernel { ids, grams, lemmas, lemma_rows, term, .. } = self;
        // a lemma's row and word id in `vocab`, looked up by its text once
        let mut slot_of = |id: u32| -> RowSlot {
            let slot = &mut lemma_rows[id as usize];
            if slot.generation != vocab.generation {
                let lemma = lemmas.get(id);
                *slot = RowSlot {
                    generation: vocab.generation,
                    row: vocab.row(lemma).unwrap_or(ABSENT),
                    // a lemma with a space is in no pair: its bigrams go by their text
                    word: if lemma.contains(' ') { SPACED_WORD } else { vocab.word(lemma).unwrap_or(ABSENT) },
                };
            }
            *slot
        };
        let batch = &mut *batch;
        let before = batch.rows.len();
        for gram in grams.iter() {
            let start = gram.start as usize;
            let gram_ids = &ids[start..start + gram.len as usize];
            let row = match *gram_ids {
                [id] => slot_of(id).row,
                [first, second] => match (slot_of(first).word, slot_of(second).word) {
                    (SPACED_WORD, _) | (_, SPACED_WORD) => {
                        join_lemmas(term, lemmas, gram_ids);
                        vocab.row(term).unwrap_or(ABSENT)
                    }
                    (ABSENT, _) | (_, ABSENT) => ABSENT,
                    (first, second) => vocab.pair_row(first, second).unwrap_or(ABSENT),
                },
                _ => {
                    join_lemmas(term, lemmas, gram_ids);
                    vocab.row(term).unwrap_or(ABSENT)
                }
            };
            if row != ABSENT {
                batch.rows.push(i64::from(row));
                batch.counts.push(f64::from(gram.count));
            }
        }
        batch.lengths.push((batch.rows.len() - before) as i64);
        self.native_texts += 1;
    }
}

/// `count_line(kernel, line, totals)`: a record line's terms added to
/// `totals` (`Kernel.count(json.loads(line), totals)` without the dict of
/// counts) -> the record's message id; None, with nothing added, when the
/// caller must decode the line and count it in Python (see `load_line`).
#[pyfunction]
pub fn count_line(
    py: Python<'_>,
    mut kernel: PyRefMut<'_, Kernel>,
    line: &Bound<'_, PyString>,
    mut totals: PyRefMut<'_, Totals>,
) -> PyResult<Option<String>> {
    let kernel = &mut *kernel;
    let Some(message_id) = kernel.count_line_terms(py, line)? else {
        return Ok(None);
    };
    kernel.add_counted(&mut totals);
    kernel.native_texts += 1;
    Ok(Some(message_id))
}

/// `count_line_rows(kernel, line, vocab, batch)`: `Kernel.count_rows` of a
/// record line -> its message id; None, with nothing appended, when the
/// caller must decode the line and count it in Python.
#[pyfunction]
pub fn count_line_rows(
    py: Python<'_>,
    mut kernel: PyRefMut<'_, Kernel>,
    line: &Bound<'_, PyString>,
    vocab: PyRef<'_, Vocab>,
    batch: PyRefMut<'_, RowBatch>,
) -> PyResult<Option<String>> {
    let kernel = &mut *kernel;
    let Some(message_id) = kernel.count_line_terms(py, line)? else {
        return Ok(None);
    };
    kernel.rows_of_counted(&vocab, batch);
    Ok(Some(message_id))
}

// --- the vocabulary pass: the count job's rows filtered, the kept terms numbered ---

/// A partial's entries when no term is there twice (a decoded dict would
/// hold one value of such a term: the Python path reads those); None when
/// `value` is not an object of `[int64, int64]` arrays (or not Unicode).
fn distinct_entries(value: &[u8]) -> Option<Vec<(Cow<'_, str>, i64, i64)>> {
    let text = std::str::from_utf8(value).ok()?;
    let crate::Partial(entries) = serde_json::from_str(text).ok()?;
    // the count job writes its terms sorted: strictly increasing, no repeats
    if !entries.windows(2).all(|pair| pair[0].0 < pair[1].0) {
        let mut seen = std::collections::HashSet::with_capacity(entries.len());
        if !entries.iter().all(|(term, _, _)| seen.insert(term.as_ref())) {
            return None;
        }
    }
    Some(entries)
}

/// `filter_terms(value, low, high)`: a count job terms row's value
/// `{"term":[term_count,df],...}` -> `(kept, terms, in_range)`: the JSON
/// text of its terms with `low <= df <= high`, in order, as ujson.dumps
/// writes the dict (None when none is), and the numbers of terms read and
/// kept; None when the caller must decode it (see `distinct_entries`, or a
/// df past 2**53, which a float bound may not compare exactly).
#[pyfunction]
pub fn filter_terms<'py>(
    py: Python<'py>,
    value: &[u8],
    low: f64,
    high: f64,
) -> Option<(Option<Bound<'py, PyBytes>>, usize, usize)> {
    let entries = distinct_entries(value)?;
    const EXACT: i64 = 1 << 53;
    let mut json = Vec::with_capacity(value.len());
    json.push(b'{');
    let mut kept = 0;
    for (term, term_count, df) in &entries {
        if !(-EXACT..=EXACT).contains(df) {
            return None;
        }
        let as_float = *df as f64;
        if low <= as_float && as_float <= high {
            if kept > 0 {
                json.push(b',');
            }
            crate::write_entry(&mut json, term, *term_count, *df);
            kept += 1;
        }
    }
    json.push(b'}');
    let json = (kept > 0).then(|| PyBytes::new(py, &json));
    Some((json, entries.len(), kept))
}

/// The kept terms of the vocabulary job's blocks (`["kept", p]<TAB>{"term":
/// [count, df], ...}`), numbered in sorted term order into vocabulary.tsv
/// rows: features/vocabulary.py's `read_kept_terms`, `vocabulary_rows_from_
/// kept` and `write_vocabulary` in one pass, with no Python object per term.
#[pyclass(module = "jeeves_kernel")]
#[derive(Default)]
pub struct KeptTerms {
    /// every term's UTF-8 text, one after the other (no allocation per term)
    text: Vec<u8>,
    /// (start in `text`, length, df) of each term
    terms: Vec<(usize, usize, i64)>,
}

#[pymethods]
impl KeptTerms {
    #[new]
    fn new() -> Self {
        KeptTerms::default()
    }

    /// Adds a block line's terms: True; False, adding nothing, for a line
    /// the caller must read in Python (another kind of row, see `distinct_entries`).
    fn add(&mut self, line: &[u8]) -> bool {
        let Some(tab) = memchr::memchr(b'\t', line) else {
            return false;
        };
        let Some(entries) = distinct_entries(&line[tab + 1..]) else {
            return false;
        };
        for (term, _, df) in entries {
            self.terms.push((self.text.len(), term.len(), df));
            self.text.extend_from_slice(term.as_bytes());
        }
        true
    }

    /// The distinct document frequencies, ascending.
    fn dfs(&self) -> Vec<i64> {
        let mut dfs: Vec<i64> = self.terms.iter().map(|&(_, _, df)| df).collect();
        dfs.sort_unstable();
        dfs.dedup();
        dfs
    }

    /// The vocabulary.tsv bytes: header, then `term<TAB>id<TAB>df<TAB>idf`
    /// by (term, df) ascending (code point order: UTF-8's byte order), ids
    /// 0, 1, ..., idf the text `idf_texts[df]`; None when a term holds a tab
    /// or a newline (the Python writer raises) or a df has no text. The
    /// terms are emptied.
    fn write<'py>(
        &mut self,
        py: Python<'py>,
        idf_texts: HashMap<i64, String>,
    ) -> Option<Bound<'py, PyBytes>> {
        let mut terms = std::mem::take(&mut self.terms);
        let text = std::mem::take(&mut self.text);
        // the driver waits for this, one core idle: the sort and the lines
        // made in two threads each, the GIL let go
        let out = py.detach(|| {
            sort_kept(&text, &mut terms);
            let (first, second) = terms.split_at(terms.len() / 2);
            let (head, tail) = std::thread::scope(|scope| {
                let head = scope.spawn(|| kept_lines(&text, first, 0, &idf_texts, true));
                let tail = kept_lines(&text, second, first.len(), &idf_texts, false);
                (head.join().expect("a vocabulary writer thread panicked"), tail)
            });
            let mut out = head?;
            out.extend_from_slice(&tail?);
            Some(out)
        })?;
        Some(PyBytes::new(py, &out))
    }

    fn __len__(&self) -> usize {
        self.terms.len()
    }
}

/// `(start, length, df)` of a kept term, its text in the arena.
type KeptTerm = (usize, usize, i64);

/// Sort the kept terms by (term, df): each block's terms come sorted (the
/// count job writes them so), and a stable sort finds those runs and merges
/// them; the two halves sorted in two threads, then the two sorted runs
/// merged by the same sort. Equal (term, df) pairs are equal lines, so the
/// order is the same whichever comes first.
fn sort_kept(text: &[u8], terms: &mut [KeptTerm]) {
    let term = |&(start, length, _): &KeptTerm| &text[start..start + length];
    let order = |a: &KeptTerm, b: &KeptTerm| term(a).cmp(term(b)).then(a.2.cmp(&b.2));
    let middle = terms.len() / 2;
    let (first, second) = terms.split_at_mut(middle);
    std::thread::scope(|scope| {
        let sorting = scope.spawn(|| first.sort_by(order));
        second.sort_by(order);
        sorting.join().expect("a vocabulary sorting thread panicked");
    });
    terms.sort_by(order);
}

/// vocabulary.tsv lines of `terms` (sorted), ids from `first_id`, after the
/// header when `header`; None when a term holds a tab or a newline or a df
/// has no idf text.
fn kept_lines(
    text: &[u8],
    terms: &[KeptTerm],
    first_id: usize,
    idf_texts: &HashMap<i64, String>,
    header: bool,
) -> Option<Vec<u8>> {
    let bytes: usize = terms.iter().map(|&(_, length, _)| length).sum();
    let mut out = Vec::with_capacity(bytes + terms.len() * 32 + 16);
    if header {
        out.extend_from_slice(b"term\tid\tdf\tidf\n");
    }
    let mut numbers = itoa::Buffer::new();
    for (offset, &(start, length, df)) in terms.iter().enumerate() {
        let term = &text[start..start + length];
        if memchr::memchr2(b'\t', b'\n', term).is_some() {
            return None;
        }
        out.extend_from_slice(term);
        out.push(b'\t');
        out.extend_from_slice(numbers.format(first_id + offset).as_bytes());
        out.push(b'\t');
        out.extend_from_slice(numbers.format(df).as_bytes());
        out.push(b'\t');
        out.extend_from_slice(idf_texts.get(&df)?.as_bytes());
        out.push(b'\n');
    }
    Some(out)
}
