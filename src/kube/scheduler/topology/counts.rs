//! Pod counts per selector group and topology domain, kept up to date on
//! every pod move and every node that registers or leaves, so that no
//! decision scans pods (`docs/fidelity.md`, "Topology spread and inter-pod
//! affinity").
//!
//! A group is a set of workloads (what a label selector selects) and
//! whether terminating pods count: PodTopologySpread skips them
//! (`countPodsMatchSelector`), InterPodAffinity does not. Per group it
//! keeps the count on each node, per pool and zone over registered nodes,
//! and per pool a histogram of the per-node counts over registered nodes
//! (the minimum over nodes that a hostname constraint needs).

use crate::kube::WorkloadId;

/// Index of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub u32);

impl GroupId {
    fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a pod is, as the counts need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// The node's index.
    pub node: usize,
    /// Its pool's index.
    pub pool: usize,
    /// Its zone's index.
    pub zone: usize,
    /// Whether the node is in the scheduler's node list (a deleted node's
    /// pods count nowhere).
    pub registered: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    members: Vec<WorkloadId>,
    with_terminating: bool,
}

/// The counts of every group.
#[derive(Debug, Default)]
pub struct Counts {
    groups: Vec<Group>,
    /// Per workload: the groups its pods count in.
    member_of: Vec<Vec<GroupId>>,
    /// Per group and node: pods (dense: a decision reads one per feasible
    /// node).
    by_node: Vec<Vec<u32>>,
    /// Nodes known (the length of each `by_node` row).
    nodes: usize,
    /// Per node: its zone, compact for scoring.
    zone_of: Vec<u16>,
    /// Per group, pool and zone: pods on registered nodes.
    zone: Vec<Vec<Vec<u32>>>,
    /// Per group and pool: registered nodes by their count of the group's
    /// pods.
    hist: Vec<Vec<Vec<u32>>>,
    /// Per group: pods on registered nodes.
    total: Vec<u64>,
    /// Per pool and zone: registered nodes.
    nodes_in: Vec<Vec<u32>>,
}

impl Counts {
    /// Counts for `pools` pools and `workloads` workloads, no group yet.
    pub fn new(pools: usize, workloads: usize) -> Counts {
        Counts {
            member_of: vec![Vec::new(); workloads],
            nodes_in: vec![Vec::new(); pools],
            ..Counts::default()
        }
    }

    /// The group of `members` (sorted), made if new.
    pub fn intern(&mut self, members: &[WorkloadId], with_terminating: bool) -> GroupId {
        let g = Group {
            members: members.to_vec(),
            with_terminating,
        };
        if let Some(i) = self.groups.iter().position(|x| *x == g) {
            return GroupId(i as u32);
        }
        let id = GroupId(self.groups.len() as u32);
        for w in members {
            self.member_of[w.index()].push(id);
        }
        let pools = self.nodes_in.len();
        self.groups.push(g);
        self.by_node.push(vec![0; self.nodes]);
        self.zone.push(vec![Vec::new(); pools]);
        self.hist.push(vec![Vec::new(); pools]);
        self.total.push(0);
        id
    }

    /// Whether pods of workload `w` count in some group.
    pub fn counts_workload(&self, w: WorkloadId) -> bool {
        !self.member_of[w.index()].is_empty()
    }

    /// A node registered (with no pods).
    pub fn node_added(&mut self, node: usize, pool: usize, zone: usize) {
        if self.nodes <= node {
            self.nodes = node + 1;
            for row in &mut self.by_node {
                row.resize(node + 1, 0);
            }
            self.zone_of.resize(node + 1, 0);
        }
        self.zone_of[node] = zone as u16;
        bump(&mut self.nodes_in[pool], zone, 1);
        for h in &mut self.hist {
            bump(&mut h[pool], 0, 1);
        }
    }

    /// A node left the scheduler's node list: its pods count nowhere.
    pub fn node_removed(&mut self, node: usize, pool: usize, zone: usize) {
        bump(&mut self.nodes_in[pool], zone, -1);
        for g in 0..self.groups.len() {
            let c = self.on_node(GroupId(g as u32), node);
            bump(&mut self.hist[g][pool], c as usize, -1);
            bump(&mut self.zone[g][pool], zone, -(c as i64));
            self.total[g] -= u64::from(c);
        }
    }

    /// `delta` pods of workload `w` at `at` (`terminating`: pods being
    /// deleted). Returns whether any count changed.
    pub fn pod_moved(&mut self, w: WorkloadId, at: Place, terminating: bool, delta: i64) -> bool {
        let mut changed = false;
        for gi in 0..self.member_of[w.index()].len() {
            let g = self.member_of[w.index()][gi];
            if terminating && !self.groups[g.index()].with_terminating {
                continue;
            }
            changed = true;
            let cell = &mut self.by_node[g.index()][at.node];
            let before = *cell;
            *cell = (i64::from(before) + delta) as u32;
            if at.registered {
                let after = (i64::from(before) + delta) as usize;
                let h = &mut self.hist[g.index()][at.pool];
                bump(h, before as usize, -1);
                bump(h, after, 1);
                bump(&mut self.zone[g.index()][at.pool], at.zone, delta);
                self.total[g.index()] = (self.total[g.index()] as i64 + delta) as u64;
            }
        }
        changed
    }

    /// Pods of group `g` on node `node`.
    #[inline]
    pub fn on_node(&self, g: GroupId, node: usize) -> u32 {
        self.by_node[g.index()].get(node).copied().unwrap_or(0)
    }

    /// Pods of group `g` on registered nodes of pool `pool`, per zone
    /// (shorter than the zone count where the rest are 0).
    pub fn in_zones(&self, g: GroupId, pool: usize) -> &[u32] {
        &self.zone[g.index()][pool]
    }

    /// The zone of node `node` (0 for a node never registered).
    #[inline]
    pub fn zone_of(&self, node: usize) -> u16 {
        self.zone_of.get(node).copied().unwrap_or(0)
    }

    /// Pods of group `g` on registered nodes.
    pub fn total(&self, g: GroupId) -> u64 {
        self.total[g.index()]
    }

    /// The fewest pods of group `g` on one registered node of pool `pool`,
    /// `None` without nodes.
    pub fn min_on_nodes(&self, g: GroupId, pool: usize) -> Option<u32> {
        self.hist[g.index()][pool]
            .iter()
            .position(|&n| n > 0)
            .map(|i| i as u32)
    }

    /// Registered nodes of pool `pool`, per zone.
    pub fn nodes_in(&self, pool: usize) -> &[u32] {
        &self.nodes_in[pool]
    }

    /// The groups: members and whether terminating pods count.
    pub fn groups(&self) -> impl Iterator<Item = (GroupId, &[WorkloadId], bool)> {
        self.groups
            .iter()
            .enumerate()
            .map(|(i, g)| (GroupId(i as u32), g.members.as_slice(), g.with_terminating))
    }
}

/// Adds `delta` to `v[i]`, growing `v` with zeros.
fn bump(v: &mut Vec<u32>, i: usize, delta: i64) {
    if v.len() <= i {
        v.resize(i + 1, 0);
    }
    v[i] = (i64::from(v[i]) + delta) as u32;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(node: usize, zone: usize) -> Place {
        Place {
            node,
            pool: 0,
            zone,
            registered: true,
        }
    }

    /// Two nodes in zones 0 and 1; two pods of workload 0 on node 0, one on
    /// node 1: zone counts 2/1, minimum per node 1; node 0 leaves: zone
    /// counts 0/1, minimum 1, total 1.
    #[test]
    fn counts_follow_pods_and_nodes() {
        let mut c = Counts::new(1, 2);
        let g = c.intern(&[WorkloadId(0)], false);
        assert_eq!(c.intern(&[WorkloadId(0)], false), g);
        c.node_added(0, 0, 0);
        c.node_added(1, 0, 1);
        assert_eq!(c.min_on_nodes(g, 0), Some(0));
        c.pod_moved(WorkloadId(0), at(0, 0), false, 1);
        c.pod_moved(WorkloadId(0), at(0, 0), false, 1);
        c.pod_moved(WorkloadId(0), at(1, 1), false, 1);
        // A terminating pod does not count in a spread group.
        assert!(!c.pod_moved(WorkloadId(0), at(1, 1), true, 1));
        // Nor does a pod of another workload.
        assert!(!c.pod_moved(WorkloadId(1), at(1, 1), false, 1));
        assert_eq!(c.in_zones(g, 0), &[2, 1]);
        assert_eq!(c.min_on_nodes(g, 0), Some(1));
        assert_eq!(c.on_node(g, 0), 2);
        c.node_removed(0, 0, 0);
        assert_eq!(c.in_zones(g, 0), &[0, 1]);
        assert_eq!(c.min_on_nodes(g, 0), Some(1));
        assert_eq!(c.total(g), 1);
        assert_eq!(c.nodes_in(0), &[0, 1]);
    }
}
