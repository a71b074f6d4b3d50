//! SIGINT and SIGTERM end the run between plugin calls, so cleanup still happens.

use crate::error::BenchError;

pub use bench_signals::install;

/// An error once a signal has arrived.
pub fn check() -> Result<(), BenchError> {
    if bench_signals::interrupted() {
        Err(BenchError::Interrupted)
    } else {
        Ok(())
    }
}
