//! NATS JetStream as a channel of the feed (`idcard serve --nats URL`) and as a subscriber's
//! source (`idcard subscribe --nats URL`).
//!
//! One stream per profile, `IDCARD_BANK` and `IDCARD_POLICE`, on the subjects
//! `idcard.{profile}.snapshot`, `idcard.{profile}.delta` and `idcard.{profile}.timestamp`; every
//! message carries the file's description ([`FeedFile`], JSON) in the header `Idcard-File`, and a
//! delta's or timestamp's bytes as its payload. Snapshots (too large for a message) are put in
//! the JetStream object store, bucket `idcard-{profile}`, under their file name; the snapshot
//! message announces one. Messages are published with `Nats-Msg-Id` (the file's name and
//! sequence), so a server that resumes its chain after a restart and offers the files again
//! does not duplicate them within JetStream's window, and each is acknowledged by JetStream
//! before the next is offered.
//!
//! A subscriber reads the newest snapshot announcement, takes that snapshot if its folder is on
//! another one, then consumes every message after the announcement in order (an ordered
//! consumer: no state on the server), applying what continues its folder and skipping what it
//! already holds. A gap fetches the snapshot again; a connection lost (a NATS restart) is
//! resumed by the client and, failing that, by starting over from the folder. Every file is
//! checked against the pinned trust file exactly as from the HTTP feed: NATS carries the files,
//! it is not trusted with them. Who may read a stream is NATS's to enforce (accounts and subject
//! permissions): the police stream carries the blacklist.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, bail};
use async_nats::jetstream::{self, consumer, object_store, stream};
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use crate::feed::{Channel, FeedFile, FileKind};
use crate::subscribe::Subscriber;

/// The stream of a profile.
pub fn stream_name(profile: &str) -> String {
    format!("IDCARD_{}", profile.to_ascii_uppercase())
}

/// The subject of a kind of file of a profile.
pub fn subject(profile: &str, kind: FileKind) -> String {
    let k = match kind {
        FileKind::Snapshot => "snapshot",
        FileKind::Delta => "delta",
        FileKind::Timestamp => "timestamp",
    };
    format!("idcard.{profile}.{k}")
}

/// The object store bucket of a profile's snapshots.
pub fn bucket(profile: &str) -> String {
    format!("idcard-{profile}")
}

const HEADER: &str = "Idcard-File";

/// Publishes the feed to JetStream: files are queued in order and sent by a task of their own,
/// each retried until JetStream acknowledges it (the publisher and the HTTP feed never wait for
/// NATS; a NATS outage delays its subscribers and loses nothing).
pub struct NatsChannel {
    queue: tokio::sync::mpsc::UnboundedSender<(FeedFile, PathBuf)>,
}

struct Sender {
    js: jetstream::Context,
    ready: Mutex<HashSet<String>>,
}

impl NatsChannel {
    /// Connect (from inside a tokio runtime: the sending task runs on it).
    pub async fn connect(url: &str) -> anyhow::Result<NatsChannel> {
        let client = async_nats::connect(url)
            .await
            .with_context(|| format!("connecting to NATS at {url}"))?;
        let sender = Sender {
            js: jetstream::new(client),
            ready: Mutex::new(HashSet::new()),
        };
        let (queue, mut rx) = tokio::sync::mpsc::unbounded_channel::<(FeedFile, PathBuf)>();
        tokio::spawn(async move {
            while let Some((file, path)) = rx.recv().await {
                let mut pause = Duration::from_millis(100);
                // A file pruned meanwhile belongs to an older chain: the newer snapshot's
                // announcement follows in the queue.
                while path.exists() {
                    // A call to a NATS that went away can wait forever: bounded, then retried
                    // (`Nats-Msg-Id` makes a retry of a file JetStream did store a no-op).
                    let sent =
                        tokio::time::timeout(Duration::from_secs(10), sender.send(&file, &path))
                            .await
                            .unwrap_or_else(|_| {
                                Err(anyhow::anyhow!("no answer from NATS in 10 s"))
                            });
                    match sent {
                        Ok(()) => break,
                        Err(e) => {
                            eprintln!(
                                "idcard serve: nats: {} {}: {e:#} (retrying in {} ms)",
                                file.profile,
                                file.name,
                                pause.as_millis()
                            );
                            tokio::time::sleep(pause).await;
                            pause = (pause * 2).min(Duration::from_secs(5));
                        }
                    }
                }
            }
        });
        Ok(NatsChannel { queue })
    }
}

impl Sender {
    async fn ensure(&self, profile: &str) -> anyhow::Result<()> {
        if self
            .ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(profile)
        {
            return Ok(());
        }
        self.js
            .get_or_create_stream(stream::Config {
                name: stream_name(profile),
                subjects: vec![format!("idcard.{profile}.>")],
                max_age: Duration::from_secs(7 * 86_400),
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(3600),
                ..Default::default()
            })
            .await
            .with_context(|| format!("the stream {}", stream_name(profile)))?;
        if self.js.get_object_store(bucket(profile)).await.is_err() {
            self.js
                .create_object_store(object_store::Config {
                    bucket: bucket(profile),
                    ..Default::default()
                })
                .await
                .with_context(|| format!("the object store {}", bucket(profile)))?;
        }
        self.ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(profile.to_string());
        Ok(())
    }

    async fn send(&self, file: &FeedFile, path: &Path) -> anyhow::Result<()> {
        self.ensure(&file.profile).await?;
        let bytes = tokio::fs::read(path)
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        let payload = if file.kind == FileKind::Snapshot {
            let store = self.js.get_object_store(bucket(&file.profile)).await?;
            store
                .put(file.name.as_str(), &mut bytes.as_slice())
                .await
                .with_context(|| format!("putting {} in the object store", file.name))?;
            Vec::new()
        } else {
            bytes
        };
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(HEADER, serde_json::to_string(file)?.as_str());
        headers.insert(
            "Nats-Msg-Id",
            format!("{}@{}:{}", file.name, file.to, file.bytes).as_str(),
        );
        self.js
            .publish_with_headers(subject(&file.profile, file.kind), headers, payload.into())
            .await?
            .await
            .with_context(|| format!("publishing {} to JetStream", file.name))?;
        Ok(())
    }
}

impl Channel for NatsChannel {
    fn name(&self) -> &'static str {
        "nats"
    }

    fn publish(&self, file: &FeedFile, path: &Path) -> anyhow::Result<()> {
        self.queue
            .send((file.clone(), path.to_path_buf()))
            .map_err(|_| anyhow::anyhow!("the NATS sending task has stopped"))
    }
}

/// Delete a profile's stream and object store (the load generator starts from nothing; never
/// point it at a platform's NATS).
pub async fn delete_profile(url: &str, profile: &str) -> anyhow::Result<()> {
    let js = jetstream::new(async_nats::connect(url).await?);
    let _ = js.delete_stream(stream_name(profile)).await;
    let _ = js.delete_object_store(bucket(profile)).await;
    Ok(())
}

fn file_of(m: &async_nats::Message) -> anyhow::Result<FeedFile> {
    let h = m
        .headers
        .as_ref()
        .and_then(|h| h.get(HEADER))
        .context("a message without its Idcard-File header")?;
    serde_json::from_str(h.as_str()).context("the Idcard-File header does not decode")
}

async fn snapshot_bytes(js: &jetstream::Context, f: &FeedFile) -> anyhow::Result<Vec<u8>> {
    let store = js.get_object_store(bucket(&f.profile)).await?;
    let mut object = store
        .get(f.name.as_str())
        .await
        .with_context(|| format!("{} from the object store", f.name))?;
    let mut bytes = Vec::with_capacity(f.bytes as usize);
    object.read_to_end(&mut bytes).await?;
    Ok(bytes)
}

/// A call to NATS, bounded: one to a server that went away can wait forever.
async fn within<T>(f: impl std::future::Future<Output = T>) -> anyhow::Result<T> {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .map_err(|_| anyhow::anyhow!("no answer from NATS in 10 s"))
}

/// How long a pass waits for a message before it starts over (the publisher sends a timestamp
/// every minute; a consumer that went quiet after a NATS restart is replaced).
const IDLE: Duration = Duration::from_secs(10);

/// One pass: from `resume` (the stream sequence after the last message taken) or, without one,
/// from the newest snapshot announcement; until the stream goes quiet, a gap, an error or
/// `stop`. `Ok(true)` when stopped.
async fn pass(
    js: &jetstream::Context,
    sub: &mut Subscriber,
    stop: &mut (impl std::future::Future<Output = ()> + Unpin),
    resume: &mut Option<u64>,
) -> anyhow::Result<bool> {
    let profile = sub.profile().to_string();
    let stream = within(js.get_stream(stream_name(&profile)))
        .await?
        .with_context(|| format!("the stream {}", stream_name(&profile)))?;
    let start = match *resume {
        Some(seq) if sub.snapshot_id().is_some() => seq,
        _ => {
            let last = within(
                stream.get_last_raw_message_by_subject(&subject(&profile, FileKind::Snapshot)),
            )
            .await?
            .context("no snapshot announced yet")?;
            let headers = last.headers.clone();
            let announced: FeedFile = serde_json::from_str(
                headers
                    .get(HEADER)
                    .context("a snapshot announcement without its header")?
                    .as_str(),
            )?;
            if sub.snapshot_id().as_deref() != Some(announced.snapshot_id.as_str()) {
                let bytes = within(snapshot_bytes(js, &announced)).await??;
                sub.install_snapshot(&announced, &bytes)?;
            }
            last.sequence + 1
        }
    };
    let consumer = within(stream.create_consumer(consumer::pull::OrderedConfig {
        filter_subject: format!("idcard.{profile}.>"),
        deliver_policy: consumer::DeliverPolicy::ByStartSequence {
            start_sequence: start,
        },
        ..Default::default()
    }))
    .await??;
    let mut messages = within(consumer.messages()).await??;
    loop {
        let m = tokio::select! {
            _ = &mut *stop => return Ok(true),
            m = tokio::time::timeout(IDLE, messages.next()) => m,
        };
        let Ok(m) = m else {
            return Ok(false);
        };
        let Some(m) = m else {
            return Ok(false);
        };
        let m = m?;
        let stream_seq = m.info().map(|i| i.stream_sequence).ok();
        let f = file_of(&m)?;
        match f.kind {
            FileKind::Snapshot => {
                if sub.snapshot_id().as_deref() != Some(f.snapshot_id.as_str()) {
                    let bytes = within(snapshot_bytes(js, &f)).await??;
                    sub.install_snapshot(&f, &bytes)?;
                }
            }
            FileKind::Timestamp => {
                if sub.snapshot_id().as_deref() == Some(f.snapshot_id.as_str())
                    && let Err(e) = sub.install_timestamp(&f, &m.payload)
                {
                    eprintln!("idcard subscribe: {e:#}");
                }
            }
            FileKind::Delta => {
                if sub.snapshot_id().as_deref() == Some(f.snapshot_id.as_str()) && f.to > sub.seq()
                {
                    if f.from != sub.seq() {
                        *resume = None;
                        bail!(
                            "a gap in the chain: the folder is at {}, the stream's next delta starts at {}",
                            sub.seq(),
                            f.from
                        );
                    }
                    sub.install_delta(&f, &m.payload)?;
                }
            }
        }
        if let Some(seq) = stream_seq {
            *resume = Some(seq + 1);
        }
    }
}

/// Follow a profile's stream at `url` until `stop`, keeping `sub`'s folder current.
pub async fn follow(
    url: &str,
    mut sub: Subscriber,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let client = async_nats::connect(url)
        .await
        .with_context(|| format!("connecting to NATS at {url}"))?;
    let js = jetstream::new(client);
    tokio::pin!(stop);
    let mut pause = Duration::from_millis(200);
    let mut resume = None;
    loop {
        match pass(&js, &mut sub, &mut stop, &mut resume).await {
            Ok(true) => return Ok(()),
            Ok(false) => pause = Duration::from_millis(200),
            Err(e) => {
                eprintln!(
                    "idcard subscribe: {e:#} (starting over in {} ms)",
                    pause.as_millis()
                );
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
        tokio::select! {
            _ = &mut stop => return Ok(()),
            _ = tokio::time::sleep(pause) => {}
        }
    }
}
