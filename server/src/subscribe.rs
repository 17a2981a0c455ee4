//! `idcard subscribe`: keep a local folder current from the platform's feed, for any verifier
//! (C `idc_verifier_apply_delta_dir`, Python, `idcard verify --delta DIR`).
//!
//! The folder holds `snapshot.idcs`, the deltas that follow it and the newest timestamp, each
//! checked before it lands: a file is downloaded under a hidden name, applied to the
//! subscriber's own verifier (which checks its signature against the pinned trust file, that it
//! continues the chain, that it is not from the future and not older than what the folder
//! reached, `.state`), and only then renamed into place. So a verifier reading the folder sees
//! only whole, signed, in-order files. A gap in the chain (a delta that does not start where
//! the folder is) fetches the chain's snapshot again; a new snapshot on the feed replaces the
//! folder's. After a restart the subscriber opens the folder as it was and asks for the deltas
//! after where it stopped: none is missed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use idcard::index::{Verifier, VerifierOptions};
use idcard::station::Actor;
use idcard::trust::TrustStore;

use crate::client::{Client, ServerError};
use crate::feed::{FeedFile, Listing};

/// The snapshot's name in the folder.
pub const SNAPSHOT: &str = "snapshot.idcs";

/// How to subscribe.
#[derive(Clone)]
pub struct SubscribeOptions {
    /// `bank` or `police`.
    pub profile: String,
    /// The folder kept current.
    pub dir: PathBuf,
    /// What the files must be signed by.
    pub trust: TrustStore,
    /// How long one long poll waits.
    pub wait: Duration,
    /// Print a line per file.
    pub verbose: bool,
}

/// What [`Subscriber::on_change`] calls.
pub type OnChange = Box<dyn FnMut(&Verifier) + Send>;

/// Where a subscriber is.
pub struct Subscriber {
    on_change: Option<OnChange>,
    client: Option<Client>,
    actor: Option<Actor>,
    options: SubscribeOptions,
    verifier: Option<Verifier>,
    timestamp: Option<(String, u64, u64)>,
}

fn verifier_options(o: &SubscribeOptions) -> VerifierOptions {
    VerifierOptions {
        max_age: None,
        state_file: Some(o.dir.join(".state")),
        ..VerifierOptions::trusting(o.trust.clone())
    }
}

/// Write a downloaded file under its hidden name. Not synced: the feed keeps the durable copy,
/// and after a crash the folder opens at whatever whole files it holds (a file is renamed into
/// place only once complete and checked) and fetches the rest again.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

impl Subscriber {
    /// A subscriber signing in as `actor` (a unit's officer, with their key), resuming from what
    /// the folder holds.
    pub async fn new(
        client: Client,
        actor: Actor,
        options: SubscribeOptions,
    ) -> anyhow::Result<Subscriber> {
        idcard::fsutil::create_private_dir(&options.dir)
            .with_context(|| format!("creating {}", options.dir.display()))?;
        let client = client.login(&actor).await.context("opening a session")?;
        let mut s = Subscriber::local(options)?;
        s.client = Some(client);
        s.actor = Some(actor);
        Ok(s)
    }

    /// A subscriber fed by another channel (NATS JetStream: [`crate::nats`]), resuming from what
    /// the folder holds.
    pub fn local(options: SubscribeOptions) -> anyhow::Result<Subscriber> {
        idcard::fsutil::create_private_dir(&options.dir)
            .with_context(|| format!("creating {}", options.dir.display()))?;
        let mut s = Subscriber {
            on_change: None,
            client: None,
            actor: None,
            options,
            verifier: None,
            timestamp: None,
        };
        s.resume();
        Ok(s)
    }

    /// Call `f` with the folder's verifier after every snapshot and delta taken (the load
    /// generator measures propagation with it).
    pub fn on_change(&mut self, f: OnChange) {
        self.on_change = Some(f);
    }

    fn changed(&mut self) {
        if let (Some(f), Some(v)) = (self.on_change.as_mut(), self.verifier.as_ref()) {
            f(v);
        }
    }

    fn http(&self) -> anyhow::Result<&Client> {
        self.client
            .as_ref()
            .context("this subscriber has no HTTP feed")
    }

    async fn relogin(&mut self) -> anyhow::Result<()> {
        let (Some(c), Some(a)) = (&self.client, &self.actor) else {
            return Ok(());
        };
        self.client = Some(c.clone().login(a).await?);
        Ok(())
    }

    fn resume(&mut self) {
        let snap = self.options.dir.join(SNAPSHOT);
        if !snap.exists() {
            return;
        }
        match Verifier::open_with(&snap, verifier_options(&self.options)) {
            Ok(v) => {
                if let Ok(r) = v.apply_delta_dir(&self.options.dir) {
                    for s in r.skipped {
                        eprintln!("idcard subscribe: skipped {}: {}", s.name, s.reason);
                    }
                }
                self.verifier = Some(v);
            }
            Err(e) => eprintln!(
                "idcard subscribe: {} does not open ({e}): fetching a new snapshot",
                snap.display()
            ),
        }
    }

    /// The verifier over the folder (after the first sync).
    pub fn verifier(&self) -> Option<&Verifier> {
        self.verifier.as_ref()
    }

    /// The journal sequence the folder has reached (0 before its snapshot).
    pub fn seq(&self) -> u64 {
        self.verifier.as_ref().map_or(0, |v| v.info().journal_seq)
    }

    /// The profile followed.
    pub fn profile(&self) -> &str {
        &self.options.profile
    }

    /// The folder's snapshot, 16 hex digits.
    pub fn snapshot_id(&self) -> Option<String> {
        self.verifier
            .as_ref()
            .map(|v| format!("{:016x}", v.info().snapshot.snapshot_id))
    }

    async fn listing(&mut self, after: u64, wait: Duration) -> anyhow::Result<Listing> {
        match self
            .http()?
            .listing(&self.options.profile, after, wait)
            .await
        {
            Err(e)
                if e.downcast_ref::<ServerError>()
                    .is_some_and(|s| s.status == 401) =>
            {
                // The session expired: sign in again.
                self.relogin().await?;
                self.http()?
                    .listing(&self.options.profile, after, wait)
                    .await
            }
            other => other,
        }
    }

    async fn take_snapshot(&mut self, f: &FeedFile) -> anyhow::Result<()> {
        let bytes = self.http()?.file(&self.options.profile, &f.name).await?;
        self.install_snapshot(f, &bytes)
    }

    /// Check a snapshot and make it the folder's (the deltas and timestamps of the chain before
    /// go).
    pub fn install_snapshot(&mut self, f: &FeedFile, bytes: &[u8]) -> anyhow::Result<()> {
        let incoming = self.options.dir.join(".incoming.part");
        write_file(&incoming, bytes)?;
        // Checked before it replaces anything: signature, time, not older than the folder.
        Verifier::open_with(&incoming, verifier_options(&self.options))
            .with_context(|| format!("the feed's snapshot {}", f.name))?;
        let path = self.options.dir.join(SNAPSHOT);
        self.verifier = None;
        std::fs::rename(&incoming, &path)?;
        for entry in std::fs::read_dir(&self.options.dir)? {
            let p = entry?.path();
            if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("idcd" | "idct")
            ) {
                let _ = std::fs::remove_file(p);
            }
        }
        let v = Verifier::open_with(&path, verifier_options(&self.options))?;
        self.verifier = Some(v);
        self.timestamp = None;
        self.changed();
        if self.options.verbose {
            println!(
                "snapshot {} (sequence {}, {} bytes)",
                f.snapshot_id,
                f.to,
                bytes.len()
            );
        }
        Ok(())
    }

    async fn take_delta(&mut self, f: &FeedFile) -> anyhow::Result<()> {
        let bytes = self.http()?.file(&self.options.profile, &f.name).await?;
        self.install_delta(f, &bytes)
    }

    /// Check a delta (signature, chain, time) by applying it to the folder's verifier, then put
    /// it in the folder.
    pub fn install_delta(&mut self, f: &FeedFile, bytes: &[u8]) -> anyhow::Result<()> {
        if f.name.contains('/') || f.name.starts_with('.') || !f.name.ends_with(".idcd") {
            anyhow::bail!("refusing a delta named {:?}", f.name);
        }
        let incoming = self.options.dir.join(".incoming.part");
        write_file(&incoming, bytes)?;
        let v = self.verifier.as_ref().context("no snapshot")?;
        v.apply_delta_file(&incoming)
            .with_context(|| format!("the feed's delta {}", f.name))?;
        std::fs::rename(&incoming, self.options.dir.join(&f.name))?;
        self.changed();
        if self.options.verbose {
            println!("delta {} (sequence {} to {})", f.name, f.from, f.to);
        }
        Ok(())
    }

    async fn take_timestamp(&mut self, f: &FeedFile) -> anyhow::Result<()> {
        let bytes = self.http()?.file(&self.options.profile, &f.name).await?;
        self.install_timestamp(f, &bytes)
    }

    /// Check a timestamp with the folder's verifier, then put it in the folder.
    pub fn install_timestamp(&mut self, f: &FeedFile, bytes: &[u8]) -> anyhow::Result<()> {
        if f.name.contains('/') || f.name.starts_with('.') || !f.name.ends_with(".idct") {
            anyhow::bail!("refusing a timestamp named {:?}", f.name);
        }
        let incoming = self.options.dir.join(".incoming.part");
        write_file(&incoming, bytes)?;
        let v = self.verifier.as_ref().context("no snapshot")?;
        v.apply_timestamp_file(&incoming)
            .with_context(|| format!("the feed's timestamp {}", f.name))?;
        std::fs::rename(&incoming, self.options.dir.join(&f.name))?;
        Ok(())
    }

    /// One round: list what follows the folder (waiting up to `wait` for something new), take
    /// a new snapshot if the chain changed or has a gap, then the deltas in order and the
    /// newest timestamp. Returns the sequence reached.
    pub async fn sync(&mut self, wait: Duration) -> anyhow::Result<u64> {
        let l = self.listing(self.seq(), wait).await?;
        if self.snapshot_id().as_deref() != Some(l.snapshot.snapshot_id.as_str()) {
            self.take_snapshot(&l.snapshot).await?;
            return Ok(self.seq());
        }
        // The timestamp first: it covers the newest delta (the publisher signs one after each
        // round), and a verifier reading the folder refuses a delta past its newest timestamp.
        if let Some(t) = &l.timestamp {
            let key = (t.name.clone(), t.to, t.bytes);
            if self.timestamp.as_ref() != Some(&key) {
                match self.take_timestamp(t).await {
                    Ok(()) => self.timestamp = Some(key),
                    Err(e) => eprintln!("idcard subscribe: {e:#}"),
                }
            }
        }
        for d in &l.deltas {
            let seq = self.seq();
            if d.to <= seq {
                continue;
            }
            if d.from != seq {
                eprintln!(
                    "idcard subscribe: a gap in the chain: the folder is at {seq}, the feed's next delta starts at {}: fetching the snapshot",
                    d.from
                );
                self.take_snapshot(&l.snapshot).await?;
                return Ok(self.seq());
            }
            self.take_delta(d).await?;
        }
        Ok(self.seq())
    }

    /// Follow the feed until `stop` resolves; network errors are retried with a growing pause
    /// (a server or channel restart delays the folder, never corrupts it).
    pub async fn follow(
        mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::pin!(stop);
        let mut pause = Duration::from_millis(200);
        loop {
            let round = self.sync(self.options.wait);
            tokio::select! {
                _ = &mut stop => return Ok(()),
                r = round => match r {
                    Ok(_) => pause = Duration::from_millis(200),
                    Err(e) => {
                        eprintln!("idcard subscribe: {e:#} (retrying in {} ms)", pause.as_millis());
                        let started = Instant::now();
                        tokio::select! {
                            _ = &mut stop => return Ok(()),
                            _ = tokio::time::sleep(pause) => {}
                        }
                        let _ = started;
                        pause = (pause * 2).min(Duration::from_secs(5));
                        if let Some(ServerError { status: 401, .. }) = e.downcast_ref::<ServerError>()
                            && let Err(e) = self.relogin().await
                        {
                            eprintln!("idcard subscribe: signing in: {e:#}");
                        }
                    }
                },
            }
        }
    }

    /// Sync until the folder reaches `seq` or `timeout` passes.
    pub async fn until(&mut self, seq: u64, timeout: Duration) -> anyhow::Result<u64> {
        let deadline = Instant::now() + timeout;
        while self.seq() < seq {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("the folder reached {} of {seq} in {timeout:?}", self.seq());
            }
            self.sync(left.min(Duration::from_secs(5))).await?;
        }
        Ok(self.seq())
    }
}
