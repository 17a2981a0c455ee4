//! The platform end to end on loopback: signed commands over HTTP (S1), online verification
//! (L3), hit reports (L4), certificate checks (A8), citizens' queries (F1), the signed feed and
//! a subscriber's folder, health, metrics, and the OpenAPI document's drift check.

use std::time::Duration;

use idcard::engine::{CardRef, InPerson};
use idcard::index::CardStatus;
use idcard::station::CommandKind;
use idcard::workflow::loss::LossRequest;
use idcard::workflow::publish::PublishOptions;
use idcard::workflow::remote;
use idcard_server::api::{CardQuery, VerifyRequest};
use idcard_server::client::{Client, ServerError};
use idcard_server::load::setup;
use idcard_server::subscribe::{SubscribeOptions, Subscriber};
use serde_json::json;

fn code(e: anyhow::Error) -> (u16, String) {
    let s = e.downcast_ref::<ServerError>().expect("a server error");
    (s.status, s.code.clone())
}

fn loss(card: idcard::CardKey) -> serde_json::Value {
    serde_json::to_value(LossRequest {
        card: CardRef::card(card),
        stolen: false,
        present: InPerson::holder(card.number()),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l3_l4_s1_f1_the_platform_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = setup(&data, 300, 2, 1).unwrap();
    // On PostgreSQL under scripts/with-postgres.sh (`idcard serve --postgres`), else embedded.
    let store = std::env::var("IDCARD_TEST_POSTGRES").ok().map(|conn| {
        std::sync::Arc::new(idcard_postgres::Postgres::per_directory(&conn, "platform").unwrap())
            as std::sync::Arc<dyn idcard::store::StoreProvider>
    });
    // Off the async threads: a store's client may block (PostgreSQL's does).
    let opened = data.clone();
    let engine =
        tokio::task::spawn_blocking(move || idcard_server::open_engine_with(&opened, store))
            .await
            .unwrap()
            .unwrap();
    let mut options = idcard_server::ServeOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        s.ministry.clone(),
        PublishOptions::signed(s.publisher.clone()),
    );
    options.publish_interval = Duration::from_millis(20);
    let running = idcard_server::start(engine, options).await.unwrap();
    let base = format!("http://{}", running.addr);
    let client = Client::new(&base, None).unwrap();
    let station = &s.stations[0];
    let unit = &s.units[0];
    let (card, other) = (s.cards[0], s.cards[1]);

    // A subscriber's folder starts from the feed's signed snapshot.
    let mut sub = Subscriber::new(
        client.clone(),
        unit.clone(),
        SubscribeOptions {
            profile: "bank".into(),
            dir: dir.path().join("bank"),
            trust: s.trust.clone(),
            wait: Duration::from_secs(1),
            verbose: false,
        },
    )
    .await
    .unwrap();
    sub.sync(Duration::ZERO).await.unwrap();
    assert_eq!(sub.verifier().unwrap().verify(card), CardStatus::Valid);

    // L1 over HTTP, signed by the station's officer: durable, then on the subscriber's folder.
    let out = client
        .send(station, CommandKind::ReportLoss, loss(card))
        .await
        .unwrap();
    assert_eq!(out["status"], "lost");
    let seq = out["seq"].as_u64().unwrap();
    sub.until(seq, Duration::from_secs(10)).await.unwrap();
    // The folder itself answers the same for any verifier (the C library's apply_delta_dir).
    let fresh = idcard::index::Verifier::open_with(
        dir.path().join("bank/snapshot.idcs"),
        idcard::index::VerifierOptions::trusting(s.trust.clone()),
    )
    .unwrap();
    let report = fresh.apply_delta_dir(dir.path().join("bank")).unwrap();
    assert!(report.skipped.is_empty(), "{report:?}");
    assert_eq!(fresh.verify(card), CardStatus::Lost);
    assert_eq!(fresh.verify(other), CardStatus::Valid);
    assert_eq!(sub.verifier().unwrap().verify(card), CardStatus::Lost);

    // S1: unsigned, altered and replayed commands are refused before anything else.
    let mut unsigned = remote::sign(station, CommandKind::ReportLoss, loss(other), now()).unwrap();
    unsigned.auth = None;
    assert_eq!(
        code(client.send_signed(&unsigned).await.unwrap_err()),
        (401, "no_signature".into())
    );
    let mut altered = remote::sign(station, CommandKind::ReportLoss, loss(other), now()).unwrap();
    altered.request["stolen"] = json!(true);
    assert_eq!(
        code(client.send_signed(&altered).await.unwrap_err()),
        (401, "bad_signature".into())
    );
    let signed = remote::sign(station, CommandKind::ReportHit, json!({"card": {"number": other.number().to_string(), "valid_from": other.valid_from().to_string()}, "note": "seen at a hotel"}), now()).unwrap();
    client.send_signed(&signed).await.unwrap();
    assert_eq!(
        code(client.send_signed(&signed).await.unwrap_err()),
        (401, "replayed".into())
    );
    // A bank may not report a loss (S1: station kind), but files a hit (L4).
    assert_eq!(
        code(
            client
                .send(unit, CommandKind::ReportLoss, loss(other))
                .await
                .unwrap_err()
        ),
        (403, "station_kind_not_allowed".into())
    );
    let hit = client
        .send(unit, CommandKind::ReportHit, json!({"card": {"number": card.number().to_string(), "valid_from": card.valid_from().to_string()}, "note": "an impostor at the counter"}))
        .await
        .unwrap();
    assert!(hit["routed_to"].is_string(), "{hit}");
    // A malformed request is a 400 that names the field, and nothing is recorded.
    let bad = remote::SignedCommand {
        request: json!({"card": 7}),
        ..unsigned.clone()
    };
    let (status, c) = code(client.send_signed(&bad).await.unwrap_err());
    assert_eq!((status, c.as_str()), (400, "bad_request"));

    // L3 online: a session, then statuses in order; none without a session.
    let q = |k: idcard::CardKey| CardQuery {
        number: k.number().to_string(),
        valid_from: k.valid_from().to_string(),
    };
    let anon = client
        .verify(&VerifyRequest {
            cards: vec![q(card)],
        })
        .await;
    assert_eq!(code(anon.unwrap_err()).0, 401);
    let bank = client.clone().login(unit).await.unwrap();
    let mut cards = vec![q(card), q(other)];
    cards.push(CardQuery {
        number: "110105198001010000".into(),
        valid_from: "2020-01-01".into(),
    });
    let answer = bank.verify(&VerifyRequest { cards }).await.unwrap();
    assert_eq!(answer.statuses, ["lost", "valid", "invalid_number"]);

    // S2: the police profile is not a bank's.
    assert_eq!(
        code(bank.listing("police", 0, Duration::ZERO).await.unwrap_err()),
        (403, "station_kind_not_allowed".into())
    );

    // A8: a household registration station does not check temporary certificates; checking
    // units (airlines, hotels) and the airport police do.
    let http = reqwest::Client::new();
    let check = json!({"id": 999, "number": card.number().to_string(), "trip": "CA1234"});
    let hr = client.clone().login(station).await.unwrap();
    let r = http
        .post(format!("{base}/v1/temporary-certificates/check"))
        .bearer_auth(hr.token().unwrap())
        .json(&check)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let airport = client.clone().login(&s.airport).await.unwrap();
    let r: serde_json::Value = http
        .post(format!("{base}/v1/temporary-certificates/check"))
        .bearer_auth(airport.token().unwrap())
        .json(&check)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["result"], "unknown");

    // F1: the citizen's own card, rate-limited per number, each query an audited read.
    let before = running.engine.with_state(|st| {
        st.stats
            .events
            .get("personal_data_read")
            .copied()
            .unwrap_or(0)
    });
    let url = format!(
        "{base}/v1/citizen/card?number={}&valid_from={}",
        card.number(),
        card.valid_from()
    );
    let r: serde_json::Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["status"], "lost", "{r}");
    assert!(r["found"].is_null());
    let after = running.engine.with_state(|st| {
        st.stats
            .events
            .get("personal_data_read")
            .copied()
            .unwrap_or(0)
    });
    assert_eq!(after, before + 1, "the query is recorded");
    let mut limited = false;
    for _ in 0..30 {
        if http.get(&url).send().await.unwrap().status() == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "the per-number limit stops repeated queries");
    let r = http
        .get(format!(
            "{base}/v1/citizen/card?number=123&valid_from=2020-01-01"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Health and metrics.
    let h: serde_json::Value = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    let m = client.get_text("/metrics").await.unwrap();
    assert!(
        m.contains("idcard_commands_total{command=\"ReportLoss\",outcome=\"ok\"} 1"),
        "{m}"
    );
    assert!(m.contains("outcome=\"bad_signature\"} 1"), "{m}");
    assert!(m.contains("idcard_verified_cards_total 3"), "{m}");
    assert!(m.contains("idcard_publication_lag_seconds_count"), "{m}");

    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_through_rustls_and_plain_http_on_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(&dir.path().join("data"), 5, 1, 1).unwrap();
    let options = |listen: &str| {
        idcard_server::ServeOptions::new(
            listen.parse().unwrap(),
            s.ministry.clone(),
            PublishOptions::signed(s.publisher.clone()),
        )
    };
    // Plain HTTP elsewhere than on loopback: refused before anything listens.
    let engine = idcard_server::open_engine(&s.data).unwrap();
    let Err(e) = idcard_server::start(engine, options("0.0.0.0:0")).await else {
        panic!("plain HTTP on 0.0.0.0 was served");
    };
    assert!(e.to_string().contains("loopback only"), "{e}");

    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.key_pair.serialize_pem()).unwrap();
    let mut o = options("127.0.0.1:0");
    o.tls = Some((cert_pem.clone(), key_pem));
    let engine = idcard_server::open_engine(&s.data).unwrap();
    let running = idcard_server::start(engine, o).await.unwrap();
    let port = running.addr.port();
    let tls = Client::new(&format!("https://127.0.0.1:{port}"), Some(&cert_pem)).unwrap();
    let health = tls.get_text("/healthz").await.unwrap();
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    // A command over TLS, signed as always.
    let card = s.cards[0];
    let out = tls
        .send(&s.stations[0], CommandKind::ReportLoss, loss(card))
        .await
        .unwrap();
    assert_eq!(out["status"], "lost");
    // Without the CA, the client refuses the server; plain HTTP to the TLS port gets nothing.
    let untrusting = Client::new(&format!("https://127.0.0.1:{port}"), None).unwrap();
    assert!(untrusting.get_text("/healthz").await.is_err());
    let plain = Client::new(&format!("http://127.0.0.1:{port}"), None).unwrap();
    assert!(plain.get_text("/healthz").await.is_err());
    running.stop().await.unwrap();
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[test]
fn the_openapi_document_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    let doc = idcard_server::openapi::document();
    if std::env::var_os("IDCARD_BLESS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == doc,
        "docs/openapi.json differs from the code: IDCARD_BLESS=1 cargo test -p idcard-server --test platform the_openapi, and review the diff"
    );
}
