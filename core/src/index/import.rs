//! Reading the CSV datasets the CLI and the benchmarks use (`docs/FORMAT.md` §6):
//! `CARDS.csv` (`number,valid_from,status[,reason][,changed_on]`) and `BLACKLIST.csv`
//! (`number,reason[,source][,listed_on]`).

use std::io::Read;

use chrono::NaiveDate;

use super::{BlacklistEntry, BlacklistReasons, BlacklistSource, CardEntry, CardReason, CardStatus};
use crate::card::CardKey;
use crate::number::{IdNumber, Parser};

/// A bad CSV file or row. Line numbers are 1-based and count the header line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The header line lacks a required column.
    #[error("header: missing column {column:?} (found: {found})")]
    MissingColumn {
        /// The required column.
        column: &'static str,
        /// The columns found.
        found: String,
    },
    /// A field does not parse.
    #[error("line {line}, column {column}: {message}")]
    Field {
        /// Line of the row.
        line: u64,
        /// Column name.
        column: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The file cannot be read as CSV (I/O, bad quoting, wrong number of fields).
    #[error("line {line}: {message}")]
    Csv {
        /// Line where reading failed (0 when unknown).
        line: u64,
        /// What is wrong.
        message: String,
    },
}

/// The 1-based line of a CSV position, counting the header. The csv crate counts `\n` only; a
/// file with bare `\r` line ends would put every row on line 1, so a row is never placed
/// before its ordinal (found by fuzzing, `fuzz/`).
pub(crate) fn line_of(p: &csv::Position) -> u64 {
    p.line().max(p.record() + 1)
}

impl ImportError {
    /// The line the error is on, if any.
    pub fn line(&self) -> Option<u64> {
        match self {
            ImportError::Field { line, .. } | ImportError::Csv { line, .. } => Some(*line),
            ImportError::MissingColumn { .. } => Some(1),
        }
    }

    fn csv(e: csv::Error) -> ImportError {
        ImportError::Csv {
            line: e.position().map_or(0, line_of),
            message: e.to_string(),
        }
    }
}

struct Reader<R> {
    inner: csv::Reader<R>,
    record: csv::ByteRecord,
    skip_bad: bool,
    skipped: u64,
    first_errors: Vec<ImportError>,
}

impl<R: Read> Reader<R> {
    fn new(input: R) -> Reader<R> {
        Reader {
            inner: csv::ReaderBuilder::new()
                .has_headers(true)
                .trim(csv::Trim::All)
                .flexible(false)
                .from_reader(input),
            record: csv::ByteRecord::new(),
            skip_bad: false,
            skipped: 0,
            first_errors: Vec::new(),
        }
    }

    fn columns(
        &mut self,
        required: &[&'static str],
        optional: &[&'static str],
    ) -> Result<Vec<Option<usize>>, ImportError> {
        let headers = self.inner.byte_headers().map_err(ImportError::csv)?.clone();
        let names: Vec<String> = headers
            .iter()
            .map(|h| {
                String::from_utf8_lossy(h)
                    .trim_start_matches('\u{feff}')
                    .trim()
                    .to_ascii_lowercase()
            })
            .collect();
        let mut out = Vec::new();
        for &c in required {
            let i =
                names
                    .iter()
                    .position(|n| n == c)
                    .ok_or_else(|| ImportError::MissingColumn {
                        column: c,
                        found: names.join(","),
                    })?;
            out.push(Some(i));
        }
        for &c in optional {
            out.push(names.iter().position(|n| n == c));
        }
        Ok(out)
    }

    /// Next row through `parse`; bad rows are errors, or skipped and counted with `skip_bad`.
    fn next_with<T>(
        &mut self,
        parse: impl Fn(&csv::ByteRecord, u64) -> Result<T, ImportError>,
    ) -> Option<Result<T, ImportError>> {
        loop {
            match self.inner.read_byte_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {
                    let line = self.record.position().map_or(0, line_of);
                    match parse(&self.record, line) {
                        Ok(t) => return Some(Ok(t)),
                        Err(e) if self.skip_bad => self.skip(e),
                        Err(e) => return Some(Err(e)),
                    }
                }
                Err(e) => {
                    let e = ImportError::csv(e);
                    // An I/O error cannot be skipped; a malformed row can.
                    if self.skip_bad
                        && !matches!(&e, ImportError::Csv { message, .. } if message.contains("I/O"))
                    {
                        self.skip(e);
                    } else {
                        return Some(Err(e));
                    }
                }
            }
        }
    }

    fn skip(&mut self, e: ImportError) {
        self.skipped += 1;
        if self.first_errors.len() < 10 {
            self.first_errors.push(e);
        }
    }
}

fn field(rec: &csv::ByteRecord, idx: Option<usize>) -> &[u8] {
    idx.and_then(|i| rec.get(i)).unwrap_or(b"")
}

fn text<'r>(
    rec: &'r csv::ByteRecord,
    idx: Option<usize>,
    line: u64,
    column: &'static str,
) -> Result<&'r str, ImportError> {
    std::str::from_utf8(field(rec, idx)).map_err(|_| ImportError::Field {
        line,
        column,
        message: "not UTF-8".into(),
    })
}

fn date(
    rec: &csv::ByteRecord,
    idx: Option<usize>,
    line: u64,
    column: &'static str,
) -> Result<Option<NaiveDate>, ImportError> {
    let s = text(rec, idx, line, column)?;
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| ImportError::Field {
            line,
            column,
            message: format!("{s:?} is not a date YYYY-MM-DD"),
        })
}

fn number(
    parser: &Parser<'_>,
    rec: &csv::ByteRecord,
    idx: Option<usize>,
    line: u64,
) -> Result<IdNumber, ImportError> {
    parser
        .parse_bytes(field(rec, idx))
        .map(|p| p.number)
        .map_err(|e| ImportError::Field {
            line,
            column: "number",
            message: e.to_string(),
        })
}

/// Rows of a `CARDS.csv` as `(CardKey, CardEntry)`, in file order.
///
/// ```
/// use idcard::index::{CardsCsv, CardStatus};
/// let csv = "number,valid_from,status\n11010519491231002X,2005-06-01,lost\n";
/// let rows: Vec<_> = CardsCsv::new(csv.as_bytes()).collect::<Result<_, _>>()?;
/// assert_eq!(rows[0].1.status, CardStatus::Lost);
/// # Ok::<(), idcard::index::ImportError>(())
/// ```
pub struct CardsCsv<R> {
    reader: Reader<R>,
    parser: Parser<'static>,
    columns: Result<Vec<Option<usize>>, Option<ImportError>>,
}

impl<R: Read> CardsCsv<R> {
    /// Read from `input` (header line required).
    pub fn new(input: R) -> CardsCsv<R> {
        let mut reader = Reader::new(input);
        let columns = reader
            .columns(
                &["number", "valid_from", "status"],
                &["reason", "changed_on"],
            )
            .map_err(Some);
        CardsCsv {
            reader,
            parser: Parser::new(),
            columns,
        }
    }

    /// Skip bad rows (counted in [`CardsCsv::skipped`]) instead of stopping at the first.
    pub fn skip_bad(mut self, skip: bool) -> Self {
        self.reader.skip_bad = skip;
        self
    }

    /// Validate numbers with this parser (strict mode, another division table).
    pub fn parser(mut self, parser: Parser<'static>) -> Self {
        self.parser = parser;
        self
    }

    /// Rows skipped so far.
    pub fn skipped(&self) -> u64 {
        self.reader.skipped
    }

    /// The first (up to ten) errors of skipped rows.
    pub fn skipped_errors(&self) -> &[ImportError] {
        &self.reader.first_errors
    }
}

impl<R: Read> Iterator for CardsCsv<R> {
    type Item = Result<(CardKey, CardEntry), ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let cols = match &mut self.columns {
            Ok(c) => c.clone(),
            Err(e) => return e.take().map(Err),
        };
        let parser = self.parser;
        self.reader.next_with(|rec, line| {
            let n = number(&parser, rec, cols[0], line)?;
            let valid_from = date(rec, cols[1], line, "valid_from")?.ok_or(ImportError::Field {
                line,
                column: "valid_from",
                message: "empty".into(),
            })?;
            let key = CardKey::new(n, valid_from).map_err(|e| ImportError::Field {
                line,
                column: "valid_from",
                message: e.to_string(),
            })?;
            let s = text(rec, cols[2], line, "status")?;
            let status: CardStatus = s.parse().map_err(|m| ImportError::Field {
                line,
                column: "status",
                message: m,
            })?;
            if !status.is_listable() {
                return Err(ImportError::Field {
                    line,
                    column: "status",
                    message: format!(
                        "{status} is not a listed status (lost, stolen, superseded, invalidated)"
                    ),
                });
            }
            let r = text(rec, cols[3], line, "reason")?;
            let reason = if r.is_empty() {
                CardReason::UNSPECIFIED
            } else {
                r.parse().map_err(|m| ImportError::Field {
                    line,
                    column: "reason",
                    message: m,
                })?
            };
            let changed_on = date(rec, cols[4], line, "changed_on")?;
            Ok((
                key,
                CardEntry {
                    status,
                    reason,
                    changed_on,
                },
            ))
        })
    }
}

/// Rows of a `BLACKLIST.csv` as `(IdNumber, BlacklistEntry)`, in file order.
pub struct BlacklistCsv<R> {
    reader: Reader<R>,
    parser: Parser<'static>,
    columns: Result<Vec<Option<usize>>, Option<ImportError>>,
}

impl<R: Read> BlacklistCsv<R> {
    /// Read from `input` (header line required).
    pub fn new(input: R) -> BlacklistCsv<R> {
        let mut reader = Reader::new(input);
        let columns = reader
            .columns(&["number", "reason"], &["source", "listed_on"])
            .map_err(Some);
        BlacklistCsv {
            reader,
            parser: Parser::new(),
            columns,
        }
    }

    /// Skip bad rows instead of stopping at the first.
    pub fn skip_bad(mut self, skip: bool) -> Self {
        self.reader.skip_bad = skip;
        self
    }

    /// Rows skipped so far.
    pub fn skipped(&self) -> u64 {
        self.reader.skipped
    }

    /// The first (up to ten) errors of skipped rows.
    pub fn skipped_errors(&self) -> &[ImportError] {
        &self.reader.first_errors
    }
}

impl<R: Read> Iterator for BlacklistCsv<R> {
    type Item = Result<(IdNumber, BlacklistEntry), ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let cols = match &mut self.columns {
            Ok(c) => c.clone(),
            Err(e) => return e.take().map(Err),
        };
        let parser = self.parser;
        self.reader.next_with(|rec, line| {
            let n = number(&parser, rec, cols[0], line)?;
            let reasons: BlacklistReasons =
                text(rec, cols[1], line, "reason")?
                    .parse()
                    .map_err(|m| ImportError::Field {
                        line,
                        column: "reason",
                        message: m,
                    })?;
            let s = text(rec, cols[2], line, "source")?;
            let source = if s.is_empty() {
                BlacklistSource::Unknown
            } else {
                s.parse().map_err(|m| ImportError::Field {
                    line,
                    column: "source",
                    message: m,
                })?
            };
            let listed_on = date(rec, cols[3], line, "listed_on")?;
            Ok((
                n,
                BlacklistEntry {
                    reasons,
                    source,
                    listed_on,
                },
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l3_cards_csv_rows_and_errors_name_the_line() {
        let csv = "number,valid_from,status,reason\n\
                   11010519491231002X,2005-06-01,lost,reported_away\n\
                   110105194912310021,2005-06-01,lost,\n\
                   11010519491231002X,2015-06-01,gone,\n";
        let rows: Vec<_> = CardsCsv::new(csv.as_bytes()).collect();
        assert_eq!(rows.len(), 3, "every row yields an item");
        let (key, e) = rows[0].as_ref().unwrap();
        assert_eq!(key.valid_from().to_string(), "2005-06-01");
        assert_eq!(e.reason, CardReason::REPORTED_AWAY);
        match rows[1].as_ref().unwrap_err() {
            ImportError::Field {
                line,
                column,
                message,
            } => {
                assert_eq!((*line, *column), (3, "number"));
                assert!(message.contains("check character"), "{message}");
            }
            e => panic!("{e:?}"),
        }
        let mut it = CardsCsv::new(csv.as_bytes()).skip_bad(true);
        let ok: Vec<_> = it.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(it.skipped(), 2);
        assert_eq!(it.skipped_errors()[1].line(), Some(4));
    }

    /// Found by fuzzing (fuzz/csv_import): with bare `\r` line ends the csv crate counts every
    /// row as line 1; errors must still name the row's line.
    #[test]
    fn l3_csv_with_carriage_return_line_ends_names_the_right_line() {
        let csv = "number,valid_from,status\r\
                   11010519491231002X,2005-06-01,lost\r\
                   11010519491231002X,2005-13-01,lost\r";
        let rows: Vec<_> = CardsCsv::new(csv.as_bytes()).collect();
        assert!(rows[0].is_ok());
        assert_eq!(rows[1].as_ref().unwrap_err().line(), Some(3));
    }

    #[test]
    fn l3_cards_csv_missing_column_and_bad_fields() {
        let e = CardsCsv::new("number,status\n".as_bytes())
            .next()
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(
                e,
                ImportError::MissingColumn {
                    column: "valid_from",
                    ..
                }
            ),
            "{e}"
        );
        for (row, col) in [
            ("11010519491231002X,2005-13-01,lost", "valid_from"),
            ("11010519491231002X,1940-01-01,lost", "valid_from"),
            ("11010519491231002X,2005-06-01,valid", "status"),
        ] {
            let csv = format!("number,valid_from,status\n{row}\n");
            match CardsCsv::new(csv.as_bytes()).next().unwrap() {
                Err(ImportError::Field {
                    column, line: 2, ..
                }) => assert_eq!(column, col, "{row}"),
                other => panic!("{row}: {other:?}"),
            }
        }
        let e = CardsCsv::new("number,valid_from,status\n1,2\n".as_bytes())
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(e, ImportError::Csv { line: 2, .. }), "{e}");
    }

    #[test]
    fn a6_blacklist_csv() {
        let csv = "number,reason,source,listed_on\n11010519491231002X,forged|identity_card,public_security,2019-03-04\n";
        let rows: Vec<_> = BlacklistCsv::new(csv.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows[0].1.reasons,
            BlacklistReasons::FORGED | BlacklistReasons::IDENTITY_CARD
        );
        assert_eq!(rows[0].1.source, BlacklistSource::PublicSecurity);
        let bad = "number,reason\n11010519491231002X,smuggling\n";
        let e = BlacklistCsv::new(bad.as_bytes())
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(
            e,
            ImportError::Field {
                line: 2,
                column: "reason",
                ..
            }
        ));
    }
}
