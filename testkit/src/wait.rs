//! Waiting on a condition with a deadline instead of sleeping for a fixed time.

use std::fmt::Debug;
use std::time::{Duration, Instant};

/// Interval between two probes: short enough to measure convergence to within a few tens of
/// milliseconds, long enough not to load the machine while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Calls `probe` until it returns `Some`, and returns that value.
///
/// Panics when `timeout` elapses first, naming `what` so that the failure says which condition
/// never held.
pub fn wait_until<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Calls `probe` until it returns `Ok`, and returns that value.
///
/// Panics when `timeout` elapses first, with `what` and the last error, which usually shows how
/// far the condition got (for example the session state that was seen last).
pub fn wait_until_ok<T, E: Debug>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let last_error = match probe() {
            Ok(value) => return value,
            Err(error) => error,
        };
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; last state: {last_error:?}"
        );
        std::thread::sleep(POLL_INTERVAL);
    }
}
