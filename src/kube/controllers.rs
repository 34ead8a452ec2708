//! Pod garbage collection (deletes pods bound to deleted Nodes,
//! `pkg/controller/podgc/gc_controller.go`) and the Deployment controller's
//! recreation of what it deleted. The node lifecycle controllers that
//! delete Nodes and evict pods are in `node_lifecycle.rs`.

use rand::seq::SliceRandom;

use crate::engine::{Context, Millis};

use super::cluster::{Change, KubeEvent};
use super::{Cluster, PodState, WorkloadId, WorkloadKind};

impl Cluster {
    pub(super) fn arm_gc<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        if !self.armed.gc && !self.orphan_nodes.is_empty() {
            self.armed.gc = true;
            let at = Millis(ctx.now().0 + 1).next_multiple_of(self.config.pod_gc_period);
            ctx.schedule_at(at, KubeEvent::PodGc);
        }
    }

    /// PodGC: deletes the pods of nodes deleted at least the quarantine ago,
    /// then the Deployment controller recreates them in a shuffled order.
    pub(super) fn pod_gc<E: From<KubeEvent>>(&mut self, ctx: &mut Context<'_, E>) {
        self.armed.gc = false;
        let now = ctx.now();
        let quarantine = self.config.pod_gc_quarantine;
        let mut recreate = Vec::new();
        let mut deleted_any = false;
        let mut waiting = Vec::new();
        for node in std::mem::take(&mut self.orphan_nodes) {
            let deleted_at = self.nodes[node.index()].deleted_at.unwrap_or(now);
            if now.saturating_sub(deleted_at) < quarantine {
                waiting.push(node);
                continue;
            }
            let pods = self.nodes[node.index()].pods.clone();
            for pid in pods {
                let pod = &self.pods[pid.index()];
                // A DaemonSet has nothing to recreate for a deleted node, and
                // a terminating pod was already replaced.
                if !matches!(
                    self.workloads[pod.workload.index()].spec.kind,
                    WorkloadKind::DaemonSet { .. }
                ) && !matches!(pod.state, PodState::Terminating(_))
                {
                    recreate.push((pod.workload, pod.slot));
                }
                self.delete_pod(pid);
                deleted_any = true;
            }
        }
        self.orphan_nodes = waiting;
        // Sort first so that every policy shuffles the same list: the order
        // then depends on the seed only (common random numbers).
        recreate.sort_unstable();
        recreate.shuffle(&mut self.order_rng);
        // Each ReplicaSet creates its pods in slow-start batches of 1, 2,
        // 4, ... (`slowStartBatch`, pkg/controller/replicaset), and the
        // ReplicaSets sync concurrently: the k-th pod of a workload (k from
        // 0) is in batch floor(log2(k + 1)), and batch b of every workload
        // goes before batch b + 1 of any. The creations share the
        // controller manager's API client rate limit (burst, then QPS).
        let mut seen = vec![0u32; self.workloads.len()];
        let mut batched: Vec<(u32, usize, WorkloadId, u32)> = recreate
            .into_iter()
            .enumerate()
            .map(|(i, (w, slot))| {
                let k = seen[w.index()];
                seen[w.index()] += 1;
                ((k + 1).ilog2(), i, w, slot)
            })
            .collect();
        batched.sort_unstable();
        let start = now + self.config.controller_delay;
        for (i, (_, _, w, slot)) in batched.into_iter().enumerate() {
            // A token bucket: `pod_create_burst` calls at once, then one per
            // interval.
            let waits = (i as u64 + 1).saturating_sub(u64::from(self.config.pod_create_burst));
            let at = start + Millis(self.config.pod_create_interval.0 * waits);
            ctx.schedule_at(at, KubeEvent::CreatePod(w, slot));
        }
        // Deleting assigned pods is a cluster event (AssignedPodDelete).
        if deleted_any {
            self.cluster_event(ctx, Change::AssignedPodDeleted);
        }
        self.arm_gc(ctx);
    }
}
