//! Restart policy and the crash-loop back-off of Kubernetes: the first
//! restart is immediate, then each waits 10 s, 20 s, 40 s ... up to 5 min
//! after the container's exit; a container that ran without a restart for
//! twice the maximum (10 min) starts over at 10 s.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(10);
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Whether a container that exited with `exit_code` is started again.
pub fn should_restart(restart_policy: &str, exit_code: i32) -> bool {
    match restart_policy {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        // Always is the default.
        _ => true,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    backoff: Duration,
    last_update: SystemTime,
}

/// Back-off per container name.
#[derive(Debug, Default, Clone)]
pub struct CrashLoopBackoff {
    entries: HashMap<String, Entry>,
}

impl CrashLoopBackoff {
    /// How long is left before `container`, which exited at `finished_at`,
    /// may start again; None when it may start now.
    pub fn remaining(
        &self,
        container: &str,
        finished_at: SystemTime,
        now: SystemTime,
    ) -> Option<Duration> {
        let entry = self.entries.get(container)?;
        if expired(finished_at, entry.last_update) {
            return None;
        }
        let since = now.duration_since(finished_at).unwrap_or_default();
        entry.backoff.checked_sub(since).filter(|d| !d.is_zero())
    }

    /// The back-off in force for `container` (what CrashLoopBackOff messages show).
    pub fn current(&self, container: &str) -> Option<Duration> {
        self.entries.get(container).map(|e| e.backoff)
    }

    /// Records a restart of `container` at `now`: the next one waits longer.
    pub fn restarted(&mut self, container: &str, now: SystemTime) {
        let backoff = match self.entries.get(container) {
            Some(entry) if !expired(now, entry.last_update) => (entry.backoff * 2).min(MAX_BACKOFF),
            _ => INITIAL_BACKOFF,
        };
        self.entries.insert(
            container.to_string(),
            Entry {
                backoff,
                last_update: now,
            },
        );
    }
}

/// A back-off is forgotten once the container stayed up for twice the maximum.
fn expired(event: SystemTime, last_update: SystemTime) -> bool {
    event
        .duration_since(last_update)
        .is_ok_and(|d| d > MAX_BACKOFF * 2)
}

/// A duration as Go prints it for whole seconds: `10s`, `1m20s`, `5m0s`, `1h0m0s`.
pub fn go_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
    }

    #[test]
    fn restart_policies() {
        assert!(should_restart("Always", 0));
        assert!(should_restart("Always", 1));
        assert!(!should_restart("OnFailure", 0));
        assert!(should_restart("OnFailure", 137));
        assert!(!should_restart("Never", 1));
    }

    #[test]
    fn the_first_restart_is_immediate_then_the_wait_doubles_up_to_five_minutes() {
        let mut backoff = CrashLoopBackoff::default();
        assert_eq!(backoff.remaining("app", at(0), at(0)), None);
        backoff.restarted("app", at(0));
        // It crashed again at 2 s: 10 s from the crash.
        assert_eq!(
            backoff.remaining("app", at(2), at(5)),
            Some(Duration::from_secs(7))
        );
        assert_eq!(backoff.remaining("app", at(2), at(12)), None);
        let mut waits = Vec::new();
        for t in 12..20 {
            backoff.restarted("app", at(t));
            waits.push(backoff.current("app").unwrap().as_secs());
        }
        assert_eq!(waits, vec![20, 40, 80, 160, 300, 300, 300, 300]);
        assert_eq!(backoff.current("other"), None);
    }

    #[test]
    fn ten_minutes_without_a_restart_resets_the_back_off() {
        let mut backoff = CrashLoopBackoff::default();
        backoff.restarted("app", at(0));
        backoff.restarted("app", at(1));
        assert_eq!(backoff.current("app"), Some(Duration::from_secs(20)));
        // Crashed after running for more than 10 minutes: restart at once.
        assert_eq!(backoff.remaining("app", at(602), at(602)), None);
        backoff.restarted("app", at(602));
        assert_eq!(backoff.current("app"), Some(INITIAL_BACKOFF));
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    }
}
