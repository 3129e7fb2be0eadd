//! Tests of `health.rs`.

use super::*;

fn signs() -> Signs {
    Signs {
        workers: 2,
        free: 0,
        stuck: 0,
        stuck_holding_slots: 0,
        queue_overdue: false,
    }
}

#[test]
fn busy_workers_alone_are_healthy() {
    assert_eq!(Health::judge(signs()).unable, None);
}

#[test]
fn every_slot_held_by_a_stuck_handler_cannot_run_handlers() {
    let health = Health::judge(Signs {
        stuck: 3,
        stuck_holding_slots: 2,
        ..signs()
    });
    assert!(health.unable.is_some_and(|r| r.contains("stuck")));
    assert_eq!(health.json()["handlers_stuck"], 3);
    let mut text = String::new();
    health.prometheus(&mut text);
    assert!(text.contains("\npycnic_can_run_handlers 0\n"), "{text}");
    assert!(text.contains("\npycnic_handlers_stuck 3\n"), "{text}");
}

#[test]
fn an_overdue_queue_with_no_free_slot_cannot_run_handlers_and_a_free_slot_can() {
    let overdue = Signs {
        queue_overdue: true,
        ..signs()
    };
    assert!(
        Health::judge(overdue)
            .unable
            .is_some_and(|r| r.contains("--queue-wait"))
    );
    assert_eq!(Health::judge(Signs { free: 1, ..overdue }).unable, None);
}

#[test]
fn the_session_store_s_breakers_are_shown_in_both_formats() {
    let health = Health {
        store: Some(StoreHealth {
            store: "redis",
            reads: BreakerState::Open {
                retry_in: std::time::Duration::from_millis(1500),
            },
            writes: BreakerState::Closed,
            failures: 4,
        }),
        ..Health::judge(signs())
    };
    let page = health.json();
    assert_eq!(page["session_store"]["store"], "redis");
    assert_eq!(page["session_store"]["reads"]["state"], "open");
    assert_eq!(page["session_store"]["reads"]["retry_in_seconds"], 1.5);
    assert_eq!(page["session_store"]["writes"]["state"], "closed");
    assert_eq!(page["session_store"]["failures_in_a_row"], 4);
    let mut text = String::new();
    health.prometheus(&mut text);
    assert!(
        text.contains("pycnic_session_store_breaker{store=\"redis\",access=\"reads\"} 2\n"),
        "{text}"
    );
    assert_eq!(
        Health::judge(signs()).json()["session_store"],
        serde_json::Value::Null
    );
}
