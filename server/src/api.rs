//! The HTTP interface: handlers are thin — decode, hand to the engine on a blocking thread,
//! encode. Every rule is the engine's ([`idcard::workflow::remote`] for commands).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use dashmap::DashMap;
use idcard::engine::{EngineError, auth};
use idcard::index::{CardStatus, Profile};
use idcard::model::{Subject, view};
use idcard::station::{Actor, CommandKind, StationKind, allowed};
use idcard::workflow::remote::{self, SignedCommand, WireAuth};
use idcard::{CardKey, IdNumber};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::feed::{HttpFeed, Listing};
use crate::metrics::Metrics;

/// Most cards in one online verification request.
pub const MAX_VERIFY_BATCH: usize = 10_000;

/// What the handlers share.
pub struct AppState {
    /// The engine.
    pub engine: Arc<idcard::engine::Engine>,
    /// The HTTP feed.
    pub feed: Arc<HttpFeed>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The platform's service officer: audited reads for citizens' queries are recorded in its
    /// name, with the query's origin as the purpose.
    pub service: Actor,
    /// Sessions by token (units verifying online, subscribers).
    pub sessions: DashMap<String, Session>,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// Rate limits.
    pub limits: RateLimits,
}

/// An authenticated unit or station: what a bearer token stands for.
#[derive(Clone, Debug)]
pub struct Session {
    /// Who opened it.
    pub actor: Actor,
    /// Their station's kind (what they may do).
    pub kind: StationKind,
    /// When it ends.
    pub expires: Instant,
}

/// Fixed-window counters by key (a client address, an identity number).
pub struct RateLimits {
    windows: DashMap<String, (Instant, u32)>,
    /// Citizen queries per client address per minute.
    pub per_address_per_minute: u32,
    /// Citizen queries about one identity number per hour.
    pub per_number_per_hour: u32,
}

impl RateLimits {
    /// Limits of `per_address_per_minute` and `per_number_per_hour`.
    pub fn new(per_address_per_minute: u32, per_number_per_hour: u32) -> RateLimits {
        RateLimits {
            windows: DashMap::new(),
            per_address_per_minute,
            per_number_per_hour,
        }
    }

    /// Count one request under `key`; false when the window's limit is reached.
    pub fn allow(&self, key: String, limit: u32, window: Duration) -> bool {
        let now = Instant::now();
        if self.windows.len() > 1_000_000 {
            self.windows
                .retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(3600));
        }
        let mut e = self.windows.entry(key).or_insert((now, 0));
        if now.duration_since(e.0) >= window {
            *e = (now, 0);
        }
        if e.1 >= limit {
            return false;
        }
        e.1 += 1;
        true
    }
}

/// An error answer: `{"ok": false, "error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Always false.
    pub ok: bool,
    /// What went wrong.
    pub error: ErrorDetail,
}

/// A stable code and a message for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code: the refusal's (`card_not_found`, `bad_signature` …) or `bad_request`,
    /// `unauthorized`, `rate_limited`, `not_found`, `internal`.
    pub code: String,
    /// For people.
    pub message: String,
}

/// An error with its HTTP status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
}

const AUTH_CODES: [&str; 8] = [
    "no_signature",
    "unknown_officer",
    "no_key",
    "wrong_key",
    "bad_signature",
    "officer_inactive",
    "clock_skew",
    "replayed",
];

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e.refusal() {
            Some(r) => {
                let status = if AUTH_CODES.contains(&r.code) {
                    StatusCode::UNAUTHORIZED
                } else if matches!(
                    r.code,
                    "officer_not_at_station"
                        | "station_kind_not_allowed"
                        | "unknown_station"
                        | "outside_jurisdiction"
                ) {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                ApiError::new(status, r.code, r.message.clone())
            }
            None => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        }
    }
}

impl From<remote::RemoteError> for ApiError {
    fn from(e: remote::RemoteError) -> ApiError {
        ApiError::bad_request(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            ok: false,
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// Run blocking engine work off the async threads; a panic becomes a 500, never a dropped
/// connection.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the request failed inside the server: {e}"),
        ))
    })
}

/// A command's answer: `{"ok": true, "output": …}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CommandResponse {
    /// Always true.
    pub ok: bool,
    /// The command's output (e.g. a loss report's receipt; `null` for commands that return
    /// nothing).
    #[schema(value_type = Object)]
    pub output: serde_json::Value,
}

/// A command signed by an officer (docs/FORMAT.md §13).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct SignedCommandDoc {
    /// The officer.
    officer: String,
    /// The officer's station.
    station: String,
    /// The command, snake_case (`report_loss`, `report_hit`, `intake_found_card` …).
    command: String,
    /// The command's request (its Rust type's serde form, e.g. `idcard::workflow::loss::LossRequest`).
    #[schema(value_type = Object)]
    request: serde_json::Value,
    /// The officer's signature.
    auth: Option<WireAuthDoc>,
}

/// An officer's signature, hex.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct WireAuthDoc {
    /// 16 hex digits.
    key_id: String,
    /// Unix milliseconds when signed.
    at_ms: i64,
    /// 32 hex digits, never reused.
    nonce: String,
    /// 128 hex digits (Ed25519).
    signature: String,
}

/// Run a command signed by an officer: the signature, the officer's station and kind and the
/// jurisdiction are checked before anything else; the answer comes once the record is durable.
#[utoipa::path(post, path = "/v1/commands", request_body = SignedCommandDoc,
    responses(
        (status = 200, description = "Done and durable", body = CommandResponse),
        (status = 400, description = "The request does not decode", body = ErrorBody),
        (status = 401, description = "Not authenticated (recorded as an unauthenticated attempt)", body = ErrorBody),
        (status = 403, description = "Not this station's to do (recorded)", body = ErrorBody),
        (status = 422, description = "Refused by a rule (recorded)", body = ErrorBody),
    ))]
pub async fn command(
    State(s): State<Arc<AppState>>,
    Json(sc): Json<SignedCommand>,
) -> Result<Json<CommandResponse>, ApiError> {
    let started = Instant::now();
    let kind = format!("{:?}", sc.command);
    let st = Arc::clone(&s);
    let result = blocking(move || Ok(remote::execute(&st.engine, &sc)?)).await;
    s.metrics.command_latency.observe(started.elapsed());
    let outcome = match result {
        Ok(Ok(output)) => {
            s.metrics.command(&kind, "ok");
            return Ok(Json(CommandResponse { ok: true, output }));
        }
        Ok(Err(e)) => ApiError::from(e),
        Err(e) => e,
    };
    s.metrics.command(&kind, &outcome.code);
    Err(outcome)
}

/// Open a session: a unit's (or station's) officer signs `("idcard-session-v1", officer,
/// station)` as command `verify_online`; the answer is a bearer token for online verification,
/// certificate checks and the feed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionRequest {
    /// The officer.
    pub officer: String,
    /// The officer's station.
    pub station: String,
    /// The officer's signature (command `verify_online`).
    #[schema(value_type = WireAuthDoc)]
    pub auth: WireAuth,
}

/// A session.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionResponse {
    /// `Authorization: Bearer <token>`.
    pub token: String,
    /// Seconds it lasts.
    pub expires_in: u64,
    /// The station's kind.
    pub station_kind: String,
}

/// The payload an officer signs to open a session.
pub fn session_payload(officer: &str, station: &str) -> [u8; 32] {
    auth::payload_hash(&("idcard-session-v1", officer, station))
}

/// Open a session with a signature: the officer is registered and active, the key theirs, the
/// time current, and their station may verify online.
#[utoipa::path(post, path = "/v1/sessions", request_body = SessionRequest,
    responses(
        (status = 200, description = "A bearer token", body = SessionResponse),
        (status = 401, description = "Not authenticated (recorded)", body = ErrorBody),
    ))]
pub async fn session(
    State(s): State<Arc<AppState>>,
    Json(r): Json<SessionRequest>,
) -> Result<Json<SessionResponse>, ApiError> {
    let st = Arc::clone(&s);
    let (actor, kind) = blocking(move || {
        let payload = session_payload(&r.officer, &r.station);
        remote::authenticate(
            &st.engine,
            &r.officer,
            &r.station,
            CommandKind::VerifyOnline,
            payload,
            Some(&r.auth),
        )??;
        let actor = Actor::new(&r.officer, &r.station).map_err(ApiError::bad_request)?;
        let kind = st
            .engine
            .with_state(|state| state.stations.get(&actor.station).map(|x| x.kind))
            .ok_or_else(|| ApiError::unauthorized("the station is not registered"))?;
        Ok((actor, kind))
    })
    .await?;
    let mut token = [0u8; 32];
    getrandom::fill(&mut token)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let token = hex::encode(token);
    s.sessions.insert(
        token.clone(),
        Session {
            actor,
            kind,
            expires: Instant::now() + s.session_ttl,
        },
    );
    if s.sessions.len() > 100_000 {
        let now = Instant::now();
        s.sessions.retain(|_, v| v.expires > now);
    }
    Ok(Json(SessionResponse {
        token,
        expires_in: s.session_ttl.as_secs(),
        station_kind: kind.as_str().into(),
    }))
}

fn session_of(s: &AppState, headers: &HeaderMap) -> Result<Session, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::unauthorized(
                "no `Authorization: Bearer <token>` (POST /v1/sessions opens one)",
            )
        })?;
    let session = s
        .sessions
        .get(token.trim())
        .map(|x| x.clone())
        .ok_or_else(|| ApiError::unauthorized("unknown or expired session"))?;
    if session.expires <= Instant::now() {
        s.sessions.remove(token.trim());
        return Err(ApiError::unauthorized(
            "the session expired: open a new one",
        ));
    }
    Ok(session)
}

/// One card to verify.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CardQuery {
    /// The identity number (18 characters; 15-digit first-generation numbers are accepted).
    pub number: String,
    /// The card's validity start, `YYYY-MM-DD`.
    pub valid_from: String,
}

/// Cards to verify (at most 10,000).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerifyRequest {
    /// The cards.
    pub cards: Vec<CardQuery>,
}

/// The answers, in the order asked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerifyResponse {
    /// `valid`, `lost`, `stolen`, `superseded`, `invalidated`, `expired`, `invalid_number`
    /// (the C library's statuses; a bank's least data: no reasons, no dates).
    pub statuses: Vec<String>,
    /// The journal sequence the answers reflect.
    pub seq: u64,
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let n = |r: std::ops::Range<usize>| std::str::from_utf8(&b[r]).ok()?.parse::<u32>().ok();
        NaiveDate::from_ymd_opt(n(0..4)? as i32, n(5..7)?, n(8..10)?)
    } else {
        None
    }
}

/// Verify cards online (L3), from the platform's live verifier: the statuses the C library
/// gives, for units without an offline copy. Needs a session.
#[utoipa::path(post, path = "/v1/verify", request_body = VerifyRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One status per card", body = VerifyResponse),
        (status = 400, description = "Too many cards", body = ErrorBody),
        (status = 401, description = "No session", body = ErrorBody),
    ))]
pub async fn verify(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(r): Json<VerifyRequest>,
) -> Result<Json<VerifyResponse>, ApiError> {
    session_of(&s, &headers)?;
    if r.cards.len() > MAX_VERIFY_BATCH {
        return Err(ApiError::bad_request(format!(
            "{} cards: at most {MAX_VERIFY_BATCH} in one request",
            r.cards.len()
        )));
    }
    let v = s.engine.live_verifier().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_verifier",
            "the server keeps no live verifier",
        )
    })?;
    let statuses = r
        .cards
        .iter()
        .map(|c| match parse_date(&c.valid_from) {
            Some(d) => v.verify_number(c.number.as_bytes(), d).as_str().to_string(),
            None => CardStatus::InvalidNumber.as_str().to_string(),
        })
        .collect();
    s.metrics
        .verified_cards
        .fetch_add(r.cards.len() as u64, Ordering::Relaxed);
    s.metrics.verify_requests.fetch_add(1, Ordering::Relaxed);
    Ok(Json(VerifyResponse {
        statuses,
        seq: v.info().journal_seq,
    }))
}

/// A temporary identity certificate presented for a trip (A8).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificateQuery {
    /// The certificate's number (printed on it).
    pub id: u64,
    /// The traveller's identity number.
    pub number: String,
    /// The trip it was issued for (flight or train number, hotel booking reference).
    pub trip: String,
}

/// The check's result.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificateAnswer {
    /// `valid`, `unknown`, `mismatch`, `used`, `expired`.
    pub result: String,
}

/// Check a temporary identity certificate (A8): airlines, railways, hotels and their police.
#[utoipa::path(post, path = "/v1/temporary-certificates/check", request_body = CertificateQuery,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The result", body = CertificateAnswer),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 403, description = "This kind of station does not check certificates", body = ErrorBody),
    ))]
pub async fn check_certificate(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(q): Json<CertificateQuery>,
) -> Result<Json<CertificateAnswer>, ApiError> {
    let session = session_of(&s, &headers)?;
    if !allowed(CommandKind::CheckTemporaryCertificate, session.kind) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "station_kind_not_allowed",
            format!("a {} does not check temporary certificates", session.kind),
        ));
    }
    let number: IdNumber = q
        .number
        .parse()
        .map_err(|e| ApiError::bad_request(format!("number: {e}")))?;
    let now = s.engine.clock().now().timestamp_millis();
    let r = s
        .engine
        .with_state(|st| view::check_certificate(st, q.id, number, &q.trip, now));
    let result = serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(Json(CertificateAnswer { result }))
}

/// A citizen's question about their own card.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CitizenQuery {
    /// The identity number.
    pub number: String,
    /// The card's validity start, `YYYY-MM-DD` (printed on the card's back).
    pub valid_from: String,
}

/// What a citizen learns about one card: its status and, if it was handed in at a
/// lost-and-found window, where and since when.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CitizenAnswer {
    /// The card's status, as a bank would see it.
    pub status: String,
    /// Whether it was handed in (and is held), and where.
    pub found: Option<FoundAt>,
}

/// Where a found card can be collected (F1).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FoundAt {
    /// `held`, `returned`, `destroyed` …
    pub state: String,
    /// The window's name, when held.
    pub window_name: Option<String>,
    /// The day (in China) it was handed in.
    pub since: NaiveDate,
}

/// A citizen asks about their own card (F1, L1): rate-limited per address and per number,
/// and recorded as an audited read in the platform service's name with the address as the
/// purpose. It tells no more than the card's status (what any bank can test) and, for a card
/// held at a window, that window and the day.
#[utoipa::path(get, path = "/v1/citizen/card", params(CitizenQuery),
    responses(
        (status = 200, description = "The answer", body = CitizenAnswer),
        (status = 400, description = "Not a valid number or date", body = ErrorBody),
        (status = 429, description = "Too many queries", body = ErrorBody),
    ))]
pub async fn citizen(
    State(s): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Query(q): Query<CitizenQuery>,
) -> Result<Json<CitizenAnswer>, ApiError> {
    let number: IdNumber = q
        .number
        .parse()
        .map_err(|e| ApiError::bad_request(format!("number: {e}")))?;
    let valid_from = parse_date(&q.valid_from)
        .ok_or_else(|| ApiError::bad_request("valid_from: not a date YYYY-MM-DD"))?;
    let key = CardKey::new(number, valid_from)
        .map_err(|e| ApiError::bad_request(format!("card: {e}")))?;
    let l = &s.limits;
    if !l.allow(
        format!("a:{}", addr.ip()),
        l.per_address_per_minute,
        Duration::from_secs(60),
    ) || !l.allow(
        format!("n:{number}"),
        l.per_number_per_hour,
        Duration::from_secs(3600),
    ) {
        s.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many queries: try again later",
        ));
    }
    let st = Arc::clone(&s);
    let answer = blocking(move || {
        let purpose = format!("citizen's query about their own card, from {}", addr.ip());
        let today = st.engine.clock().china_today();
        let live = st.engine.live_verifier().map(|v| v.verify_on(key, today));
        Ok(st
            .engine
            .read_personal(
                &st.service,
                "citizen_card_query",
                Some(Subject::Card(key)),
                &purpose,
                |state| {
                    let answer = (|| {
                        let status = match live {
                            Some(s) => s,
                            None => view::card_status(state, key)?,
                        };
                        let found = view::found_query(state, number)?
                            .into_iter()
                            .find(|f| f.valid_from == valid_from)
                            .map(|f| FoundAt {
                                state: f.state.to_string(),
                                window_name: f.window_name,
                                since: f.since,
                            });
                        Ok::<_, idcard::store::StoreError>(CitizenAnswer {
                            status: status.as_str().into(),
                            found,
                        })
                    })();
                    (answer, 1)
                },
            )?
            .map_err(idcard::engine::EngineError::from)?)
    })
    .await?;
    s.metrics.citizen_queries.fetch_add(1, Ordering::Relaxed);
    Ok(Json(answer))
}

/// Which deltas to list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct FeedQuery {
    /// List the deltas that end after this journal sequence (default 0: all).
    #[serde(default)]
    pub after: u64,
    /// Wait up to this many milliseconds for a delta past `after` (long poll; at most 30,000).
    #[serde(default)]
    pub wait_ms: u64,
}

fn feed_access(s: &AppState, headers: &HeaderMap, profile: &str) -> Result<(), ApiError> {
    let session = session_of(s, headers)?;
    let profile: Profile = profile
        .parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such profile"))?;
    if profile == Profile::Police && !session.kind.is_police() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "station_kind_not_allowed",
            "the police profile (with the blacklist) is for the police (S2)",
        ));
    }
    Ok(())
}

/// A profile's chain: snapshot, deltas after `after`, newest timestamp (long poll with
/// `wait_ms`). The police profile needs a police session.
#[utoipa::path(get, path = "/v1/feed/{profile}", params(("profile" = String, Path, description = "bank or police"), FeedQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The chain", body = Listing),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 404, description = "No such profile on this server", body = ErrorBody),
    ))]
pub async fn feed(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(profile): Path<String>,
    Query(q): Query<FeedQuery>,
) -> Result<Json<Listing>, ApiError> {
    feed_access(&s, &headers, &profile)?;
    if q.wait_ms > 0 {
        s.feed
            .wait(
                &profile,
                q.after,
                Duration::from_millis(q.wait_ms.min(30_000)),
            )
            .await;
    }
    s.feed.listing(&profile, q.after).map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this server does not publish that profile",
        )
    })
}

/// A file of the feed (signed: a subscriber checks it against the platform's pinned key).
#[utoipa::path(get, path = "/v1/feed/{profile}/files/{name}",
    params(("profile" = String, Path, description = "bank or police"), ("name" = String, Path, description = "a name from the listing")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The file's bytes", content_type = "application/octet-stream"),
        (status = 404, description = "Not on the feed (any more)", body = ErrorBody),
    ))]
pub async fn feed_file(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((profile, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    feed_access(&s, &headers, &profile)?;
    let path = s.feed.file(&profile, &name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such file on the feed",
        )
    })?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{name}: {e}")))?;
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from(bytes),
    )
        .into_response())
}

/// The server is up and the record open.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// The journal's last sequence.
    pub journal_seq: u64,
    /// The newest sequence on the feed.
    pub published_seq: u64,
}

/// Liveness and where the record and the feed are.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "Up", body = Health)))]
pub async fn healthz(State(s): State<Arc<AppState>>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        journal_seq: s.engine.last_seq(),
        published_seq: s.metrics.published_seq.load(Ordering::Relaxed),
    })
}

/// Prometheus text format: commands, refusals, latency, verification, publication lag.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Counters", content_type = "text/plain")))]
pub async fn metrics(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(s.engine.last_seq()),
    )
}

async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document(),
    )
}

/// The router.
pub fn router(state: Arc<AppState>) -> axum::Router {
    axum::Router::new()
        .route(
            "/v1/commands",
            post(command).layer(DefaultBodyLimit::max(64 << 20)),
        )
        .route("/v1/sessions", post(session))
        .route(
            "/v1/verify",
            post(verify).layer(DefaultBodyLimit::max(4 << 20)),
        )
        .route("/v1/temporary-certificates/check", post(check_certificate))
        .route("/v1/citizen/card", get(citizen))
        .route("/v1/feed/{profile}", get(feed))
        .route("/v1/feed/{profile}/files/{name}", get(feed_file))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .with_state(state)
}
