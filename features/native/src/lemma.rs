//! The analyzer's lemma filter (`features/text.py`'s `build_lemma_filter`)
//! over WordNet's lemma tables (`features/wordnet.py`'s `build_lemmatize`,
//! NLTK's morphy), so that the kernel lemmatizes a new token without a call
//! into Python. The Python filter stays the reference:
//! `tests/features/test_kernel_lemmas.py` compares the two on every form of
//! the tables.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

/// A set of strs in one buffer (no allocation per str: WordNet has 130,000
/// lemmas, read in once per task process).
#[derive(Default)]
struct StrSet {
    text: String,
    spans: HashTable<(u32, u32)>,
}

impl StrSet {
    /// The set of `words`' strs, read as one joined text when none holds a
    /// newline (else one by one); an error for an item that is not a str
    /// or not valid Unicode.
    fn from_list(words: &Bound<'_, PyList>) -> PyResult<Self> {
        if words.is_empty() {
            return Ok(StrSet::default());
        }
        let joined = PyString::new(words.py(), "\n").call_method1("join", (words,))?;
        let joined = joined.cast_into::<PyString>()?;
        let joined = joined.to_cow()?;
        let mut set = StrSet {
            text: String::with_capacity(joined.len()),
            spans: HashTable::with_capacity(words.len()),
        };
        let bytes = joined.as_bytes();
        if memchr::memchr_iter(b'\n', bytes).count() + 1 == words.len() {
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', bytes).chain([bytes.len()]) {
                set.insert(&joined[start..end]);
                start = end + 1;
            }
        } else {
            for word in words.iter() {
                set.insert(&word.cast_into::<PyString>()?.to_cow()?);
            }
        }
        Ok(set)
    }

    fn insert(&mut self, word: &str) {
        let StrSet { text, spans } = self;
        let hash = FxBuildHasher.hash_one(word);
        let entry = spans.entry(
            hash,
            |&(start, end)| &text[start as usize..end as usize] == word,
            |&(start, end)| FxBuildHasher.hash_one(&text[start as usize..end as usize]),
        );
        if let hashbrown::hash_table::Entry::Vacant(vacant) = entry {
            let start = text.len() as u32;
            text.push_str(word);
            vacant.insert((start, text.len() as u32));
        }
    }

    fn get(&self, word: &str) -> Option<&str> {
        let hash = FxBuildHasher.hash_one(word);
        self.spans
            .find(hash, |&(start, end)| &self.text[start as usize..end as usize] == word)
            .map(|&(start, end)| &self.text[start as usize..end as usize])
    }
}

/// One part of speech of the tables: morphy's inputs.
struct PosTables {
    lemmas: StrSet,
    exceptions: FxHashMap<Box<str>, Vec<Box<str>>>,
    /// NLTK's detachment rules `(old suffix, new suffix)`, in order
    substitutions: Vec<(Box<str>, Box<str>)>,
}

impl PosTables {
    fn from_tables(tables: &Bound<'_, PyDict>, pos: &str) -> PyResult<Self> {
        let part = |key: &str| -> PyResult<Bound<'_, PyAny>> {
            tables
                .get_item(key)?
                .ok_or_else(|| PyValueError::new_err(format!("lemma tables without {key:?}")))?
                .get_item(pos)
        };
        let lemmas = StrSet::from_list(&part("lemmas")?.cast_into::<PyList>()?)?;
        let exceptions: Vec<(String, Vec<String>)> =
            part("exceptions")?.cast_into::<PyDict>()?.items().extract()?;
        let mut substitutions = Vec::new();
        for rule in part("substitutions")?.try_iter()? {
            let rule: Vec<String> = rule?.extract()?;
            let [old, new]: [String; 2] = rule
                .try_into()
                .map_err(|_| PyValueError::new_err("a substitution rule is not a pair"))?;
            substitutions.push((old.into_boxed_str(), new.into_boxed_str()));
        }
        Ok(PosTables {
            lemmas,
            exceptions: exceptions
                .into_iter()
                .map(|(form, forms)| {
                    (form.into_boxed_str(), forms.into_iter().map(String::into_boxed_str).collect())
                })
                .collect(),
            substitutions,
        })
    }

    /// The stored lemma equal to `candidate`, if there is one.
    fn lemma(&self, candidate: &str) -> Option<&str> {
        self.lemmas.get(candidate)
    }

    /// Morphy's lemmas of `form`, in order, without repeats, into `found`:
    /// the exception list's forms if `form` is in it, else those of the
    /// detachment rules (each applied once); of `form` and those, the ones
    /// that are lemmas of this POS.
    fn morphy<'a>(&'a self, form: &str, found: &mut Vec<&'a str>) {
        found.clear();
        let keep = |candidate: &str, found: &mut Vec<&'a str>| {
            if let Some(lemma) = self.lemma(candidate) {
                if !found.contains(&lemma) {
                    found.push(lemma);
                }
            }
        };
        if let Some(forms) = self.exceptions.get(form) {
            keep(form, found);
            for candidate in forms {
                keep(candidate, found);
            }
        } else if self.substitutions.iter().any(|(old, _)| form.ends_with(&**old)) {
            keep(form, found);
            let mut candidate = String::with_capacity(form.len() + 4);
            for (old, new) in &self.substitutions {
                if form.ends_with(&**old) {
                    // Python's form[:-len(old)] is "" for an empty suffix
                    let stem = if old.is_empty() { "" } else { &form[..form.len() - old.len()] };
                    candidate.clear();
                    candidate.push_str(stem);
                    candidate.push_str(new);
                    keep(&candidate, found);
                }
            }
        } else {
            keep(form, found);
        }
    }

    /// WordNetLemmatizer's lemmatize: the shortest (in characters, the first
    /// of equal length) of morphy's lemmas, or the word itself.
    fn lemmatize<'a>(&'a self, word: &'a str, found: &mut Vec<&'a str>) -> &'a str {
        self.morphy(word, found);
        let mut shortest: Option<(usize, &'a str)> = None;
        for &lemma in found.iter() {
            let length = lemma.chars().count();
            if shortest.is_none_or(|(best, _)| length < best) {
                shortest = Some((length, lemma));
            }
        }
        shortest.map_or(word, |(_, lemma)| lemma)
    }
}

/// `LemmaFilter(placeholders, stop_words, tables)`: `features/text.py`'s
/// `lemma_of` for a configuration: a placeholder token stays as it is, a
/// stop word is dropped (""), else WordNet's verb lemma, or its noun lemma
/// when the verb lemma is the token itself (`tables` None: no lemmatizing),
/// dropped if that is a stop word. `tables` are `load_lemma_tables()`'s
/// (`lemmas`, `exceptions`, `substitutions`, each by POS "n" and "v").
#[pyclass(module = "jeeves_kernel", frozen)]
pub struct LemmaFilter {
    placeholders: Vec<Box<str>>,
    stop_words: FxHashSet<Box<str>>,
    /// (verb, noun) tables
    wordnet: Option<(PosTables, PosTables)>,
}

impl LemmaFilter {
    /// The filter of one token: its lemma, or "" when it is dropped.
    pub fn lemma_of<'a>(&'a self, token: &'a str) -> &'a str {
        if self.placeholders.iter().any(|placeholder| &**placeholder == token) {
            return token;
        }
        if self.stop_words.contains(token) {
            return "";
        }
        let Some((verb, noun)) = &self.wordnet else {
            return token;
        };
        let mut found = Vec::new();
        let mut lemma = verb.lemmatize(token, &mut found);
        if lemma == token {
            lemma = noun.lemmatize(token, &mut found);
        }
        if self.stop_words.contains(lemma) {
            ""
        } else {
            lemma
        }
    }
}

#[pymethods]
impl LemmaFilter {
    #[new]
    #[pyo3(signature = (placeholders, stop_words, tables=None))]
    fn new(
        placeholders: Vec<String>,
        stop_words: Vec<String>,
        tables: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let wordnet = match tables {
            Some(tables) => {
                Some((PosTables::from_tables(tables, "v")?, PosTables::from_tables(tables, "n")?))
            }
            None => None,
        };
        Ok(LemmaFilter {
            placeholders: placeholders.into_iter().map(String::into_boxed_str).collect(),
            stop_words: stop_words.into_iter().map(String::into_boxed_str).collect(),
            wordnet,
        })
    }

    /// `lemma_of(token)`: the token's lemma, or "" for a dropped token.
    fn __call__<'py>(&self, py: Python<'py>, token: &str) -> Bound<'py, PyString> {
        PyString::new(py, self.lemma_of(token))
    }

    /// `build_lemmatize(tables)(word, pos)` for pos "n" or "v".
    fn lemmatize<'py>(
        &self,
        py: Python<'py>,
        word: &str,
        pos: &str,
    ) -> PyResult<Bound<'py, PyString>> {
        let Some((verb, noun)) = &self.wordnet else {
            return Err(PyValueError::new_err("a filter without lemma tables"));
        };
        let tables = match pos {
            "v" => verb,
            "n" => noun,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "pos must be \"n\" or \"v\", not {pos:?}"
                )))
            }
        };
        Ok(PyString::new(py, tables.lemmatize(word, &mut Vec::new())))
    }
}
