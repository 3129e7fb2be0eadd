//! The shipped systemd units restart a crashed app, and no run of crashes can exhaust their
//! start limit: with a start at most every `RestartSec=`, the starts that fit in
//! `StartLimitIntervalSec=` stay under `StartLimitBurst=`. (systemd's defaults, 100 ms and 5
//! starts in 10 s, left a service down for good after five quick crashes.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

/// `NAME=value` in the unit (the last one wins, as systemd reads it).
fn setting(unit: &str, name: &str) -> Option<String> {
    unit.lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix('='))
        .map(|v| v.trim().to_string())
}

/// Seconds in a systemd time span of the forms the units use (`2s`, `10s`, `2`, `500ms`).
fn seconds(span: &str) -> f64 {
    if let Some(ms) = span.strip_suffix("ms") {
        return ms.parse::<f64>().unwrap() / 1000.0;
    }
    span.trim_end_matches('s').parse().unwrap()
}

#[test]
fn no_run_of_crashes_exhausts_the_start_limit_of_the_shipped_units() {
    for name in ["pycnic.service", "pycnic-tcp.service"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("conf/systemd")
            .join(name);
        let unit = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            setting(&unit, "Restart").as_deref(),
            Some("on-failure"),
            "{name}"
        );
        let restart = seconds(&setting(&unit, "RestartSec").expect("RestartSec= is set"));
        // systemd's defaults where a unit says nothing.
        let interval = setting(&unit, "StartLimitIntervalSec").map_or(10.0, |s| seconds(&s));
        let burst: u32 = setting(&unit, "StartLimitBurst").map_or(5, |s| s.parse().unwrap());
        if interval == 0.0 {
            continue; // no start limit at all
        }
        let most_starts = (interval / restart).floor() as u32 + 1;
        assert!(
            most_starts < burst,
            "{name}: up to {most_starts} starts fit in {interval} s with RestartSec={restart}, \
             and {burst} starts stop the service for good"
        );
    }
}
