//! Expanders: which of the groups that could help grows (cluster-autoscaler
//! `expander/`; `docs/fidelity.md`, "Cluster autoscaler"). Each filter keeps
//! its best options; ties fall back to `random`, as the CA chains its
//! strategies.

use rand::Rng;

use super::scale_up::Candidate;
use super::{Autoscaler, Expander, GroupSnapshot};

impl Autoscaler {
    /// The index of the chosen option, if any.
    pub(super) fn expand(
        &mut self,
        options: &[Candidate],
        groups: &[GroupSnapshot],
    ) -> Option<usize> {
        if options.is_empty() {
            return None;
        }
        let best: Vec<usize> = match self.config.expander {
            Expander::Random => (0..options.len()).collect(),
            Expander::MostPods => keep_max(options, |o| o.pods as f64),
            Expander::LeastWaste => keep_max(options, |o| -waste(o)),
            Expander::Priority => keep_max(options, |o| {
                let pool = groups[o.group].pool.index();
                f64::from(self.config.priorities.get(pool).copied().unwrap_or(0))
            }),
        };
        // Draw only when there is a choice, so a scan with one option
        // consumes no random number.
        Some(if best.len() == 1 {
            best[0]
        } else {
            best[self.rng.random_range(0..best.len())]
        })
    }
}

/// The options whose key is the maximum, in order.
fn keep_max(options: &[Candidate], key: impl Fn(&Candidate) -> f64) -> Vec<usize> {
    let max = options.iter().map(&key).fold(f64::NEG_INFINITY, f64::max);
    (0..options.len())
        .filter(|&i| key(&options[i]) == max)
        .collect()
}

/// least-waste: `(cap_cpu·k − req_cpu)/(cap_cpu·k) + (cap_mem·k −
/// req_mem)/(cap_mem·k)` for k nodes added (`expander/waste/waste.go`).
pub(super) fn waste(o: &Candidate) -> f64 {
    let k = f64::from(o.nodes);
    let cpu = o.capacity.cpu.0 as f64 * k;
    let mem = o.capacity.memory.0 as f64 * k;
    (cpu - o.requested.cpu.0 as f64) / cpu + (mem - o.requested.memory.0 as f64) / mem
}
