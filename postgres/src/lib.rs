//! The record's population store and event log in PostgreSQL: the national deployment
//! (issue 19).
//!
//! [`Postgres`] is a [`StoreProvider`] for [`idcard::engine::EngineOptions::store`]. The engine
//! keeps its journal (the chain, the signed heads, the checkpoints) in its data directory as
//! always; below its state, people, guardians and cards live in PostgreSQL tables, and **every
//! command's journal records are appended to an `events` table, partitioned by province, in the
//! same transaction that updates those tables and the tag** (the sequence number and chain hash
//! they reflect) — before the command returns. So the database holds every acknowledged record
//! with its chain hash, and a streaming replica of it (PostgreSQL's own replication; see
//! `docs/DEPLOYMENT.md`) holds them too.
//!
//! One schema per record (`idcard` by default); an engine holds a session-level advisory lock
//! on it while open, so a second engine on the same schema is refused (`Locked`), as a second
//! engine on the same data directory is.
//!
//! What the database does not protect: its rows are not signed. An edit in the state tables is
//! found by `journal verify`-style comparison with a replay (the tag's chain hash must be the
//! journal's at that sequence, or the engine sets the schema aside and rebuilds it); an edit
//! in `events` is found by recomputing the chain (each row carries the chain hash after it).
//!
//! Connections: `postgres://` URLs or `host=… port=… user=…` strings, without TLS — over a Unix
//! socket or loopback. TLS to a remote server is not built yet.
//!
//! The client is PostgreSQL's blocking one (the `postgres` crate), which runs a small runtime of
//! its own: an engine on this store is used from threads or `tokio::task::spawn_blocking` (as
//! the server does), never from inside an async task, where tokio panics.
//!
//! ```no_run
//! use std::sync::Arc;
//! use idcard::engine::{Engine, EngineOptions};
//! use idcard_postgres::Postgres;
//!
//! let options = EngineOptions {
//!     store: Some(Arc::new(Postgres::new("host=/run/postgresql user=idcard", "idcard")?)),
//!     ..EngineOptions::default()
//! };
//! let (engine, report) = Engine::open("/var/lib/idcard", options)?;
//! # drop((engine, report));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use idcard::journal::Chain;
use idcard::store::{Batch, EventRow, RowStore, RowView, StoreError, StoreProvider, Table};
use postgres::{Client, NoTls, Statement};

/// The layout version of a schema (`meta.version`). A schema of another version is set aside
/// and rebuilt from the journal.
pub const SCHEMA_VERSION: i64 = 1;

/// The longest schema name: with `_aside_` and 13 digits it stays within PostgreSQL's 63.
const MAX_SCHEMA: usize = 40;

/// Rows per statement when writing (arrays bound as parameters).
const CHUNK: usize = 10_000;

/// Rows fetched per round trip when scanning (a server-side portal: bounded memory).
const FETCH: i32 = 10_000;

/// How long an engine waits for its schema's lock (held by another engine, or by the session
/// of one just killed that the server has not yet seen go).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Idle connections kept for reads.
const IDLE: usize = 8;

/// The 34 province-level divisions' two-digit numbers (GB/T 2260) and 0 (the ministry, the
/// system): one partition each of `events`, and a default partition for any other.
const PROVINCES: [u8; 35] = [
    0, 11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51,
    52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// Which schema a provider opens.
#[derive(Clone, Debug)]
enum Schema {
    /// This one, whatever the data directory.
    Fixed(String),
    /// `PREFIX_` and a digest of the data directory's path: one per record (tests).
    PerDirectory(String),
}

/// The PostgreSQL store provider: a server and a schema.
#[derive(Clone)]
pub struct Postgres {
    config: postgres::Config,
    shown: String,
    schema: Schema,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("server", &self.shown)
            .field("schema", &self.schema)
            .finish()
    }
}

fn error(name: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError {
        path: name.to_string(),
        what: what.to_string(),
        in_use: false,
    }
}

fn check_schema_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_SCHEMA
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name != "public"
        && !name.starts_with("pg_");
    if ok {
        Ok(())
    } else {
        Err(error(
            name,
            format!(
                "a schema name is 1 to {MAX_SCHEMA} characters of a-z, 0-9 and _, starting with a letter (not public, not pg_…)"
            ),
        ))
    }
}

impl Postgres {
    /// A provider for the server at `conn` (a `postgres://` URL or a `key=value` string) and
    /// the schema `schema` (created if missing).
    pub fn new(conn: &str, schema: &str) -> Result<Postgres, StoreError> {
        check_schema_name(schema)?;
        Ok(Postgres {
            config: parse(conn)?,
            shown: shown(conn),
            schema: Schema::Fixed(schema.to_string()),
        })
    }

    /// A provider that gives each data directory a schema of its own: `prefix_` and a digest
    /// of the directory's path (the test suites run every test's record in its own schema).
    pub fn per_directory(conn: &str, prefix: &str) -> Result<Postgres, StoreError> {
        check_schema_name(prefix)?;
        if prefix.len() + 17 > MAX_SCHEMA {
            return Err(error(
                prefix,
                format!("a prefix is at most {} characters", MAX_SCHEMA - 17),
            ));
        }
        Ok(Postgres {
            config: parse(conn)?,
            shown: shown(conn),
            schema: Schema::PerDirectory(prefix.to_string()),
        })
    }

    /// The schema of the record in `dir`.
    pub fn schema_for(&self, dir: &Path) -> String {
        match &self.schema {
            Schema::Fixed(s) => s.clone(),
            Schema::PerDirectory(prefix) => {
                let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
                let digest = blake3::hash(dir.as_os_str().as_encoded_bytes());
                format!("{prefix}_{}", &digest.to_hex()[..16])
            }
        }
    }

    /// Open the store in `schema` (created with its tables when missing).
    pub fn open_schema(&self, schema: &str) -> Result<PgStore, StoreError> {
        check_schema_name(schema)?;
        let name = format!("postgresql {} schema {schema}", self.shown);
        let mut lock = connect(&self.config, &name)?;
        // One engine per schema: a session-level advisory lock, held while the store is open.
        // The session of an engine that was just killed ends when the server sees its socket
        // close — a moment later: wait for the lock a little before calling it taken.
        let key = lock_key(schema);
        lock.batch_execute(&format!("SET lock_timeout = '{}ms'", LOCK_WAIT.as_millis()))
            .map_err(|e| error(&name, e))?;
        match lock.execute("SELECT pg_advisory_lock($1)", &[&key]) {
            Ok(_) => {}
            Err(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                return Err(StoreError {
                    in_use: true,
                    ..error(
                        &name,
                        format!(
                            "another engine has this schema open (waited {} s)",
                            LOCK_WAIT.as_secs()
                        ),
                    )
                });
            }
            Err(e) => return Err(error(&name, e)),
        }
        lock.batch_execute("SET lock_timeout = 0")
            .map_err(|e| error(&name, e))?;
        let lock_pid: i32 = lock
            .query_one("SELECT pg_backend_pid()", &[])
            .map_err(|e| error(&name, e))?
            .get(0);
        create(&mut lock, &quoted(schema))
            .map_err(|e| error(&name, format!("creating the schema: {e}")))?;
        let version: Option<Vec<u8>> = lock
            .query_opt(
                &format!("SELECT v FROM {}.meta WHERE k = 'version'", quoted(schema)),
                &[],
            )
            .map_err(|e| error(&name, e))?
            .map(|r| r.get(0));
        match version {
            None => {
                lock.execute(
                    &format!(
                        "INSERT INTO {}.meta (k, v) VALUES ('version', $1)",
                        quoted(schema)
                    ),
                    &[&SCHEMA_VERSION.to_le_bytes().to_vec()],
                )
                .map_err(|e| error(&name, e))?;
            }
            Some(v) if v == SCHEMA_VERSION.to_le_bytes() => {}
            Some(v) => {
                return Err(error(
                    &name,
                    format!(
                        "layout version {} (this library reads {SCHEMA_VERSION})",
                        <[u8; 8]>::try_from(v.as_slice())
                            .map_or("unreadable".to_string(), |b| i64::from_le_bytes(b)
                                .to_string())
                    ),
                ));
            }
        }
        Ok(PgStore {
            name,
            schema: schema.to_string(),
            config: self.config.clone(),
            idle: Mutex::new(Vec::new()),
            lock_pid,
            _lock: Mutex::new(lock),
        })
    }

    /// Set `schema` aside: renamed `schema_aside_N` (N: milliseconds since 1970), kept for
    /// inspection. Says what was done.
    pub fn set_aside_schema(&self, schema: &str) -> Result<String, StoreError> {
        check_schema_name(schema)?;
        let name = format!("postgresql {} schema {schema}", self.shown);
        let mut c = connect(&self.config, &name)?;
        let exists = c
            .query_opt(
                "SELECT 1 FROM pg_namespace WHERE nspname = $1",
                &[&schema.to_string()],
            )
            .map_err(|e| error(&name, e))?
            .is_some();
        if !exists {
            return Ok(format!("{name} was missing"));
        }
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let aside = format!("{schema}_aside_{ms}");
        c.batch_execute(&format!(
            "ALTER SCHEMA {} RENAME TO {}",
            quoted(schema),
            quoted(&aside)
        ))
        .map_err(|e| error(&name, format!("setting it aside: {e}")))?;
        Ok(format!("{name} set aside as schema {aside}"))
    }

    /// Drop `schema` and everything in it (the test suites' cleanup).
    pub fn drop_schema(&self, schema: &str) -> Result<(), StoreError> {
        check_schema_name(schema)?;
        let name = format!("postgresql {} schema {schema}", self.shown);
        let mut c = connect(&self.config, &name)?;
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", quoted(schema)))
            .map_err(|e| error(&name, e))
    }
}

impl StoreProvider for Postgres {
    fn open(&self, dir: &Path, _cache_bytes: usize) -> Result<Arc<dyn RowStore>, StoreError> {
        Ok(Arc::new(self.open_schema(&self.schema_for(dir))?))
    }

    fn set_aside(&self, dir: &Path) -> Result<String, StoreError> {
        self.set_aside_schema(&self.schema_for(dir))
    }

    fn set_aside_unreadable(&self) -> bool {
        false
    }
}

fn parse(conn: &str) -> Result<postgres::Config, StoreError> {
    postgres::Config::from_str(conn).map_err(|e| error(&shown(conn), format!("connection: {e}")))
}

/// The connection string without its password, for messages.
fn shown(conn: &str) -> String {
    match postgres::Config::from_str(conn) {
        Ok(c) => {
            let hosts: Vec<String> = c
                .get_hosts()
                .iter()
                .map(|h| match h {
                    postgres::config::Host::Tcp(h) => h.clone(),
                    #[cfg(unix)]
                    postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .collect();
            format!(
                "{}@{}:{}/{}",
                c.get_user().unwrap_or("-"),
                hosts.join(","),
                c.get_ports()
                    .first()
                    .map_or("5432".to_string(), |p| p.to_string()),
                c.get_dbname().unwrap_or("-")
            )
        }
        Err(_) => "(unparsable connection string)".to_string(),
    }
}

/// A new session to the server; `name` says which store for the error.
/// Rows of `table` with keys in `lo..=hi`, in key order, through a portal on a connection of
/// their own in a read-only repeatable-read transaction: one snapshot, the exported `snapshot`
/// when given ([`RowStore::view`]).
fn scan_portal(
    config: &postgres::Config,
    name: &str,
    table: &str,
    lo: u64,
    hi: u64,
    snapshot: Option<&str>,
    f: &mut idcard::store::RowVisitor<'_>,
) -> Result<(), StoreError> {
    let err = |e: postgres::Error| error(name, e);
    let mut client = connect(config, name)?;
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(err)?;
    if let Some(id) = snapshot {
        // The id comes from pg_export_snapshot (hex digits and dashes); checked all the same.
        if !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(error(name, format!("snapshot id {id:?}")));
        }
        tx.batch_execute(&format!("SET TRANSACTION SNAPSHOT '{id}'"))
            .map_err(err)?;
    }
    let sql = format!("SELECT k, v FROM {table} WHERE k BETWEEN $1 AND $2 ORDER BY k");
    let portal = tx
        .bind(&sql, &[&to_sql_key(lo), &to_sql_key(hi)])
        .map_err(err)?;
    loop {
        let rows = tx.query_portal(&portal, FETCH).map_err(err)?;
        let n = rows.len();
        for r in rows {
            let k: i64 = r.get(0);
            let v: &[u8] = r.get(1);
            f(from_sql_key(k), v)?;
        }
        if n < FETCH as usize {
            break;
        }
    }
    tx.commit().map_err(err)
}

/// A PostgreSQL store's view ([`RowStore::view`]): an exported snapshot, kept alive by the
/// transaction that exported it.
struct PgView {
    name: String,
    schema: String,
    config: postgres::Config,
    _exporter: Client,
    snapshot: String,
}

impl RowView for PgView {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn scan(
        &self,
        t: Table,
        lo: u64,
        hi: u64,
        f: &mut idcard::store::RowVisitor<'_>,
    ) -> Result<(), StoreError> {
        let table = table_of(&self.schema, t);
        scan_portal(
            &self.config,
            &self.name,
            &table,
            lo,
            hi,
            Some(&self.snapshot),
            f,
        )
    }
}

fn connect(config: &postgres::Config, name: &str) -> Result<Client, StoreError> {
    config
        .connect(NoTls)
        .map_err(|e| error(name, format!("connecting: {e}")))
}

/// A table of `schema`, qualified and quoted.
fn table_of(schema: &str, t: Table) -> String {
    format!("{}.{}", quoted(schema), t.name())
}

/// A schema name quoted as an identifier (names are checked first: no quote inside).
fn quoted(schema: &str) -> String {
    format!("\"{schema}\"")
}

/// The advisory lock key an engine holds on `schema` while open (`pg_locks`: `classid` its high
/// 32 bits, `objid` its low 32 bits, `objsubid` 1).
pub fn lock_key(schema: &str) -> i64 {
    let d = blake3::hash(format!("idcard-postgres lock {schema}").as_bytes());
    i64::from_le_bytes(d.as_bytes()[..8].try_into().expect("8 bytes"))
}

fn create(c: &mut Client, s: &str) -> Result<(), postgres::Error> {
    let exists: bool = c
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("{s}.events")],
        )?
        .get(0);
    if exists {
        return Ok(());
    }
    let mut sql = format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.meta (k text PRIMARY KEY, v bytea NOT NULL);
         CREATE TABLE IF NOT EXISTS {s}.people (k bigint PRIMARY KEY, v bytea NOT NULL);
         CREATE TABLE IF NOT EXISTS {s}.guardians (k bigint PRIMARY KEY, v bytea NOT NULL);
         CREATE TABLE IF NOT EXISTS {s}.cards (k bigint PRIMARY KEY, v bytea NOT NULL);
         CREATE TABLE IF NOT EXISTS {s}.events (
             province smallint NOT NULL,
             seq bigint NOT NULL,
             chain bytea NOT NULL,
             payload bytea NOT NULL,
             PRIMARY KEY (province, seq)
         ) PARTITION BY LIST (province);
         CREATE TABLE IF NOT EXISTS {s}.events_other PARTITION OF {s}.events DEFAULT;
        "
    );
    for p in PROVINCES {
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {s}.events_{p:02} PARTITION OF {s}.events FOR VALUES IN ({p});\n"
        ));
    }
    // Concurrent creators of the same schema (two tests at once) serialise here.
    let mut tx = c.transaction()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&lock_key("(creating schemas)")],
    )?;
    tx.batch_execute(&sql)?;
    tx.commit()
}

/// Keys are unsigned; PostgreSQL's `bigint` is signed. Flipping the top bit keeps the order.
fn to_sql_key(k: u64) -> i64 {
    (k ^ (1 << 63)) as i64
}

fn from_sql_key(k: i64) -> u64 {
    (k as u64) ^ (1 << 63)
}

/// The store in one schema (see the crate documentation).
pub struct PgStore {
    name: String,
    schema: String,
    config: postgres::Config,
    idle: Mutex<Vec<Conn>>,
    /// The session holding the schema's advisory lock.
    _lock: Mutex<Client>,
    /// That session's backend: every write checks it still holds the lock.
    lock_pid: i32,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A connection and its prepared statements.
struct Conn {
    client: Client,
    statements: std::collections::HashMap<String, Statement>,
}

impl Conn {
    fn statement(&mut self, sql: String) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(&sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(&sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }
}

impl PgStore {
    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        error(&self.name, e)
    }

    /// The schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Run `f` on an idle connection (or a new one), returned to the idle ones afterwards
    /// unless it broke.
    fn with_conn<R>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let taken = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match taken {
            Some(c) => c,
            None => Conn {
                client: connect(&self.config, &self.name)?,
                statements: std::collections::HashMap::new(),
            },
        };
        let out = f(&mut conn);
        if !conn.client.is_closed() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < IDLE {
                idle.push(conn);
            }
        }
        out
    }

    fn table(&self, t: Table) -> String {
        table_of(&self.schema, t)
    }

    /// The bytes the schema's tables and their indexes take in the database.
    pub fn bytes(&self) -> Result<u64, StoreError> {
        self.with_conn(|c| {
            let n: Option<i64> = c
                .client
                .query_one(
                    "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1 AND c.relkind = 'r'",
                    &[&self.schema],
                )
                .map_err(|e| self.err(e))?
                .get(0);
            Ok(n.unwrap_or(0) as u64)
        })
    }

    /// How many journal records each province's partition holds: `(province, count)`.
    pub fn events_by_province(&self) -> Result<Vec<(u8, u64)>, StoreError> {
        self.with_conn(|c| {
            let rows = c
                .client
                .query(
                    &format!(
                        "SELECT province, count(*) FROM {}.events GROUP BY province ORDER BY province",
                        quoted(&self.schema)
                    ),
                    &[],
                )
                .map_err(|e| self.err(e))?;
            Ok(rows
                .into_iter()
                .map(|r| (r.get::<_, i16>(0) as u8, r.get::<_, i64>(1) as u64))
                .collect())
        })
    }
}

impl RowStore for PgStore {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn tag(&self) -> Result<Option<(u64, Chain)>, StoreError> {
        self.with_conn(|c| {
            let sql = format!(
                "SELECT k, v FROM {}.meta WHERE k IN ('seq', 'chain')",
                quoted(&self.schema)
            );
            let rows = c.client.query(&sql, &[]).map_err(|e| self.err(e))?;
            let (mut seq, mut chain) = (None, None);
            for r in rows {
                let k: String = r.get(0);
                let v: Vec<u8> = r.get(1);
                match k.as_str() {
                    "seq" => {
                        seq = Some(u64::from_le_bytes(
                            v.try_into()
                                .map_err(|_| self.err("meta seq is not 8 bytes"))?,
                        ))
                    }
                    _ => {
                        chain = Some(
                            Chain::try_from(v.as_slice())
                                .map_err(|_| self.err("meta chain is not 32 bytes"))?,
                        )
                    }
                }
            }
            Ok(seq.zip(chain))
        })
    }

    fn get_bytes(&self, t: Table, key: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_conn(|c| {
            let st = c
                .statement(format!("SELECT v FROM {} WHERE k = $1", self.table(t)))
                .map_err(|e| self.err(e))?;
            Ok(c.client
                .query_opt(&st, &[&to_sql_key(key)])
                .map_err(|e| self.err(e))?
                .map(|r| r.get(0)))
        })
    }

    fn scan(
        &self,
        t: Table,
        lo: u64,
        hi: u64,
        f: &mut idcard::store::RowVisitor<'_>,
    ) -> Result<(), StoreError> {
        // Most scans are small (a person's cards): one statement on a pooled connection,
        // returned before `f` runs (it may read the store).
        let first = self.with_conn(|c| {
            let st = c
                .statement(format!(
                    "SELECT k, v FROM {} WHERE k BETWEEN $1 AND $2 ORDER BY k LIMIT {}",
                    self.table(t),
                    FETCH + 1
                ))
                .map_err(|e| self.err(e))?;
            c.client
                .query(&st, &[&to_sql_key(lo), &to_sql_key(hi)])
                .map_err(|e| self.err(e))
        })?;
        if first.len() <= FETCH as usize {
            for r in first {
                let k: i64 = r.get(0);
                f(from_sql_key(k), r.get(1))?;
            }
            return Ok(());
        }
        drop(first);
        // A large one: its own connection (f may read the store), one snapshot (repeatable
        // read), fetched a page at a time through a portal.
        scan_portal(&self.config, &self.name, &self.table(t), lo, hi, None, f)
    }

    fn view(&self) -> Result<Option<Box<dyn RowView>>, StoreError> {
        // A transaction whose snapshot is exported: it sees every write committed so far (the
        // engine writes under the lock this is called under) and none after. It stays open,
        // idle, while the view lives; each scan imports the snapshot on a connection of its own.
        let mut exporter = connect(&self.config, &self.name)?;
        exporter
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(|e| self.err(e))?;
        let snapshot: String = exporter
            .query_one("SELECT pg_export_snapshot()", &[])
            .map_err(|e| self.err(e))?
            .get(0);
        Ok(Some(Box::new(PgView {
            name: self.name.clone(),
            schema: self.schema.clone(),
            config: self.config.clone(),
            _exporter: exporter,
            snapshot,
        })))
    }

    fn count(&self, t: Table) -> Result<u64, StoreError> {
        self.with_conn(|c| {
            let n: i64 = c
                .client
                .query_one(&format!("SELECT count(*) FROM {}", self.table(t)), &[])
                .map_err(|e| self.err(e))?
                .get(0);
            Ok(n as u64)
        })
    }

    fn write(&self, batch: &Batch, seq: u64, chain: &Chain) -> Result<(), StoreError> {
        self.with_conn(|c| {
            let rows = batch.rows_sorted();
            let upserts: Vec<(Table, Statement)> = [Table::People, Table::Guardians, Table::Cards]
                .into_iter()
                .map(|t| {
                    c.statement(format!(
                        "INSERT INTO {} (k, v) SELECT * FROM unnest($1::bigint[], $2::bytea[]) \
                         ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                        self.table(t)
                    ))
                    .map(|s| (t, s))
                })
                .collect::<Result<_, _>>()
                .map_err(|e| self.err(e))?;
            let append = c
                .statement(format!(
                    "INSERT INTO {}.events (province, seq, chain, payload) \
                     SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[], $4::bytea[])",
                    quoted(&self.schema)
                ))
                .map_err(|e| self.err(e))?;
            let tag = c
                .statement(format!(
                    "INSERT INTO {}.meta (k, v) VALUES ('seq', $1), ('chain', $2) \
                     ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                    quoted(&self.schema)
                ))
                .map_err(|e| self.err(e))?;
            let holds = c
                .statement(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
                     AND pid = $1 AND classid::bigint = $2 AND objid::bigint = $3"
                        .to_string(),
                )
                .map_err(|e| self.err(e))?;
            let guard = c
                .statement(format!(
                    "SELECT v FROM {}.meta WHERE k = 'seq' FOR UPDATE",
                    quoted(&self.schema)
                ))
                .map_err(|e| self.err(e))?;
            let mut tx = c.client.transaction().map_err(|e| self.err(e))?;
            // Still this engine's schema: the session holding its lock is alive and holds it
            // (if it dropped, another engine may have taken the schema since).
            let key = lock_key(&self.schema);
            let held: i64 = tx
                .query_one(
                    &holds,
                    &[
                        &self.lock_pid,
                        &((key as u64 >> 32) as i64),
                        &((key as u64 & 0xffff_ffff) as i64),
                    ],
                )
                .map_err(|e| self.err(e))?
                .get(0);
            if held == 0 {
                return Err(self.err(
                    "this engine no longer holds the schema's lock (its session ended): reopen",
                ));
            }
            // Never backwards: a store tagged beyond `seq` was written by another engine.
            let mut at = 0;
            if let Some(r) = tx.query_opt(&guard, &[]).map_err(|e| self.err(e))? {
                let v: Vec<u8> = r.get(0);
                at = u64::from_le_bytes(
                    v.try_into()
                        .map_err(|_| self.err("meta seq is not 8 bytes"))?,
                );
                if at > seq {
                    return Err(self.err(format!(
                        "the store reflects record {at}, beyond {seq} being written"
                    )));
                }
            }
            // Records it already has: an earlier write whose commit was reported failed (the
            // connection lost after COMMIT was sent) had committed them. The rows are upserts.
            let events: Vec<&EventRow> = batch.events().iter().filter(|e| e.seq > at).collect();
            for (t, st) in &upserts {
                let of_t: Vec<&(Table, u64, &[u8])> =
                    rows.iter().filter(|(rt, _, _)| rt == t).collect();
                if of_t.is_empty() {
                    continue;
                }
                for chunk in of_t.chunks(CHUNK) {
                    let keys: Vec<i64> = chunk.iter().map(|(_, k, _)| to_sql_key(*k)).collect();
                    let values: Vec<&[u8]> = chunk.iter().map(|(_, _, v)| *v).collect();
                    tx.execute(st, &[&keys, &values]).map_err(|e| self.err(e))?;
                }
            }
            for chunk in events.chunks(CHUNK) {
                let provinces: Vec<i16> = chunk.iter().map(|e| i16::from(e.province)).collect();
                let seqs: Vec<i64> = chunk.iter().map(|e| e.seq as i64).collect();
                let chains: Vec<&[u8]> = chunk.iter().map(|e| e.chain.as_slice()).collect();
                let payloads: Vec<&[u8]> = chunk.iter().map(|e| e.payload.as_slice()).collect();
                tx.execute(&append, &[&provinces, &seqs, &chains, &payloads])
                    .map_err(|e| self.err(e))?;
            }
            tx.execute(&tag, &[&seq.to_le_bytes().as_slice(), &chain.as_slice()])
                .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))
        })
    }

    fn wants_events(&self) -> bool {
        true
    }

    fn scan_events(
        &self,
        f: &mut dyn FnMut(&EventRow) -> Result<(), StoreError>,
    ) -> Result<bool, StoreError> {
        let mut client = connect(&self.config, &self.name)?;
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| self.err(e))?;
        let sql = format!(
            "SELECT seq, province, chain, payload FROM {}.events ORDER BY seq",
            quoted(&self.schema)
        );
        let portal = tx.bind(&sql, &[]).map_err(|e| self.err(e))?;
        loop {
            let rows = tx.query_portal(&portal, FETCH).map_err(|e| self.err(e))?;
            let n = rows.len();
            for r in rows {
                let seq: i64 = r.get(0);
                let province: i16 = r.get(1);
                let chain: &[u8] = r.get(2);
                let row = EventRow {
                    seq: seq as u64,
                    province: province as u8,
                    chain: chain
                        .try_into()
                        .map_err(|_| self.err(format!("event {seq}: chain is not 32 bytes")))?,
                    payload: r.get(3),
                };
                f(&row)?;
            }
            if n < FETCH as usize {
                break;
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_order_in_signed_columns() {
        let keys = [
            0u64,
            1,
            1 << 62,
            (1 << 63) - 1,
            1 << 63,
            u64::MAX - 1,
            u64::MAX,
        ];
        for w in keys.windows(2) {
            assert!(to_sql_key(w[0]) < to_sql_key(w[1]), "{w:?}");
            assert_eq!(from_sql_key(to_sql_key(w[0])), w[0]);
        }
    }

    #[test]
    fn schema_names_are_checked_before_they_reach_sql() {
        for bad in ["", "1abc", "a-b", "A", "x; DROP TABLE y", "a\"b"] {
            assert!(Postgres::new("host=/tmp", bad).is_err(), "{bad:?}");
        }
        assert!(Postgres::new("host=/tmp", "idcard_2").is_ok());
        for bad in ["public", "pg_catalog", &"a".repeat(41)] {
            assert!(Postgres::new("host=/tmp", bad).is_err(), "{bad:?}");
        }
        assert!(Postgres::per_directory("host=/tmp", &"a".repeat(24)).is_err());
        assert!(Postgres::per_directory("host=/tmp", &"a".repeat(23)).is_ok());
    }

    #[test]
    fn a_bad_connection_string_is_a_typed_error() {
        let e = Postgres::new("port=notaport", "idcard").unwrap_err();
        assert!(e.what.contains("connection"), "{e}");
    }
}
