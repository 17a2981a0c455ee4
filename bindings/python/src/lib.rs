//! The native module `idcard._idcard`: a thin adapter over the `idcard` crate for the Python
//! package (`python/idcard/__init__.py` adds the pure-Python parts: `CardStatus`, the
//! exceptions, input normalisation, pandas).
//!
//! Inputs are extracted from Python objects first; the work runs with the GIL released
//! (`py.detach`); results are built afterwards. Errors map to the exceptions of
//! `idcard._exceptions` (all under `idcard.Error`). pyo3 turns a Rust panic into a Python
//! exception, never an abort.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString};

use idcard::index::{
    BlacklistEntry, BlacklistReasons, CardEntry, CardStatus, DEFAULT_MAX_AGE, IndexError,
    OpenOptions, Profile, Signature, SignaturePolicy, SnapshotBuilder, Verifier as CoreVerifier,
    VerifierOptions,
};
use idcard::journal::JournalError;
use idcard::trust::{TrustError, TrustStore};
use idcard::{CardKey, DivisionTable, IdNumber, NumberError, Parser, Sex};

// ---------------------------------------------------------------------------------------------
// Errors

fn exception(py: Python<'_>, name: &str, message: String) -> PyErr {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module =
        match MODULE.get_or_try_init(py, || py.import("idcard._exceptions").map(|m| m.unbind())) {
            Ok(m) => m.bind(py).clone(),
            Err(e) => return e,
        };
    match module.getattr(name).and_then(|cls| cls.call1((message,))) {
        Ok(obj) => PyErr::from_value(obj),
        Err(e) => e,
    }
}

fn number_error(py: Python<'_>, e: &NumberError) -> PyErr {
    let err = exception(
        py,
        "InvalidNumber",
        format!("invalid identity number ({}): {e}", e.kind()),
    );
    let value = err.value(py);
    let _ = value.setattr("kind", e.kind());
    let _ = value.setattr("position", e.position());
    err
}

fn index_error(py: Python<'_>, e: &IndexError) -> PyErr {
    let name = match e {
        IndexError::Io { .. } => "FileError",
        IndexError::BadMagic { .. } => "NotASnapshot",
        IndexError::UnsupportedVersion { .. } => "UnsupportedVersion",
        IndexError::Corrupt { .. } => "CorruptSnapshot",
        IndexError::DeltaOutOfOrder { .. } => "DeltaOutOfOrder",
        IndexError::NoBlacklist { .. } => "NoBlacklist",
        IndexError::Trust { source, .. } => match source {
            TrustError::Unsigned => "UnsignedFile",
            TrustError::UnknownKey(_) | TrustError::WrongRole { .. } => "UntrustedKey",
            TrustError::KeyNotValid { .. } => "KeyExpired",
            TrustError::KeyFile { .. } => "TrustFileError",
            _ => "BadSignature",
        },
        IndexError::TrustRequired { .. } => "TrustRequired",
        IndexError::Rollback { .. } => "Rollback",
        IndexError::Future { .. } => "FromTheFuture",
        IndexError::BeyondTimestamp { .. } => "BeyondTimestamp",
        IndexError::TooLarge { .. } => "FileTooLarge",
        IndexError::OverlayFull { .. } => "NeedsSnapshot",
        _ => "Error",
    };
    exception(py, name, e.to_string())
}

fn journal_error(py: Python<'_>, e: &idcard::engine::EngineError) -> PyErr {
    use idcard::engine::EngineError as E;
    match e {
        E::Journal(JournalError::Io { .. }) | E::Io { .. } => {
            exception(py, "FileError", e.to_string())
        }
        _ => exception(py, "CorruptJournal", e.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Identity numbers

/// What a valid identity number says.
#[pyclass(frozen, module = "idcard._idcard", get_all)]
pub struct NumberInfo {
    /// The normalised 18-character number.
    number: String,
    /// Division code of first registration.
    division_code: String,
    /// Its name as of the birth date (None when the table does not know it).
    division_name: Option<String>,
    /// Province name as of the birth date.
    province: Option<String>,
    /// Birth date.
    birth_date: NaiveDate,
    /// "male" or "female".
    sex: &'static str,
    /// The input was a legacy 15-digit number (N2).
    upgraded_from_15: bool,
}

#[pymethods]
impl NumberInfo {
    fn __repr__(&self) -> String {
        format!(
            "NumberInfo(number='{}', division_code='{}', division_name={}, birth_date=datetime.date({}), sex='{}', upgraded_from_15={})",
            self.number,
            self.division_code,
            self.division_name
                .as_ref()
                .map_or("None".to_string(), |n| format!("'{n}'")),
            self.birth_date.format("%Y, %-m, %-d"),
            self.sex,
            if self.upgraded_from_15 {
                "True"
            } else {
                "False"
            }
        )
    }
}

fn info_of(n: IdNumber, upgraded: bool) -> NumberInfo {
    let birth = n.birth_date();
    let d = DivisionTable::builtin().division_on(n.division(), birth);
    NumberInfo {
        number: n.to_string(),
        division_code: n.division().to_string(),
        division_name: d.map(|d| d.name.to_string()),
        province: d.and_then(|d| d.province).map(str::to_string),
        birth_date: birth,
        sex: match n.sex() {
            Sex::Male => "male",
            Sex::Female => "female",
        },
        upgraded_from_15: upgraded,
    }
}

/// Parse and validate one number (N1-N3).
#[pyfunction]
#[pyo3(signature = (number, strict = false))]
fn parse_number(py: Python<'_>, number: &Bound<'_, PyAny>, strict: bool) -> PyResult<NumberInfo> {
    let s: String = number.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "parse_number expects a str, got {}",
            type_name(number)
        ))
    })?;
    match Parser::new().strict(strict).parse(&s) {
        Ok(p) => Ok(info_of(p.number, p.upgraded_from_15)),
        Err(e) => Err(number_error(py, &e)),
    }
}

fn type_name(o: &Bound<'_, PyAny>) -> String {
    o.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Strings of a Python list (None or non-str items become empty strings, i.e. invalid).
fn strings(list: &Bound<'_, PyList>) -> Vec<String> {
    list.iter()
        .map(|o| {
            o.cast::<PyString>()
                .ok()
                .and_then(|s| s.to_cow().ok().map(|c| c.into_owned()))
                .unwrap_or_default()
        })
        .collect()
}

/// NumPy `U` arrays arrive as their UCS-4 code points (`width` per item, NUL-padded): items that
/// are 18 ASCII characters are packed as 18 bytes (the fast path); the others (blanks, full-width
/// characters, legacy numbers) come back as strings with their index, for the general path.
fn pack_ucs4(cps: &[u32], width: usize) -> (Vec<u8>, Vec<(usize, String)>) {
    let n = cps.len().checked_div(width).unwrap_or(0);
    let mut packed = vec![0u8; 18 * n];
    let mut rest = Vec::new();
    for i in 0..n {
        let item = &cps[i * width..(i + 1) * width];
        let len = item.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
        let item = &item[..len];
        if len == 18 && item.iter().all(|&c| c < 128) {
            for (o, &c) in packed[18 * i..18 * i + 18].iter_mut().zip(item) {
                *o = c as u8;
            }
        } else {
            rest.push((
                i,
                item.iter()
                    .map(|&c| char::from_u32(c).unwrap_or('\u{fffd}'))
                    .collect(),
            ));
        }
    }
    (packed, rest)
}

/// Validate a NumPy `U` array given as its code points (`width` per item).
#[pyfunction]
fn _check_ucs4<'py>(
    py: Python<'py>,
    codepoints: PyReadonlyArray1<'py, u32>,
    width: usize,
    strict: bool,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let cps = codepoints.as_slice()?;
    if width == 0 || cps.len() % width != 0 {
        return Err(PyTypeError::new_err("code points do not divide into items"));
    }
    let out = py.detach(|| {
        let (packed, rest) = pack_ucs4(cps, width);
        let p = Parser::new().strict(strict);
        let mut out: Vec<bool> = packed
            .chunks_exact(18)
            .map(|c| p.parse_bytes(c).is_ok())
            .collect();
        for (i, s) in rest {
            out[i] = p.parse(&s).is_ok();
        }
        out
    });
    Ok(PyArray1::from_vec(py, out))
}

/// Validate numbers packed as 18 bytes each (the fast path for NumPy `S18` arrays).
#[pyfunction]
fn _check_packed<'py>(
    py: Python<'py>,
    packed: PyReadonlyArray1<'py, u8>,
    strict: bool,
) -> PyResult<Bound<'py, PyArray1<bool>>> {
    let bytes = packed.as_slice()?;
    if bytes.len() % 18 != 0 {
        return Err(PyTypeError::new_err("packed numbers must be 18 bytes each"));
    }
    let out: Vec<bool> = py.detach(|| {
        let p = Parser::new().strict(strict);
        bytes
            .chunks_exact(18)
            .map(|c| p.parse_bytes(c).is_ok())
            .collect()
    });
    Ok(PyArray1::from_vec(py, out))
}

/// Validity flags and, when asked, the reasons.
type Checked<'py> = (Bound<'py, PyArray1<bool>>, Option<Vec<Option<String>>>);

/// Validate numbers given as strings; with `reasons`, also `kind: message` for each invalid one.
#[pyfunction]
fn _check_strs<'py>(
    py: Python<'py>,
    numbers: &Bound<'py, PyList>,
    strict: bool,
    reasons: bool,
) -> PyResult<Checked<'py>> {
    let items = strings(numbers);
    let results: Vec<Result<(), String>> = py.detach(|| {
        let p = Parser::new().strict(strict);
        items
            .iter()
            .map(|s| {
                p.parse(s).map(drop).map_err(|e| {
                    if reasons {
                        format!("{}: {e}", e.kind())
                    } else {
                        String::new()
                    }
                })
            })
            .collect()
    });
    let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
    let why = reasons.then(|| results.into_iter().map(|r| r.err()).collect());
    Ok((PyArray1::from_vec(py, ok), why))
}

// ---------------------------------------------------------------------------------------------
// The verifier

fn card_status<'py>(py: Python<'py>, s: CardStatus) -> PyResult<Bound<'py, PyAny>> {
    static CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let cls = CLASS.get_or_try_init(py, || {
        py.import("idcard._types")?
            .getattr("CardStatus")
            .map(|c| c.unbind())
    })?;
    cls.bind(py).call1((s as u8,))
}

/// Verify cards from a snapshot plus applied deltas (`idcard.Verifier`).
#[pyclass(frozen, module = "idcard._idcard")]
pub struct Verifier {
    inner: CoreVerifier,
}

/// Split `n` items into chunks for the cores, so big batches use them all.
fn parallel_chunks(n: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    if n < 1 << 16 { 1 } else { cores.min(8) }
}

/// Verify packed numbers on all cores (big batches), each core running the prefetching pipeline
/// over its share.
fn verify_packed_parallel(v: &CoreVerifier, bytes: &[u8], days: &[i64]) -> Vec<u8> {
    let n = days.len();
    let mut out = vec![CardStatus::Valid; n];
    let parts = parallel_chunks(n);
    let chunk = n.div_ceil(parts.max(1)).max(1);
    std::thread::scope(|s| {
        for ((o, d), b) in out
            .chunks_mut(chunk)
            .zip(days.chunks(chunk))
            .zip(bytes.chunks(18 * chunk))
        {
            s.spawn(move || v.verify_batch_packed_days(b, d, o));
        }
    });
    out.into_iter().map(|s| s as u8).collect()
}

#[pymethods]
impl Verifier {
    /// Open a snapshot file whose signature chains to a root of the trust file `trust`
    /// (fail closed: without a trust file only `allow_unsigned=True` opens anything).
    #[staticmethod]
    #[pyo3(signature = (path, trust=None, max_age=Some(DEFAULT_MAX_AGE.as_secs_f64()), allow_unsigned=false, verify_checksums=true, state_file=None))]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        trust: Option<PathBuf>,
        max_age: Option<f64>,
        allow_unsigned: bool,
        verify_checksums: bool,
        state_file: Option<PathBuf>,
    ) -> PyResult<Verifier> {
        let max_age = match max_age {
            Some(s) if !(s.is_finite() && s > 0.0) => {
                return Err(PyValueError::new_err(format!(
                    "max_age must be a positive number of seconds or None, got {s}"
                )));
            }
            m => m.map(Duration::from_secs_f64),
        };
        let trust = match trust {
            None => None,
            Some(t) => Some(
                py.detach(|| TrustStore::read(&t))
                    .map_err(|e| exception(py, "TrustFileError", e.to_string()))?,
            ),
        };
        let options = VerifierOptions {
            max_age,
            state_file,
            open: OpenOptions {
                signatures: SignaturePolicy {
                    trust: trust.map(Arc::new),
                    allow_unsigned,
                },
                verify_checksums,
                ..OpenOptions::default()
            },
            ..VerifierOptions::default()
        };
        py.detach(|| CoreVerifier::open_with(&path, options))
            .map(|inner| Verifier { inner })
            .map_err(|e| index_error(py, &e))
    }

    /// The status of one card (`valid_from`: a `datetime.date`).
    fn verify<'py>(
        &self,
        py: Python<'py>,
        number: &Bound<'py, PyAny>,
        valid_from: NaiveDate,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s: String = number.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "verify expects the number as a str, got {}",
                type_name(number)
            ))
        })?;
        card_status(py, self.inner.verify_number(s.as_bytes(), valid_from))
    }

    /// Statuses of packed 18-byte numbers with dates as days since 1970 (the NumPy fast path).
    fn _verify_packed<'py>(
        &self,
        py: Python<'py>,
        packed: PyReadonlyArray1<'py, u8>,
        days: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<u8>>> {
        let bytes = packed.as_slice()?;
        let days = days.as_slice()?;
        if bytes.len() != 18 * days.len() {
            return Err(PyTypeError::new_err("numbers and dates differ in length"));
        }
        let v = &self.inner;
        let out: Vec<u8> = py.detach(|| verify_packed_parallel(v, bytes, days));
        Ok(PyArray1::from_vec(py, out))
    }

    /// Statuses of a NumPy `U` array given as its code points (`width` per item).
    fn _verify_ucs4<'py>(
        &self,
        py: Python<'py>,
        codepoints: PyReadonlyArray1<'py, u32>,
        width: usize,
        days: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<u8>>> {
        let cps = codepoints.as_slice()?;
        let days = days.as_slice()?;
        if width == 0 || cps.len() != width * days.len() {
            return Err(PyTypeError::new_err("numbers and dates differ in length"));
        }
        let v = &self.inner;
        let out: Vec<u8> = py.detach(|| {
            // Each core packs and verifies its share; the few items that are not 18 ASCII
            // characters go through the general path afterwards.
            let n = days.len();
            let parts = parallel_chunks(n);
            let chunk = n.div_ceil(parts.max(1)).max(1);
            let mut out = vec![0u8; n];
            let rests: Vec<Vec<(usize, String)>> = std::thread::scope(|s| {
                let handles: Vec<_> = out
                    .chunks_mut(chunk)
                    .zip(days.chunks(chunk))
                    .zip(cps.chunks(chunk * width))
                    .enumerate()
                    .map(|(k, ((o, d), c))| {
                        s.spawn(move || {
                            let (packed, rest) = pack_ucs4(c, width);
                            let mut st = vec![CardStatus::Valid; o.len()];
                            v.verify_batch_packed_days(&packed, d, &mut st);
                            for (x, y) in o.iter_mut().zip(st) {
                                *x = y as u8;
                            }
                            rest.into_iter()
                                .map(|(i, s)| (i + k * chunk, s))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_default())
                    .collect()
            });
            for (i, s) in rests.into_iter().flatten() {
                let date = i32::try_from(days[i])
                    .ok()
                    .and_then(|d| NaiveDate::from_num_days_from_ce_opt(d + 719_163));
                out[i] = match date {
                    Some(d) => v.verify_number(s.as_bytes(), d) as u8,
                    None => CardStatus::InvalidNumber as u8,
                };
            }
            out
        });
        Ok(PyArray1::from_vec(py, out))
    }

    /// Statuses of numbers given as strings, dates as days since 1970.
    fn _verify_strs<'py>(
        &self,
        py: Python<'py>,
        numbers: &Bound<'py, PyList>,
        days: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<u8>>> {
        let items = strings(numbers);
        let days = days.as_slice()?;
        if items.len() != days.len() {
            return Err(PyTypeError::new_err("numbers and dates differ in length"));
        }
        let v = &self.inner;
        let out: Vec<u8> = py.detach(|| {
            let dates: Vec<NaiveDate> = days
                .iter()
                .map(|&d| {
                    NaiveDate::from_num_days_from_ce_opt(
                        i32::try_from(d)
                            .ok()
                            .and_then(|d| d.checked_add(719_163))
                            .unwrap_or(0),
                    )
                    .unwrap_or(NaiveDate::MIN)
                })
                .collect();
            let mut out = vec![CardStatus::Valid; items.len()];
            v.verify_batch_str(&items, &dates, &mut out);
            out.into_iter().map(|s| s as u8).collect()
        });
        Ok(PyArray1::from_vec(py, out))
    }

    /// Apply a delta file (safe while other threads verify).
    fn apply_delta(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.apply_delta_file(&path))
            .map_err(|e| index_error(py, &e))
    }

    /// Apply the signed timestamps and deltas of a directory that follow on, in sequence order.
    /// Returns a dict: `applied` (deltas), `timestamps`, `skipped` (a list of
    /// `(file name, reason)`: files that are not trusted, too large or not deltas).
    fn apply_delta_dir<'py>(&self, py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
        let report = py
            .detach(|| self.inner.apply_delta_dir(&path))
            .map_err(|e| index_error(py, &e))?;
        let d = PyDict::new(py);
        d.set_item("applied", report.applied)?;
        d.set_item("timestamps", report.timestamps)?;
        let skipped: Vec<(String, String)> = report
            .skipped
            .into_iter()
            .map(|s| (s.name, s.reason))
            .collect();
        d.set_item("skipped", skipped)?;
        Ok(d)
    }

    /// Take in a signed timestamp file (`.idct`): the data stays fresh while the platform
    /// vouches that nothing newer exists.
    fn apply_timestamp(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.apply_timestamp_file(&path))
            .map_err(|e| index_error(py, &e))
    }

    /// Swap in a newer snapshot file.
    fn swap_snapshot(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.inner.swap_snapshot(&path))
            .map_err(|e| index_error(py, &e))
    }

    /// A person's blacklist entry (police snapshots): a dict with `reasons` (names),
    /// `reason_bits`, `source`, `listed_on`; None when not listed.
    fn blacklist_check<'py>(
        &self,
        py: Python<'py>,
        number: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let s: String = number.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "blacklist_check expects a str, got {}",
                type_name(number)
            ))
        })?;
        let n = Parser::new()
            .parse(&s)
            .map_err(|e| number_error(py, &e))?
            .number;
        match self
            .inner
            .blacklist_check(n)
            .map_err(|e| index_error(py, &e))?
        {
            None => Ok(None),
            Some(e) => {
                let d = PyDict::new(py);
                d.set_item("reasons", e.reasons.names().collect::<Vec<_>>())?;
                d.set_item("reason_bits", e.reasons.bits())?;
                d.set_item("source", e.source.as_str())?;
                d.set_item("listed_on", e.listed_on)?;
                Ok(Some(d))
            }
        }
    }

    /// Header facts and the verifier's state: as-of time, counts, sequence, staleness.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let i = self.inner.info();
        let d = PyDict::new(py);
        d.set_item("snapshot_id", format!("{:016x}", i.snapshot.snapshot_id))?;
        d.set_item("profile", i.snapshot.profile.as_str())?;
        d.set_item("format_version", i.snapshot.format_version)?;
        d.set_item("as_of", i.snapshot.as_of)?;
        d.set_item("fresh_as_of", i.fresh_as_of)?;
        d.set_item("journal_seq", i.journal_seq)?;
        d.set_item("deltas_applied", i.deltas_applied)?;
        d.set_item("card_count", i.snapshot.card_count)?;
        d.set_item("blacklist_count", i.snapshot.blacklist_count)?;
        d.set_item("file_bytes", i.snapshot.file_length)?;
        d.set_item("stale", i.stale)?;
        d.set_item("max_age_seconds", i.max_age_seconds)?;
        d.set_item("deltas_verified", i.deltas_verified)?;
        d.set_item("timestamp_seq", i.timestamp_seq)?;
        d.set_item("needs_snapshot", i.needs_snapshot)?;
        let (signature, key_id, key_name) = match &i.snapshot.signature {
            Signature::Unsigned => ("unsigned", None, None),
            Signature::Unchecked => ("unchecked", None, None),
            Signature::Verified(by) => (
                "verified",
                Some(by.key_id.to_string()),
                Some(by.key_name.clone()),
            ),
        };
        d.set_item("signature", signature)?;
        d.set_item("signed_by", key_id)?;
        d.set_item("signed_by_name", key_name)?;
        Ok(d)
    }

    /// Raise `idcard.StaleSnapshot` when unlisted cards answer "stale" (the data is older than
    /// the maximum age given to `open`).
    fn ensure_fresh(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.refresh();
        let i = self.inner.info();
        if i.stale {
            return Err(exception(
                py,
                "StaleSnapshot",
                format!(
                    "the data is as of {}, older than the maximum age of {} s",
                    i.fresh_as_of,
                    i.max_age_seconds.unwrap_or(0)
                ),
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Building snapshots

/// Build a snapshot from columns: numbers (strings), validity starts (days since 1970), status
/// codes, and the blacklist's numbers and reason bits. Returns the header facts.
#[pyfunction]
#[pyo3(signature = (path, numbers, days, statuses, bl_numbers, bl_reasons, profile, as_of=None, journal_seq=0))]
#[allow(clippy::too_many_arguments)]
fn _build_snapshot<'py>(
    py: Python<'py>,
    path: PathBuf,
    numbers: &Bound<'py, PyList>,
    days: PyReadonlyArray1<'py, i64>,
    statuses: &Bound<'py, PyList>,
    bl_numbers: &Bound<'py, PyList>,
    bl_reasons: &Bound<'py, PyList>,
    profile: &str,
    as_of: Option<DateTime<Utc>>,
    journal_seq: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let profile: Profile = profile
        .parse()
        .map_err(|m: String| exception(py, "Error", m))?;
    let items = strings(numbers);
    let bl_items = strings(bl_numbers);
    let days = days.as_slice()?;
    let statuses = strings(statuses);
    let reasons = strings(bl_reasons);
    if items.len() != days.len() || items.len() != statuses.len() || bl_items.len() != reasons.len()
    {
        return Err(PyTypeError::new_err("columns differ in length"));
    }
    enum Failure {
        Number(usize, NumberError),
        Row(usize, String),
        Index(IndexError),
    }
    let result = py.detach(|| -> Result<_, Failure> {
        let parser = Parser::new();
        let mut b = SnapshotBuilder::new(profile);
        if let Some(t) = as_of {
            b.as_of(t);
        }
        b.journal_seq(journal_seq);
        for (i, ((s, &d), st)) in items.iter().zip(days).zip(&statuses).enumerate() {
            let n = parser.parse(s).map_err(|e| Failure::Number(i, e))?.number;
            let date = i32::try_from(d)
                .ok()
                .and_then(|d| NaiveDate::from_num_days_from_ce_opt(d + 719_163))
                .ok_or_else(|| Failure::Row(i, format!("valid_from {d} days is out of range")))?;
            let key = CardKey::new(n, date).map_err(|e| Failure::Row(i, e.to_string()))?;
            let status = st
                .parse::<CardStatus>()
                .ok()
                .filter(|s| s.is_listable())
                .ok_or_else(|| {
                    Failure::Row(
                        i,
                        format!(
                            "status {st:?} cannot be listed (lost, stolen, superseded, invalidated)"
                        ),
                    )
                })?;
            b.add_card(key, CardEntry::new(status));
        }
        for (i, (s, r)) in bl_items.iter().zip(&reasons).enumerate() {
            let n = parser.parse(s).map_err(|e| Failure::Number(i, e))?.number;
            let reasons: BlacklistReasons = r
                .parse()
                .map_err(|m: String| Failure::Row(i, format!("blacklist row {i}: {m}")))?;
            b.add_blacklist(n, BlacklistEntry::new(reasons));
        }
        b.write(&path).map_err(Failure::Index)
    });
    let info = match result {
        Ok(info) => info,
        Err(Failure::Number(i, e)) => {
            let err = number_error(py, &e);
            let _ = err.value(py).setattr("row", i);
            return Err(err);
        }
        Err(Failure::Row(i, m)) => return Err(exception(py, "Error", format!("row {i}: {m}"))),
        Err(Failure::Index(e)) => return Err(index_error(py, &e)),
    };
    let d = PyDict::new(py);
    d.set_item("snapshot_id", format!("{:016x}", info.snapshot_id))?;
    d.set_item("profile", info.profile.as_str())?;
    d.set_item("card_count", info.card_count)?;
    d.set_item("blacklist_count", info.blacklist_count)?;
    d.set_item("file_bytes", info.file_length)?;
    d.set_item("journal_seq", info.journal_seq)?;
    d.set_item("as_of", info.as_of)?;
    Ok(d)
}

// ---------------------------------------------------------------------------------------------
// The journal

/// One journal record, for analysts: when, who, what. Identity numbers are not handed out
/// (S2): cards appear as a keyed pseudonym (`card`), holders by division. The redaction is the
/// core's (`idcard::analyst`).
#[pyclass(frozen, module = "idcard._idcard", get_all)]
pub struct JournalEvent {
    /// Sequence number.
    seq: u64,
    /// Time (UTC).
    at: DateTime<Utc>,
    /// Officer.
    officer: String,
    /// Station.
    station: String,
    /// The station's division.
    station_division: Option<String>,
    /// The station's kind.
    station_kind: Option<String>,
    /// Event kind, e.g. "loss_reported".
    kind: &'static str,
    /// Reason or outcome: a refusal's code, "lost"/"stolen", an application's kind, blacklist
    /// reasons, a status.
    reason: Option<String>,
    /// The refused command, for refusals.
    command: Option<String>,
    /// Pseudonym of the card concerned (16 hex digits), if any.
    card: Option<String>,
    /// Division of first registration of the person concerned, if any.
    holder_division: Option<String>,
    /// For an attempt that failed authentication (officer "UNAUTHENTICATED"): the officer it
    /// claimed to be.
    claimed_officer: Option<String>,
}

impl From<idcard::analyst::AnalystEvent> for JournalEvent {
    fn from(e: idcard::analyst::AnalystEvent) -> Self {
        JournalEvent {
            seq: e.seq,
            at: e.at,
            officer: e.officer,
            station: e.station,
            station_division: e.station_division,
            station_kind: e.station_kind,
            kind: e.kind,
            reason: e.reason,
            command: e.command,
            card: e.card,
            holder_division: e.holder_division,
            claimed_officer: e.claimed_officer,
        }
    }
}

#[pymethods]
impl JournalEvent {
    fn __repr__(&self) -> String {
        format!(
            "JournalEvent(seq={}, at='{}', officer='{}', station='{}', kind='{}', reason={})",
            self.seq,
            self.at.to_rfc3339(),
            self.officer,
            self.station,
            self.kind,
            self.reason
                .as_ref()
                .map_or("None".to_string(), |r| format!("'{r}'"))
        )
    }
}

/// Read a data directory's journal (read-only; an engine may be writing it).
#[pyclass(module = "idcard._idcard")]
pub struct Journal {
    dir: PathBuf,
}

#[pymethods]
impl Journal {
    /// Open the journal of a data directory.
    #[staticmethod]
    fn open(py: Python<'_>, data_dir: PathBuf) -> PyResult<Journal> {
        if !data_dir.join("journal").is_dir() {
            return Err(exception(
                py,
                "FileError",
                format!(
                    "{}: not an idcard data directory (no journal/)",
                    data_dir.display()
                ),
            ));
        }
        Ok(Journal { dir: data_dir })
    }

    /// All records (each checked), as `JournalEvent` objects.
    fn events(&self, py: Python<'_>) -> PyResult<Vec<JournalEvent>> {
        let dir = self.dir.clone();
        let rows = py
            .detach(|| idcard::analyst::read(&dir))
            .map_err(|e| journal_error(py, &e))?;
        Ok(rows.into_iter().map(JournalEvent::from).collect())
    }

    /// Columns for `to_pandas`.
    fn _columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dir = self.dir.clone();
        let events = py
            .detach(|| idcard::analyst::read(&dir))
            .map_err(|e| journal_error(py, &e))?;
        let d = PyDict::new(py);
        macro_rules! column {
            ($name:ident) => {
                d.set_item(
                    stringify!($name),
                    events.iter().map(|e| e.$name.clone()).collect::<Vec<_>>(),
                )?;
            };
        }
        column!(seq);
        column!(at);
        column!(officer);
        column!(station);
        column!(station_division);
        column!(station_kind);
        column!(kind);
        column!(reason);
        column!(command);
        column!(card);
        column!(holder_division);
        column!(claimed_officer);
        Ok(d)
    }

    /// The data directory.
    #[getter]
    fn data_dir(&self) -> PathBuf {
        self.dir.clone()
    }
}

/// The division name of a code as of a date (None when unknown), for analysts' tables.
#[pyfunction]
#[pyo3(signature = (code, on=None))]
fn division_name(code: &str, on: Option<NaiveDate>) -> Option<String> {
    let c = code
        .parse::<u32>()
        .ok()
        .filter(|_| code.len() == 6)
        .and_then(idcard::DivisionCode::new)?;
    let t = DivisionTable::builtin();
    match on {
        Some(d) => t.name_on(c, d),
        None => t.name_in(c, i32::MAX),
    }
    .map(str::to_string)
}

/// The library version.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _idcard(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NumberInfo>()?;
    m.add_class::<Verifier>()?;
    m.add_class::<Journal>()?;
    m.add_class::<JournalEvent>()?;
    m.add_function(wrap_pyfunction!(parse_number, m)?)?;
    m.add_function(wrap_pyfunction!(_check_packed, m)?)?;
    m.add_function(wrap_pyfunction!(_check_strs, m)?)?;
    m.add_function(wrap_pyfunction!(_check_ucs4, m)?)?;
    m.add_function(wrap_pyfunction!(_build_snapshot, m)?)?;
    m.add_function(wrap_pyfunction!(division_name, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
