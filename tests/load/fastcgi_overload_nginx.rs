//! Overload through a real nginx: with the app at
//! `--max-connections 16 --workers 64`, 64 concurrent HTTP clients on a 100 ms handler get no
//! 502. nginx opens more upstream connections than the app admits; the excess must wait in
//! the listen backlog, not be accepted and reset.

use crate::e2e::*;
use crate::load::serial;

const CLIENTS: usize = 64;
const REQUESTS_PER_CLIENT: usize = 5;

/// conf/nginx/pycnic-tcp.conf in front of the showcase, started as
/// conf/systemd/pycnic-tcp.service starts it plus `extra` options.
fn nginx_tcp_with(extra: &[&str]) -> Deployment {
    showcase_behind_nginx(
        "overload-nginx",
        Backend {
            extra,
            ..Backend::default()
        },
    )
}

#[test]
fn at_max_connections_nginx_gets_no_502_from_connections_evicting_each_other() {
    let _serial = serial();
    let deployment = nginx_tcp_with(&["--max-connections", "16", "--workers", "64"]);
    deployment.check(|addr| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut statuses = Vec::new();
                    let mut conn = Conn::open(addr);
                    for _ in 0..REQUESTS_PER_CLIENT {
                        let outcome =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                conn.request(&Req::get("/slow?ms=100"))
                            }));
                        match outcome {
                            Ok(resp) => {
                                statuses.push(resp.status);
                                if resp.header("Connection") == Some("close") {
                                    conn = Conn::open(addr);
                                }
                            }
                            Err(_) => {
                                statuses.push(0);
                                conn = Conn::open(addr);
                            }
                        }
                    }
                    statuses
                })
            })
            .collect();
        let statuses: Vec<u16> = clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        let count = |code: u16| statuses.iter().filter(|s| **s == code).count();
        println!(
            "{CLIENTS} clients x {REQUESTS_PER_CLIENT} requests through nginx at \
             --max-connections 16: {} x 200, {} x 502, {} other",
            count(200),
            count(502),
            statuses.len() - count(200) - count(502)
        );
        assert_eq!(
            count(200),
            CLIENTS * REQUESTS_PER_CLIENT,
            "every request answered 200 ({} x 502, {} x other)",
            count(502),
            statuses.len() - count(200) - count(502)
        );
    });
}
