//! Continuous publication: signed deltas every few hundred milliseconds, signed snapshots when
//! a chain grows long, signed timestamps that keep verifiers fresh, handed to every
//! [`Channel`] (the server's own HTTP feed, [`HttpFeed`]; NATS JetStream with `--nats`).
//!
//! The files are the index's (docs/FORMAT.md §4-5a), written under the feed directory, one
//! folder per profile:
//!
//! ```text
//! feed/bank/<snapshot id, 16 hex>.idcs                   the chain's snapshot
//! feed/bank/<snapshot id>-<from, 12 digits>-<to>.idcd    a delta, journal (from, to]
//! feed/bank/<snapshot id>.idct                           the newest timestamp
//! ```
//!
//! A publication is recorded in the journal (`Published`), so the server resumes the newest
//! chain after a restart and its subscribers go on without a new snapshot.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use idcard::engine::Engine;
use idcard::index::{Profile, Snapshot};
use idcard::station::Actor;
use idcard::workflow::publish::{self, PublishOptions};
use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;

/// What a file on the feed is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A full snapshot (`.idcs`).
    Snapshot,
    /// A delta (`.idcd`).
    Delta,
    /// A signed timestamp (`.idct`).
    Timestamp,
}

/// A file published on the feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedFile {
    /// Snapshot, delta or timestamp.
    pub kind: FileKind,
    /// The profile (`bank`, `police`).
    pub profile: String,
    /// The file's name (fetch it at `/v1/feed/{profile}/files/{name}`).
    pub name: String,
    /// The chain's snapshot, 16 hex digits.
    pub snapshot_id: String,
    /// Journal sequence the file starts after (deltas; the snapshot's own for the others).
    pub from: u64,
    /// Journal sequence the file reaches.
    pub to: u64,
    /// Size in bytes.
    pub bytes: u64,
}

impl FeedFile {
    fn of(
        kind: FileKind,
        profile: Profile,
        name: String,
        snapshot_id: u64,
        (from, to): (u64, u64),
        bytes: u64,
    ) -> FeedFile {
        FeedFile {
            kind,
            profile: profile.as_str().into(),
            name,
            snapshot_id: format!("{snapshot_id:016x}"),
            from,
            to,
            bytes,
        }
    }
}

/// One profile's chain as the feed lists it: the snapshot, the deltas after `after`, the newest
/// timestamp.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Listing {
    /// The chain's snapshot.
    pub snapshot: FeedFile,
    /// Deltas ending after the sequence asked for, in order.
    pub deltas: Vec<FeedFile>,
    /// The newest signed timestamp, if one was published.
    pub timestamp: Option<FeedFile>,
    /// The newest sequence on the feed.
    pub seq: u64,
}

/// Where published files go: the server's HTTP feed, NATS JetStream, or a deployment's own
/// engine. Called from the publisher's thread, in publication order, after the file is
/// complete on disk; an error is counted and the file offered again at the next tick.
pub trait Channel: Send + Sync {
    /// A name for logs.
    fn name(&self) -> &'static str;
    /// Offer a file (its bytes are at `path`).
    fn publish(&self, file: &FeedFile, path: &Path) -> anyhow::Result<()>;
}

#[derive(Clone, Default)]
struct Chain {
    snapshot: Option<FeedFile>,
    deltas: Vec<FeedFile>,
    timestamp: Option<FeedFile>,
}

/// The server's own feed: the chains in memory, the files on disk, and a notification that
/// wakes long-polling subscribers as soon as a delta is published.
pub struct HttpFeed {
    dir: PathBuf,
    chains: RwLock<HashMap<String, Chain>>,
    changed: tokio::sync::watch::Sender<u64>,
}

impl HttpFeed {
    /// A feed over the files in `dir`.
    pub fn new(dir: &Path) -> HttpFeed {
        HttpFeed {
            dir: dir.to_path_buf(),
            chains: RwLock::new(HashMap::new()),
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    /// The chain of `profile`, with the deltas that end after `after`.
    pub fn listing(&self, profile: &str, after: u64) -> Option<Listing> {
        let chains = self.chains.read().unwrap_or_else(|p| p.into_inner());
        let c = chains.get(profile)?;
        let snapshot = c.snapshot.clone()?;
        let seq = c.deltas.last().map_or(snapshot.to, |d| d.to);
        Some(Listing {
            deltas: c.deltas.iter().filter(|d| d.to > after).cloned().collect(),
            snapshot,
            timestamp: c.timestamp.clone(),
            seq,
        })
    }

    /// Wait until the feed changes or `timeout` passes.
    pub async fn wait(&self, profile: &str, after: u64, timeout: Duration) {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.listing(profile, after).is_some_and(|l| l.seq > after) {
                return;
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return;
            }
        }
    }

    /// The path of a file of the feed, when `name` is one the feed lists.
    pub fn file(&self, profile: &str, name: &str) -> Option<PathBuf> {
        let chains = self.chains.read().unwrap_or_else(|p| p.into_inner());
        let c = chains.get(profile)?;
        let listed = c.snapshot.iter().any(|f| f.name == name)
            || c.timestamp.iter().any(|f| f.name == name)
            || c.deltas.iter().any(|f| f.name == name);
        listed.then(|| self.dir.join(profile).join(name))
    }
}

impl Channel for HttpFeed {
    fn name(&self) -> &'static str {
        "http"
    }

    fn publish(&self, file: &FeedFile, _: &Path) -> anyhow::Result<()> {
        {
            let mut chains = self.chains.write().unwrap_or_else(|p| p.into_inner());
            let c = chains.entry(file.profile.clone()).or_default();
            match file.kind {
                FileKind::Snapshot => {
                    *c = Chain {
                        snapshot: Some(file.clone()),
                        ..Chain::default()
                    }
                }
                FileKind::Delta => c.deltas.push(file.clone()),
                FileKind::Timestamp => c.timestamp = Some(file.clone()),
            }
        }
        self.changed.send_modify(|n| *n += 1);
        Ok(())
    }
}

/// How the publisher works.
#[derive(Clone)]
pub struct PublisherOptions {
    /// The feed directory (one folder per profile).
    pub dir: PathBuf,
    /// The profiles published.
    pub profiles: Vec<Profile>,
    /// Signing key (the platform's publishing key).
    pub publish: PublishOptions,
    /// Who publishes: an officer of the ministry (publishing is the national platform's work,
    /// S1), with their key.
    pub actor: Actor,
    /// How often to look for new records.
    pub interval: Duration,
    /// How often to publish a timestamp.
    pub timestamp_every: Duration,
    /// Publish a new snapshot once a chain carries this many changes.
    pub snapshot_after: u64,
}

struct ProfileChain {
    profile: Profile,
    snapshot: PathBuf,
    snapshot_id: u64,
    seq: u64,
    changes: u64,
}

/// Publishes continuously until stopped.
pub struct Publisher {
    engine: Arc<Engine>,
    options: PublisherOptions,
    channels: Vec<Arc<dyn Channel>>,
    metrics: Arc<Metrics>,
    chains: Vec<ProfileChain>,
    checked: u64,
    dirty_since: Option<i64>,
    last_timestamp: Option<Instant>,
    /// Per channel, the files it failed to take, in order: offered again, before anything
    /// newer, at every tick (a NATS restart delays its subscribers, never leaves a gap).
    backlog: Vec<std::sync::Mutex<std::collections::VecDeque<(FeedFile, PathBuf)>>>,
}

fn file_name_of_delta(snapshot_id: u64, from: u64, to: u64) -> String {
    format!("{snapshot_id:016x}-{from:012}-{to:012}.idcd")
}

fn parse_delta_name(name: &str) -> Option<(u64, u64, u64)> {
    let stem = name.strip_suffix(".idcd")?;
    let mut it = stem.split('-');
    let id = u64::from_str_radix(it.next()?, 16).ok()?;
    let from = it.next()?.parse().ok()?;
    let to = it.next()?.parse().ok()?;
    it.next().is_none().then_some((id, from, to))
}

/// A delta whose publication was recorded (the chain reaches `next`) but whose file was not yet
/// renamed when the server stopped: finish the rename, so the chain has no hole; one not recorded
/// (it reaches past `next`) goes. The header's snapshot id, from and to are at bytes 16, 24 and
/// 32 (docs/FORMAT.md §5).
fn finish_pending_delta(dir: &Path, snapshot_id: u64, next: u64) -> anyhow::Result<()> {
    let pending = dir.join(".pending.idcd");
    let Ok(bytes) = std::fs::read(&pending) else {
        return Ok(());
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    match (u64_at(16), u64_at(24), u64_at(32)) {
        (Some(id), Some(from), Some(to)) if id == snapshot_id && to <= next => {
            std::fs::rename(&pending, dir.join(file_name_of_delta(id, from, to)))?;
        }
        _ => std::fs::remove_file(&pending)?,
    }
    Ok(())
}

fn len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

impl Publisher {
    /// A publisher over `engine`, offering every file to `channels`.
    pub fn new(
        engine: Arc<Engine>,
        options: PublisherOptions,
        channels: Vec<Arc<dyn Channel>>,
        metrics: Arc<Metrics>,
    ) -> Publisher {
        Publisher {
            engine,
            options,
            backlog: channels.iter().map(|_| Default::default()).collect(),
            channels,
            metrics,
            chains: Vec::new(),
            checked: 0,
            dirty_since: None,
            last_timestamp: None,
        }
    }

    fn offer(&self, file: &FeedFile, path: &Path) {
        for (i, c) in self.channels.iter().enumerate() {
            let mut backlog = self.backlog[i].lock().unwrap_or_else(|p| p.into_inner());
            backlog.push_back((file.clone(), path.to_path_buf()));
            self.drain(c.as_ref(), &mut backlog);
        }
    }

    /// Offer a channel its backlog in order, up to the first failure.
    fn drain(
        &self,
        c: &dyn Channel,
        backlog: &mut std::collections::VecDeque<(FeedFile, PathBuf)>,
    ) {
        while let Some((file, path)) = backlog.front() {
            if !path.exists() {
                // A file of an older chain, pruned since: the new snapshot supersedes it.
                backlog.pop_front();
                continue;
            }
            match c.publish(file, path) {
                Ok(()) => {
                    backlog.pop_front();
                }
                Err(e) => {
                    self.metrics.publish_errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "idcard serve: {} channel: {} {}: {e:#} ({} files waiting)",
                        c.name(),
                        file.profile,
                        file.name,
                        backlog.len()
                    );
                    return;
                }
            }
        }
    }

    fn retry(&self) {
        for (i, c) in self.channels.iter().enumerate() {
            let mut backlog = self.backlog[i].lock().unwrap_or_else(|p| p.into_inner());
            if !backlog.is_empty() {
                self.drain(c.as_ref(), &mut backlog);
            }
        }
    }

    /// Resume each profile's newest chain from the feed directory, or publish a snapshot.
    pub fn start(&mut self) -> anyhow::Result<()> {
        self.checked = self.engine.last_seq();
        for profile in self.options.profiles.clone() {
            let dir = self.options.dir.join(profile.as_str());
            idcard::fsutil::create_private_dir(&dir)
                .with_context(|| format!("creating {}", dir.display()))?;
            match self.resume(profile, &dir)? {
                Some(chain) => self.chains.push(chain),
                None => {
                    let chain = self.new_snapshot(profile)?;
                    self.chains.push(chain);
                }
            }
        }
        // Anything recorded after a resumed chain's end (commands acknowledged just before a
        // crash) is published now, before the server listens: the feed is current from its
        // first answer (a subscriber syncing once right after a restart misses nothing).
        if self.chains.iter().any(|c| c.seq < self.engine.last_seq()) {
            self.checked = self.chains.iter().map(|c| c.seq).min().unwrap_or(0);
        }
        self.tick()
    }

    fn resume(&self, profile: Profile, dir: &Path) -> anyhow::Result<Option<ProfileChain>> {
        self.finish_pending_snapshot(dir)?;
        let mut best: Option<(u64, u64, PathBuf)> = None;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().and_then(|x| x.to_str()) != Some("idcs") {
                continue;
            }
            let Ok(info) = Snapshot::read_info(&path) else {
                continue;
            };
            let next = self.engine.with_state(|s| {
                s.publications
                    .get(&info.snapshot_id)
                    .filter(|p| p.profile == profile && p.subscriber.is_none())
                    .map(|p| p.next_from())
            });
            if let Some(next) = next
                && best.as_ref().is_none_or(|b| info.journal_seq > b.0)
            {
                best = Some((info.journal_seq, next, path));
            }
        }
        let Some((_, next, path)) = best else {
            return Ok(None);
        };
        let info = Snapshot::read_info(&path)?;
        let id = info.snapshot_id;
        finish_pending_delta(dir, id, next)?;
        let snapshot = FeedFile::of(
            FileKind::Snapshot,
            profile,
            format!("{id:016x}.idcs"),
            id,
            (info.journal_seq, info.journal_seq),
            len(&path),
        );
        self.offer(&snapshot, &path);
        let mut deltas = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if let Some((sid, from, to)) = parse_delta_name(&name)
                && sid == id
                && to <= next
            {
                deltas.push((from, to, name));
            }
        }
        deltas.sort();
        let mut changes = 0;
        for (from, to, name) in deltas {
            let p = dir.join(&name);
            let f = FeedFile::of(FileKind::Delta, profile, name, id, (from, to), len(&p));
            changes += f.bytes / 16;
            self.offer(&f, &p);
        }
        Ok(Some(ProfileChain {
            profile,
            snapshot: path,
            snapshot_id: id,
            seq: next,
            changes,
        }))
    }

    /// A snapshot whose publication was recorded but whose file was not yet renamed when the
    /// server stopped (killed): finish the rename; one not recorded goes.
    fn finish_pending_snapshot(&self, dir: &Path) -> anyhow::Result<()> {
        let pending = dir.join(".pending.idcs");
        if !pending.exists() {
            return Ok(());
        }
        let recorded = Snapshot::read_info(&pending).ok().filter(|info| {
            self.engine
                .with_state(|s| s.publications.contains_key(&info.snapshot_id))
        });
        match recorded {
            Some(info) => std::fs::rename(
                &pending,
                dir.join(format!("{:016x}.idcs", info.snapshot_id)),
            )?,
            None => std::fs::remove_file(&pending)?,
        }
        Ok(())
    }

    fn new_snapshot(&self, profile: Profile) -> anyhow::Result<ProfileChain> {
        let dir = self.options.dir.join(profile.as_str());
        let pending = dir.join(".pending.idcs");
        let p = publish::publish_snapshot(
            &self.engine,
            &self.options.actor,
            profile,
            &pending,
            &self.options.publish,
        )?;
        let info = Snapshot::read_info(&pending)?;
        let id = info.snapshot_id;
        let name = format!("{id:016x}.idcs");
        let path = dir.join(&name);
        std::fs::rename(&pending, &path)?;
        let _ = std::fs::remove_file(pending.with_extension("idch"));
        let file = FeedFile::of(
            FileKind::Snapshot,
            profile,
            name,
            id,
            (p.to_seq, p.to_seq),
            p.bytes,
        );
        self.metrics
            .snapshots_published
            .fetch_add(1, Ordering::Relaxed);
        self.offer(&file, &path);
        // The older chains' files go: a subscriber still on one fetches the new snapshot.
        for entry in std::fs::read_dir(&dir)? {
            let e = entry?;
            let n = e.file_name().to_string_lossy().into_owned();
            if !n.starts_with(&format!("{id:016x}")) && !n.starts_with('.') {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(ProfileChain {
            profile,
            snapshot: path,
            snapshot_id: id,
            seq: info.journal_seq,
            changes: 0,
        })
    }

    fn timestamps(&mut self) -> anyhow::Result<()> {
        for i in 0..self.chains.len() {
            self.timestamp(i)?;
        }
        self.last_timestamp = Some(Instant::now());
        Ok(())
    }

    /// A signed timestamp for chain `i`: now, and its newest sequence. Published after every
    /// delta too: verifiers refuse a delta past the newest timestamp they hold (a frozen or
    /// withheld feed shows), so the timestamp must keep up with the chain.
    fn timestamp(&mut self, i: usize) -> anyhow::Result<()> {
        let Some(signer) = self.options.publish.signer.clone() else {
            return Ok(());
        };
        {
            let c = &self.chains[i];
            let dir = self.options.dir.join(c.profile.as_str());
            let name = format!("{:016x}.idct", c.snapshot_id);
            let path = dir.join(&name);
            let ts = publish::publish_timestamp(
                &self.engine,
                &self.options.actor,
                &c.snapshot,
                &path,
                signer.as_ref(),
            )?;
            let file = FeedFile::of(
                FileKind::Timestamp,
                c.profile,
                name,
                c.snapshot_id,
                (ts.journal_seq, ts.journal_seq),
                len(&path),
            );
            self.offer(&file, &path);
        }
        Ok(())
    }

    /// Whether records since the last look change an answer at a verifier.
    fn look(&mut self) -> anyhow::Result<()> {
        let last = self.engine.last_seq();
        if last <= self.checked {
            return Ok(());
        }
        let mut cards = Vec::new();
        let mut people = Vec::new();
        for item in self.engine.records(self.checked + 1)? {
            let (seq, record) = item?;
            if seq > last {
                break;
            }
            cards.clear();
            people.clear();
            record.event.touches(&mut cards, &mut people);
            if (!cards.is_empty() || !people.is_empty()) && self.dirty_since.is_none() {
                self.dirty_since = Some(record.at_ms);
            }
        }
        self.checked = last;
        Ok(())
    }

    /// One round: publish a delta on every chain if something changed, a new snapshot when a
    /// chain is long, a timestamp when due.
    pub fn tick(&mut self) -> anyhow::Result<()> {
        self.retry();
        self.look()?;
        if let Some(since_ms) = self.dirty_since {
            for i in 0..self.chains.len() {
                self.delta(i)?;
            }
            self.dirty_since = None;
            let lag_ms = chrono::Utc::now().timestamp_millis() - since_ms;
            self.metrics
                .publication_lag
                .observe(Duration::from_millis(lag_ms.max(0) as u64));
            // Our own publication records touch nothing: skip them.
            self.checked = self
                .checked
                .max(self.chains.iter().map(|c| c.seq).min().unwrap_or(0));
            self.look()?;
        }
        for i in 0..self.chains.len() {
            if self.chains[i].changes >= self.options.snapshot_after {
                let profile = self.chains[i].profile;
                self.chains[i] = self.new_snapshot(profile)?;
                self.last_timestamp = None;
            }
        }
        if self
            .last_timestamp
            .is_none_or(|t| t.elapsed() >= self.options.timestamp_every)
        {
            self.timestamps()?;
        }
        Ok(())
    }

    fn delta(&mut self, i: usize) -> anyhow::Result<()> {
        let dir = self.options.dir.join(self.chains[i].profile.as_str());
        let pending = dir.join(".pending.idcd");
        let c = &self.chains[i];
        let p = publish::publish_delta(
            &self.engine,
            &self.options.actor,
            &c.snapshot,
            Some(c.seq),
            &pending,
            &self.options.publish,
        )?;
        let name = file_name_of_delta(c.snapshot_id, p.from_seq, p.to_seq);
        let path = dir.join(&name);
        std::fs::rename(&pending, &path)?;
        let _ = std::fs::remove_file(pending.with_extension("idch"));
        let file = FeedFile::of(
            FileKind::Delta,
            c.profile,
            name,
            c.snapshot_id,
            (p.from_seq, p.to_seq),
            p.bytes,
        );
        let c = &mut self.chains[i];
        c.seq = p.to_seq;
        c.changes += p.cards + p.blacklist;
        self.metrics
            .deltas_published
            .fetch_add(1, Ordering::Relaxed);
        self.metrics
            .published_seq
            .store(p.to_seq, Ordering::Relaxed);
        self.timestamp(i)?;
        self.offer(&file, &path);
        Ok(())
    }

    /// Publish until `stop` is set, then once more (nothing recorded before the stop is left
    /// unpublished).
    pub fn run(mut self, stop: Arc<AtomicBool>) {
        loop {
            let stopping = stop.load(Ordering::Acquire);
            if let Err(e) = self.tick() {
                self.metrics.publish_errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("idcard serve: publishing: {e:#}");
            }
            if stopping {
                return;
            }
            std::thread::sleep(self.options.interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_names_round_trip() {
        let n = file_name_of_delta(0xabc, 7, 42);
        assert_eq!(n, "0000000000000abc-000000000007-000000000042.idcd");
        assert_eq!(parse_delta_name(&n), Some((0xabc, 7, 42)));
        assert_eq!(parse_delta_name("x.idcd"), None);
        assert_eq!(parse_delta_name("0000000000000abc-1-2-3.idcd"), None);
    }
}
