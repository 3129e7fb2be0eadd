//! Tests of `status.rs`.

use super::*;
use crate::fastcgi::ops::load::ByState;

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
        load: Load {
            connections: ByState {
                idle: 3,
                receiving: 1,
                queued: 2,
                in_handler: 2,
                writing: 1,
            },
            busy: 2,
            total: 4,
            queue: 2,
        },
        resident_bytes: Some(4096),
        health: Default::default(),
        pool: None,
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
