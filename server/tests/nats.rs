//! The feed through NATS JetStream (`idcard serve --nats`, `idcard subscribe --nats`): a loss
//! report reaches a subscriber's folder through Debian's `nats-server` (started here on a
//! loopback port, with its own store, and stopped), and a NATS restart (SIGKILL, then the same
//! store again) delays the folder but loses nothing: the report filed while NATS was down
//! arrives once it is back.
//!
//! Needs `nats-server` on the PATH (or `IDCARD_NATS_SERVER`); `scripts/test-all.sh` installs it.
//! `IDCARD_SKIP_NATS=1` skips this test where it cannot be installed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use idcard::CardKey;
use idcard::engine::{CardRef, InPerson};
use idcard::index::{CardStatus, Verifier, VerifierOptions};
use idcard::station::CommandKind;
use idcard::trust::TrustStore;
use idcard::workflow::loss::LossRequest;
use idcard::workflow::publish::PublishOptions;
use idcard_server::client::Client;
use idcard_server::load::setup;
use idcard_server::subscribe::{SubscribeOptions, Subscriber};

fn nats_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("IDCARD_NATS_SERVER") {
        return Some(p.into());
    }
    [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// A nats-server stopped when dropped: also when the test fails.
struct Nats(Child);

impl Drop for Nats {
    fn drop(&mut self) {
        kill(&mut self.0);
    }
}

fn start_nats(bin: &Path, store: &Path, port: u16) -> Nats {
    let child = Command::new(bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting nats-server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    Nats(child)
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn folder_status(dir: &Path, trust: &TrustStore, card: CardKey) -> Option<CardStatus> {
    let v = Verifier::open_with(
        dir.join("snapshot.idcs"),
        VerifierOptions::trusting(trust.clone()),
    )
    .ok()?;
    v.apply_delta_dir(dir).ok()?;
    Some(v.verify(card))
}

async fn until_lost(dir: &Path, trust: &TrustStore, card: CardKey, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if folder_status(dir, trust, card) == Some(CardStatus::Lost) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the folder did not answer lost within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn loss(card: CardKey) -> serde_json::Value {
    serde_json::to_value(LossRequest {
        card: CardRef::card(card),
        stolen: false,
        present: InPerson::holder(card.number()),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l3_the_feed_through_nats_jetstream_survives_a_nats_restart() {
    let Some(bin) = nats_server() else {
        if std::env::var_os("IDCARD_SKIP_NATS").is_some() {
            eprintln!("nats-server not found: skipped (IDCARD_SKIP_NATS)");
            return;
        }
        panic!("nats-server not found: apt-get install nats-server (or IDCARD_SKIP_NATS=1)");
    };
    let tmp = tempfile::tempdir().unwrap();
    let s = setup(&tmp.path().join("data"), 100, 1, 1).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = tmp.path().join("nats");
    let nats = start_nats(&bin, &store, port);
    let url = format!("nats://127.0.0.1:{port}");

    let engine = idcard_server::open_engine(&s.data).unwrap();
    let mut options = idcard_server::ServeOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        s.ministry.clone(),
        PublishOptions::signed(s.publisher.clone()),
    );
    options.publish_interval = Duration::from_millis(20);
    options.channels.push(std::sync::Arc::new(
        idcard_server::nats::NatsChannel::connect(&url)
            .await
            .unwrap(),
    ));
    let running = idcard_server::start(engine, options).await.unwrap();
    let client = Client::new(&format!("http://{}", running.addr), None).unwrap();

    let folder = tmp.path().join("folder");
    let sub = Subscriber::local(SubscribeOptions {
        profile: "bank".into(),
        dir: folder.clone(),
        trust: s.trust.clone(),
        wait: Duration::from_secs(1),
        verbose: false,
    })
    .unwrap();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let follower = tokio::spawn({
        let url = url.clone();
        async move {
            idcard_server::nats::follow(&url, sub, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
        }
    });

    let station = &s.stations[0];
    let (a, b, c) = (s.cards[0], s.cards[1], s.cards[2]);
    client
        .send(station, CommandKind::ReportLoss, loss(a))
        .await
        .unwrap();
    until_lost(&folder, &s.trust, a, Duration::from_secs(15)).await;

    // NATS goes down hard; a report is filed meanwhile (the platform does not wait for NATS).
    drop(nats);
    client
        .send(station, CommandKind::ReportLoss, loss(b))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let nats = start_nats(&bin, &store, port);
    until_lost(&folder, &s.trust, b, Duration::from_secs(40)).await;
    assert_eq!(folder_status(&folder, &s.trust, a), Some(CardStatus::Lost));
    assert_eq!(folder_status(&folder, &s.trust, c), Some(CardStatus::Valid));

    let _ = stop.send(true);
    follower.await.unwrap().unwrap();
    running.stop().await.unwrap();
    drop(nats);
}
