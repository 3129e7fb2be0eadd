//! The status page's figures under FastCGI (`--status-path`; the model is in `crate::ops`),
//! and their rendering. The event side gathers them (`serve::pages`) and answers the page
//! itself.
//!
//! The page is the counters of `metrics` plus what is a state, computed when the page is
//! asked: connections by state (a scan of the slots), busy and idle workers, the queue now,
//! resident memory (`/proc/self/statm`). It renders as JSON, or as the Prometheus text
//! exposition format 0.0.4 with `?format=prometheus` or an `Accept` asking for it.
//!
//! Connection states: `idle` (kept alive between requests), `receiving` (params or body on
//! the way), `queued` (complete, waiting for a free handler), `in_handler` (a handler runs
//! on it), `writing` (an answer being sent, the status page's own connection included).

use serde_json::json;
use std::fmt::Write as _;

use super::metrics::{CLASSES, Counts, WINDOW};

/// Connections open, by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ByState {
    pub(crate) idle: usize,
    pub(crate) receiving: usize,
    pub(crate) queued: usize,
    pub(crate) in_handler: usize,
    pub(crate) writing: usize,
}

impl ByState {
    fn pairs(&self) -> [(&'static str, usize); 5] {
        [
            ("idle", self.idle),
            ("receiving", self.receiving),
            ("queued", self.queued),
            ("in_handler", self.in_handler),
            ("writing", self.writing),
        ]
    }

    fn open(&self) -> usize {
        self.pairs().iter().map(|(_, n)| n).sum()
    }
}

/// Everything the status page shows, read at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Status {
    /// The app's version (its `--version`), else pycnic's.
    pub(crate) version: String,
    pub(crate) counts: Counts,
    pub(crate) connections: ByState,
    pub(crate) workers_busy: usize,
    pub(crate) workers_total: usize,
    /// Complete requests waiting for a free handler now.
    pub(crate) queue: usize,
    pub(crate) resident_bytes: Option<u64>,
}

/// Resident memory from `/proc/self/statm` (its second field, in pages).
pub(crate) fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
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
    connections.insert("open".into(), status.connections.open().into());
    for (state, n) in status.connections.pairs() {
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
            "busy": status.workers_busy,
            "idle": status.workers_total.saturating_sub(status.workers_busy),
            "total": status.workers_total,
        },
        "queue": { "now": status.queue, "peak": counts.queue_peak },
        "request_time_seconds": time,
        "resident_memory_bytes": status.resident_bytes,
    });
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
    for (state, n) in status.connections.pairs() {
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
    let idle = status.workers_total.saturating_sub(status.workers_busy);
    out.sample("pycnic_workers", &[("state", "busy")], status.workers_busy);
    out.sample("pycnic_workers", &[("state", "idle")], idle);
    out.one(
        "pycnic_queue_length",
        "gauge",
        "Complete requests waiting for a free handler.",
        status.queue,
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
    out.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            version: "1.2.3 \"beta\"".into(),
            counts: Counts {
                uptime: 12.5,
                started_unix: 1_764_612_345.25,
                accepted: 7,
                classes: [0, 5, 1, 3, 2],
                busy: 1,
                too_large: 1,
                headers_too_large: 0,
                timed_out: 1,
                slow: 2,
                time_sum: 0.75,
                queue_peak: 4,
                quantiles: [(0.5, 0.001), (0.9, 0.25), (0.99, 0.5)],
                window_len: 11,
            },
            connections: ByState {
                idle: 3,
                receiving: 1,
                queued: 2,
                in_handler: 2,
                writing: 1,
            },
            workers_busy: 2,
            workers_total: 4,
            queue: 2,
            resident_bytes: Some(4096),
        }
    }

    #[test]
    fn json_holds_every_figure() {
        let body: serde_json::Value = serde_json::from_slice(&render_json(&sample()))
            .unwrap_or_else(|err| panic!("not JSON: {err}"));
        assert_eq!(body["version"], "1.2.3 \"beta\"");
        assert_eq!(body["requests"]["total"], 11);
        assert_eq!(body["requests"]["4xx"], 3);
        assert_eq!(body["connections"]["open"], 9);
        assert_eq!(body["connections"]["in_handler"], 2);
        assert_eq!(body["answers"]["504"], 1);
        assert_eq!(body["workers"]["idle"], 2);
        assert_eq!(body["queue"]["peak"], 4);
        assert_eq!(body["request_time_seconds"]["p90"], 0.25);
        assert_eq!(body["resident_memory_bytes"], 4096);
    }

    #[test]
    fn prometheus_text_has_help_and_type_for_every_sample() {
        let text = render_prometheus(&sample());
        let mut typed = std::collections::HashMap::new();
        let mut helped = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped.insert(rest.split(' ').next().unwrap_or_default().to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or_default();
                typed.insert(name.to_string(), kind.to_string());
            } else {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                let family = ["_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains_key(*f)))
                    .unwrap_or(name);
                assert!(helped.contains(family), "no HELP for {line}");
                let kind = typed
                    .get(family)
                    .unwrap_or_else(|| panic!("no TYPE: {line}"));
                if kind == "counter" {
                    assert!(name.ends_with("_total"), "{line}");
                }
            }
        }
        assert!(text.contains("pycnic_build_info{version=\"1.2.3 \\\"beta\\\"\","));
        assert!(text.contains("pycnic_requests_total{class=\"5xx\"} 2\n"));
        assert!(text.contains("pycnic_connections{state=\"idle\"} 3\n"));
        assert!(text.contains("pycnic_request_duration_seconds{quantile=\"0.99\"} 0.5\n"));
        assert!(text.contains("pycnic_request_duration_seconds_count 11\n"));
        assert!(text.contains("process_start_time_seconds 1764612345.25\n"));
        assert!(text.contains("process_resident_memory_bytes 4096\n"));
    }

    #[test]
    fn resident_memory_is_read() {
        assert!(resident_bytes().is_some_and(|b| b > 0));
    }
}
