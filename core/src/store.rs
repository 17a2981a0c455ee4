//! The population store: people, guardians and cards on disk, below the state (issue 19).
//!
//! This module keeps rows — values encoded by the state, under a `u64` key — in three tables
//! ([`Table`]); what a row means is the state's business ([`crate::model::People`],
//! [`crate::model::Cards`]). The journal stays the record. The store is a materialised view of the part of the state
//! that grows with the population — the population directory ([`crate::model::People`]) and
//! the card register ([`crate::model::Cards`]) — tagged with the journal sequence number and
//! chain hash it reflects. Everything else (stations, officers, applications, found cards …)
//! grows with activity, stays in memory and in the signed checkpoint.
//!
//! The state's two slices keep the changes of the records applied since the last flush in
//! memory (an overlay, read first) and write them here in one transaction — only once those
//! records are durable in the journal, so the store is never ahead of the record. At open the
//! engine replays the journal after the store's sequence (for these slices) and after the
//! checkpoint's (for the rest); a store that is missing, of another format, ahead of the journal
//! or tagged with a chain hash the journal does not have is set aside and rebuilt from the
//! journal.
//!
//! The embedded store is [redb](https://docs.rs/redb): a copy-on-write B-tree in one file,
//! pure Rust, crash-safe (a commit is atomic; an interrupted one leaves the previous), with a
//! page cache of a size the caller sets — memory stays bounded whatever the population.
//! `docs/FORMAT.md` §10 gives its tables byte by byte.
//!
//! ```
//! use idcard::store::{PopulationStore, RowStore};
//! let dir = tempfile::tempdir()?;
//! let store = PopulationStore::open(&dir.path().join("population.redb"), 16 << 20)?;
//! let store: &dyn RowStore = &store;
//! assert_eq!(store.tag()?, None, "a new store reflects no record yet");
//! let mut batch = idcard::store::Batch::default();
//! batch.put(idcard::store::Table::Cards, 42, &"a row")?;
//! store.write(&batch, 7, &[0; 32])?;
//! assert_eq!(store.tag()?, Some((7, [0; 32])));
//! let row: Option<String> = store.get(idcard::store::Table::Cards, 42)?;
//! assert_eq!(row.as_deref(), Some("a row"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::journal::Chain;

/// The store's format version (`docs/FORMAT.md` §10). A store of another version is rebuilt
/// from the journal.
pub const STORE_VERSION: u64 = 1;

/// Default size of the store's page cache: the memory the population costs whatever its size.
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;

/// The tables of the store; every row is a postcard-encoded value under a `u64` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    /// Identity number (`IdNumber::to_u64`) → `Person`.
    People,
    /// Child's identity number → the guardians' numbers (`Vec<IdNumber>`).
    Guardians,
    /// Card key (`CardKey::to_u64`: number-major, so a person's cards are adjacent, oldest
    /// first) → `CardRecord`.
    Cards,
}

impl Table {
    fn def(self) -> TableDefinition<'static, u64, &'static [u8]> {
        match self {
            Table::People => TableDefinition::new("people"),
            Table::Guardians => TableDefinition::new("guardians"),
            Table::Cards => TableDefinition::new("cards"),
        }
    }

    /// The table's name (`people`, `guardians`, `cards`).
    pub fn name(self) -> &'static str {
        match self {
            Table::People => "people",
            Table::Guardians => "guardians",
            Table::Cards => "cards",
        }
    }
}

/// `version`, `seq` → u64 (little-endian); `chain` → the journal's chain hash after `seq`.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// An error of the population store: what failed, and on which file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("population store {path}: {what}")]
pub struct StoreError {
    /// The store's file.
    pub path: String,
    /// What failed.
    pub what: String,
    /// The store is open elsewhere (another engine in this process, or a state cloned from
    /// one): not damaged, not to be set aside.
    pub in_use: bool,
}

/// Rows to write together ([`RowStore::write`]), and the journal's records they come from
/// (for a store that keeps the events beside the state: [`RowStore::wants_events`]).
#[derive(Default)]
pub struct Batch {
    rows: Vec<Row>,
    events: Vec<EventRow>,
}

/// A row of a batch: its table, key and encoded value.
type Row = (Table, u64, Vec<u8>);

/// What a scan hands each row to: its key and its bytes.
pub type RowVisitor<'a> = dyn FnMut(u64, &[u8]) -> Result<(), StoreError> + 'a;

/// A journal record as a store that keeps the events receives it: its sequence number, the
/// chain hash after it, the province it belongs to and its bytes (`docs/FORMAT.md` §2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    /// Sequence number.
    pub seq: u64,
    /// The journal's chain hash after this record.
    pub chain: Chain,
    /// Two-digit province number of the acting station's division (0: the ministry, the
    /// system, or a station not registered).
    pub province: u8,
    /// The record, as the journal holds it.
    pub payload: Vec<u8>,
}

impl Batch {
    /// Add a row: `value` encoded under `key` (a later row with the same key wins).
    pub fn put(
        &mut self,
        table: Table,
        key: u64,
        value: &impl Serialize,
    ) -> Result<(), StoreError> {
        let bytes = postcard::to_allocvec(value).map_err(|e| StoreError {
            path: "(encoding)".into(),
            what: format!("{} {key:#x}: {e}", table.name()),
            in_use: false,
        })?;
        self.rows.push((table, key, bytes));
        Ok(())
    }

    /// Add a journal record (kept only by stores that keep the events).
    pub fn event(&mut self, row: EventRow) {
        self.events.push(row);
    }

    /// The rows, in the order added (a later row with the same key wins).
    pub fn rows(&self) -> impl Iterator<Item = (Table, u64, &[u8])> {
        self.rows.iter().map(|(t, k, v)| (*t, *k, v.as_slice()))
    }

    /// The rows, the last per table and key, in table and key order.
    pub fn rows_sorted(&self) -> Vec<(Table, u64, &[u8])> {
        let mut rows: Vec<(usize, &Row)> = self.rows.iter().enumerate().collect();
        // By table and key, the last added first; then keep the first of each key.
        rows.sort_by_key(|(i, (t, k, _))| (*t as u8, *k, std::cmp::Reverse(*i)));
        rows.dedup_by_key(|(_, (t, k, _))| (*t, *k));
        rows.into_iter()
            .map(|(_, (t, k, v))| (*t, *k, v.as_slice()))
            .collect()
    }

    /// Replace the journal's records.
    pub fn set_events(&mut self, events: Vec<EventRow>) {
        self.events = events;
    }

    /// Take the journal's records out.
    pub fn take_events(&mut self) -> Vec<EventRow> {
        std::mem::take(&mut self.events)
    }

    /// The journal's records, in sequence order.
    pub fn events(&self) -> &[EventRow] {
        &self.events
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A store of rows below the state: the embedded [`PopulationStore`], or another (the
/// PostgreSQL store of the `idcard-postgres` crate). Every row is bytes under a `u64` key; a
/// store is tagged with the journal sequence number and chain hash it reflects.
///
/// The engine writes a store only under its state lock, only once the records are durable in
/// the journal, and in one [`RowStore::write`] per flush: an implementation makes each write
/// atomic and durable before it returns, and returns rows in key order (unsigned).
pub trait RowStore: Send + Sync + std::fmt::Debug {
    /// What the store is, for messages: a file's path, a database and schema.
    fn name(&self) -> String;

    /// The journal sequence number and chain hash the store reflects (`None`: none yet).
    fn tag(&self) -> Result<Option<(u64, Chain)>, StoreError>;

    /// The row under `key`, as stored.
    fn get_bytes(&self, t: Table, key: u64) -> Result<Option<Vec<u8>>, StoreError>;

    /// The rows with keys in `lo..=hi`, in key order, from one consistent view of the store
    /// (later writes are not seen), streamed to `f`.
    fn scan(&self, t: Table, lo: u64, hi: u64, f: &mut RowVisitor<'_>) -> Result<(), StoreError>;

    /// How many rows a table holds.
    fn count(&self, t: Table) -> Result<u64, StoreError>;

    /// Write `batch` (its last row per key) and tag the store with `(seq, chain)`, in one
    /// durable transaction: after a crash the store holds all of it or none.
    fn write(&self, batch: &Batch, seq: u64, chain: &Chain) -> Result<(), StoreError>;

    /// Whether the store keeps the journal's records beside the state ([`Batch::event`]): the
    /// engine then adds every record after the store's tag to the batch that reflects it.
    fn wants_events(&self) -> bool {
        false
    }

    /// One consistent view of the store as of now, to read later: taken under the engine's lock
    /// and read after it is released (a full snapshot's scan of the cards then does not hold up
    /// the commands). `None` when the store has no such view (the reader then scans under the
    /// lock).
    fn view(&self) -> Result<Option<Box<dyn RowView>>, StoreError> {
        Ok(None)
    }

    /// Every journal record the store keeps, in sequence order, to `f`; `false` when it keeps
    /// none ([`RowStore::wants_events`]).
    fn scan_events(
        &self,
        _f: &mut dyn FnMut(&EventRow) -> Result<(), StoreError>,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }
}

impl dyn RowStore + '_ {
    /// An error of this store: `e` names what failed.
    pub fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            path: self.name(),
            what: e.to_string(),
            in_use: false,
        }
    }

    fn decode<T: DeserializeOwned>(
        &self,
        t: Table,
        key: u64,
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        postcard::from_bytes(bytes).map_err(|e| self.err(format!("{} {key:#x}: {e}", t.name())))
    }

    /// The row under `key`, decoded.
    pub fn get<T: DeserializeOwned>(&self, t: Table, key: u64) -> Result<Option<T>, StoreError> {
        match self.get_bytes(t, key)? {
            Some(v) => Ok(Some(self.decode(t, key, &v)?)),
            None => Ok(None),
        }
    }

    /// The rows with keys in `lo..=hi`, in key order, decoded.
    pub fn range<T: DeserializeOwned>(
        &self,
        t: Table,
        lo: u64,
        hi: u64,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.scan(t, lo, hi, &mut |k, v| {
            out.push(self.decode(t, k, v)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Every row of a table, in key order, decoded, from one consistent view of the store
    /// (later writes are not seen): streamed, never all in memory.
    pub fn for_each<T: DeserializeOwned>(
        &self,
        t: Table,
        mut f: impl FnMut(u64, T) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.scan(t, 0, u64::MAX, &mut |k, v| f(k, self.decode(t, k, v)?))
    }
}

/// A consistent view of a store taken at one moment ([`RowStore::view`]): later writes are not
/// seen, however long it is read.
pub trait RowView: Send {
    /// What the store is, for messages.
    fn name(&self) -> String;

    /// The rows with keys in `lo..=hi`, in key order, as they were when the view was taken.
    fn scan(&self, t: Table, lo: u64, hi: u64, f: &mut RowVisitor<'_>) -> Result<(), StoreError>;
}

impl dyn RowView + '_ {
    /// Every row of a table as the view has it, in key order, decoded.
    pub fn for_each<T: DeserializeOwned>(
        &self,
        t: Table,
        mut f: impl FnMut(u64, T) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.scan(t, 0, u64::MAX, &mut |k, v| {
            let row = postcard::from_bytes(v).map_err(|e| StoreError {
                path: self.name(),
                what: format!("{} {k:#x}: {e}", t.name()),
                in_use: false,
            })?;
            f(k, row)
        })
    }
}

/// The embedded store's view: a redb read transaction (it keeps the pages it sees until
/// dropped).
struct RedbView {
    tx: redb::ReadTransaction,
    path: PathBuf,
}

impl RowView for RedbView {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn scan(&self, t: Table, lo: u64, hi: u64, f: &mut RowVisitor<'_>) -> Result<(), StoreError> {
        let err = |e: &dyn std::fmt::Display| StoreError {
            path: self.name(),
            what: e.to_string(),
            in_use: false,
        };
        let table = self.tx.open_table(t.def()).map_err(|e| err(&e))?;
        for item in table.range(lo..=hi).map_err(|e| err(&e))? {
            let (k, v) = item.map_err(|e| err(&e))?;
            f(k.value(), v.value())?;
        }
        Ok(())
    }
}

/// Where an engine's population store comes from ([`crate::engine::EngineOptions::store`]):
/// the embedded one in the data directory by default, or another (PostgreSQL).
pub trait StoreProvider: Send + Sync + std::fmt::Debug {
    /// Open (or create) the store of the record in `dir`, with a page cache of `cache_bytes`
    /// where the store has one. A store of another format is an error.
    fn open(&self, dir: &Path, cache_bytes: usize) -> Result<Arc<dyn RowStore>, StoreError>;

    /// Set the store of the record in `dir` aside (kept for inspection, never used again),
    /// so that the next [`StoreProvider::open`] starts empty; says where it went.
    fn set_aside(&self, dir: &Path) -> Result<String, StoreError>;

    /// Whether a store that does not open or whose tag cannot be read is set aside and rebuilt
    /// (a damaged file: yes, the default) or the error stops the engine (a database server:
    /// a lost connection is no reason to rebuild a national register).
    fn set_aside_unreadable(&self) -> bool {
        true
    }
}

/// The embedded store in the data directory: `DIR/store/population.redb`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Embedded;

/// Where the embedded population store of a data directory lives.
pub fn embedded_path(dir: &Path) -> PathBuf {
    dir.join("store").join("population.redb")
}

impl StoreProvider for Embedded {
    fn open(&self, dir: &Path, cache_bytes: usize) -> Result<Arc<dyn RowStore>, StoreError> {
        let path = embedded_path(dir);
        let parent = path.parent().expect("embedded_path has a parent");
        crate::fsutil::create_private_dir(parent).map_err(|e| StoreError {
            path: parent.display().to_string(),
            what: e.to_string(),
            in_use: false,
        })?;
        Ok(Arc::new(PopulationStore::open(&path, cache_bytes)?))
    }

    fn set_aside(&self, dir: &Path) -> Result<String, StoreError> {
        let path = embedded_path(dir);
        let aside = path.with_extension("redb.set-aside");
        match std::fs::rename(&path, &aside) {
            Ok(()) => Ok(format!(
                "{} set aside as {}",
                path.display(),
                aside.display()
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(format!("{} was missing", path.display()))
            }
            Err(e) => Err(StoreError {
                path: path.display().to_string(),
                what: format!("setting it aside: {e}"),
                in_use: false,
            }),
        }
    }
}

/// The embedded population store (see the module documentation).
pub struct PopulationStore {
    db: Db,
    path: PathBuf,
}

enum Db {
    Writable(Database),
    ReadOnly(redb::ReadOnlyDatabase),
}

impl Db {
    fn begin_read(&self) -> Result<redb::ReadTransaction, redb::TransactionError> {
        match self {
            Db::Writable(d) => d.begin_read(),
            Db::ReadOnly(d) => d.begin_read(),
        }
    }
}

impl std::fmt::Debug for PopulationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PopulationStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl PopulationStore {
    /// Open (or create) the store at `path` with a page cache of `cache_bytes`. A store of
    /// another format version is an error (the engine sets it aside and rebuilds).
    pub fn open(path: &Path, cache_bytes: usize) -> Result<PopulationStore, StoreError> {
        let err = |e: &dyn std::fmt::Display| StoreError {
            path: path.display().to_string(),
            what: e.to_string(),
            in_use: false,
        };
        // Personal data: readable by the record's owner only (S2), like every file of the data
        // directory.
        let file = {
            let mut o = std::fs::OpenOptions::new();
            o.read(true).write(true).create(true).truncate(false);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            o.open(path).map_err(|e| err(&e))?
        };
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create_file(file)
            .map_err(|e| StoreError {
                in_use: matches!(e, redb::DatabaseError::DatabaseAlreadyOpen),
                ..err(&e)
            })?;
        let tx = db.begin_write().map_err(|e| err(&e))?;
        {
            let mut meta = tx.open_table(META).map_err(|e| err(&e))?;
            let version = meta
                .get("version")
                .map_err(|e| err(&e))?
                .map(|v| u64_of(v.value()));
            match version {
                None => {
                    meta.insert("version", STORE_VERSION.to_le_bytes().as_slice())
                        .map_err(|e| err(&e))?;
                }
                Some(Some(STORE_VERSION)) => {}
                Some(v) => {
                    return Err(err(&format!(
                        "format version {} (this library reads {STORE_VERSION})",
                        v.map_or("unreadable".to_string(), |v| v.to_string())
                    )));
                }
            }
            for t in [Table::People, Table::Guardians, Table::Cards] {
                tx.open_table(t.def()).map_err(|e| err(&e))?;
            }
        }
        tx.commit().map_err(|e| err(&e))?;
        Ok(PopulationStore {
            db: Db::Writable(db),
            path: path.to_path_buf(),
        })
    }

    /// Open an existing store for reading only (fails while an engine has it open): for
    /// checking it against the journal.
    pub fn open_read_only(path: &Path) -> Result<PopulationStore, StoreError> {
        let db = Database::builder()
            .set_cache_size(16 << 20)
            .open_read_only(path)
            .map_err(|e| StoreError {
                path: path.display().to_string(),
                what: e.to_string(),
                in_use: matches!(e, redb::DatabaseError::DatabaseAlreadyOpen),
            })?;
        Ok(PopulationStore {
            db: Db::ReadOnly(db),
            path: path.to_path_buf(),
        })
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            path: self.path.display().to_string(),
            what: e.to_string(),
            in_use: false,
        }
    }
}

impl RowStore for PopulationStore {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn tag(&self) -> Result<Option<(u64, Chain)>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let meta = tx.open_table(META).map_err(|e| self.err(e))?;
        let seq = meta.get("seq").map_err(|e| self.err(e))?;
        let chain = meta.get("chain").map_err(|e| self.err(e))?;
        match (seq, chain) {
            (Some(s), Some(c)) => {
                let seq = u64_of(s.value()).ok_or_else(|| self.err("meta seq is not 8 bytes"))?;
                let chain: Chain = c
                    .value()
                    .try_into()
                    .map_err(|_| self.err("meta chain is not 32 bytes"))?;
                Ok(Some((seq, chain)))
            }
            _ => Ok(None),
        }
    }

    fn get_bytes(&self, t: Table, key: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(t.def()).map_err(|e| self.err(e))?;
        Ok(table
            .get(key)
            .map_err(|e| self.err(e))?
            .map(|v| v.value().to_vec()))
    }

    fn scan(&self, t: Table, lo: u64, hi: u64, f: &mut RowVisitor<'_>) -> Result<(), StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(t.def()).map_err(|e| self.err(e))?;
        for item in table.range(lo..=hi).map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            f(k.value(), v.value())?;
        }
        Ok(())
    }

    fn view(&self) -> Result<Option<Box<dyn RowView>>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        Ok(Some(Box::new(RedbView {
            tx,
            path: self.path.clone(),
        })))
    }

    fn count(&self, t: Table) -> Result<u64, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(t.def()).map_err(|e| self.err(e))?;
        table.len().map_err(|e| self.err(e))
    }

    fn write(&self, batch: &Batch, seq: u64, chain: &Chain) -> Result<(), StoreError> {
        let Db::Writable(db) = &self.db else {
            return Err(self.err("opened for reading only"));
        };
        let tx = db.begin_write().map_err(|e| self.err(e))?;
        {
            // Key order within each table: the B-tree's pages are filled left to right.
            let rows = batch.rows_sorted();
            for t in [Table::People, Table::Guardians, Table::Cards] {
                let mut table = tx.open_table(t.def()).map_err(|e| self.err(e))?;
                for (_, k, v) in rows.iter().filter(|(rt, _, _)| *rt == t) {
                    table.insert(*k, *v).map_err(|e| self.err(e))?;
                }
            }
            let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
            meta.insert("seq", seq.to_le_bytes().as_slice())
                .map_err(|e| self.err(e))?;
            meta.insert("chain", chain.as_slice())
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }
}

fn u64_of(b: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(b.try_into().ok()?))
}
