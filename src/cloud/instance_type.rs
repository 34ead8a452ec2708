//! EC2 instance types and the allocatable capacity EKS leaves to pods.

use crate::quantity::{Bytes, MilliCpu, Resources};

/// An EC2 instance type as a node sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceType {
    /// API name, e.g. `m5.xlarge`.
    pub name: String,
    /// vCPUs.
    pub cpu: MilliCpu,
    /// Memory.
    pub memory: Bytes,
    /// Maximum pods per node.
    pub max_pods: u32,
    /// On-demand price, US dollars per hour.
    pub price_per_hour: f64,
}

impl InstanceType {
    /// Capacity left for pods after the kubelet's reservations, using the
    /// formulas of the EKS AMI bootstrap script: cpu reserved is 6 % of the
    /// first core, 1 % of the second, 0.5 % of the next two and 0.25 % of the
    /// rest; memory reserved is 255 MiB + 11 MiB per pod, plus the 100 MiB hard
    /// eviction threshold (awslabs/amazon-eks-ami, bootstrap.sh).
    pub fn allocatable(&self) -> Resources {
        let cores = self.cpu.0;
        let tiers = [(1000, 60), (1000, 10), (2000, 5)];
        let mut left = cores;
        let mut reserved = 0;
        for (size, millis_per_core_thousand) in tiers {
            let take = left.min(size);
            reserved += take * millis_per_core_thousand / 1000;
            left -= take;
        }
        reserved += left * 25 / 10_000;
        let memory_reserved = (255 + 11 * u64::from(self.max_pods) + 100) * Bytes::MI;
        Resources::new(
            MilliCpu(cores.saturating_sub(reserved)),
            Bytes(self.memory.0.saturating_sub(memory_reserved)),
        )
    }
}

/// Built-in types: vCPU and memory from the EC2 instance-type pages, max pods
/// from the EKS `eni-max-pods.txt` table (ENIs x (IPv4 per ENI - 1) + 2), and
/// us-east-1 Linux on-demand prices (aws.amazon.com/ec2/pricing/on-demand).
pub fn builtin_instance_types() -> Vec<InstanceType> {
    let t = |name: &str, vcpu: u64, gib: u64, max_pods: u32, price: f64| InstanceType {
        name: name.to_string(),
        cpu: MilliCpu(vcpu * 1000),
        memory: Bytes(gib * Bytes::GI),
        max_pods,
        price_per_hour: price,
    };
    vec![
        t("m5.large", 2, 8, 29, 0.096),
        t("m5.xlarge", 4, 16, 58, 0.192),
        t("m5.2xlarge", 8, 32, 58, 0.384),
        t("m5.4xlarge", 16, 64, 234, 0.768),
        t("c5.large", 2, 4, 29, 0.085),
        t("c5.xlarge", 4, 8, 58, 0.17),
        t("c5.2xlarge", 8, 16, 58, 0.34),
        t("r5.large", 2, 16, 29, 0.126),
        t("r5.xlarge", 4, 32, 58, 0.252),
        t("r5.2xlarge", 8, 64, 58, 0.504),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// m5.xlarge: cpu reserved 60 + 10 + 10 = 80m; memory reserved
    /// 255 + 11 x 58 + 100 = 993 MiB, so 16 384 - 993 = 15 391 MiB.
    #[test]
    fn eks_allocatable_of_m5_xlarge() {
        let m5 = builtin_instance_types()
            .into_iter()
            .find(|t| t.name == "m5.xlarge")
            .expect("m5.xlarge is built in");
        let a = m5.allocatable();
        assert_eq!(a.cpu, MilliCpu(3920));
        assert_eq!(a.memory, Bytes(15_391 * Bytes::MI));
    }
}
