//! `idcard serve`, `idcard subscribe`, `idcard send`, `idcard session`, `idcard load`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use idcard::index::Profile;
use idcard::station::CommandKind;
use idcard::trust::TrustStore;
use idcard::workflow::publish::PublishOptions;
use idcard_server::client::{Client, ServerError};
use idcard_server::subscribe::{SubscribeOptions, Subscriber};

use crate::args::serve::{SendArgs, ServeArgs, SessionArgs, SubscribeArgs};

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

pub fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let service = a.service.actor()?;
    let publish = PublishOptions {
        signer: a.sign.signer()?.map(|s| s as _),
        subscriber: None,
    };
    if publish.signer.is_none() {
        eprintln!("idcard serve: no --sign-key: the feed is unsigned, and verifiers refuse it");
    }
    let mut options = idcard_server::ServeOptions::new(a.listen, service, publish);
    options.tls = a.tls_cert.zip(a.tls_key);
    options.feed_dir = a.feed;
    options.publish_interval = Duration::from_millis(a.interval_ms.max(10));
    options.snapshot_after = a.snapshot_after;
    options.profiles = vec![Profile::Bank, Profile::Police];
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let engine = idcard_server::open_engine_with(&a.data, a.store.provider()?)?;
    runtime()?.block_on(async move {
        let running = idcard_server::start(engine, options).await?;
        println!("listening on {scheme}://{}", running.addr);
        std::io::stdout().flush()?;
        terminated().await;
        eprintln!("idcard serve: stopping");
        running.stop().await?;
        Ok(ExitCode::SUCCESS)
    })
}

pub fn subscribe(a: SubscribeArgs) -> anyhow::Result<ExitCode> {
    let trust = TrustStore::read(&a.trust)?;
    let options = SubscribeOptions {
        profile: a.profile,
        dir: a.dir,
        trust,
        wait: Duration::from_secs(25),
        verbose: true,
    };
    if let Some(url) = a.nats {
        if a.once {
            anyhow::bail!("--once is for the HTTP feed (--from)");
        }
        let s = Subscriber::local(options)?;
        return runtime()?.block_on(async move {
            idcard_server::nats::follow(&url, s, terminated()).await?;
            Ok(ExitCode::SUCCESS)
        });
    }
    let from = a.from.context("--from or --nats")?;
    let who = crate::args::Who {
        officer: a.officer.context("--officer: who signs in to the feed")?,
        station: a.station.context("--station")?,
        officer_key: a.key,
    };
    let actor = who.actor()?;
    let client = Client::new(&from, a.ca.as_deref())?;
    runtime()?.block_on(async move {
        let mut s = Subscriber::new(client, actor, options).await?;
        if a.once {
            // Until nothing more is listed.
            loop {
                let before = s.seq();
                let after = s.sync(Duration::ZERO).await?;
                if after == before {
                    break;
                }
            }
            println!("at sequence {}", s.seq());
            return Ok(ExitCode::SUCCESS);
        }
        s.follow(terminated()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

pub fn send(a: SendArgs) -> anyhow::Result<ExitCode> {
    let command: CommandKind = serde_json::from_value(serde_json::Value::String(a.command.clone()))
        .map_err(|_| {
            anyhow::anyhow!(
                "`{}` is not a command (snake_case, e.g. report_loss)",
                a.command
            )
        })?;
    let text = if a.request == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        a.request.clone()
    };
    let request: serde_json::Value =
        serde_json::from_str(&text).context("the request is not JSON")?;
    let actor = a.who.actor()?;
    let client = Client::new(&a.server, a.ca.as_deref())?;
    runtime()?.block_on(async move {
        match client.send(&actor, command, request).await {
            Ok(out) => {
                println!("{}", serde_json::json!({"ok": true, "output": out}));
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => match e.downcast_ref::<ServerError>() {
                Some(s) if s.status == 422 || s.status == 403 || s.status == 401 => {
                    println!(
                        "{}",
                        serde_json::json!({"ok": false, "refused": {"code": s.code, "message": s.message}})
                    );
                    eprintln!("idcard: refused: {}: {}", s.code, s.message);
                    Ok(ExitCode::from(1))
                }
                _ => Err(e),
            },
        }
    })
}

pub fn session(a: SessionArgs) -> anyhow::Result<ExitCode> {
    let actor = a.who.actor()?;
    let client = Client::new(&a.server, a.ca.as_deref())?;
    runtime()?.block_on(async move {
        let c = client.login(&actor).await?;
        println!("{}", c.token().unwrap_or_default());
        Ok(ExitCode::SUCCESS)
    })
}

pub fn load(a: crate::args::serve::LoadArgs) -> anyhow::Result<ExitCode> {
    let options = idcard_server::load::LoadOptions {
        stations: a.stations,
        units: a.units,
        subscribers: a.subscribers,
        seconds: a.seconds,
        batch: a.batch,
        people: a.people,
        dir: a.dir,
        nats: a.nats,
        subscribers_dir: a.subscribers_dir,
        redis: a.redis,
        store: match &a.postgres {
            Some(conn) => {
                let p = idcard_postgres::Postgres::new(conn, "idcard_load")?;
                p.drop_schema("idcard_load")?;
                Some(std::sync::Arc::new(p))
            }
            None => None,
        },
    };
    let r = runtime()?.block_on(idcard_server::load::run(options))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "commands   {} acknowledged ({} failed) in {:.1} s: {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms",
            r.commands,
            r.command_errors,
            a.seconds,
            r.commands_per_s,
            r.command_latency.p50_ms,
            r.command_latency.p99_ms
        );
        println!(
            "propagation loss report answered -> `lost` at {} subscribers' verifiers: {} samples, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            a.subscribers,
            r.propagation.count,
            r.propagation.p50_ms,
            r.propagation.p99_ms,
            r.propagation.max_ms
        );
        println!(
            "online     {} cards verified by {} units in batches of {}: {:.0} cards/s; per request p50 {:.2} ms, p99 {:.2} ms",
            r.verified_cards,
            a.units,
            a.batch,
            r.verified_per_s,
            r.verify_latency.p50_ms,
            r.verify_latency.p99_ms
        );
        if let (Some(per_s), Some(l)) = (r.redis_per_s, &r.redis_latency) {
            println!(
                "redis      SISMEMBER pipelined in batches of {} over {} connections: {per_s:.0} cards/s (idcard online: {:.2}x); per batch p50 {:.2} ms, p99 {:.2} ms",
                a.batch,
                a.units,
                r.verified_per_s / per_s,
                l.p50_ms,
                l.p99_ms
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
