//! `idcard serve`: the national platform's reference server over the idcard engine.
//!
//! One long-lived [`idcard::engine::Engine`] serves many concurrent clients over HTTP with JSON
//! (axum on tokio; TLS through rustls; plain HTTP only on loopback):
//!
//! - stations send commands signed by their officers (`POST /v1/commands`,
//!   [`idcard::workflow::remote`]);
//! - units open a session with a signature (`POST /v1/sessions`) and verify cards online
//!   (`POST /v1/verify`, L3), check temporary certificates (A8) and report hits (L4, a command);
//! - citizens ask about their own card (`GET /v1/citizen/card`), rate-limited and audited;
//! - a publisher thread ([`feed::Publisher`]) publishes signed deltas every few hundred
//!   milliseconds, snapshots and timestamps, to the server's own HTTP feed
//!   (`GET /v1/feed/{profile}`) and any other [`feed::Channel`];
//! - `/healthz`, `/metrics` (Prometheus text) and `/openapi.json` (docs/openapi.json).
//!
//! [`subscribe`] keeps a verifier's folder current from the feed; [`client`] is the Rust client
//! (the CLI's `idcard send`, `idcard session`, `idcard load`).

pub mod api;
pub mod client;
pub mod feed;
pub mod load;
pub mod metrics;
pub mod nats;
pub mod openapi;
pub mod subscribe;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use dashmap::DashMap;
use idcard::engine::{Engine, EngineOptions};
use idcard::index::Profile;
use idcard::station::Actor;
use idcard::workflow::publish::PublishOptions;

/// How to serve.
#[derive(Clone)]
pub struct ServeOptions {
    /// Where to listen. Plain HTTP only on a loopback address; otherwise give `tls`.
    pub listen: SocketAddr,
    /// PEM certificate chain and private key files.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The platform's service officer (of the ministry, with their key): publishes, and is named
    /// in the audit records of citizens' queries.
    pub service: Actor,
    /// The publishing key and where the feed's files go.
    pub publish: PublishOptions,
    /// The feed directory (default: `feed/` in the data directory).
    pub feed_dir: Option<PathBuf>,
    /// The profiles published.
    pub profiles: Vec<Profile>,
    /// How often the publisher looks for new records.
    pub publish_interval: Duration,
    /// How often a timestamp is published.
    pub timestamp_every: Duration,
    /// A new snapshot once a chain carries this many changes.
    pub snapshot_after: u64,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// Citizen queries per address per minute, per number per hour.
    pub citizen_limits: (u32, u32),
    /// Further channels (NATS JetStream …) besides the HTTP feed.
    pub channels: Vec<Arc<dyn feed::Channel>>,
}

impl ServeOptions {
    /// Defaults for `service` listening on `listen`.
    pub fn new(listen: SocketAddr, service: Actor, publish: PublishOptions) -> ServeOptions {
        ServeOptions {
            listen,
            tls: None,
            service,
            publish,
            feed_dir: None,
            profiles: vec![Profile::Bank, Profile::Police],
            publish_interval: Duration::from_millis(100),
            timestamp_every: Duration::from_secs(60),
            snapshot_after: 1_000_000,
            session_ttl: Duration::from_secs(3600),
            citizen_limits: (30, 20),
            channels: Vec::new(),
        }
    }
}

/// A running server: its address, and how to stop it.
pub struct Running {
    /// The address it listens on (the port chosen when asked for port 0).
    pub addr: SocketAddr,
    /// The engine (shared with the handlers).
    pub engine: Arc<Engine>,
    /// Counters.
    pub metrics: Arc<metrics::Metrics>,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    publisher: Option<std::thread::JoinHandle<()>>,
    publisher_stop: Arc<AtomicBool>,
}

/// Open the engine at `data` the way the server needs it (a live bank-profile verifier for
/// online verification).
pub fn open_engine(data: &std::path::Path) -> anyhow::Result<Engine> {
    open_engine_with(data, None)
}

/// [`open_engine`] with the population store of `store` (PostgreSQL: `idcard serve
/// --postgres`; `None`: the embedded one).
pub fn open_engine_with(
    data: &std::path::Path,
    store: Option<Arc<dyn idcard::store::StoreProvider>>,
) -> anyhow::Result<Engine> {
    let options = EngineOptions {
        live_verifier: Some(Profile::Bank),
        store,
        ..EngineOptions::default()
    };
    let (engine, report) = Engine::open_existing(data, options)
        .with_context(|| format!("opening the record at {}", data.display()))?;
    if let Some(t) = &report.recovery.truncated {
        eprintln!(
            "idcard serve: recovered the journal: cut a torn last record of {} bytes at byte {} of {}",
            t.bytes, t.offset, t.segment
        );
    }
    if let Some(why) = &report.store_rebuilt {
        eprintln!("idcard serve: {why}");
    }
    Ok(engine)
}

/// Start serving `engine` (from inside a tokio runtime): the publisher thread first (it resumes
/// or publishes each profile's chain), then the listener.
pub async fn start(engine: Engine, options: ServeOptions) -> anyhow::Result<Running> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if options.tls.is_none() && !options.listen.ip().is_loopback() {
        anyhow::bail!(
            "plain HTTP is served on loopback only: give --tls-cert and --tls-key to listen on {}",
            options.listen
        );
    }
    let engine = Arc::new(engine);
    let metrics = Arc::new(metrics::Metrics::default());
    let feed_dir = options
        .feed_dir
        .clone()
        .unwrap_or_else(|| engine.dir().join("feed"));
    idcard::fsutil::create_private_dir(&feed_dir)
        .with_context(|| format!("creating {}", feed_dir.display()))?;
    let http_feed = Arc::new(feed::HttpFeed::new(&feed_dir));
    let mut channels: Vec<Arc<dyn feed::Channel>> = vec![http_feed.clone()];
    channels.extend(options.channels.iter().cloned());
    let mut publisher = feed::Publisher::new(
        Arc::clone(&engine),
        feed::PublisherOptions {
            dir: feed_dir,
            profiles: options.profiles.clone(),
            publish: options.publish.clone(),
            actor: options.service.clone(),
            interval: options.publish_interval,
            timestamp_every: options.timestamp_every,
            snapshot_after: options.snapshot_after,
        },
        channels,
        Arc::clone(&metrics),
    );
    let p = tokio::task::spawn_blocking(move || publisher.start().map(|()| publisher))
        .await
        .context("the publisher failed")?
        .context("starting the publisher")?;
    let publisher_stop = Arc::new(AtomicBool::new(false));
    let ps = Arc::clone(&publisher_stop);
    let publisher = std::thread::Builder::new()
        .name("idcard-publisher".into())
        .spawn(move || p.run(ps))?;
    let state = Arc::new(api::AppState {
        engine: Arc::clone(&engine),
        feed: http_feed,
        metrics: Arc::clone(&metrics),
        service: options.service.clone(),
        sessions: DashMap::new(),
        session_ttl: options.session_ttl,
        limits: api::RateLimits::new(options.citizen_limits.0, options.citizen_limits.1),
    });
    let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let (addr, server) = match &options.tls {
        None => {
            let listener = tokio::net::TcpListener::bind(options.listen)
                .await
                .with_context(|| format!("listening on {}", options.listen))?;
            let addr = listener.local_addr()?;
            let server = tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await
                    .context("serving")
            });
            (addr, server)
        }
        Some((cert, key)) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .with_context(|| format!("reading {} and {}", cert.display(), key.display()))?;
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            let listen = options.listen;
            let server = tokio::spawn(async move {
                axum_server::bind_rustls(listen, config)
                    .handle(h)
                    .serve(app)
                    .await
                    .context("serving")
            });
            let addr = handle
                .listening()
                .await
                .with_context(|| format!("listening on {listen}"))?;
            tokio::spawn(async move {
                let _ = stopped.wait_for(|s| *s).await;
                handle.graceful_shutdown(Some(Duration::from_secs(5)));
            });
            (addr, server)
        }
    };
    Ok(Running {
        addr,
        engine,
        metrics,
        stop,
        server,
        publisher: Some(publisher),
        publisher_stop,
    })
}

impl Running {
    /// Stop: no new requests, the ones in flight finish, the publisher publishes what was
    /// recorded, the engine closes (a checkpoint).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.server.await.context("the server task")??;
        self.publisher_stop
            .store(true, std::sync::atomic::Ordering::Release);
        if let Some(p) = self.publisher.take() {
            tokio::task::spawn_blocking(move || p.join()).await.ok();
        }
        let engine = self.engine;
        tokio::task::spawn_blocking(move || match Arc::try_unwrap(engine) {
            Ok(e) => e.close().context("closing the record"),
            Err(_) => Ok(()),
        })
        .await
        .context("closing")?
    }
}
