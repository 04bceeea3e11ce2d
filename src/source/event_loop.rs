//! The wait both live sources share: one mio poller over their file descriptors and
//! SIGINT/SIGTERM, woken at least every 10 ms to drain what arrived without a wake-up (the
//! kernel wakes us once per batch), with a periodic tick for `--stats`.

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use super::{FrameHandler, SourceStats};

/// The longest anything waits to be read when no wake-up comes.
const DRAIN_EVERY: Duration = Duration::from_millis(10);
const SIGNALS: Token = Token(usize::MAX);

/// What a source tells its handler after each round of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// A poll round ended (at least every 10 ms): time to flush what is due.
    Polled,
    /// The tick interval passed.
    Tick,
    /// SIGHUP arrived: time to flush (and reopen) outputs.
    Hangup,
}

/// The poller, the stop signals and the tick.
pub struct EventLoop {
    poll: Poll,
    signals: Signals,
    events: Events,
    tick: Duration,
    next_tick: Instant,
}

impl EventLoop {
    /// A loop that stops on SIGINT or SIGTERM, reports SIGHUP, and ticks every `tick`.
    pub fn new(tick: Duration) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        Ok(EventLoop {
            poll,
            signals,
            events: Events::with_capacity(16),
            tick,
            next_tick: Instant::now() + tick,
        })
    }

    /// Also wakes when `fd` becomes readable.
    pub fn register(&self, fd: RawFd, token: usize) -> io::Result<()> {
        self.poll
            .registry()
            .register(&mut SourceFd(&fd), Token(token), Interest::READABLE)
    }

    /// Waits for a readable fd, a signal, the tick or at most DRAIN_EVERY. The caller
    /// drains all its sources afterwards, whatever woke it: they are edge-triggered, and
    /// data can land between the last read and this wait.
    pub fn wait(&mut self) -> io::Result<()> {
        let timeout = self
            .next_tick
            .saturating_duration_since(Instant::now())
            .min(DRAIN_EVERY);
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            result => result,
        }
    }

    /// Whether the tick is due; if so, the next one is scheduled.
    fn tick_due(&mut self) -> bool {
        let due = Instant::now() >= self.next_tick;
        if due {
            self.next_tick += self.tick;
        }
        due
    }

    /// Ends a round for `handler`: a `Polled` wake, a `Tick` when due, a `Hangup` per
    /// SIGHUP. Returns the signal that stops the loop (SIGINT, SIGTERM), or 0 once the
    /// handler is finished; `None` to go on. `source_stats` is for the tick.
    pub fn end_round(
        &mut self,
        handler: &mut impl FrameHandler,
        source_stats: &dyn SourceStats,
    ) -> io::Result<Option<i32>> {
        handler.wake(Wake::Polled, source_stats)?;
        if self.tick_due() {
            handler.wake(Wake::Tick, source_stats)?;
        }
        let mut stop = None;
        for signal in self.signals.pending() {
            match signal {
                SIGHUP => handler.wake(Wake::Hangup, source_stats)?,
                other => stop = Some(other),
            }
        }
        Ok(stop.or(handler.finished().then_some(0)))
    }
}
