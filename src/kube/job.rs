//! Jobs (`pkg/controller/job/job_controller.go`): each arrival of a Job
//! workload starts a Job that runs pods until `completions` of them have
//! finished their work, at most `parallelism` at a time. A pod's work is an
//! amount of running time drawn per pod; it advances only while the Job's
//! needed services are available (a stalled pod still holds its room). A
//! pod may fail at the end of its work; a failed pod is replaced after the
//! Job controller's backoff (10 s doubling to 6 min) until `backoff_limit`
//! failures, when the Job fails. Pods lost with their node are recreated
//! without counting as failures.
//!
//! Progress is tracked per workload with a clock that runs only while the
//! workload progresses: a pod is done when the clock reaches its start
//! reading plus its work. Completions are a heap per workload with one
//! pending check event, so a stall or a resume touches one workload, never
//! every pod.

use std::cmp::Reverse;

use crate::engine::{Context, Millis};
use crate::quantity::Delay;

use super::events::{Change, KubeEvent};
use super::{Cluster, PodId, PodState, WorkloadId};

/// When Jobs of a workload arrive.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrivals {
    /// At these times (fixed list or a trace), ascending.
    At(Vec<Millis>),
    /// A Poisson process with this mean interval, from time 0.
    Poisson {
        /// Mean time between arrivals.
        mean_interval: Millis,
    },
}

/// A Job workload's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// Pods that must succeed.
    pub completions: u32,
    /// Pods running at once.
    pub parallelism: u32,
    /// Running time each pod needs.
    pub work: Delay,
    /// Probability that a pod fails at the end of its work.
    pub failure_probability: f64,
    /// Failures after which the Job fails (`backoffLimit`, 6).
    pub backoff_limit: u32,
    /// When Jobs arrive.
    pub arrivals: Arrivals,
}

/// One Job (an arrival) at run time.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobRun {
    /// Pods created and not finished (pending or running).
    pub active: u32,
    /// Pods that succeeded.
    pub succeeded: u32,
    /// Pods that failed.
    pub failed: u32,
    /// Finished (complete or failed).
    pub done: bool,
}

/// Run-time progress of a Job workload.
#[derive(Debug, Clone, Default)]
pub struct JobState {
    /// Its Jobs, by arrival.
    pub runs: Vec<JobRun>,
    /// Progress clock reading at `since` (or now, while stalled).
    clock_base: Millis,
    /// Since when the clock runs; `None` while stalled.
    since: Option<Millis>,
    /// Bumped on every stall or resume, so stale checks are ignored.
    epoch: u32,
    /// (clock reading at which the pod is done, pod).
    due: std::collections::BinaryHeap<Reverse<(Millis, PodId)>>,
    /// Arrivals so far.
    arrived: u32,
}

impl JobState {
    fn clock(&self, now: Millis) -> Millis {
        match self.since {
            Some(s) => self.clock_base + now.saturating_sub(s),
            None => self.clock_base,
        }
    }
}

impl Cluster {
    /// Schedules the first arrival of every Job workload.
    pub(super) fn start_jobs<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        for w in 0..self.workloads.len() {
            if self.workloads[w].spec.job.is_some() {
                let wl = &mut self.workloads[w];
                let progressing = wl.progressing();
                let st = wl.job_state.get_or_insert_with(JobState::default);
                st.since = progressing.then_some(ctx.now());
                self.schedule_next_arrival(ctx, WorkloadId(w as u16));
            }
        }
    }

    fn schedule_next_arrival<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        w: WorkloadId,
    ) {
        let Some(job) = &self.workloads[w.index()].spec.job else {
            return;
        };
        let arrived = self.workloads[w.index()]
            .job_state
            .as_ref()
            .map_or(0, |s| s.arrived);
        match &job.arrivals {
            Arrivals::At(times) => {
                if let Some(&t) = times.get(arrived as usize) {
                    ctx.schedule_at(t.max(ctx.now()), KubeEvent::JobArrival(w));
                }
            }
            Arrivals::Poisson { mean_interval } => {
                let u = self.streams.arrival_uniform();
                let gap = (-u.ln() * mean_interval.0 as f64).round() as u64;
                ctx.schedule_in(Millis(gap), KubeEvent::JobArrival(w));
            }
        }
    }

    /// A Job arrives: it starts its first pods.
    pub(super) fn job_arrival<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        w: WorkloadId,
    ) {
        let Some(job) = self.workloads[w.index()].spec.job.clone() else {
            return;
        };
        let st = self.workloads[w.index()]
            .job_state
            .get_or_insert_with(JobState::default);
        st.arrived += 1;
        let index = st.runs.len() as u32;
        let start = job.parallelism.min(job.completions);
        st.runs.push(JobRun {
            active: start,
            ..JobRun::default()
        });
        self.change_wanted_job_pods(w, i64::from(start));
        for _ in 0..start {
            self.try_create_pod(ctx, w, index);
        }
        self.schedule_next_arrival(ctx, w);
    }

    /// `delta` more (or fewer) active pods of Job workload `w`: the user
    /// work the Job controller wants running.
    fn change_wanted_job_pods(&mut self, w: WorkloadId, delta: i64) {
        let spec = &self.workloads[w.index()].spec;
        if spec.class != super::PodClass::User {
            return;
        }
        let mcpu = delta * spec.requests.cpu.0 as i64;
        self.status.wanted_user_mcpu = self.status.wanted_user_mcpu.wrapping_add_signed(mcpu);
    }

    /// A Job pod's containers started: draw its work and queue its
    /// completion.
    pub(super) fn job_pod_started<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        pid: PodId,
    ) {
        let w = self.pods[pid.index()].workload;
        let Some(job) = &self.workloads[w.index()].spec.job else {
            return;
        };
        let work = self.streams.job_work(&job.work);
        let now = ctx.now();
        let st = self.workloads[w.index()]
            .job_state
            .get_or_insert_with(JobState::default);
        let due = st.clock(now) + work;
        let is_first = st.due.peek().is_none_or(|Reverse((d, _))| due < *d);
        st.due.push(Reverse((due, pid)));
        self.pods[pid.index()].work_due = Some(due);
        if is_first {
            self.arm_job_check(ctx, w);
        }
    }

    fn arm_job_check<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, w: WorkloadId) {
        let now = ctx.now();
        let Some(st) = self.workloads[w.index()].job_state.as_mut() else {
            return;
        };
        if st.since.is_none() {
            return;
        }
        if let Some(Reverse((due, _))) = st.due.peek() {
            let wait = due.saturating_sub(st.clock(now));
            st.epoch = st.epoch.wrapping_add(1);
            ctx.schedule_in(wait, KubeEvent::JobCheck(w, st.epoch));
        }
    }

    /// The workload's needed services went down or came back: stop or
    /// restart its progress clock.
    pub(super) fn job_progress_changed<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        w: WorkloadId,
    ) {
        let now = ctx.now();
        let progressing = self.workloads[w.index()].progressing();
        let Some(st) = self.workloads[w.index()].job_state.as_mut() else {
            return;
        };
        match (st.since, progressing) {
            (Some(_), false) => {
                st.clock_base = st.clock(now);
                st.since = None;
                st.epoch = st.epoch.wrapping_add(1);
            }
            (None, true) => {
                st.since = Some(now);
                self.arm_job_check(ctx, w);
            }
            _ => {}
        }
    }

    /// Pods whose work is done finish.
    pub(super) fn job_check<E: From<KubeEvent>>(
        &mut self,
        ctx: &mut Context<'_, E>,
        w: WorkloadId,
        epoch: u32,
    ) {
        let now = ctx.now();
        let mut finished = Vec::new();
        {
            let Some(st) = self.workloads[w.index()].job_state.as_mut() else {
                return;
            };
            if st.epoch != epoch || st.since.is_none() {
                return;
            }
            let clock = st.clock(now);
            while let Some(&Reverse((due, pid))) = st.due.peek() {
                if due > clock {
                    break;
                }
                st.due.pop();
                let pod = &self.pods[pid.index()];
                if matches!(pod.state(), PodState::Running(_)) && pod.work_due == Some(due) {
                    finished.push(pid);
                }
            }
        }
        for pid in finished {
            self.job_pod_finished(ctx, pid);
        }
        self.arm_job_check(ctx, w);
    }

    fn job_pod_finished<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>, pid: PodId) {
        let w = self.pods[pid.index()].workload;
        let Some(job) = self.workloads[w.index()].spec.job.clone() else {
            return;
        };
        let failed = job.failure_probability > 0.0
            && self.streams.job_pod_fails(job.failure_probability.min(1.0));
        let run = self.pods[pid.index()].slot as usize;
        // The pod ends: it leaves the Running count and releases its room.
        let PodState::Running(_) = self.pods[pid.index()].state() else {
            return;
        };
        self.set_pod_state(
            pid,
            if failed {
                PodState::Failed
            } else {
                PodState::Succeeded
            },
        );
        let Some(st) = self.workloads[w.index()].job_state.as_mut() else {
            return;
        };
        let r = &mut st.runs[run];
        r.active -= 1;
        let mut create = 0;
        let mut delay = Millis::ZERO;
        if failed {
            r.failed += 1;
            if r.failed > job.backoff_limit {
                r.done = true;
                self.status.jobs_failed += 1;
            } else {
                // DefaultJobPodFailureBackOff 10 s, doubling, at most 6 min.
                let exp = (r.failed - 1).min(10);
                delay = Millis((10_000u64 << exp).min(360_000));
                create = 1;
            }
        } else {
            r.succeeded += 1;
            if r.succeeded >= job.completions {
                r.done = true;
                self.status.jobs_completed += 1;
            } else if r.succeeded + r.active < job.completions && r.active < job.parallelism {
                create = 1;
            }
        }
        r.active += create;
        self.change_wanted_job_pods(w, i64::from(create) - 1);
        for _ in 0..create {
            ctx.schedule_in(delay, KubeEvent::CreatePod(w, run as u32));
        }
        // The room it held is free: a cluster event.
        self.cluster_event(ctx, Change::AssignedPodDeleted(self.deletion_subject(w)));
    }
}
