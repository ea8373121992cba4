//! The vector pass's lookups: a vocabulary's rows by term (`Vocab`) and the
//! rows and counts of a batch of messages (`RowBatch`), which
//! features/tfidf.py weights and normalizes with numpy, as it does the rows
//! the Python path finds (the same arithmetic, so the same values).

use std::collections::HashMap;

use ahash::RandomState;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyBytes;

/// A vocabulary.tsv's terms -> their row (their place in the file).
#[pyclass(module = "jeeves_kernel")]
pub struct Vocab {
    index: HashMap<Box<str>, u32, RandomState>,
    /// changes with every Vocab, so rows the kernel remembers for another are stale
    pub(crate) generation: u64,
}

impl Vocab {
    pub(crate) fn row(&self, term: &str) -> Option<u32> {
        self.index.get(term).copied()
    }
}

#[pymethods]
impl Vocab {
    /// `Vocab(terms)`: row i is terms[i]; a term twice is a ValueError.
    #[new]
    fn new(terms: Vec<PyBackedStr>) -> PyResult<Self> {
        if terms.len() >= u32::MAX as usize {
            return Err(PyValueError::new_err("too many terms"));
        }
        let mut index = HashMap::with_capacity_and_hasher(terms.len(), RandomState::new());
        for (row, term) in terms.iter().enumerate() {
            if index.insert(Box::<str>::from(&**term), row as u32).is_some() {
                return Err(PyValueError::new_err(format!("{:?} is in the vocabulary twice", &**term)));
            }
        }
        Ok(Vocab { index, generation: crate::next_generation() })
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
        self.index.len()
    }
}

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
    fn take<'py>(
        &mut self,
        py: Python<'py>,
    ) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
        let bytes_of_i64 = |values: &[i64]| {
            let mut out = Vec::with_capacity(values.len() * 8);
            values.iter().for_each(|value| out.extend_from_slice(&value.to_ne_bytes()));
            out
        };
        let mut counts = Vec::with_capacity(self.counts.len() * 8);
        self.counts.iter().for_each(|value| counts.extend_from_slice(&value.to_ne_bytes()));
        let taken = (
            PyBytes::new(py, &bytes_of_i64(&self.rows)),
            PyBytes::new(py, &counts),
            PyBytes::new(py, &bytes_of_i64(&self.lengths)),
        );
        self.rows.clear();
        self.counts.clear();
        self.lengths.clear();
        taken
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
