//! Disruption budgets (`spec.disruption.budgets`): how many of a
//! NodePool's nodes may be disrupted at once, per reason, and when
//! (kubernetes-sigs/karpenter `pkg/apis/v1/nodepool.go`,
//! `GetAllowedDisruptionsByReason`; `pkg/controllers/disruption/helpers.go`,
//! `BuildDisruptionBudgetMapping`).

use crate::engine::Millis;

use super::schedule::Schedule;

/// Why Karpenter disrupts a node, as budgets name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// An empty node deleted (emptiness).
    Empty,
    /// An underutilized node deleted or replaced (consolidation).
    Underutilized,
    /// A node that no longer matches its NodePool (drift).
    Drifted,
}

impl Reason {
    /// The name budgets use.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Empty => "Empty",
            Reason::Underutilized => "Underutilized",
            Reason::Drifted => "Drifted",
        }
    }

    /// Parses a budget's reason.
    pub fn parse(text: &str) -> Option<Reason> {
        [Reason::Empty, Reason::Underutilized, Reason::Drifted]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// A budget's `nodes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetNodes {
    /// At most this many nodes.
    Count(u32),
    /// At most this percentage of the NodePool's nodes, rounded up.
    Percent(u8),
}

impl BudgetNodes {
    /// Parses `"3"` or `"10%"` (Karpenter's pattern
    /// `^((100|[0-9]{1,2})%|[0-9]+)$`).
    pub fn parse(text: &str) -> Option<BudgetNodes> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if let Some(p) = text.strip_suffix('%') {
            if digits(p) && p.len() <= 3 {
                return p
                    .parse::<u8>()
                    .ok()
                    .filter(|&p| p <= 100)
                    .map(BudgetNodes::Percent);
            }
            return None;
        }
        if digits(text) {
            return text.parse::<u32>().ok().map(BudgetNodes::Count);
        }
        None
    }
}

/// One budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Its limit.
    pub nodes: BudgetNodes,
    /// When it is active: a schedule and how long after each hit; always
    /// when `None`.
    pub window: Option<(Schedule, Millis)>,
    /// Reasons it applies to; every reason when `None`.
    pub reasons: Option<Vec<Reason>>,
}

impl Budget {
    /// The default budget: 10% of the nodes, always, for every reason.
    pub fn ten_percent() -> Budget {
        Budget {
            nodes: BudgetNodes::Percent(10),
            window: None,
            reasons: None,
        }
    }

    /// Disruptions it allows for `reason` among `nodes` nodes at `now`
    /// (`None`: it does not constrain them).
    fn allows(&self, reason: Reason, nodes: u32, now: Millis) -> Option<u32> {
        if self.reasons.as_ref().is_some_and(|r| !r.contains(&reason)) {
            return None;
        }
        if let Some((s, d)) = &self.window
            && !s.active(*d, now)
        {
            return None;
        }
        Some(match self.nodes {
            BudgetNodes::Count(n) => n,
            // intstr.GetScaledValueFromIntOrPercent, rounding up.
            BudgetNodes::Percent(p) => (u64::from(nodes) * u64::from(p)).div_ceil(100) as u32,
        })
    }
}

/// Disruptions allowed for `reason` in a NodePool with `nodes` initialized
/// nodes of which `disrupting` are NotReady or being disrupted: the most
/// restrictive active budget, less those already disrupting, at least 0.
pub fn allowed(
    budgets: &[Budget],
    reason: Reason,
    nodes: u32,
    disrupting: u32,
    now: Millis,
) -> u32 {
    budgets
        .iter()
        .filter_map(|b| b.allows(reason, nodes, now))
        .min()
        .unwrap_or(u32::MAX)
        .saturating_sub(disrupting)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_percentages_rounded_up_and_reasons() {
        assert_eq!(BudgetNodes::parse("10%"), Some(BudgetNodes::Percent(10)));
        assert_eq!(BudgetNodes::parse("100%"), Some(BudgetNodes::Percent(100)));
        assert_eq!(BudgetNodes::parse("3"), Some(BudgetNodes::Count(3)));
        for bad in ["101%", "1000%", "-1", "1.5", "ten", "%", ""] {
            assert_eq!(BudgetNodes::parse(bad), None, "{bad}");
        }
        let b = [Budget::ten_percent()];
        // 10% of 11 nodes rounds up to 2; 1 disrupting leaves 1.
        assert_eq!(allowed(&b, Reason::Empty, 11, 1, Millis::ZERO), 1);
        assert_eq!(allowed(&b, Reason::Empty, 0, 0, Millis::ZERO), 0);
        let drift_only = Budget {
            nodes: BudgetNodes::Count(0),
            window: None,
            reasons: Some(vec![Reason::Drifted]),
        };
        let both = [Budget::ten_percent(), drift_only];
        assert_eq!(allowed(&both, Reason::Drifted, 30, 0, Millis::ZERO), 0);
        assert_eq!(
            allowed(&both, Reason::Underutilized, 30, 0, Millis::ZERO),
            3
        );
    }
}
