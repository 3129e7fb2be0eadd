//! What a worker reads of its peers on the scoreboard for the status page: the pool's
//! figures, added up from every slot and the header by whichever worker answers it
//! (`pool_view`). Who accepts is `turn`'s.

use crate::fastcgi::ops::load::Load;
use crate::fastcgi::ops::pool::{PoolStatus, WorkerLine};
use crate::fastcgi::ops::status::process_resident_bytes;
use crate::fastcgi::ops::tally::Totals;

use super::layout::REASONS;
use super::mine::mine;

/// The pool's status-page figures, every live worker's added up.
#[derive(Debug)]
pub(crate) struct PoolView {
    /// A line per worker, restarts, the request total.
    pub(crate) pool: PoolStatus,
    /// The counters, gone workers' included.
    pub(crate) totals: Totals,
    /// The live workers' latest answers' times (microseconds), for the percentiles.
    pub(crate) window: Vec<u32>,
    /// The live workers' loads added up.
    pub(crate) load: Load,
    /// When the pool started, in seconds since the Unix epoch.
    pub(crate) started_unix: f64,
}

/// The pool's figures, read from the board by the worker that answers the page (`None`
/// when this process is no worker).
pub(crate) fn pool_view() -> Option<PoolView> {
    let map = mine()?.map();
    let header = map.header();
    let mut workers = Vec::new();
    let mut live = 0;
    let mut totals = header.gone().totals();
    let mut window = Vec::new();
    let mut load = Load::default();
    for (_, slot) in map.each() {
        let pid = slot.pid();
        if pid == 0 {
            continue;
        }
        let requests = slot.requests();
        live += requests;
        totals = totals.plus(slot.tally().totals());
        slot.tally().window_into(&mut window);
        load = load.plus(slot.load().read());
        workers.push(WorkerLine {
            pid,
            started_unix: slot.started_unix(),
            requests,
            resident_bytes: process_resident_bytes(pid),
        });
    }
    let restarts = header.restarts();
    Some(PoolView {
        pool: PoolStatus {
            requests_total: header.finished_before() + live,
            restarts: REASONS.iter().copied().zip(restarts).collect(),
            workers,
        },
        totals,
        window,
        load,
        started_unix: header.started_unix(),
    })
}
