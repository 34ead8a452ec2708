//! The run loop and the handle a model uses to schedule events.

use std::sync::atomic::{AtomicBool, Ordering};

use super::{EventQueue, Millis};

/// A simulated system: it receives each event in order and may schedule more.
pub trait Model {
    /// The closed set of events this model understands.
    type Event;

    /// Handles one event at `ctx.now()`.
    fn handle(&mut self, ctx: &mut Context<'_, Self::Event>, event: Self::Event);

    /// Why the model cannot go on (it hit one of its own size limits), if
    /// it cannot. [`Simulation::run_limited`] asks every
    /// [`CHECK_EVERY`] events and at the end.
    fn exhausted(&self) -> Option<String> {
        None
    }
}

/// How often (in events) [`Simulation::run_limited`] looks at the
/// cancellation flag and the model's own limits.
pub const CHECK_EVERY: u64 = 1024;

/// Bounds on one run, so that no input makes a run loop or grow without
/// end: it stops with a [`Stop`] instead.
#[derive(Debug, Clone, Copy)]
pub struct RunLimits<'a> {
    /// Events a run may handle in all.
    pub max_events: u64,
    /// Events a run may handle at one simulated instant (a zero period or
    /// backoff makes a loop that never advances the clock).
    pub max_events_per_instant: u64,
    /// Events that may wait in the queue at once.
    pub max_queued: usize,
    /// Set from outside (a signal) to stop the run within
    /// [`CHECK_EVERY`] events.
    pub cancel: Option<&'a AtomicBool>,
}

impl RunLimits<'_> {
    /// The default budget of events per run (`--max-events-per-run`).
    pub const DEFAULT_MAX_EVENTS: u64 = 50_000_000;
    /// Events at one instant before a run is declared stuck in a loop.
    pub const MAX_EVENTS_PER_INSTANT: u64 = 2_000_000;
    /// Events waiting at once (16 bytes each in the queue).
    pub const MAX_QUEUED: usize = 20_000_000;
}

impl Default for RunLimits<'_> {
    fn default() -> Self {
        RunLimits {
            max_events: Self::DEFAULT_MAX_EVENTS,
            max_events_per_instant: Self::MAX_EVENTS_PER_INSTANT,
            max_queued: Self::MAX_QUEUED,
            cancel: None,
        }
    }
}

/// Why a run stopped before its horizon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stop {
    /// The event budget is spent.
    #[error(
        "event budget exceeded: {limit} events handled by t={at} without reaching the horizon (raise --max-events-per-run, or look for a period or backoff far shorter than the horizon)"
    )]
    Events {
        /// The budget.
        limit: u64,
        /// Simulated time reached.
        at: Millis,
    },
    /// Too many events at one instant: a loop that does not advance time.
    #[error(
        "{limit} events at the single instant t={at}: a zero or near-zero period, backoff or delay loops without advancing time"
    )]
    Instant {
        /// The bound.
        limit: u64,
        /// The instant.
        at: Millis,
    },
    /// Too many events waiting at once.
    #[error(
        "more than {limit} events waiting at t={at}: the scenario schedules work faster than it runs"
    )]
    Queue {
        /// The bound.
        limit: usize,
        /// Simulated time reached.
        at: Millis,
    },
    /// The model hit one of its own limits.
    #[error("{message} (at t={at})")]
    Model {
        /// The model's explanation.
        message: String,
        /// Simulated time reached.
        at: Millis,
    },
    /// The cancellation flag was raised.
    #[error("cancelled at t={at}")]
    Cancelled {
        /// Simulated time reached.
        at: Millis,
    },
}

/// What a handler sees: the current time and the queue to schedule into.
pub struct Context<'a, E> {
    now: Millis,
    queue: &'a mut EventQueue<E>,
    /// The last time an event may run at (the run's horizon).
    horizon: Millis,
    /// Further events the handler may handle in place
    /// ([`Context::handle_next_at`]) before the run loop must look at the
    /// run again (its event budget, its periodic checks).
    spare: u64,
    /// Events handled in place so far.
    in_place: u64,
}

impl<'a, E> Context<'a, E> {
    /// A context at `now` over `queue`; the run loop makes these, and tests
    /// may too. It handles no event in place.
    pub fn new(now: Millis, queue: &'a mut EventQueue<E>) -> Self {
        Context {
            now,
            queue,
            horizon: now,
            spare: 0,
            in_place: 0,
        }
    }

    /// The current simulated time.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Handles in place the event the handler would otherwise schedule at
    /// `at` as the very next one, if it would be: `at` is later than now
    /// and not past the horizon, nothing queued is due at or before it, and
    /// the run may handle one more event before its next look at its
    /// limits. Then the clock moves to `at`, the engine counts one event
    /// handled there, and the handler goes on as that event's handler
    /// (which must not be scheduled as well); returns whether it did.
    ///
    /// For a model whose event at `at` would leave what it observes after
    /// every event unchanged: the run loop does not return between the two,
    /// so whatever the model does after each event is done once, at the
    /// last. Event counts, limits and times of stopping are those of the
    /// events one by one.
    pub fn handle_next_at(&mut self, at: Millis) -> bool {
        if self.spare == 0
            || at <= self.now
            || at > self.horizon
            || self.queue.earliest().is_some_and(|t| t <= at)
        {
            return false;
        }
        self.spare -= 1;
        self.in_place += 1;
        self.now = at;
        true
    }

    /// How many of the events at `first`, `first + step`,
    /// `first + 2 * step`, ... the handler could handle in place one after
    /// the other, each as [`Context::handle_next_at`] would (none when
    /// `step` is zero).
    pub fn in_place_room(&mut self, first: Millis, step: Millis) -> u64 {
        if step == Millis::ZERO || first <= self.now {
            return 0;
        }
        let mut last = self.horizon;
        if let Some(t) = self.queue.earliest() {
            last = last.min(Millis(t.0.saturating_sub(1)));
        }
        if first > last {
            return 0;
        }
        ((last.0 - first.0) / step.0 + 1).min(self.spare)
    }

    /// Handles in place the first `n` of the events
    /// [`Context::in_place_room`] counted (`n` at most that count): the
    /// clock moves to the last, and the engine counts `n` events, each at
    /// its time.
    pub fn handle_run(&mut self, first: Millis, step: Millis, n: u64) {
        if n == 0 {
            return;
        }
        debug_assert!(n <= self.in_place_room(first, step));
        self.spare -= n;
        self.in_place += n;
        self.now = first.saturating_add(Millis(step.0 * (n - 1)));
    }

    /// Schedules `event` at absolute time `at`, which must not be in the past.
    pub fn schedule_at(&mut self, at: Millis, event: impl Into<E>) {
        debug_assert!(at >= self.now, "event scheduled in the past");
        self.queue.push(at.max(self.now), event.into());
    }

    /// Schedules `event` after `delay`.
    pub fn schedule_in(&mut self, delay: Millis, event: impl Into<E>) {
        self.queue
            .push(self.now.saturating_add(delay), event.into());
    }
}

/// The clock and the queue of one run.
pub struct Simulation<E> {
    queue: EventQueue<E>,
    now: Millis,
    events: u64,
}

impl<E> Default for Simulation<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Simulation<E> {
    /// A simulation at time zero with no events.
    pub fn new() -> Self {
        Simulation {
            queue: EventQueue::with_capacity(1024),
            now: Millis::ZERO,
            events: 0,
        }
    }

    /// Schedules an event from outside a handler (initial events).
    pub fn schedule_at(&mut self, at: Millis, event: E) {
        self.queue.push(at.max(self.now), event);
    }

    /// The current simulated time.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Runs `f` with a context at the current time, to set up a model before
    /// the run starts.
    pub fn with_context<R>(&mut self, f: impl FnOnce(&mut Context<'_, E>) -> R) -> R {
        let mut ctx = Context::new(self.now, &mut self.queue);
        f(&mut ctx)
    }

    /// Events handled so far.
    pub fn events_handled(&self) -> u64 {
        self.events
    }

    /// Handles the next event if it is due at or before `horizon` and
    /// returns its time; `None` when no such event is left. Lets a caller
    /// inspect the model between events (invariant checks, traces).
    /// The time returned is that of the last event the handler handled in
    /// place ([`Context::handle_next_at`]), if it did.
    pub fn step<M: Model<Event = E>>(&mut self, model: &mut M, horizon: Millis) -> Option<Millis> {
        self.step_within(model, horizon, u64::MAX)
    }

    /// [`Simulation::step`], where the handler may handle at most `spare`
    /// further events in place.
    fn step_within<M: Model<Event = E>>(
        &mut self,
        model: &mut M,
        horizon: Millis,
        spare: u64,
    ) -> Option<Millis> {
        let (time, event) = self.queue.pop_until(horizon)?;
        let mut ctx = Context {
            now: time,
            queue: &mut self.queue,
            horizon,
            spare,
            in_place: 0,
        };
        model.handle(&mut ctx, event);
        let (now, in_place) = (ctx.now, ctx.in_place);
        self.now = now;
        self.events += 1 + in_place;
        Some(now)
    }

    /// Runs events with time `<= horizon` in order, then sets the clock to
    /// the horizon. Returns the number of events handled in this call.
    pub fn run_until<M: Model<Event = E>>(&mut self, model: &mut M, horizon: Millis) -> u64 {
        let start = self.events;
        while self.step(model, horizon).is_some() {}
        self.now = self.now.max(horizon);
        self.events - start
    }

    /// [`Simulation::run_until`] within `limits`: stops with a [`Stop`]
    /// when the run spends its event budget, handles too many events at
    /// one instant, queues too many, the model reports itself exhausted, or
    /// the cancellation flag is raised. The clock is left where the run
    /// stopped.
    pub fn run_limited<M: Model<Event = E>>(
        &mut self,
        model: &mut M,
        horizon: Millis,
        limits: &RunLimits<'_>,
    ) -> Result<u64, Stop> {
        let start = self.events;
        let mut instant = self.now;
        let mut at_instant: u64 = 0;
        // Events handled in place by a step (at later instants each) stop
        // short of the budget and of the next periodic check, so both fall
        // on the event they would fall on one by one.
        let spare = |handled: u64| {
            let this = handled + 1;
            let budget = limits.max_events.saturating_sub(this);
            let check = this.next_multiple_of(CHECK_EVERY) - this;
            budget.min(check)
        };
        while let Some(time) = self.step_within(model, horizon, spare(self.events - start)) {
            if time == instant {
                at_instant += 1;
                if at_instant > limits.max_events_per_instant {
                    return Err(Stop::Instant {
                        limit: limits.max_events_per_instant,
                        at: time,
                    });
                }
            } else {
                instant = time;
                at_instant = 1;
            }
            let handled = self.events - start;
            if handled >= limits.max_events && self.queue.peek_time().is_some_and(|t| t <= horizon)
            {
                return Err(Stop::Events {
                    limit: limits.max_events,
                    at: time,
                });
            }
            if self.queue.len() > limits.max_queued {
                return Err(Stop::Queue {
                    limit: limits.max_queued,
                    at: time,
                });
            }
            if handled.is_multiple_of(CHECK_EVERY) {
                check(model, limits, time)?;
            }
        }
        check(model, limits, self.now)?;
        self.now = self.now.max(horizon);
        Ok(self.events - start)
    }
}

/// The checks made every [`CHECK_EVERY`] events: the cancellation flag and
/// the model's own limits.
fn check<M: Model>(model: &M, limits: &RunLimits<'_>, at: Millis) -> Result<(), Stop> {
    if limits.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(Stop::Cancelled { at });
    }
    match model.exhausted() {
        Some(message) => Err(Stop::Model { message, at }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model that re-schedules itself every 10 ms and logs when it ran.
    struct Ticker(Vec<Millis>);
    impl Model for Ticker {
        type Event = ();
        fn handle(&mut self, ctx: &mut Context<'_, ()>, _: ()) {
            self.0.push(ctx.now());
            ctx.schedule_in(Millis(10), ());
        }
    }

    #[test]
    fn runs_events_up_to_and_including_the_horizon() {
        let mut sim = Simulation::new();
        let mut m = Ticker(Vec::new());
        sim.schedule_at(Millis(0), ());
        let n = sim.run_until(&mut m, Millis(30));
        assert_eq!(n, 4);
        assert_eq!(m.0, vec![Millis(0), Millis(10), Millis(20), Millis(30)]);
        assert_eq!(sim.now(), Millis(30));
    }

    /// A model that re-schedules itself with no delay: time never moves.
    struct Spinner;
    impl Model for Spinner {
        type Event = ();
        fn handle(&mut self, ctx: &mut Context<'_, ()>, _: ()) {
            ctx.schedule_in(Millis::ZERO, ());
        }
    }

    #[test]
    fn a_loop_at_one_instant_stops_at_the_bound() {
        let mut sim = Simulation::new();
        sim.schedule_at(Millis(5), ());
        let limits = RunLimits {
            max_events_per_instant: 100,
            ..RunLimits::default()
        };
        let stop = sim.run_limited(&mut Spinner, Millis(1000), &limits);
        assert_eq!(
            stop,
            Err(Stop::Instant {
                limit: 100,
                at: Millis(5)
            })
        );
        // The 101st event at t=5 tripped it.
        assert_eq!(sim.events_handled(), 101);
    }

    #[test]
    fn the_event_budget_stops_a_run_short_of_its_horizon_only() {
        // Ticks at 0, 10, ..., 30: four events up to the horizon.
        let limits = RunLimits {
            max_events: 4,
            ..RunLimits::default()
        };
        let mut sim = Simulation::new();
        sim.schedule_at(Millis(0), ());
        let mut m = Ticker(Vec::new());
        assert_eq!(sim.run_limited(&mut m, Millis(30), &limits), Ok(4));
        let mut sim = Simulation::new();
        sim.schedule_at(Millis(0), ());
        let stop = sim.run_limited(&mut Ticker(Vec::new()), Millis(40), &limits);
        assert_eq!(
            stop,
            Err(Stop::Events {
                limit: 4,
                at: Millis(30)
            })
        );
    }

    #[test]
    fn a_raised_flag_cancels_within_check_every_events() {
        let flag = AtomicBool::new(true);
        let limits = RunLimits {
            cancel: Some(&flag),
            ..RunLimits::default()
        };
        let mut sim = Simulation::new();
        sim.schedule_at(Millis(0), ());
        let stop = sim.run_limited(&mut Ticker(Vec::new()), Millis(1_000_000), &limits);
        assert_eq!(
            stop,
            Err(Stop::Cancelled {
                at: Millis(10 * (CHECK_EVERY - 1))
            })
        );
        assert_eq!(sim.events_handled(), CHECK_EVERY);
    }

    /// Ticks every 10 ms and an outside event at 25 and 55 ms. A tick
    /// handles the following ticks in place while it may: one by one
    /// (`One`), or in runs of at most two (`Runs`). Logs every event as
    /// (time, kind).
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mode {
        Off,
        One,
        Runs,
    }
    struct InPlace {
        mode: Mode,
        log: Vec<(Millis, u8)>,
    }
    impl Model for InPlace {
        type Event = u8;
        fn handle(&mut self, ctx: &mut Context<'_, u8>, kind: u8) {
            self.log.push((ctx.now(), kind));
            if kind == 0 {
                while self.mode == Mode::One && ctx.handle_next_at(ctx.now() + Millis(10)) {
                    self.log.push((ctx.now(), 0));
                }
                while self.mode == Mode::Runs {
                    let first = ctx.now() + Millis(10);
                    let n = ctx.in_place_room(first, Millis(10)).min(2);
                    if n == 0 {
                        break;
                    }
                    ctx.handle_run(first, Millis(10), n);
                    for i in 0..n {
                        self.log.push((first + Millis(10 * i), 0));
                    }
                    assert_eq!(ctx.now(), first + Millis(10 * (n - 1)));
                }
                ctx.schedule_in(Millis(10), 0);
            }
        }
    }

    #[test]
    fn events_handled_in_place_count_and_stop_as_one_by_one() {
        let run = |mode: Mode, max_events: u64| {
            let mut sim = Simulation::new();
            sim.schedule_at(Millis(0), 0);
            sim.schedule_at(Millis(25), 1);
            sim.schedule_at(Millis(55), 1);
            let mut m = InPlace {
                mode,
                log: Vec::new(),
            };
            let limits = RunLimits {
                max_events,
                ..RunLimits::default()
            };
            let r = sim.run_limited(&mut m, Millis(95), &limits);
            (r, sim.events_handled(), sim.now(), m.log)
        };
        for max_events in 1..16 {
            let off = run(Mode::Off, max_events);
            assert_eq!(run(Mode::One, max_events), off, "{max_events}");
            assert_eq!(run(Mode::Runs, max_events), off, "{max_events}");
        }
        let (r, events, _, log) = run(Mode::Runs, 100);
        // Ticks at 0..=90 and the two outside events.
        assert_eq!((r, events, log.len()), (Ok(12), 12, 12));
        assert_eq!(log[3], (Millis(25), 1));
    }

    #[test]
    fn room_in_place_ends_before_the_next_event_and_after_the_horizon() {
        let mut queue = EventQueue::new();
        queue.push(Millis(47), ());
        let mut ctx = Context::new(Millis(0), &mut queue);
        ctx.horizon = Millis(100);
        ctx.spare = 10;
        // 10, 20, 30, 40: the event at 47 comes before 50.
        assert_eq!(ctx.in_place_room(Millis(10), Millis(10)), 4);
        // 40 only (not 47 itself: it would be handled after the queued one).
        assert_eq!(ctx.in_place_room(Millis(40), Millis(7)), 1);
        assert_eq!(ctx.in_place_room(Millis(47), Millis(1)), 0);
        assert_eq!(ctx.in_place_room(Millis(0), Millis(1)), 0);
        assert_eq!(ctx.in_place_room(Millis(10), Millis(0)), 0);
        // The spare events bound it.
        assert_eq!(ctx.in_place_room(Millis(1), Millis(1)), 10);
        ctx.handle_run(Millis(10), Millis(10), 3);
        assert_eq!((ctx.now(), ctx.spare, ctx.in_place), (Millis(30), 7, 3));
        let mut empty = EventQueue::<()>::new();
        let mut ctx = Context::new(Millis(0), &mut empty);
        ctx.horizon = Millis(100);
        ctx.spare = 1000;
        // 30, 60, 90 (120 is past the horizon).
        assert_eq!(ctx.in_place_room(Millis(30), Millis(30)), 3);
    }
}
