//! When a probe runs and what it reports, as the kubelet's probe workers do:
//!
//! - a new container starts with readiness Failure (not ready until its
//!   first success), liveness Success and startup Unknown;
//! - nothing runs before initialDelaySeconds after the container started,
//!   then once every periodSeconds;
//! - liveness and readiness are skipped until the container has started
//!   (its startup probe succeeded), the startup probe once it has;
//! - a result is published after successThreshold successes or
//!   failureThreshold failures in a row;
//! - after a published liveness or startup failure the probe holds until the
//!   container is replaced (it is being killed).

use std::time::{Duration, Instant};

use super::{ProbeKind, ProbeSpec};

/// A probe's published result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    Unknown,
    Success,
    Failure,
}

/// One probe of one container.
#[derive(Debug, Clone)]
pub struct ProbeTracker {
    kind: ProbeKind,
    initial_delay: Duration,
    period: Duration,
    success_threshold: u32,
    failure_threshold: u32,
    result: ProbeResult,
    last_success: Option<bool>,
    run: u32,
    on_hold: bool,
    in_flight: bool,
    next_due: Option<Instant>,
}

impl ProbeTracker {
    /// A tracker for a container that is not running yet.
    pub fn new(kind: ProbeKind, spec: &ProbeSpec) -> ProbeTracker {
        ProbeTracker {
            kind,
            initial_delay: spec.initial_delay,
            period: spec.period,
            success_threshold: spec.success_threshold,
            failure_threshold: spec.failure_threshold,
            result: initial_result(kind),
            last_success: None,
            run: 0,
            on_hold: false,
            in_flight: false,
            next_due: None,
        }
    }

    pub fn kind(&self) -> ProbeKind {
        self.kind
    }

    pub fn result(&self) -> ProbeResult {
        self.result
    }

    /// A new container (a start or a restart) began running at `started_at`.
    pub fn container_started(&mut self, started_at: Instant) {
        self.result = initial_result(self.kind);
        self.last_success = None;
        self.run = 0;
        self.on_hold = false;
        self.in_flight = false;
        self.next_due = Some(started_at + self.initial_delay);
    }

    /// The container is adopted from a previous agent: it keeps `result`
    /// (the readiness the API last showed) instead of starting over.
    pub fn container_adopted(&mut self, started_at: Instant, result: ProbeResult) {
        self.container_started(started_at);
        self.result = result;
    }

    /// The container stopped: nothing runs, and readiness is lost.
    pub fn container_stopped(&mut self) {
        if self.kind == ProbeKind::Readiness {
            self.result = ProbeResult::Failure;
        }
        self.in_flight = false;
        self.next_due = None;
    }

    /// When the probe next wants attention, if ever.
    pub fn next_due(&self) -> Option<Instant> {
        if self.on_hold || self.in_flight {
            return None;
        }
        self.next_due
    }

    /// At `now`, with the container `started` or not: whether to run the
    /// probe now. A due probe that must be skipped waits one more period.
    pub fn begin(&mut self, now: Instant, started: bool) -> bool {
        match self.next_due() {
            Some(due) if due <= now => {}
            _ => return false,
        }
        self.next_due = Some(now + self.period);
        let gated = match self.kind {
            ProbeKind::Startup => started,
            ProbeKind::Liveness | ProbeKind::Readiness => !started,
        };
        if gated {
            return false;
        }
        self.in_flight = true;
        true
    }

    /// The run begun last ended with `success`. Returns the newly published
    /// result when it changed.
    pub fn record(&mut self, success: bool) -> Option<ProbeResult> {
        if !self.in_flight {
            return None;
        }
        self.in_flight = false;
        if self.last_success == Some(success) {
            self.run += 1;
        } else {
            self.last_success = Some(success);
            self.run = 1;
        }
        let threshold = if success {
            self.success_threshold
        } else {
            self.failure_threshold
        };
        if self.run < threshold {
            return None;
        }
        let published = if success {
            ProbeResult::Success
        } else {
            ProbeResult::Failure
        };
        if !success && matches!(self.kind, ProbeKind::Liveness | ProbeKind::Startup) {
            self.on_hold = true;
            self.run = 0;
        }
        let changed = self.result != published;
        self.result = published;
        changed.then_some(published)
    }

    /// Whether the last published failure asks for the container to be killed.
    pub fn wants_restart(&self) -> bool {
        self.on_hold && self.result == ProbeResult::Failure
    }
}

fn initial_result(kind: ProbeKind) -> ProbeResult {
    match kind {
        ProbeKind::Readiness => ProbeResult::Failure,
        ProbeKind::Liveness => ProbeResult::Success,
        ProbeKind::Startup => ProbeResult::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::super::ProbeAction;
    use super::*;

    fn spec(initial: u64, period: u64, success: u32, failure: u32) -> ProbeSpec {
        ProbeSpec {
            action: ProbeAction::Exec { command: vec![] },
            initial_delay: Duration::from_secs(initial),
            period: Duration::from_secs(period),
            timeout: Duration::from_secs(1),
            success_threshold: success,
            failure_threshold: failure,
            termination_grace: None,
        }
    }

    fn secs(base: Instant, s: u64) -> Instant {
        base + Duration::from_secs(s)
    }

    #[test]
    fn readiness_is_failure_until_the_first_success_after_the_initial_delay() {
        let t0 = Instant::now();
        let mut probe = ProbeTracker::new(ProbeKind::Readiness, &spec(5, 10, 1, 3));
        assert_eq!(probe.result(), ProbeResult::Failure);
        assert_eq!(probe.next_due(), None);
        probe.container_started(t0);
        assert_eq!(probe.next_due(), Some(secs(t0, 5)));
        assert!(!probe.begin(secs(t0, 4), true));
        assert!(probe.begin(secs(t0, 5), true));
        // In flight: not due again until it reports.
        assert_eq!(probe.next_due(), None);
        assert_eq!(probe.record(true), Some(ProbeResult::Success));
        assert_eq!(probe.next_due(), Some(secs(t0, 15)));
    }

    #[test]
    fn failures_publish_at_the_failure_threshold_and_successes_at_the_success_threshold() {
        let t0 = Instant::now();
        let mut probe = ProbeTracker::new(ProbeKind::Readiness, &spec(0, 1, 2, 3));
        probe.container_started(t0);
        let mut published = Vec::new();
        let runs = [
            true, true, false, false, true, false, false, false, true, true,
        ];
        for (t, success) in (0u64..).zip(runs) {
            assert!(probe.begin(secs(t0, t), true), "due at {t}");
            published.push(probe.record(success));
        }
        assert_eq!(
            published,
            vec![
                None,
                Some(ProbeResult::Success),
                None,
                None,
                None,
                None,
                None,
                Some(ProbeResult::Failure),
                None,
                Some(ProbeResult::Success)
            ]
        );
    }

    #[test]
    fn liveness_starts_as_success_and_holds_after_a_published_failure() {
        let t0 = Instant::now();
        let mut probe = ProbeTracker::new(ProbeKind::Liveness, &spec(0, 10, 1, 2));
        probe.container_started(t0);
        assert_eq!(probe.result(), ProbeResult::Success);
        assert!(probe.begin(t0, true));
        assert_eq!(probe.record(false), None);
        assert!(probe.begin(secs(t0, 10), true));
        assert_eq!(probe.record(false), Some(ProbeResult::Failure));
        assert!(probe.wants_restart());
        assert_eq!(probe.next_due(), None);
        assert!(!probe.begin(secs(t0, 100), true));
        // The restarted container is probed afresh.
        probe.container_started(secs(t0, 30));
        assert!(!probe.wants_restart());
        assert_eq!(probe.result(), ProbeResult::Success);
        assert_eq!(probe.next_due(), Some(secs(t0, 30)));
    }

    #[test]
    fn liveness_and_readiness_wait_for_the_start_and_startup_stops_after_it() {
        let t0 = Instant::now();
        let mut liveness = ProbeTracker::new(ProbeKind::Liveness, &spec(0, 10, 1, 3));
        let mut startup = ProbeTracker::new(ProbeKind::Startup, &spec(0, 1, 1, 30));
        liveness.container_started(t0);
        startup.container_started(t0);
        assert_eq!(startup.result(), ProbeResult::Unknown);
        // Not started: liveness skips a period, startup runs.
        assert!(!liveness.begin(t0, false));
        assert_eq!(liveness.next_due(), Some(secs(t0, 10)));
        assert!(startup.begin(t0, false));
        assert_eq!(startup.record(true), Some(ProbeResult::Success));
        // Started: startup is skipped from now on, liveness runs.
        assert!(!startup.begin(secs(t0, 1), true));
        assert!(liveness.begin(secs(t0, 10), true));
    }

    #[test]
    fn startup_failure_asks_for_a_restart() {
        let t0 = Instant::now();
        let mut startup = ProbeTracker::new(ProbeKind::Startup, &spec(0, 1, 1, 2));
        startup.container_started(t0);
        assert!(startup.begin(t0, false));
        assert_eq!(startup.record(false), None);
        assert!(startup.begin(secs(t0, 1), false));
        assert_eq!(startup.record(false), Some(ProbeResult::Failure));
        assert!(startup.wants_restart());
    }

    #[test]
    fn a_stopped_container_is_not_ready_and_not_probed() {
        let t0 = Instant::now();
        let mut probe = ProbeTracker::new(ProbeKind::Readiness, &spec(0, 1, 1, 1));
        probe.container_started(t0);
        assert!(probe.begin(t0, true));
        probe.record(true);
        probe.container_stopped();
        assert_eq!(probe.result(), ProbeResult::Failure);
        assert_eq!(probe.next_due(), None);
        // A late report of a run of the old container changes nothing.
        assert_eq!(probe.record(true), None);
        assert_eq!(probe.result(), ProbeResult::Failure);
    }

    #[test]
    fn an_adopted_container_keeps_the_readiness_it_had() {
        let t0 = Instant::now();
        let mut probe = ProbeTracker::new(ProbeKind::Readiness, &spec(0, 10, 1, 3));
        probe.container_adopted(t0, ProbeResult::Success);
        assert_eq!(probe.result(), ProbeResult::Success);
        assert!(probe.begin(t0, true));
        assert_eq!(probe.record(false), None);
        assert_eq!(probe.result(), ProbeResult::Success);
    }
}
