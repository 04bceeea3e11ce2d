//! `--cpu-budget`: keeps netcore's process within a fraction of one core by shedding
//! packet events. Every quarter second it measures the CPU the process used since the
//! last time; outside
//! 70–100 % of the budget, the capture programs are told to write the packet events of one
//! in N packets, N scaled to bring the use to 85 % of it (back to 1 when load drops).
//! Flow counts, DNS transactions and DNS events are never shed: the kernel counts the
//! flows while N > 1 and sends up what they and DNS need.

use std::time::{Duration, Instant};

use crate::kernel::loader::Shedding;

/// The largest N: one packet's events in 65,536.
const MAX_SAMPLE_EVERY: u32 = 1 << 16;

/// How often the CPU is measured (at the poll rounds at least this far apart): a burst
/// runs over the budget for about this long before shedding starts.
const INTERVAL: Duration = Duration::from_millis(250);

/// The budget, and what it made netcore do.
#[derive(Debug)]
pub struct CpuBudget {
    /// The fraction of one core the process may use.
    fraction: f64,
    /// When the CPU was last measured, and the process's CPU time then, ns.
    last: (Instant, u64),
    /// What it had the capture programs do so far.
    pub shedding: Shedding,
}

impl CpuBudget {
    /// A budget of `fraction` of one core, not shedding yet.
    pub fn new(fraction: f64) -> Self {
        CpuBudget {
            fraction,
            last: (Instant::now(), process_cpu_ns()),
            shedding: Shedding {
                sample_every: 1,
                ..Shedding::default()
            },
        }
    }

    /// Measures the CPU used since the last measurement, if [`INTERVAL`] has passed;
    /// returns the new N when it changes.
    pub fn adjust(&mut self) -> Option<u32> {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last.0);
        if elapsed < INTERVAL {
            return None;
        }
        let cpu = process_cpu_ns();
        let used = cpu.saturating_sub(self.last.1) as f64 / elapsed.as_nanos() as f64;
        self.last = (now, cpu);
        let shedding = &mut self.shedding;
        let next = next_sample_every(shedding.sample_every, used, self.fraction);
        if next == shedding.sample_every {
            return None;
        }
        match (shedding.sample_every, next) {
            (1, _) => shedding.sheds += 1,
            (_, 1) => shedding.recoveries += 1,
            _ => {}
        }
        shedding.sample_every = next;
        Some(next)
    }
}

/// The N to sample packet events with next, after the process used `used` of a core at
/// N = `every` against a budget of `fraction`. Within 70–100 % of the budget N stays;
/// outside it N scales so that the packet events would cost 85 % of the budget. Lowering
/// N cannot overshoot: the cost that does not depend on N does not grow with it, so the
/// use at the new N is at most `used` × N / N'.
fn next_sample_every(every: u32, used: f64, fraction: f64) -> u32 {
    if (0.7 * fraction..=fraction).contains(&used) {
        return every;
    }
    let scaled = (f64::from(every) * used / (0.85 * fraction)).ceil() as u32;
    let next = match used > fraction {
        true => scaled.max(every + 1),
        false => scaled.min(every),
    };
    next.clamp(1, MAX_SAMPLE_EVERY)
}

/// The CPU time of this process (every thread, user and system), ns.
fn process_cpu_ns() -> u64 {
    // SAFETY: an all-zero rusage is a valid value to be filled in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF and a rusage to fill.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    ns(usage.ru_utime) + ns(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_budget_n_grows_in_proportion() {
        assert_eq!(next_sample_every(1, 0.4, 0.1), 5); // to 85 % of the budget
        assert_eq!(next_sample_every(5, 0.12, 0.1), 8);
        assert_eq!(next_sample_every(1, 0.101, 0.1), 2, "at least one more");
        assert_eq!(next_sample_every(40_000, 1.0, 0.1), MAX_SAMPLE_EVERY);
    }

    #[test]
    fn under_it_n_shrinks_in_proportion_and_stays_within_the_band() {
        assert_eq!(next_sample_every(8, 0.04, 0.1), 4);
        assert_eq!(next_sample_every(8, 0.05, 0.1), 5);
        assert_eq!(next_sample_every(8, 0.075, 0.1), 8, "within 70–100 %");
        assert_eq!(next_sample_every(8, 0.1, 0.1), 8);
        assert_eq!(next_sample_every(4, 0.0, 0.1), 1);
        assert_eq!(next_sample_every(1, 0.0, 0.1), 1);
    }

    #[test]
    fn the_process_cpu_time_grows_with_work() {
        let before = process_cpu_ns();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(process_cpu_ns() > before);
    }
}
