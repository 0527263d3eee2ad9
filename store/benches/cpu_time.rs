//! A criterion measurement of this thread's CPU time (Linux: `sum_exec_runtime` from
//! /proc/thread-self/schedstat, in nanoseconds). On the shared 2-core machine, CPU time
//! says what a call costs better than wall time, which also counts waiting for a core.
//! Where the file cannot be read, it falls back to wall time and says so once.

use std::sync::Once;
use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// Formats like wall time (the values are durations too).
static FORMATTER: WallTime = WallTime;

pub struct ThreadCpuTime;

/// CPU time this thread has run, or `None` when the kernel does not say.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// A reading that can be subtracted: CPU time, or wall time since a fixed origin.
pub fn now() -> Duration {
    static WARN: Once = Once::new();
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    match thread_cpu() {
        Some(cpu) => cpu,
        None => {
            WARN.call_once(|| {
                eprintln!("/proc/thread-self/schedstat unreadable: measuring wall time instead");
            });
            ORIGIN.get_or_init(Instant::now).elapsed()
        }
    }
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        now()
    }

    fn end(&self, started: Duration) -> Duration {
        now().saturating_sub(started)
    }

    fn add(&self, v1: &Duration, v2: &Duration) -> Duration {
        *v1 + *v2
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        FORMATTER.formatter()
    }
}
