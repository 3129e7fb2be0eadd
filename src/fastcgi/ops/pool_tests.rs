//! Tests of `pool.rs`.

use super::*;

fn sample() -> PoolStatus {
    PoolStatus {
        workers: vec![
            WorkerLine {
                pid: 41,
                started_unix: 1_764_612_345,
                requests: 7,
                resident_bytes: Some(4096),
            },
            WorkerLine {
                pid: 42,
                started_unix: 1_764_612_346,
                requests: 0,
                resident_bytes: None,
            },
        ],
        restarts: vec![("crash", 2), ("max-requests", 1), ("max-rss", 0)],
        requests_total: 19,
    }
}

#[test]
fn json_has_a_line_per_worker_the_restarts_and_the_total() {
    let value = sample().json();
    assert_eq!(value["requests_total"], 19);
    assert_eq!(value["restarts"]["crash"], 2);
    assert_eq!(value["restarts"]["max-rss"], 0);
    assert_eq!(value["workers"][0]["pid"], 41);
    assert_eq!(value["workers"][0]["resident_memory_bytes"], 4096);
    assert!(value["workers"][1]["resident_memory_bytes"].is_null());
}

#[test]
fn prometheus_has_the_pool_families() {
    let mut out = String::new();
    sample().prometheus(&mut out);
    for line in [
        "pycnic_pool_requests_total 19",
        "pycnic_pool_restarts_total{reason=\"crash\"} 2",
        "pycnic_pool_worker_requests{pid=\"41\"} 7",
        "pycnic_pool_worker_resident_memory_bytes{pid=\"41\"} 4096",
        "# TYPE pycnic_pool_requests_total counter",
    ] {
        assert!(out.lines().any(|l| l == line), "{line} in\n{out}");
    }
    assert!(!out.contains("pid=\"42\"} 4096"));
}
