//! Shared helpers of the vigil-crawler fuzz targets.
//!
//! The crawler runs two third-party parsers (feed-rs and texting_robots) behind
//! `catch_unwind`, because a bug in them must not take the daemon down. libFuzzer's
//! panic hook aborts on *every* panic, including those the crawler catches on purpose,
//! so [`check`] replaces it: a panic that the crawler catches is allowed, a panic that
//! escapes the crawler's function is reported (message, location, backtrace) and the
//! process aborts, which libFuzzer records as a crash with its input saved under
//! `artifacts/<target>/`.
//!
//! `VIGIL_FUZZ_STRICT_PANICS=1` keeps libFuzzer's hook instead, so panics *inside* the
//! third-party parsers are reported too (useful to file bugs upstream).

use std::backtrace::Backtrace;
use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use chrono::{DateTime, TimeZone, Utc};

thread_local! {
    /// The most recent panic on this thread: message, location and backtrace.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

fn strict() -> bool {
    std::env::var_os("VIGIL_FUZZ_STRICT_PANICS").is_some_and(|v| !v.is_empty() && v != "0")
}

fn install_hook() {
    INSTALL.call_once(|| {
        if strict() {
            return;
        }
        panic::set_hook(Box::new(|info| {
            let message = format!("{info}\n{}", Backtrace::force_capture());
            LAST_PANIC.with(|slot| *slot.borrow_mut() = Some(message));
        }));
    });
}

/// Runs `f` (one call of a crawler function on fuzzer input). Panics caught inside
/// `f` are fine; a panic escaping `f` prints what it was and aborts.
pub fn check(what: &str, f: impl FnOnce()) {
    install_hook();
    if panic::catch_unwind(AssertUnwindSafe(f)).is_err() {
        let message = LAST_PANIC
            .with(|slot| slot.borrow_mut().take())
            .unwrap_or_else(|| "(no message recorded)".to_string());
        eprintln!("==== vigil-crawler-fuzz: {what} panicked on fuzzer input ====\n{message}");
        std::process::abort();
    }
}

/// A fixed fetch time, so relative and year-less dates are reproducible.
pub fn fetched_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 15, 12, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Picks one of `choices` from the input's length, so every byte of the input (and
/// of seed files) still reaches the parser.
pub fn pick<'a, T>(data: &[u8], choices: &'a [T]) -> &'a T {
    &choices[data.len() % choices.len()]
}
