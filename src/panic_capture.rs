//! Turns a handler panic into lines for the log and for Pycnic's debug body
//! (`{"error": [lines…]}`): the message, its location, and a backtrace where one is enabled
//! (`RUST_BACKTRACE=1`). A panic hook records them per thread; `App::handle` takes them.

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    static LAST: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

static INSTALL: Once = Once::new();

/// Installs the hook once per process. Panics elsewhere in the program are still reported on
/// stderr as the default hook does.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = payload_message(info.payload());
            let mut lines = match info.location() {
                Some(at) => vec![format!(
                    "panicked at {}:{}: {message}",
                    at.file(),
                    at.line()
                )],
                None => vec![format!("panicked: {message}")],
            };
            let backtrace = Backtrace::capture();
            if backtrace.status() == BacktraceStatus::Captured {
                lines.extend(backtrace.to_string().lines().map(str::to_string));
            }
            let guarded = GUARDED.try_with(Cell::get).unwrap_or(false);
            let recorded = guarded
                && LAST
                    .try_with(|last| *last.borrow_mut() = Some(lines))
                    .is_ok();
            if !recorded {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, catching a panic; a panic inside is recorded for [`take`] instead of being
/// printed, since the caller logs it with the request it belongs to.
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    install();
    let outer = GUARDED.try_with(|g| g.replace(true)).unwrap_or(false);
    let result = catch_unwind(AssertUnwindSafe(f));
    let _ = GUARDED.try_with(|g| g.set(outer));
    result
}

/// The lines recorded for the last panic on this thread, if any.
pub(crate) fn take() -> Option<Vec<String>> {
    LAST.try_with(|last| last.borrow_mut().take())
        .ok()
        .flatten()
}

/// The text of a panic payload (`panic!("…")` carries a `&str` or a `String`).
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}
