//! The counters a cluster keeps on every pod transition: pending and
//! Running pods per workload and class, service availability and its
//! propagation to the workloads that need it, and progressing user work.
//! Nothing here scans pods; only a pod transition (`transition.rs`) calls
//! these.

use crate::kube::{Cluster, KubeRecord, PodClass, WorkloadId};

impl Cluster {
    pub(super) fn change_pending(&mut self, w: WorkloadId, delta: i32) {
        let wl = &mut self.workloads[w.index()];
        wl.pending = wl.pending.wrapping_add_signed(delta);
        if wl.spec.placeholder {
            return;
        }
        let counter = match wl.spec.class {
            PodClass::System => &mut self.status.pending_system,
            PodClass::User => &mut self.status.pending_user,
        };
        *counter = counter.wrapping_add_signed(delta);
    }

    /// Changes a workload's Running count and propagates service
    /// availability to the workloads that need it.
    pub(super) fn change_running(&mut self, w: WorkloadId, delta: i32) {
        let was_down = self.workloads[w.index()].is_unavailable();
        self.add_running_pods(w, delta);
        let is_down = self.workloads[w.index()].is_unavailable();
        if was_down == is_down {
            return;
        }
        self.note(if is_down {
            KubeRecord::ServiceDown(w)
        } else {
            KubeRecord::ServiceUp(w)
        });
        if self.workloads[w.index()].spec.class == PodClass::System {
            let c = &mut self.status.system_services_down;
            *c = if is_down { *c + 1 } else { *c - 1 };
        }
        for i in 0..self.workloads[w.index()].dependents.len() {
            let d = self.workloads[w.index()].dependents[i];
            let running = self.workloads[d.index()].running as i32;
            // Move the dependent's running pods between the progressing and
            // stalled tallies around the change of its unmet needs.
            self.add_running_pods(d, -running);
            let dep = &mut self.workloads[d.index()];
            let was_progressing = dep.progressing();
            dep.unmet_needs = if is_down {
                dep.unmet_needs + 1
            } else {
                dep.unmet_needs - 1
            };
            if dep.spec.job.is_some() && was_progressing != dep.progressing() {
                self.controllers.job_progress_changed(d);
            }
            self.add_running_pods(d, running);
        }
    }

    fn add_running_pods(&mut self, w: WorkloadId, delta: i32) {
        let wl = &mut self.workloads[w.index()];
        wl.running = wl.running.wrapping_add_signed(delta);
        if wl.spec.placeholder {
            return;
        }
        if !wl.progressing() {
            self.status.stalled = self.status.stalled.wrapping_add_signed(delta);
        } else if wl.spec.class == PodClass::User {
            self.status.progressing_user = self.status.progressing_user.wrapping_add_signed(delta);
            let mcpu = i64::from(delta) * wl.spec.requests.cpu.0 as i64;
            self.status.progressing_user_mcpu =
                self.status.progressing_user_mcpu.wrapping_add_signed(mcpu);
        }
    }
}
