//! Prometheus-style counters of the server (`GET /metrics`): commands and refusals by kind and
//! code, command latency, online verification, citizen queries, publication lag.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histograms' buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A cumulative histogram of durations, Prometheus style.
#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    /// Count one observation.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let c = self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
        }
        let n = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {n}");
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {n}");
    }
}

/// Every counter of the server.
#[derive(Default)]
pub struct Metrics {
    commands: Mutex<BTreeMap<(String, String), u64>>,
    /// Latency of commands (decode, check, decide, durable).
    pub command_latency: Histogram,
    /// Cards verified online.
    pub verified_cards: AtomicU64,
    /// Online verification requests.
    pub verify_requests: AtomicU64,
    /// Citizen queries answered.
    pub citizen_queries: AtomicU64,
    /// Requests refused by a rate limit.
    pub rate_limited: AtomicU64,
    /// Deltas published.
    pub deltas_published: AtomicU64,
    /// Snapshots published.
    pub snapshots_published: AtomicU64,
    /// Time from the first unpublished record to its delta being on the feed.
    pub publication_lag: Histogram,
    /// The newest journal sequence on the feed.
    pub published_seq: AtomicU64,
    /// Publications that failed (retried at the next tick).
    pub publish_errors: AtomicU64,
}

impl Metrics {
    /// Count a command's outcome: `ok`, or the refusal's code.
    pub fn command(&self, kind: &str, outcome: &str) {
        let mut m = self.commands.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((kind.to_string(), outcome.to_string()))
            .or_insert(0) += 1;
    }

    /// The text exposition format.
    pub fn render(&self, last_seq: u64) -> String {
        let mut out = String::new();
        out.push_str("# HELP idcard_commands_total Commands by kind and outcome (ok or the refusal code).\n# TYPE idcard_commands_total counter\n");
        for ((k, o), n) in self
            .commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "idcard_commands_total{{command=\"{k}\",outcome=\"{o}\"}} {n}"
            );
        }
        self.command_latency.render(
            "idcard_command_duration_seconds",
            "Commands from request to durable answer.",
            &mut out,
        );
        let counters = [
            (
                "idcard_verified_cards_total",
                "Cards verified online.",
                &self.verified_cards,
            ),
            (
                "idcard_verify_requests_total",
                "Online verification requests.",
                &self.verify_requests,
            ),
            (
                "idcard_citizen_queries_total",
                "Citizen queries answered.",
                &self.citizen_queries,
            ),
            (
                "idcard_rate_limited_total",
                "Requests refused by a rate limit.",
                &self.rate_limited,
            ),
            (
                "idcard_deltas_published_total",
                "Deltas published to the feed.",
                &self.deltas_published,
            ),
            (
                "idcard_snapshots_published_total",
                "Snapshots published to the feed.",
                &self.snapshots_published,
            ),
            (
                "idcard_publish_errors_total",
                "Publications that failed (retried).",
                &self.publish_errors,
            ),
        ];
        for (name, help, c) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                c.load(Ordering::Relaxed)
            );
        }
        self.publication_lag.render(
            "idcard_publication_lag_seconds",
            "From a record that changes an answer to its delta on the feed.",
            &mut out,
        );
        let published = self.published_seq.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP idcard_journal_seq The journal's last sequence.\n# TYPE idcard_journal_seq gauge\nidcard_journal_seq {last_seq}"
        );
        let _ = writeln!(
            out,
            "# HELP idcard_published_seq The newest sequence on the feed.\n# TYPE idcard_published_seq gauge\nidcard_published_seq {published}"
        );
        out
    }
}
