//! Admission webhooks: each webhook of a Validating or Mutating
//! configuration that intercepts pod creation becomes a webhook on the
//! workload behind its Service, gating the workloads whose pods it
//! matches (namespace selectors approximated, object selectors exact).

use std::collections::BTreeMap;

use crate::scenario::file::FailurePolicyFile;

use super::ImportError;
use super::notes::Notes;
use super::object::{At, Object, Selector};
use super::services::{Extra, behind_service, make_service};
use super::workloads::{Controller, Workload};

/// The label every Namespace has with its own name.
const NAMESPACE_NAME: &str = "kubernetes.io/metadata.name";

/// Whether a webhook's rules cover creating pods.
fn intercepts_pod_creation(hook: &At<'_>) -> Result<bool, super::object::Bad> {
    for r in hook.list("rules")? {
        let groups = r.strings("apiGroups")?;
        let ops = r.strings("operations")?;
        let resources = r.strings("resources")?;
        let group = groups.iter().any(|g| g.is_empty() || g == "*");
        let op = ops.iter().any(|o| o == "CREATE" || o == "*");
        let res = resources
            .iter()
            .any(|x| x == "pods" || x == "*" || x == "*/*");
        if group && op && res {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether a namespace selector matches namespace `ns`, knowing only its
/// name label (Namespaces are not in the dump): other labels count as
/// absent, which is noted.
fn namespace_matches(s: &Selector, ns: &str) -> bool {
    let labels = BTreeMap::from([(NAMESPACE_NAME.to_string(), ns.to_string())]);
    s.matches(&labels)
}

/// Every webhook configuration's pod-creation webhooks, onto `extra`.
pub fn webhooks(
    objects: &[Object],
    workloads: &[Workload],
    extra: &mut [Extra],
    notes: &mut Notes,
) -> Result<(), ImportError> {
    let configs = objects.iter().filter(|o| {
        o.kind == "ValidatingWebhookConfiguration" || o.kind == "MutatingWebhookConfiguration"
    });
    for o in configs {
        let root = o.root();
        for hook in root.list("webhooks").map_err(|b| o.error(b))? {
            one_webhook(o, &hook, objects, workloads, extra, notes)?;
        }
    }
    Ok(())
}

/// One webhook of a configuration: the service behind it gates the pod
/// creations it intercepts with its failure policy (merged with those of
/// other webhooks it serves).
fn one_webhook(
    o: &Object,
    hook: &At<'_>,
    objects: &[Object],
    workloads: &[Workload],
    extra: &mut [Extra],
    notes: &mut Notes,
) -> Result<(), ImportError> {
    let err = |b| o.error(b);
    let name = hook.need("name").and_then(|n| n.as_str()).map_err(err)?;
    let who = format!("{} {name}", o.id());
    if !intercepts_pod_creation(hook).map_err(err)? {
        notes.skip("webhooks that do not intercept pod creation", &who);
        return Ok(());
    }
    let policy = match hook.str("failurePolicy").map_err(err)?.unwrap_or("Fail") {
        "Fail" => FailurePolicyFile::Fail,
        "Ignore" => FailurePolicyFile::Ignore,
        other => {
            return Err(o.error_at(
                &format!("{}.failurePolicy", hook.path),
                format!(
                    "unknown failurePolicy `{}`: expected Fail or Ignore",
                    crate::input::escape(other)
                ),
            ));
        }
    };
    let client = hook.need("clientConfig").map_err(err)?;
    let Some(svc) = client.get("service") else {
        notes.skip("webhooks called by URL (no in-cluster service)", &who);
        return Ok(());
    };
    let svc_ns = svc
        .need("namespace")
        .and_then(|n| n.as_str())
        .map_err(err)?;
    let svc_name = svc.need("name").and_then(|n| n.as_str()).map_err(err)?;
    let Some(server) = behind_service(objects, workloads, svc_ns, svc_name)? else {
        notes.skip(
            "webhooks whose service has no Deployment or StatefulSet behind it in the inputs",
            &who,
        );
        return Ok(());
    };
    let gated = gated(o, hook, &who, (workloads, server), notes)?;
    make_service(workloads, extra, server);
    let e = &mut extra[server];
    match &mut e.webhook {
        None => e.webhook = Some((policy, gated)),
        Some((p, set)) => {
            if *p != policy {
                notes.approximate(
                    "a service behind webhooks of both failure policies: Fail over the union",
                    &workloads[server].id,
                );
                *p = FailurePolicyFile::Fail;
            }
            set.extend(gated);
        }
    }
    Ok(())
}

/// The workloads whose pod creations webhook `hook` (`who`) intercepts:
/// those its namespace and object selectors match, less the webhook's own
/// `server` and DaemonSets (noted).
fn gated(
    o: &Object,
    hook: &At<'_>,
    who: &str,
    (workloads, server): (&[Workload], usize),
    notes: &mut Notes,
) -> Result<std::collections::BTreeSet<usize>, ImportError> {
    let err = |b| o.error(b);
    let ns_sel = match hook.get("namespaceSelector") {
        Some(s) => Selector::read(&s).map_err(err)?,
        None => Selector::default(),
    };
    if ns_sel.keys().any(|k| k != NAMESPACE_NAME) {
        notes.approximate(
            "webhook namespaceSelectors on labels other than kubernetes.io/metadata.name: those labels taken as absent",
            who,
        );
    }
    let obj_sel = match hook.get("objectSelector") {
        Some(s) => Selector::read(&s).map_err(err)?,
        None => Selector::default(),
    };
    let mut gated = std::collections::BTreeSet::new();
    for (i, w) in workloads.iter().enumerate() {
        if i == server
            || !namespace_matches(&ns_sel, &w.namespace)
            || !obj_sel.matches(&w.template.labels)
        {
            continue;
        }
        if matches!(w.controller, Controller::DaemonSet) {
            notes.skip(
                "DaemonSet pod creations a webhook intercepts: not gated in the model",
                format!("{who} -> {}", w.id),
            );
            continue;
        }
        gated.insert(i);
    }
    Ok(gated)
}
