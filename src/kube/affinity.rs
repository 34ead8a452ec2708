//! Node affinity: nodeSelector and `requiredDuringScheduling` /
//! `preferredDuringScheduling` node selector terms, matched against a node's
//! labels as `k8s.io/component-helpers/scheduling/corev1/nodeaffinity` does.
//!
//! Node labels come from the node's pool, so every match here is computed
//! once per (workload, pool), never per node.

use std::collections::BTreeMap;

/// Operators of a node selector requirement (`Gt`/`Lt` are not modelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectorOperator {
    /// The label's value is one of `values`.
    In,
    /// The label is absent or its value is none of `values`.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: SelectorOperator,
    /// Values for `In` / `NotIn`.
    pub values: Vec<String>,
}

impl Requirement {
    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.key);
        match self.operator {
            SelectorOperator::In => v.is_some_and(|v| self.values.contains(v)),
            SelectorOperator::NotIn => v.is_none_or(|v| !self.values.contains(v)),
            SelectorOperator::Exists => v.is_some(),
            SelectorOperator::DoesNotExist => v.is_none(),
        }
    }
}

/// A node selector term: its requirements are ANDed. An empty term matches
/// nothing, as in Kubernetes.
pub type Term = Vec<Requirement>;

/// Whether `labels` satisfy every requirement of a (non-empty) term.
pub fn term_matches(term: &Term, labels: &BTreeMap<String, String>) -> bool {
    !term.is_empty() && term.iter().all(|r| r.matches(labels))
}

/// A pod's node affinity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeAffinity {
    /// Required terms, ORed; empty means no requirement.
    pub required: Vec<Term>,
    /// Preferred terms with their weights (1-100).
    pub preferred: Vec<(i64, Term)>,
}

impl NodeAffinity {
    /// The NodeAffinity filter: nodeSelector and required terms.
    pub fn allows(
        &self,
        node_selector: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
    ) -> bool {
        node_selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            && (self.required.is_empty() || self.required.iter().any(|t| term_matches(t, labels)))
    }

    /// The NodeAffinity score before normalisation: the sum of the weights
    /// of the preferred terms the labels match.
    pub fn preferred_weight(&self, labels: &BTreeMap<String, String>) -> i64 {
        self.preferred
            .iter()
            .filter(|(_, t)| term_matches(t, labels))
            .map(|(w, _)| *w)
            .sum()
    }

    /// Adds a policy's rule to a workload's own: required terms are ANDed
    /// (every pair of terms merged), preferred terms appended.
    pub fn and(&mut self, other: &NodeAffinity) {
        if !other.required.is_empty() {
            self.required = if self.required.is_empty() {
                other.required.clone()
            } else {
                let mut merged = Vec::new();
                for a in &self.required {
                    for b in &other.required {
                        merged.push(a.iter().chain(b).cloned().collect());
                    }
                }
                merged
            };
        }
        self.preferred.extend(other.preferred.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, operator: SelectorOperator, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            operator,
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn operators() {
        let sys = labels(&[("role", "system")]);
        let none = labels(&[]);
        assert!(req("role", SelectorOperator::In, &["system"]).matches(&sys));
        assert!(!req("role", SelectorOperator::In, &["user"]).matches(&sys));
        assert!(!req("role", SelectorOperator::NotIn, &["system"]).matches(&sys));
        assert!(req("role", SelectorOperator::NotIn, &["system"]).matches(&none));
        assert!(req("role", SelectorOperator::Exists, &[]).matches(&sys));
        assert!(req("role", SelectorOperator::DoesNotExist, &[]).matches(&none));
        let a = NodeAffinity {
            required: vec![
                vec![req("role", SelectorOperator::In, &["user"])],
                vec![req("role", SelectorOperator::DoesNotExist, &[])],
            ],
            preferred: vec![(30, vec![req("role", SelectorOperator::Exists, &[])])],
        };
        assert!(!a.allows(&BTreeMap::new(), &sys));
        assert!(a.allows(&BTreeMap::new(), &none));
        assert_eq!(a.preferred_weight(&sys), 30);
        assert_eq!(a.preferred_weight(&none), 0);
    }
}
