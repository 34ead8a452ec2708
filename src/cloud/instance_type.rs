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
    /// NVIDIA GPUs, which the device plugin advertises whole as the
    /// node's `nvidia.com/gpu` allocatable (0 without).
    pub gpu: u32,
    /// On-demand price, US dollars per hour.
    pub price_per_hour: f64,
}

/// What the kubelet reserves on every node (kube-reserved plus
/// system-reserved plus the hard eviction threshold). `None` means the EKS
/// AMI's formula for that resource.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reservation {
    /// cpu reserved per node, instead of the EKS tiers.
    pub cpu: Option<MilliCpu>,
    /// memory reserved per node (eviction threshold included), instead of
    /// 255 MiB + 11 MiB per pod + 100 MiB.
    pub memory: Option<Bytes>,
}

impl InstanceType {
    /// Allocatable under a scenario's reservation: the EKS formula for each
    /// resource the scenario leaves unset.
    pub fn allocatable_with(&self, r: &Reservation) -> Resources {
        let eks = self.allocatable();
        Resources::new(
            r.cpu
                .map_or(eks.cpu, |c| MilliCpu(self.cpu.0.saturating_sub(c.0))),
            r.memory
                .map_or(eks.memory, |m| Bytes(self.memory.0.saturating_sub(m.0))),
        )
        .with_gpu(self.gpu)
    }

    /// Capacity left for pods after the kubelet's reservations, using the
    /// formulas of the EKS AMI bootstrap script: cpu reserved is 6 % of the
    /// first core, 1 % of the second, 0.5 % of the next two and 0.25 % of the
    /// rest; memory reserved is 255 MiB + 11 MiB per pod, plus the 100 MiB hard
    /// eviction threshold (awslabs/amazon-eks-ami, bootstrap.sh). Every GPU
    /// is allocatable: the NVIDIA device plugin reserves none.
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
        .with_gpu(self.gpu)
    }

    /// Its capacity: vCPUs, memory and GPUs, before any reservation.
    pub fn capacity(&self) -> Resources {
        Resources::new(self.cpu, self.memory).with_gpu(self.gpu)
    }
}

/// Built-in types, four families (general purpose m5 and m6i, compute c5,
/// memory r5) from large to 8xlarge (c5: 9xlarge), then the accelerated
/// g5 (NVIDIA A10G) and p4d (A100) types, after the others so that the
/// indices of the others do not move. Sources: vCPU, memory and GPUs
/// from the EC2 instance-type pages (docs.aws.amazon.com/ec2/latest/
/// instancetypes/gp.html, co.html, mo.html, ac.html); max pods from the EKS
/// AMI's `eni-max-pods.txt` (awslabs/amazon-eks-ami), which is
/// ENIs x (IPv4 addresses per ENI - 1) + 2; prices are us-east-1 Linux
/// on-demand per hour (aws.amazon.com/ec2/pricing/on-demand, 2024).
/// `docs/fidelity.md`, "Instance catalogue". A scenario may override any
/// of these or add its own.
pub fn builtin_instance_types() -> Vec<InstanceType> {
    let t = |name: &str, vcpu: u64, gib: u64, max_pods: u32, price: f64| InstanceType {
        name: name.to_string(),
        cpu: MilliCpu(vcpu * 1000),
        memory: Bytes(gib * Bytes::GI),
        max_pods,
        gpu: 0,
        price_per_hour: price,
    };
    let g = |name: &str, vcpu: u64, gib: u64, gpu: u32, max_pods: u32, price: f64| InstanceType {
        gpu,
        ..t(name, vcpu, gib, max_pods, price)
    };
    vec![
        t("m5.large", 2, 8, 29, 0.096),
        t("m5.xlarge", 4, 16, 58, 0.192),
        t("m5.2xlarge", 8, 32, 58, 0.384),
        t("m5.4xlarge", 16, 64, 234, 0.768),
        t("m5.8xlarge", 32, 128, 234, 1.536),
        t("m6i.large", 2, 8, 29, 0.096),
        t("m6i.xlarge", 4, 16, 58, 0.192),
        t("m6i.2xlarge", 8, 32, 58, 0.384),
        t("m6i.4xlarge", 16, 64, 234, 0.768),
        t("m6i.8xlarge", 32, 128, 234, 1.536),
        t("c5.large", 2, 4, 29, 0.085),
        t("c5.xlarge", 4, 8, 58, 0.17),
        t("c5.2xlarge", 8, 16, 58, 0.34),
        t("c5.4xlarge", 16, 32, 234, 0.68),
        t("c5.9xlarge", 36, 72, 234, 1.53),
        t("r5.large", 2, 16, 29, 0.126),
        t("r5.xlarge", 4, 32, 58, 0.252),
        t("r5.2xlarge", 8, 64, 58, 0.504),
        t("r5.4xlarge", 16, 128, 234, 1.008),
        t("r5.8xlarge", 32, 256, 234, 2.016),
        g("g5.xlarge", 4, 16, 1, 58, 1.006),
        g("g5.2xlarge", 8, 32, 1, 58, 1.212),
        g("g5.4xlarge", 16, 64, 1, 234, 1.624),
        g("g5.12xlarge", 48, 192, 4, 737, 5.672),
        g("g5.48xlarge", 192, 768, 8, 345, 16.288),
        g("p4d.24xlarge", 96, 1152, 8, 737, 32.7726),
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
        // A scenario reserving 500m and 1Gi gets exactly that taken off, and
        // keeps the EKS formula for what it leaves unset.
        let r = Reservation {
            cpu: Some(MilliCpu(500)),
            memory: None,
        };
        assert_eq!(m5.allocatable_with(&r).cpu, MilliCpu(3500));
        assert_eq!(m5.allocatable_with(&r).memory, a.memory);
    }

    /// g5.12xlarge: 4 GPUs, all allocatable; cpu reserved
    /// 60 + 10 + 10 + 44 x 2.5 = 190m; memory reserved
    /// 255 + 11 x 737 + 100 = 8 462 MiB.
    #[test]
    fn gpus_are_allocatable() {
        let g5 = builtin_instance_types()
            .into_iter()
            .find(|t| t.name == "g5.12xlarge")
            .expect("g5.12xlarge is built in");
        let a = g5.allocatable();
        assert_eq!(a.gpu, 4);
        assert_eq!(a.cpu, MilliCpu(48_000 - 190));
        assert_eq!(a.memory, Bytes((192 * 1024 - 8_462) * Bytes::MI));
        assert_eq!(g5.allocatable_with(&Reservation::default()).gpu, 4);
    }

    #[test]
    fn catalogue_has_four_families_in_several_sizes() {
        let types = builtin_instance_types();
        for family in ["m5.", "m6i.", "c5.", "r5."] {
            let n = types.iter().filter(|t| t.name.starts_with(family)).count();
            assert!(n >= 4, "{family} has {n} sizes");
        }
    }
}
