//! The per-record hot path of Jeeves' n-gram counting job, in Rust.
//!
//! `features/text.py` is the reference and `features/kernel.py` the only
//! caller; `tests/features/test_kernel.py` holds the two byte-identical.
//!
//! - `Kernel.count(doc, totals=None)`: a record (or text) -> `{term: count}`
//!   in first-occurrence order, as `dict(Counter(Analyzer(config)(doc)))`,
//!   for pure-ASCII texts; `None` for any other, which the caller counts in
//!   Python. On ASCII every Unicode form and accent stripping is the identity
//!   and lowercase is ASCII lowercase, so what is left is the placeholder
//!   regular expressions, the token pattern, the lemma filter (a callback
//!   into Python once per distinct token, memoized here) and the n-grams.
//! - `Totals`: corpus term totals `{term: (term_count, df)}` without Python
//!   objects per term, drained as one JSON object per partition.
//! - `Merger`: the sum of such JSON objects, written sorted by term.
//!
//! JSON is written by hand, byte for byte as `ujson.dumps` (the job's
//! encoder) writes these objects, so an output does not depend on whether
//! this module was built; it is read with serde_json.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::DefaultHashBuilder as RandomState;
use hashbrown::HashTable;
use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use regex::bytes::{NoExpand, Regex};
use rustc_hash::FxHashMap;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

mod lemma;
mod sortkey;
mod svmlight;
mod vectors;

use lemma::LemmaFilter;
use vectors::{RowBatch, Vocab};

// features/text.py's placeholder expressions on ASCII text, with Python's
// semantics spelled out: `\w`, `\d` and `\b` are ASCII (`(?-u)`), and the
// whitespace that ends a URL is Python's str `\s`, which also holds
// \x1c-\x1f (Rust's ASCII `\s` does not). Python's `re` and the regex crate
// both pick the leftmost-first match, so the substitutions are the same.
const URL_PATTERN: &str =
    r#"(?i-u)(?:\b(?:https?|ftp)://|\bwww\.)[^ \t\n\r\x0B\x0C\x1C-\x1F<>"']+"#;
const EMAIL_PATTERN: &str = r"(?-u)\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b";
const NUMBER_PATTERN: &str = r"(?-u)\b\d[\d.,:/-]*\w*";
const URL_TOKEN: &[u8] = b" urltoken ";
const EMAIL_TOKEN: &[u8] = b" emailtoken ";
const NUMBER_TOKEN: &[u8] = b" numbertoken ";

/// The memo's value for a token the lemma filter drops.
const DROPPED: u32 = u32::MAX;
/// The memo's flag on the id of a lemma that holds a space (then n-grams of
/// different lemmas could be one term).
const SPACED: u32 = 1 << 31;

/// `\w` on ASCII: `[A-Za-z0-9_]`.
static WORD: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || b == b'_';
        byte += 1;
    }
    table
};

/// Where the lemma of a new token comes from: a Python callable, or the
/// native filter (no call into Python).
enum LemmaSource {
    Python(Py<PyAny>),
    Native(Py<LemmaFilter>),
}

/// One distinct n-gram of a document: `ids[start..start + len]`.
struct Gram {
    start: u32,
    len: u32,
    count: u32,
}

/// Where a lemma's unigram is: the document it was last seen in and its
/// index in that document's grams.
#[derive(Clone, Copy, Default)]
struct UnigramSeen {
    document: u32,
    gram: u32,
}

/// Where a term is in a Totals: valid while the Totals has this generation.
#[derive(Clone, Copy, Default)]
struct TotalsSlot {
    generation: u64,
    slot: u32,
}

/// Where a lemma's unigram is in a Vocab (ABSENT: not there), and its word
/// id there (ABSENT: in no two-word term; SPACED_WORD: the lemma has a space):
/// valid while the Vocab has this generation.
#[derive(Clone, Copy, Default)]
struct RowSlot {
    generation: u64,
    row: u32,
    word: u32,
}

const ABSENT: u32 = u32::MAX;
const SPACED_WORD: u32 = u32::MAX - 1;

/// Documents with more distinct bigrams than this leave a table that is
/// dropped instead of cleared, so every later document does not clear it.
const LARGE_DOCUMENT: usize = 1 << 16;

#[pyclass(module = "jeeves_kernel")]
struct Kernel {
    fields: Vec<Py<PyString>>,
    lowercase: bool,
    placeholders: bool,
    ngram_min: usize,
    ngram_max: usize,
    lemma_of: LemmaSource,
    url: Regex,
    email: Regex,
    number: Regex,
    /// token -> lemma id (or DROPPED): one Python call per distinct token;
    /// tokens of up to 16 bytes (nearly all) keyed inline, no pointer to follow
    short_memo: FxHashMap<u128, u32>,
    long_memo: HashMap<Box<[u8]>, u32, RandomState>,
    /// lemma text -> id, and id -> its text, its str (a unigram's dict key),
    /// where its unigram is (a small array read for every token) and where
    /// it is in the totals
    lemma_ids: HashMap<Box<str>, u32, RandomState>,
    lemmas: LemmaTexts,
    lemma_keys: Vec<Py<PyString>>,
    unigrams_seen: Vec<UnigramSeen>,
    lemma_totals: Vec<TotalsSlot>,
    lemma_rows: Vec<RowSlot>,
    hasher: RandomState,
    // per-document state, the buffers kept for their capacity
    document: u32,
    text: Vec<u8>,
    ids: Vec<u32>,
    grams: Vec<Gram>,
    bigram_index: FxHashMap<u64, u32>,
    gram_index: HashTable<u32>,
    term: String,
    /// a bigram (its two lemma ids, `bigram_of`) -> its slot in the Totals
    /// of generation `bigram_totals_generation`: no joined text, no hashing
    /// of it, no comparing of bytes for a bigram seen before
    bigram_totals: FxHashMap<u64, u32>,
    bigram_totals_generation: u64,
    /// texts counted here (the others are counted by the caller, in Python)
    #[pyo3(get)]
    native_texts: u64,
}

/// The token `text[start..end]` as one number when it has up to 16 bytes:
/// its bytes, zero-padded (word bytes are never zero, so no two tokens share
/// one). Read as 16 bytes and masked where the text goes on that far.
fn short_key(text: &[u8], start: usize, end: usize) -> Option<u128> {
    let len = end - start;
    if len > 16 {
        return None;
    }
    let Some(window) = text.get(start..start + 16) else {
        let mut bytes = [0u8; 16];
        bytes[..len].copy_from_slice(&text[start..end]);
        return Some(u128::from_le_bytes(bytes));
    };
    let number = u128::from_le_bytes(window.try_into().expect("16 bytes"));
    Some(if len == 16 { number } else { number & ((1 << (8 * len)) - 1) })
}

/// The lemmas' text one after the other, by id: joining n-grams reads a
/// small buffer, not a heap allocation per lemma.
#[derive(Default)]
struct LemmaTexts {
    bytes: String,
    spans: Vec<(u32, u32)>,
}

impl LemmaTexts {
    fn get(&self, id: u32) -> &str {
        let (start, end) = self.spans[id as usize];
        &self.bytes[start as usize..end as usize]
    }

    fn push(&mut self, text: &str) {
        let start = self.bytes.len() as u32;
        self.bytes.push_str(text);
        self.spans.push((start, self.bytes.len() as u32));
    }
}

fn bigram_of(first: u32, second: u32) -> u64 {
    (u64::from(first) << 32) | u64::from(second)
}

/// `ids`' lemmas joined by spaces into `term`.
fn join_lemmas(term: &mut String, lemmas: &LemmaTexts, ids: &[u32]) {
    term.clear();
    for (position, &id) in ids.iter().enumerate() {
        if position > 0 {
            term.push(' ');
        }
        term.push_str(lemmas.get(id));
    }
}

fn substitute<'t>(regex: &Regex, text: Cow<'t, [u8]>, replacement: &[u8]) -> Cow<'t, [u8]> {
    let replaced = match regex.replace_all(&text, NoExpand(replacement)) {
        Cow::Owned(replaced) => Some(replaced),
        Cow::Borrowed(_) => None,
    };
    match replaced {
        Some(replaced) => Cow::Owned(replaced),
        None => text,
    }
}

/// Appends a str's bytes when it is ASCII; false (nothing appended) otherwise.
fn append_ascii(text: &mut Vec<u8>, value: &Bound<'_, PyString>) -> bool {
    // abi3 for 3.9 has no borrowed UTF-8 view of a str: encode (a copy)
    match value.encode_utf8() {
        Ok(encoded) if encoded.as_bytes().is_ascii() => {
            text.extend_from_slice(encoded.as_bytes());
            true
        }
        _ => false,
    }
}

#[pymethods]
impl Kernel {
    /// `Kernel(fields, lowercase, placeholders, ngram_min, ngram_max, lemma_of)`:
    /// `lemma_of(token) -> lemma, or "" for a dropped token` (features/text.py),
    /// a Python callable or a `LemmaFilter` (then called without Python).
    #[new]
    fn new(
        fields: Vec<Bound<'_, PyString>>,
        lowercase: bool,
        placeholders: bool,
        ngram_min: usize,
        ngram_max: usize,
        lemma_of: Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        if !(1 <= ngram_min && ngram_min <= ngram_max) {
            return Err(PyValueError::new_err(format!(
                "need 1 <= ngram_min <= ngram_max, got {ngram_min}..{ngram_max}"
            )));
        }
        let compile = |pattern: &str| Regex::new(pattern).expect("a valid placeholder pattern");
        Ok(Kernel {
            fields: fields.into_iter().map(Bound::unbind).collect(),
            lowercase,
            placeholders,
            ngram_min,
            ngram_max,
            lemma_of: match lemma_of.cast::<LemmaFilter>() {
                Ok(filter) => LemmaSource::Native(filter.clone().unbind()),
                Err(_) => LemmaSource::Python(lemma_of.unbind()),
            },
            url: compile(URL_PATTERN),
            email: compile(EMAIL_PATTERN),
            number: compile(NUMBER_PATTERN),
            short_memo: FxHashMap::default(),
            long_memo: HashMap::default(),
            lemma_ids: HashMap::default(),
            lemmas: LemmaTexts::default(),
            lemma_keys: Vec::new(),
            unigrams_seen: Vec::new(),
            lemma_totals: Vec::new(),
            lemma_rows: Vec::new(),
            hasher: RandomState::default(),
            document: 0,
            text: Vec::new(),
            ids: Vec::new(),
            grams: Vec::new(),
            bigram_index: FxHashMap::default(),
            gram_index: HashTable::new(),
            term: String::new(),
            bigram_totals: FxHashMap::default(),
            bigram_totals_generation: 0,
            native_texts: 0,
        })
    }

    /// A record (exact dict) or str -> `{term: count}`, adding each term to
    /// `totals` when given; None when the text is not pure ASCII or a field
    /// holds something other than a str or None (the caller's Python path
    /// then counts it, as the reference would, errors included).
    #[pyo3(signature = (doc, totals=None))]
    fn count<'py>(
        &mut self,
        py: Python<'py>,
        doc: &Bound<'py, PyAny>,
        mut totals: Option<PyRefMut<'py, Totals>>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        if !self.load_text(doc)? || !self.count_loaded(py)? {
            return Ok(None);
        }
        let counts = self.build_counts(py)?;
        if let Some(totals) = totals.as_deref_mut() {
            self.add_counted(totals);
        }
        self.native_texts += 1;
        Ok(Some(counts))
    }

    /// `count`'s terms that are rows of `vocab`, appended to `batch` with
    /// their counts as one message (first-occurrence order): True; False,
    /// with nothing appended, for a text `count` returns None for (the
    /// caller counts it in Python). No Python object per term.
    fn count_rows(
        &mut self,
        py: Python<'_>,
        doc: &Bound<'_, PyAny>,
        vocab: PyRef<'_, Vocab>,
        batch: PyRefMut<'_, RowBatch>,
    ) -> PyResult<bool> {
        if !self.load_text(doc)? || !self.count_loaded(py)? {
            return Ok(false);
        }
        self.rows_of_counted(&vocab, batch);
        Ok(true)
    }

    /// The text as the tokens are read from it, lowercased and with its
    /// placeholders, or None when it is not ASCII: features/text.py's
    /// preprocess on ASCII, which the tests compare it with.
    fn preprocess(&self, text: &Bound<'_, PyString>) -> Option<String> {
        let mut bytes = Vec::new();
        if !append_ascii(&mut bytes, text) {
            return None;
        }
        if self.lowercase {
            bytes.make_ascii_lowercase();
        }
        let preprocessed = self.placeholders(Cow::Borrowed(&bytes)).into_owned();
        Some(String::from_utf8(preprocessed).expect("ASCII in, ASCII out"))
    }

    /// Distinct tokens seen (the size of the lemma memo).
    fn __len__(&self) -> usize {
        self.short_memo.len() + self.long_memo.len()
    }
}

impl Kernel {
    /// The document's text into `self.text`: a str as is, an exact dict's
    /// fields joined by newlines (a missing or None field as ""). False when
    /// that is not for the native path.
    fn load_text(&mut self, doc: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.text.clear();
        if let Ok(text) = doc.cast::<PyString>() {
            return Ok(append_ascii(&mut self.text, text));
        }
        let Ok(record) = doc.cast_exact::<PyDict>() else {
            return Ok(false);
        };
        for (position, field) in self.fields.iter().enumerate() {
            if position > 0 {
                self.text.push(b'\n');
            }
            if let Some(value) = record.get_item(field.bind(doc.py()))? {
                if value.is_none() {
                    continue;
                }
                // a falsy non-str is "" in Python, a truthy one an error: its path decides
                match value.cast::<PyString>() {
                    Ok(text) if append_ascii(&mut self.text, text) => {}
                    _ => return Ok(false),
                }
            }
        }
        Ok(true)
    }

    /// Placeholders, tokens and lemmas of the (lowercased) text into
    /// `self.ids`. False when a kept lemma holds a space and n-grams of
    /// several words are counted: "a b" + "c" and "a" + "b c" would be one
    /// term, which only the Python path counts as one.
    fn lemma_ids(&mut self, py: Python<'_>, text: &[u8]) -> PyResult<bool> {
        let text = self.placeholders(Cow::Borrowed(text));
        self.ids.clear();
        let mut spaced = false;
        // the token pattern \b\w\w+\b on ASCII: every maximal run of word bytes
        // of two or more
        let mut position = 0;
        let end = text.len();
        while position < end {
            if !WORD[text[position] as usize] {
                position += 1;
                continue;
            }
            let start = position;
            while position < end && WORD[text[position] as usize] {
                position += 1;
            }
            if position - start < 2 {
                continue;
            }
            let token = &text[start..position];
            let short = short_key(&text, start, position);
            let memoized = match short {
                Some(key) => self.short_memo.get(&key),
                None => self.long_memo.get(token),
            };
            let id = match memoized {
                Some(&id) => id,
                None => {
                    let id = self.lemma_id(py, token)?;
                    match short {
                        Some(key) => self.short_memo.insert(key, id),
                        None => self.long_memo.insert(token.into(), id),
                    };
                    id
                }
            };
            if id != DROPPED {
                spaced |= id & SPACED != 0;
                self.ids.push(id & !SPACED);
            }
        }
        Ok(!(spaced && self.ngram_max > 1))
    }

    /// URLs, then email addresses, then numbers replaced by their
    /// placeholder tokens, when configured.
    fn placeholders<'t>(&self, mut text: Cow<'t, [u8]>) -> Cow<'t, [u8]> {
        if self.placeholders {
            text = substitute(&self.url, text, URL_TOKEN);
            // the email pattern needs an "@": spare its search of most texts
            if memchr::memchr(b'@', &text).is_some() {
                text = substitute(&self.email, text, EMAIL_TOKEN);
            }
            text = substitute(&self.number, text, NUMBER_TOKEN);
        }
        text
    }

    /// The lemma filter of a token seen for the first time (the caller
    /// memoizes the id): the native filter's, or a call of the Python one.
    fn lemma_id(&mut self, py: Python<'_>, token: &[u8]) -> PyResult<u32> {
        let token_text = std::str::from_utf8(token).expect("tokens are ASCII");
        match &self.lemma_of {
            LemmaSource::Native(filter) => {
                let filter = filter.clone_ref(py);
                self.id_of_lemma(py, filter.get().lemma_of(token_text), None)
            }
            LemmaSource::Python(lemma_of) => {
                let lemma = lemma_of.bind(py).call1((token_text,))?.cast_into::<PyString>()?;
                let lemma_text = lemma.to_cow()?;
                self.id_of_lemma(py, &lemma_text, Some(&lemma))
            }
        }
    }

    /// The id of a lemma ("": DROPPED), flagged SPACED if it holds a space;
    /// a new lemma is numbered, its str (`lemma`, or a new one) kept.
    fn id_of_lemma(
        &mut self,
        py: Python<'_>,
        lemma_text: &str,
        lemma: Option<&Bound<'_, PyString>>,
    ) -> PyResult<u32> {
        if lemma_text.is_empty() {
            return Ok(DROPPED);
        }
        let spaced = if lemma_text.contains(' ') { SPACED } else { 0 };
        if let Some(&id) = self.lemma_ids.get(lemma_text) {
            return Ok(id | spaced);
        }
        let id = self.lemma_keys.len() as u32;
        if id >= SPACED - 1 || self.lemmas.bytes.len() + lemma_text.len() > u32::MAX as usize {
            return Err(PyOverflowError::new_err("too many distinct lemmas"));
        }
        let key = match lemma {
            Some(lemma) => lemma.clone().unbind(),
            None => PyString::new(py, lemma_text).unbind(),
        };
        self.lemmas.push(lemma_text);
        self.lemma_ids.insert(lemma_text.into(), id);
        self.lemma_keys.push(key);
        self.unigrams_seen.push(UnigramSeen::default());
        self.lemma_totals.push(TotalsSlot::default());
        self.lemma_rows.push(RowSlot::default());
        Ok(id | spaced)
    }

    /// The distinct n-grams of `self.ids` in first-occurrence order,
    /// scikit-learn's: all unigrams, then all bigrams, ...
    fn count_grams(&mut self) {
        self.grams.clear();
        let longest = self.ngram_max.min(self.ids.len());
        for len in self.ngram_min..=longest {
            match len {
                1 => self.count_unigrams(),
                2 => self.count_bigrams(),
                _ => self.count_long_grams(len),
            }
        }
    }

    fn count_unigrams(&mut self) {
        self.document = self.document.wrapping_add(1);
        if self.document == 0 {
            // the stamps wrapped around: none may look current
            self.unigrams_seen.iter_mut().for_each(|seen| seen.document = 0);
            self.document = 1;
        }
        let Kernel { ids, grams, unigrams_seen, document, .. } = self;
        for (start, &id) in ids.iter().enumerate() {
            let seen = &mut unigrams_seen[id as usize];
            if seen.document == *document {
                grams[seen.gram as usize].count += 1;
            } else {
                seen.document = *document;
                seen.gram = grams.len() as u32;
                grams.push(Gram { start: start as u32, len: 1, count: 1 });
            }
        }
    }

    fn count_bigrams(&mut self) {
        let Kernel { ids, grams, bigram_index, .. } = self;
        bigram_index.clear();
        for (start, pair) in ids.windows(2).enumerate() {
            match bigram_index.entry(bigram_of(pair[0], pair[1])) {
                Entry::Occupied(index) => grams[*index.get() as usize].count += 1,
                Entry::Vacant(slot) => {
                    slot.insert(grams.len() as u32);
                    grams.push(Gram { start: start as u32, len: 2, count: 1 });
                }
            }
        }
        if bigram_index.len() > LARGE_DOCUMENT {
            *bigram_index = FxHashMap::default();
        }
    }

    fn count_long_grams(&mut self, len: usize) {
        let Kernel { ids, grams, gram_index, hasher, .. } = self;
        gram_index.clear();
        for start in 0..=ids.len() - len {
            let key = &ids[start..start + len];
            let hash = hasher.hash_one(key);
            let found = gram_index.find(hash, |&index| {
                let start = grams[index as usize].start as usize;
                &ids[start..start + len] == key
            });
            match found {
                Some(&index) => grams[index as usize].count += 1,
                None => {
                    gram_index.insert_unique(hash, grams.len() as u32, |&index| {
                        let start = grams[index as usize].start as usize;
                        hasher.hash_one(&ids[start..start + len])
                    });
                    grams.push(Gram { start: start as u32, len: len as u32, count: 1 });
                }
            }
        }
        if gram_index.len() > LARGE_DOCUMENT {
            *gram_index = HashTable::new();
        }
    }

    /// The dict of `self.grams`. A unigram's key is its lemma's str. (A
    /// cache of the bigrams' strs, up to 2**18, was no faster.)
    fn build_counts<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let Kernel { ids, grams, lemmas, lemma_keys, term, .. } = self;
        let counts = PyDict::new(py);
        for gram in grams.iter() {
            let start = gram.start as usize;
            let gram_ids = &ids[start..start + gram.len as usize];
            match *gram_ids {
                [id] => counts.set_item(lemma_keys[id as usize].bind(py), gram.count)?,
                _ => {
                    join_lemmas(term, lemmas, gram_ids);
                    counts.set_item(PyString::new(py, term), gram.count)?;
                }
            }
        }
        Ok(counts)
    }

    /// `self.grams` added to `totals`: a unigram at the place its lemma
    /// remembers in these totals, a bigram at the place its two lemma ids
    /// remember (`bigram_totals`), so no term seen before is joined, hashed
    /// or compared again; longer n-grams by their text.
    fn add_counted(&mut self, totals: &mut Totals) {
        let Kernel {
            ids, grams, lemmas, lemma_totals, term, bigram_totals, bigram_totals_generation, ..
        } = self;
        if *bigram_totals_generation != totals.generation {
            bigram_totals.clear();
            *bigram_totals_generation = totals.generation;
        }
        for gram in grams.iter() {
            let start = gram.start as usize;
            let gram_ids = &ids[start..start + gram.len as usize];
            let count = i64::from(gram.count);
            match *gram_ids {
                [id] => {
                    totals.add_remembered(&mut lemma_totals[id as usize], count, || lemmas.get(id));
                }
                [first, second] => match bigram_totals.entry(bigram_of(first, second)) {
                    Entry::Occupied(slot) => totals.terms.add_at(*slot.get(), count),
                    Entry::Vacant(place) => {
                        join_lemmas(term, lemmas, gram_ids);
                        place.insert(totals.terms.add(term, count));
                    }
                },
                _ => {
                    join_lemmas(term, lemmas, gram_ids);
                    totals.add_term(term, count);
                }
            }
        }
    }
}

/// A value no Totals had: a Totals takes a new one whenever it is drained,
/// so places the kernel remembers in it are known to be stale.
fn next_generation() -> u64 {
    static GENERATIONS: AtomicU64 = AtomicU64::new(1);
    GENERATIONS.fetch_add(1, Ordering::Relaxed)
}

/// Where a text of a `TextTable` is: `bytes[start..start + len]`, and its hash.
struct TextEntry {
    hash: u64,
    start: u32,
    len: u32,
}

/// Texts with a value each, in first-added order, the texts in one buffer
/// and found through a table of slots: no allocation per text, and freeing
/// it all is freeing four (the count job's term totals, the merger's sums).
/// The values lie apart from the texts' places, 16 bytes a term for the
/// totals: adding to a term seen before touches the fewest cache lines.
struct TextTable<V> {
    index: HashTable<u32>,
    entries: Vec<TextEntry>,
    values: Vec<V>,
    bytes: Vec<u8>,
    hasher: RandomState,
}

impl<V> Default for TextTable<V> {
    fn default() -> Self {
        TextTable {
            index: HashTable::new(),
            entries: Vec::new(),
            values: Vec::new(),
            bytes: Vec::new(),
            hasher: RandomState::default(),
        }
    }
}

impl<V> TextTable<V> {
    fn text_at<'a>(bytes: &'a [u8], entry: &TextEntry) -> &'a str {
        let bytes = &bytes[entry.start as usize..(entry.start + entry.len) as usize];
        // SAFETY: only whole strs are copied in (slot_or_add)
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The text and value of `slot`.
    fn get(&self, slot: u32) -> (&str, &V) {
        let slot = slot as usize;
        (Self::text_at(&self.bytes, &self.entries[slot]), &self.values[slot])
    }

    /// The texts and values, in the order they were added.
    fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries.iter().zip(&self.values).map(|(entry, value)| (Self::text_at(&self.bytes, entry), value))
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// `text`'s slot, after adding it with the value `new()` when it is not
    /// there (one probe finds it or its place) -> (slot, added); None when
    /// the table would pass 2**32 texts or 4 GB of them.
    fn slot_or_add(&mut self, text: &str, new: impl FnOnce() -> V) -> Option<(u32, bool)> {
        let hash = self.hasher.hash_one(text);
        let TextTable { index, entries, values, bytes, .. } = self;
        let place = index.entry(
            hash,
            |&slot| {
                let entry = &entries[slot as usize];
                entry.hash == hash && Self::text_at(bytes, entry) == text
            },
            |&slot| entries[slot as usize].hash,
        );
        match place {
            hashbrown::hash_table::Entry::Occupied(found) => Some((*found.get(), false)),
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                if entries.len() >= u32::MAX as usize || bytes.len() + text.len() > u32::MAX as usize {
                    return None;
                }
                let slot = entries.len() as u32;
                vacant.insert(slot);
                entries.push(TextEntry { hash, start: bytes.len() as u32, len: text.len() as u32 });
                values.push(new());
                bytes.extend_from_slice(text.as_bytes());
                Some((slot, true))
            }
        }
    }

    fn slot(&self, text: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(text);
        self.index
            .find(hash, |&slot| {
                let entry = &self.entries[slot as usize];
                entry.hash == hash && Self::text_at(&self.bytes, entry) == text
            })
            .copied()
    }

    fn value_mut(&mut self, slot: u32) -> &mut V {
        &mut self.values[slot as usize]
    }

    /// Room for `additional` more texts without growing the table.
    fn reserve(&mut self, additional: usize) {
        let entries = &self.entries;
        self.index.reserve(additional, |&slot| entries[slot as usize].hash);
    }

    /// Empties the table, keeping its capacity (the next fill is alike).
    fn clear(&mut self) {
        self.index.clear();
        self.entries.clear();
        self.values.clear();
        self.bytes.clear();
    }
}

/// `{term: (term_count, df)}` in first-seen order.
type TermTable = TextTable<(i64, i64)>;

impl TermTable {
    /// Adds one message's count of a term; returns the term's slot.
    fn add(&mut self, term: &str, count: i64) -> u32 {
        let (slot, added) = self.slot_or_add(term, || (count, 1)).expect("a flush's terms fit");
        if !added {
            self.add_at(slot, count);
        }
        slot
    }

    fn add_at(&mut self, slot: u32, count: i64) {
        let (term_count, df) = self.value_mut(slot);
        *term_count += count;
        *df += 1;
    }
}

/// Corpus totals `{term: (term_count, df)}` of counted messages, in
/// first-seen order (as the job's two Counters kept them).
#[pyclass(module = "jeeves_kernel")]
struct Totals {
    terms: TermTable,
    /// changes whenever the slots do, so a slot the kernel kept is known stale
    generation: u64,
}

impl Totals {
    fn add_term(&mut self, term: &str, count: i64) {
        self.terms.add(term, count);
    }

    /// Adds to the term at `remembered` if it is still there, else to
    /// `term()` (which is then remembered): no hashing of a term seen before.
    fn add_remembered<'t>(
        &mut self,
        remembered: &mut TotalsSlot,
        count: i64,
        term: impl FnOnce() -> &'t str,
    ) {
        if remembered.generation == self.generation {
            self.terms.add_at(remembered.slot, count);
        } else {
            *remembered =
                TotalsSlot { generation: self.generation, slot: self.terms.add(term(), count) };
        }
    }
}

#[pymethods]
impl Totals {
    #[new]
    fn new() -> Self {
        Totals { terms: TermTable::default(), generation: next_generation() }
    }

    /// One message's `{term: count}`: term_count += count, df += 1 per term.
    fn add(&mut self, counts: &Bound<'_, PyDict>) -> PyResult<()> {
        for (term, count) in counts.iter() {
            let term = term.cast_into::<PyString>()?;
            self.add_term(&term.to_cow()?, count.extract::<i64>()?);
        }
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.terms.len()
    }

    /// `[(partition, b'{"term":[term_count,df],...}'), ...]`, partitions
    /// ascending, each term in the partition `zlib.crc32(term) % partitions`
    /// (features/vocabulary.partition_of), terms in first-seen order; then
    /// the totals are empty.
    fn drain<'py>(
        &mut self,
        py: Python<'py>,
        partitions: u32,
    ) -> PyResult<Vec<(u32, Bound<'py, PyBytes>)>> {
        if partitions == 0 {
            return Err(PyValueError::new_err("partitions must be positive"));
        }
        let terms = &self.terms;
        // one JSON text per partition, each written as the terms come: the
        // terms are read in order (a read in partition order misses the cache)
        let mut partials: FxHashMap<u32, Vec<u8>> = FxHashMap::default();
        for (term, &(term_count, df)) in terms.iter() {
            let partition = crc32fast::hash(term.as_bytes()) % partitions;
            let json = partials.entry(partition).or_insert_with(|| vec![b'{']);
            if json.len() > 1 {
                json.push(b',');
            }
            write_entry(json, term, term_count, df);
        }
        let mut partials: Vec<(u32, Vec<u8>)> = partials.into_iter().collect();
        partials.sort_unstable_by_key(|&(partition, _)| partition);
        let rows = partials
            .into_iter()
            .map(|(partition, mut json)| {
                json.push(b'}');
                (partition, PyBytes::new(py, &json))
            })
            .collect();
        self.terms.clear();
        self.generation = next_generation();
        Ok(rows)
    }
}

/// `"term":[term_count,df]`.
fn write_entry(json: &mut Vec<u8>, term: &str, term_count: i64, df: i64) {
    write_json_string(json, term);
    let mut numbers = itoa::Buffer::new();
    json.extend_from_slice(b":[");
    json.extend_from_slice(numbers.format(term_count).as_bytes());
    json.push(b',');
    json.extend_from_slice(numbers.format(df).as_bytes());
    json.push(b']');
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The bytes a JSON string holds as they are: printable ASCII (and DEL)
/// but for `"`, `\\` and `/`.
static PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0x20;
    while byte < 0x80 {
        table[byte] = !(byte == b'"' as usize || byte == b'\\' as usize || byte == b'/' as usize);
        byte += 1;
    }
    table
};

/// A JSON string as ujson.dumps writes it (ensure_ascii, forward slashes
/// escaped): `\"`, `\\`, `\/`, `\b\f\n\r\t`, other control characters and
/// every non-ASCII character as `\uxxxx` (UTF-16, lowercase hex).
fn write_json_string(json: &mut Vec<u8>, text: &str) {
    json.push(b'"');
    let bytes = text.as_bytes();
    if bytes.iter().all(|&byte| PLAIN[byte as usize]) {
        json.extend_from_slice(bytes);
        json.push(b'"');
        return;
    }
    let mut plain_from = 0;
    for (at, character) in text.char_indices() {
        let short: &[u8] = match character {
            '"' => b"\\\"",
            '\\' => b"\\\\",
            '/' => b"\\/",
            '\u{8}' => b"\\b",
            '\u{c}' => b"\\f",
            '\n' => b"\\n",
            '\r' => b"\\r",
            '\t' => b"\\t",
            ' '..='\u{7f}' => continue,
            _ => b"",
        };
        json.extend_from_slice(&bytes[plain_from..at]);
        plain_from = at + character.len_utf8();
        if !short.is_empty() {
            json.extend_from_slice(short);
            continue;
        }
        let mut units = [0u16; 2];
        for &unit in character.encode_utf16(&mut units).iter() {
            json.extend_from_slice(b"\\u");
            for shift in [12, 8, 4, 0] {
                json.push(HEX[((unit >> shift) & 0xf) as usize]);
            }
        }
    }
    json.extend_from_slice(&bytes[plain_from..]);
    json.push(b'"');
}

/// A term of a partial, borrowed from the JSON text unless it had escapes.
struct Term<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Term<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TermVisitor;
        impl<'de> Visitor<'de> for TermVisitor {
            type Value = Term<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a term")
            }
            fn visit_borrowed_str<E>(self, term: &'de str) -> Result<Term<'de>, E> {
                Ok(Term(Cow::Borrowed(term)))
            }
            fn visit_str<E>(self, term: &str) -> Result<Term<'de>, E> {
                Ok(Term(Cow::Owned(term.to_owned())))
            }
            fn visit_string<E>(self, term: String) -> Result<Term<'de>, E> {
                Ok(Term(Cow::Owned(term)))
            }
        }
        deserializer.deserialize_str(TermVisitor)
    }
}

/// A partial `{term: [term_count, df]}`, its entries in order (repeats kept).
struct Partial<'a>(Vec<(Cow<'a, str>, i64, i64)>);

impl<'de> Deserialize<'de> for Partial<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PartialVisitor;
        impl<'de> Visitor<'de> for PartialVisitor {
            type Value = Partial<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an object of [term_count, df] arrays")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Partial<'de>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(Term(term)) = map.next_key()? {
                    let (term_count, df): (i64, i64) = map.next_value()?;
                    entries.push((term, term_count, df));
                }
                Ok(Partial(entries))
            }
        }
        deserializer.deserialize_map(PartialVisitor)
    }
}

/// A term's sum in a `Merger`.
struct Merged {
    /// the number of the partial that last added to it (repeats within one)
    partial: u32,
    term_count: i64,
    df: i64,
}

/// The sum of partial totals given as JSON texts (the count job's combiner
/// and reducer): `add` each, then `finish`.
#[pyclass(module = "jeeves_kernel")]
#[derive(Default)]
struct Merger {
    terms: TextTable<Merged>,
    partials: u32,
}

fn overflow() -> PyErr {
    PyOverflowError::new_err("a term total does not fit in 64 bits")
}

impl Merger {
    fn add_entries(&mut self, entries: &[(Cow<'_, str>, i64, i64)]) -> PyResult<()> {
        self.partials += 1;
        let partial = self.partials;
        let mut repeats = false;
        // at most one growth of the table per partial
        self.terms.reserve(entries.len());
        for (term, term_count, df) in entries {
            let new = || Merged { partial, term_count: *term_count, df: *df };
            let (slot, added) = self
                .terms
                .slot_or_add(term, new)
                .ok_or_else(|| PyOverflowError::new_err("too many terms to merge"))?;
            if added {
                continue;
            }
            let merged = self.terms.value_mut(slot);
            if merged.partial == partial {
                repeats = true;
                continue;
            }
            merged.term_count = merged.term_count.checked_add(*term_count).ok_or_else(overflow)?;
            merged.df = merged.df.checked_add(*df).ok_or_else(overflow)?;
            merged.partial = partial;
        }
        if repeats {
            // json.loads keeps a repeated key's last value: the first was added
            let mut first_and_last: HashMap<&str, (usize, usize)> = HashMap::new();
            for (index, (term, _, _)) in entries.iter().enumerate() {
                first_and_last.entry(term.as_ref()).or_insert((index, index)).1 = index;
            }
            for (term, (first, last)) in first_and_last {
                if first != last {
                    let slot = self.terms.slot(term).expect("an added term");
                    let merged = self.terms.value_mut(slot);
                    let (_, first_count, first_df) = entries[first];
                    let (_, last_count, last_df) = entries[last];
                    let replace = |total: i64, first: i64, last: i64| {
                        total.checked_sub(first).and_then(|rest| rest.checked_add(last))
                    };
                    merged.term_count =
                        replace(merged.term_count, first_count, last_count).ok_or_else(overflow)?;
                    merged.df = replace(merged.df, first_df, last_df).ok_or_else(overflow)?;
                }
            }
        }
        Ok(())
    }
}

/// A text's first 8 bytes as a big-endian number, zero-padded: two texts'
/// numbers, when they differ, are in the texts' byte order (a shorter text
/// that pads to a smaller number is a prefix of the other).
fn prefix_key(text: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let len = text.len().min(8);
    bytes[..len].copy_from_slice(&text[..len]);
    u64::from_be_bytes(bytes)
}

#[pymethods]
impl Merger {
    #[new]
    fn new() -> Self {
        Merger::default()
    }

    /// Adds one partial, JSON text as bytes or str. False, adding nothing,
    /// when it is not for the native path: not an object of
    /// `[int64, int64]` arrays, a term that is not valid Unicode (lone
    /// surrogates), invalid UTF-8, or invalid JSON (the caller's Python path
    /// then merges it, or raises as the reference does).
    fn add(&mut self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let encoded;
        let json = if let Ok(bytes) = value.cast::<PyBytes>() {
            bytes.as_bytes()
        } else if let Ok(text) = value.cast::<PyString>() {
            match text.encode_utf8() {
                Ok(bytes) => {
                    encoded = bytes;
                    encoded.as_bytes()
                }
                Err(_) => return Ok(false),
            }
        } else {
            return Ok(false);
        };
        match serde_json::from_slice::<Partial>(json) {
            Ok(Partial(entries)) => self.add_entries(&entries).map(|()| true),
            Err(_) => Ok(false),
        }
    }

    /// What was added so far, `{term: [term_count, df]}` (for the Python path).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let totals = PyDict::new(py);
        for (term, merged) in self.terms.iter() {
            totals.set_item(term, [merged.term_count, merged.df])?;
        }
        Ok(totals)
    }

    /// `(b'{"term":[term_count,df],...}' sorted by term, unigram_tokens,
    /// dropped)`: terms of df under `min_df` left out when min_df > 1 and
    /// counted in `dropped`; unigram_tokens, the term count of the terms
    /// without a space, is summed before that. Empties the merger.
    #[pyo3(signature = (min_df=0))]
    fn finish<'py>(
        &mut self,
        py: Python<'py>,
        min_df: i64,
    ) -> PyResult<(Bound<'py, PyBytes>, i64, usize)> {
        let terms = &self.terms;
        let mut unigram_tokens: i64 = 0;
        for (term, merged) in terms.iter() {
            if !term.contains(' ') {
                unigram_tokens =
                    unigram_tokens.checked_add(merged.term_count).ok_or_else(overflow)?;
            }
        }
        // (the text's first bytes as a number, slot): most comparisons are
        // of numbers; str order in Rust is UTF-8 byte order, code point order
        let mut kept: Vec<(u64, u32)> = terms
            .iter()
            .enumerate()
            .filter(|(_, (_, merged))| min_df <= 1 || merged.df >= min_df)
            .map(|(slot, (term, _))| (prefix_key(term.as_bytes()), slot as u32))
            .collect();
        let dropped = terms.len() - kept.len();
        kept.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| terms.get(a.1).0.cmp(terms.get(b.1).0))
        });
        let mut json = Vec::with_capacity(kept.len() * 24 + 2);
        json.push(b'{');
        for (position, &(_, slot)) in kept.iter().enumerate() {
            if position > 0 {
                json.push(b',');
            }
            let (term, merged) = terms.get(slot);
            write_entry(&mut json, term, merged.term_count, merged.df);
        }
        json.push(b'}');
        let finished = PyBytes::new(py, &json);
        self.terms.clear();
        self.partials = 0;
        Ok((finished, unigram_tokens, dropped))
    }

    fn __len__(&self) -> usize {
        self.terms.len()
    }
}

#[pymodule]
mod jeeves_kernel {
    #[pymodule_export]
    use super::sortkey::{index_lines, message_sort_key};
    #[pymodule_export]
    use super::svmlight::format_svmlight;
    #[pymodule_export]
    use super::vectors::{count_line, count_line_rows, filter_terms, read_vocabulary, KeptTerms};
    #[pymodule_export]
    use super::{Kernel, LemmaFilter, Merger, RowBatch, Totals, Vocab};
}
