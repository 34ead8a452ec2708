//! A pod's effective requests from its containers, as kube-scheduler
//! computes them (`docs/fidelity.md`, "Effective requests").
//!
//! k8s.io/component-helpers `resource.PodRequests` (the scheduler's
//! NodeResourcesFit, the kubelet's admission and the cluster autoscaler all
//! call it): per resource, the app containers' sum plus every sidecar (an
//! init container with `restartPolicy: Always`), or, if larger, the most
//! any regular init container needs while it runs (its own requests plus
//! the sidecars declared before it, which are already running); then the
//! RuntimeClass `overhead` on top.

use super::Resources;

/// One container's requests, and for an init container whether it is a
/// sidecar (`restartPolicy: Always`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Container {
    /// Its requests.
    pub requests: Resources,
    /// An init container with `restartPolicy: Always` (ignored for app
    /// containers).
    pub sidecar: bool,
}

/// The pod's effective requests: per resource,
/// `max(sum(app) + sum(sidecars), max_i(init_i + sum(sidecars before i)))
/// + overhead`, with `init` in declaration order. `None` if a sum wraps.
pub fn pod_requests(
    app: &[Resources],
    init: &[Container],
    overhead: Resources,
) -> Option<Resources> {
    let mut total = Resources::default();
    for &c in app {
        total = total.checked_add(c)?;
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for c in init {
        let running = if c.sidecar {
            total = total.checked_add(c.requests)?;
            sidecars = sidecars.checked_add(c.requests)?;
            sidecars
        } else {
            c.requests.checked_add(sidecars)?
        };
        init_peak = init_peak.max_each(running);
    }
    total.max_each(init_peak).checked_add(overhead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantity::{Bytes, MilliCpu};

    fn r(cpu: u64, mi: u64) -> Resources {
        Resources::new(MilliCpu(cpu), Bytes(mi * Bytes::MI))
    }

    /// Two app containers 500m/256Mi and 250m/512Mi: 750m/768Mi. A sidecar
    /// 100m/64Mi declared first, then an init container 1/128Mi: while the
    /// init container runs, 1100m/192Mi; running, 850m/832Mi; so
    /// 1100m/832Mi, plus overhead 50m/100Mi.
    #[test]
    fn sidecar_init_and_overhead() {
        let app = [r(500, 256), r(250, 512)];
        let init = [
            Container {
                requests: r(100, 64),
                sidecar: true,
            },
            Container {
                requests: r(1000, 128),
                sidecar: false,
            },
        ];
        assert_eq!(pod_requests(&app, &init, r(50, 100)), Some(r(1150, 932)));
        // A sidecar declared after the init container does not run beside
        // it: 1000m/128Mi while initialising; 850m/832Mi running.
        let late = [init[1], init[0]];
        assert_eq!(pod_requests(&app, &late, r(0, 0)), Some(r(1000, 832)));
    }

    #[test]
    fn gpus_add_and_wrap_is_refused() {
        let app = [r(1, 1).with_gpu(1), r(1, 1).with_gpu(2)];
        assert_eq!(pod_requests(&app, &[], r(0, 0)).map(|x| x.gpu), Some(3));
        let huge = Resources::new(MilliCpu(u64::MAX), Bytes(0));
        assert_eq!(pod_requests(&[huge, huge], &[], r(0, 0)), None);
    }
}
