//! The status page's figures under FastCGI (`--status-path`; the model is in `crate::ops`),
//! and their rendering. The event side gathers them (`serve::pages`) and answers the page
//! itself.
//!
//! The page is the counters of `metrics` plus what is a state, computed when the page is
//! asked: connections by state (a scan of the slots), busy and idle workers, the queue now,
//! resident memory (`/proc/self/statm`), the health (`health`: stuck handlers, whether a
//! handler can run now). It renders as JSON, or as the Prometheus text
//! exposition format 0.0.4 with `?format=prometheus` or an `Accept` asking for it.
//!
//! Connection states: `idle` (kept alive between requests), `receiving` (params or body on
//! the way), `queued` (complete, waiting for a free handler), `in_handler` (a handler runs
//! on it), `writing` (an answer being sent, the status page's own connection included).

use serde_json::json;
use std::fmt::Write as _;

use super::health::Health;
use super::load::Load;
use super::metrics::{CLASSES, Counts, WINDOW};

/// Everything the status page shows, read at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Status {
    /// The app's version (its `--version`), else pycnic's.
    pub(crate) version: String,
    pub(crate) counts: Counts,
    /// Connections by state, handler slots busy of all, the queue now.
    pub(crate) load: Load,
    pub(crate) resident_bytes: Option<u64>,
    /// Whether a handler can run now, and the stuck handlers.
    pub(crate) health: Health,
    /// Under a master: the pool's workers, restarts and request total.
    pub(crate) pool: Option<super::pool::PoolStatus>,
}

/// Resident memory from `/proc/self/statm` (its second field, in pages).
pub(crate) fn resident_bytes() -> Option<u64> {
    resident_bytes_at("/proc/self/statm")
}

/// A process's resident memory, from /proc/PID/statm (a worker's, read by its master or a
/// peer's status page).
pub(crate) fn process_resident_bytes(pid: u32) -> Option<u64> {
    resident_bytes_at(&format!("/proc/{pid}/statm"))
}

fn resident_bytes_at(statm: &str) -> Option<u64> {
    let statm = std::fs::read_to_string(statm).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page_size = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
    pages.checked_mul(page_size)
}

/// The status page as JSON.
pub(crate) fn render_json(status: &Status) -> Vec<u8> {
    let counts = &status.counts;
    let mut requests = serde_json::Map::new();
    requests.insert("total".into(), counts.total().into());
    for (class, n) in CLASSES.iter().zip(counts.classes) {
        requests.insert((*class).into(), n.into());
    }
    let mut connections = serde_json::Map::new();
    connections.insert("accepted".into(), counts.accepted.into());
    connections.insert("open".into(), status.load.connections.open().into());
    for (state, n) in status.load.connections.pairs() {
        connections.insert(state.into(), n.into());
    }
    let mut time = serde_json::Map::new();
    time.insert("window".into(), format!("last {WINDOW} answers").into());
    time.insert("window_count".into(), counts.window_len.into());
    for (q, value) in counts.quantiles {
        time.insert(format!("p{}", (q * 100.0).round()), value.into());
    }
    time.insert("sum".into(), counts.time_sum.into());
    time.insert("count".into(), counts.total().into());
    let body = json!({
        "version": status.version,
        "pycnic_version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": counts.uptime,
        "start_time_seconds": counts.started_unix,
        "connections": connections,
        "requests": requests,
        "answers": {
            "503": counts.busy,
            "413": counts.too_large,
            "431": counts.headers_too_large,
            "504": counts.timed_out,
        },
        "slow_requests": counts.slow,
        "workers": {
            "busy": status.load.busy,
            "idle": status.load.total.saturating_sub(status.load.busy),
            "total": status.load.total,
        },
        "queue": { "now": status.load.queue, "peak": counts.queue_peak },
        "request_time_seconds": time,
        "resident_memory_bytes": status.resident_bytes,
    });
    let mut body = body;
    if let Some(page) = body.as_object_mut() {
        page.insert("health".into(), status.health.json());
    }
    if let (Some(pool), Some(map)) = (&status.pool, body.as_object_mut()) {
        map.insert("processes".into(), pool.json());
    }
    let mut out = serde_json::to_vec_pretty(&body).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The Prometheus text exposition format 0.0.4 writer: one HELP and TYPE per family.
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (n, (label, value)) in labels.iter().enumerate() {
                if n > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{label}=\"{}\"", escape_label(value));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The status page in the Prometheus text exposition format 0.0.4.
pub(crate) fn render_prometheus(status: &Status) -> String {
    let counts = &status.counts;
    let mut out = Exposition(String::with_capacity(4096));
    out.family(
        "pycnic_build_info",
        "gauge",
        "The app's and pycnic's versions.",
    );
    out.sample(
        "pycnic_build_info",
        &[
            ("version", &status.version),
            ("pycnic_version", env!("CARGO_PKG_VERSION")),
        ],
        1,
    );
    out.one(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch in seconds.",
        counts.started_unix,
    );
    if let Some(bytes) = status.resident_bytes {
        out.one(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            bytes,
        );
    }
    out.one(
        "pycnic_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        counts.uptime,
    );
    out.one(
        "pycnic_connections_accepted_total",
        "counter",
        "Connections accepted from the web server.",
        counts.accepted,
    );
    out.family("pycnic_connections", "gauge", "Open connections by state.");
    for (state, n) in status.load.connections.pairs() {
        out.sample("pycnic_connections", &[("state", state)], n);
    }
    out.family(
        "pycnic_requests_total",
        "counter",
        "Requests answered, by status class.",
    );
    for (class, n) in CLASSES.iter().zip(counts.classes) {
        out.sample("pycnic_requests_total", &[("class", class)], n);
    }
    out.family(
        "pycnic_answers_by_code_total",
        "counter",
        "Answers 503 (busy), 413 (body too large), 431 (headers too large), 504 (request timeout).",
    );
    for (code, n) in [
        ("503", counts.busy),
        ("413", counts.too_large),
        ("431", counts.headers_too_large),
        ("504", counts.timed_out),
    ] {
        out.sample("pycnic_answers_by_code_total", &[("code", code)], n);
    }
    out.one(
        "pycnic_slow_requests_total",
        "counter",
        "Requests that passed --slow-log in their handler.",
        counts.slow,
    );
    out.family("pycnic_workers", "gauge", "Handler slots by state.");
    let idle = status.load.total.saturating_sub(status.load.busy);
    out.sample("pycnic_workers", &[("state", "busy")], status.load.busy);
    out.sample("pycnic_workers", &[("state", "idle")], idle);
    out.one(
        "pycnic_queue_length",
        "gauge",
        "Complete requests waiting for a free handler.",
        status.load.queue,
    );
    out.one(
        "pycnic_queue_length_max",
        "gauge",
        "The longest queue since the start.",
        counts.queue_peak,
    );
    let help = format!(
        "Time from request complete to answer framed; quantiles over the last {WINDOW} answers."
    );
    out.family("pycnic_request_duration_seconds", "summary", &help);
    for (q, value) in counts.quantiles {
        let q = q.to_string();
        out.sample(
            "pycnic_request_duration_seconds",
            &[("quantile", &q)],
            value,
        );
    }
    out.sample("pycnic_request_duration_seconds_sum", &[], counts.time_sum);
    out.sample("pycnic_request_duration_seconds_count", &[], counts.total());
    status.health.prometheus(&mut out.0);
    if let Some(pool) = &status.pool {
        pool.prometheus(&mut out.0);
    }
    out.0
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
