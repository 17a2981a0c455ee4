//! The Rust client of the server: signed commands, sessions, online verification, the feed.

use std::time::Duration;

use anyhow::{Context, bail};
use idcard::station::{Actor, CommandKind};
use idcard::workflow::remote::{self, SignedCommand};

use crate::api::{CommandResponse, SessionRequest, SessionResponse, VerifyRequest, VerifyResponse};
use crate::feed::Listing;

/// An error answer from the server (a refusal, an authentication failure …).
#[derive(Debug, thiserror::Error)]
#[error("{status}: {code}: {message}")]
pub struct ServerError {
    /// HTTP status.
    pub status: u16,
    /// The stable code.
    pub code: String,
    /// For people.
    pub message: String,
}

/// A client of one server.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

async fn answer<T: serde::de::DeserializeOwned>(r: reqwest::Response) -> anyhow::Result<T> {
    let status = r.status();
    let bytes = r.bytes().await.context("reading the answer")?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).context("decoding the answer");
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    Err(ServerError {
        status: status.as_u16(),
        code: v["error"]["code"]
            .as_str()
            .unwrap_or("http_error")
            .to_string(),
        message: v["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned()),
    }
    .into())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Client {
    /// A client of the server at `base` (`http://127.0.0.1:8443`, `https://…`). `ca`: a PEM
    /// certificate to trust besides the system's (a test or private CA).
    pub fn new(base: &str, ca: Option<&std::path::Path>) -> anyhow::Result<Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256);
        if let Some(ca) = ca {
            let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
            b = b.add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
        }
        Ok(Client {
            http: b.build()?,
            base: base.trim_end_matches('/').to_string(),
            token: None,
        })
    }

    /// The same client with a session's token.
    pub fn with_token(mut self, token: String) -> Client {
        self.token = Some(token);
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn auth(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Sign `request` as `actor` and run it as command `command`.
    pub async fn send(
        &self,
        actor: &Actor,
        command: CommandKind,
        request: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let sc = remote::sign(actor, command, request, now_ms())?;
        self.send_signed(&sc).await
    }

    /// Send a command signed elsewhere.
    pub async fn send_signed(&self, sc: &SignedCommand) -> anyhow::Result<serde_json::Value> {
        let r = self
            .http
            .post(self.url("/v1/commands"))
            .json(sc)
            .send()
            .await?;
        let a: CommandResponse = answer(r).await?;
        Ok(a.output)
    }

    /// Open a session as `actor` (signed), and keep its token.
    pub async fn login(self, actor: &Actor) -> anyhow::Result<Client> {
        let payload = crate::api::session_payload(actor.officer.as_str(), actor.station.as_str());
        let auth = remote::sign_payload(actor, CommandKind::VerifyOnline, payload, now_ms())?;
        let req = SessionRequest {
            officer: actor.officer.to_string(),
            station: actor.station.to_string(),
            auth,
        };
        let r = self
            .http
            .post(self.url("/v1/sessions"))
            .json(&req)
            .send()
            .await?;
        let s: SessionResponse = answer(r).await?;
        Ok(self.with_token(s.token))
    }

    /// The session's token, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Verify cards online.
    pub async fn verify(&self, req: &VerifyRequest) -> anyhow::Result<VerifyResponse> {
        let r = self
            .auth(self.http.post(self.url("/v1/verify")))
            .json(req)
            .send()
            .await?;
        answer(r).await
    }

    /// A profile's chain (long poll up to `wait`).
    pub async fn listing(
        &self,
        profile: &str,
        after: u64,
        wait: Duration,
    ) -> anyhow::Result<Listing> {
        let url = self.url(&format!(
            "/v1/feed/{profile}?after={after}&wait_ms={}",
            wait.as_millis()
        ));
        let r = self
            .auth(self.http.get(url))
            .timeout(wait + Duration::from_secs(30))
            .send()
            .await?;
        answer(r).await
    }

    /// A file of the feed.
    pub async fn file(&self, profile: &str, name: &str) -> anyhow::Result<Vec<u8>> {
        if name.contains('/') || name.starts_with('.') {
            bail!("refusing a feed file name with a path in it: {name:?}");
        }
        let r = self
            .auth(
                self.http
                    .get(self.url(&format!("/v1/feed/{profile}/files/{name}"))),
            )
            .send()
            .await?;
        if !r.status().is_success() {
            let e: anyhow::Result<serde_json::Value> = answer(r).await;
            return Err(e.err().unwrap_or_else(|| anyhow::anyhow!("no file")));
        }
        Ok(r.bytes().await?.to_vec())
    }

    /// GET a path, as text.
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let r = self.http.get(self.url(path)).send().await?;
        Ok(r.text().await?)
    }
}
