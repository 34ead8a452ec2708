//! The run loop and the handle a model uses to schedule events.

use super::{EventQueue, Millis};

/// A simulated system: it receives each event in order and may schedule more.
pub trait Model {
    /// The closed set of events this model understands.
    type Event;

    /// Handles one event at `ctx.now()`.
    fn handle(&mut self, ctx: &mut Context<'_, Self::Event>, event: Self::Event);
}

/// What a handler sees: the current time and the queue to schedule into.
pub struct Context<'a, E> {
    now: Millis,
    queue: &'a mut EventQueue<E>,
}

impl<'a, E> Context<'a, E> {
    /// A context at `now` over `queue`; the run loop makes these, and tests
    /// may too.
    pub fn new(now: Millis, queue: &'a mut EventQueue<E>) -> Self {
        Context { now, queue }
    }

    /// The current simulated time.
    pub fn now(&self) -> Millis {
        self.now
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
    pub fn step<M: Model<Event = E>>(&mut self, model: &mut M, horizon: Millis) -> Option<Millis> {
        let (time, event) = self.queue.pop_until(horizon)?;
        self.now = time;
        self.events += 1;
        let mut ctx = Context::new(time, &mut self.queue);
        model.handle(&mut ctx, event);
        Some(time)
    }

    /// Runs events with time `<= horizon` in order, then sets the clock to
    /// the horizon. Returns the number of events handled in this call.
    pub fn run_until<M: Model<Event = E>>(&mut self, model: &mut M, horizon: Millis) -> u64 {
        let start = self.events;
        while self.step(model, horizon).is_some() {}
        self.now = self.now.max(horizon);
        self.events - start
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
}
