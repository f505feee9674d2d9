//! The per-kind facts that fleet-wide queries ask most — container images, the node a pod
//! runs on, a phase, a workload's desired replicas — read straight from a stored object's
//! protobuf wire bytes (or from its JSON/CBOR value), without rendering the object. It never
//! decrypts, and it reads only the few fields it returns: everything else is skipped.
//!
//! Which fields: a pod's `spec` (images of its init, app and ephemeral containers, in that
//! order; `nodeName`) and `status.phase`; the pod template of Deployments, StatefulSets,
//! DaemonSets, ReplicaSets, ReplicationControllers, Jobs, CronJobs (through the job
//! template) and PodTemplates; `spec.replicas` of Deployments, StatefulSets, ReplicaSets and
//! ReplicationControllers; `status.phase` of Namespaces, PersistentVolumes and
//! PersistentVolumeClaims. Field numbers are those of k8s.io/api's generated.proto.

use crate::wire::{Fields, Value as W, WireError};

/// What an object says of the per-kind columns; `None` where its kind has no such field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Container images, for kinds that hold a pod spec (empty when it names none).
    pub images: Option<Vec<String>>,
    pub node_name: Option<String>,
    pub phase: Option<String>,
    pub replicas: Option<i32>,
}

/// How to reach what a kind holds.
#[derive(Clone, Copy)]
enum Shape {
    Pod,
    /// `spec` (field 2) holds `replicas` (field 1, when `replicas`) and a pod template at
    /// `template`.
    Workload {
        template: u32,
        replicas: bool,
    },
    /// `spec.jobTemplate` (field 5) whose `spec` (2) is a JobSpec.
    CronJob,
    /// `template` (field 2) is a pod template.
    PodTemplate,
    /// `status` (field 3) holds `phase` (field 1).
    Phase,
}

/// The shape of a built-in kind (by its API group: core, apps, extensions, batch).
fn shape(api_version: &str, kind: &str) -> Option<Shape> {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let apps = matches!(group, "apps" | "extensions");
    Some(match (group, kind) {
        ("", "Pod") => Shape::Pod,
        ("", "PodTemplate") => Shape::PodTemplate,
        ("", "ReplicationController") => Shape::Workload {
            template: 3,
            replicas: true,
        },
        ("", "Namespace" | "PersistentVolume" | "PersistentVolumeClaim") => Shape::Phase,
        (_, "Deployment" | "StatefulSet" | "ReplicaSet") if apps => Shape::Workload {
            template: 3,
            replicas: true,
        },
        (_, "DaemonSet") if apps => Shape::Workload {
            template: 2,
            replicas: false,
        },
        ("batch", "Job") => Shape::Workload {
            template: 6,
            replicas: false,
        },
        ("batch", "CronJob") => Shape::CronJob,
        _ => return None,
    })
}

/// Whether objects of this kind have any per-kind column.
pub fn has_facts(api_version: &str, kind: &str) -> bool {
    shape(api_version, kind).is_some()
}

/// The length-delimited field `n` of a message. The apiserver writes each singular field
/// once, so the first occurrence is the one: the rest of the message (a container's
/// environment, probes, …) is not walked.
fn sub(msg: &[u8], n: u32) -> Result<Option<&[u8]>, WireError> {
    for f in Fields::new(msg) {
        if let (m, W::Bytes(b)) = f? {
            if m == n {
                return Ok(Some(b));
            }
        }
    }
    Ok(None)
}

fn text(b: &[u8]) -> String {
    crate::wire::text_lossy(b).into_owned()
}

/// Images (init, app, ephemeral containers) and node name of a PodSpec.
fn pod_spec(spec: &[u8], f: &mut Facts, node: bool) -> Result<(), WireError> {
    let (mut init, mut app, mut eph) = (Vec::new(), Vec::new(), Vec::new());
    for fld in Fields::new(spec) {
        match fld? {
            (2, W::Bytes(c)) => app.extend(sub(c, 2)?.map(text)),
            (20, W::Bytes(c)) => init.extend(sub(c, 2)?.map(text)),
            (34, W::Bytes(c)) => {
                if let Some(common) = sub(c, 1)? {
                    eph.extend(sub(common, 2)?.map(text));
                }
            }
            (10, W::Bytes(n)) if node => f.node_name = Some(text(n)),
            _ => {}
        }
    }
    init.extend(app);
    init.extend(eph);
    f.images = Some(init);
    Ok(())
}

/// The images of a PodTemplateSpec (its `spec`, field 2).
fn template(t: Option<&[u8]>, f: &mut Facts) -> Result<(), WireError> {
    match t.map(|t| sub(t, 2)).transpose()?.flatten() {
        Some(spec) => pod_spec(spec, f, false),
        None => {
            f.images = Some(Vec::new());
            Ok(())
        }
    }
}

/// The facts of a protobuf object (`raw`: the envelope's encoded object) of `kind`.
pub fn from_protobuf(api_version: &str, kind: &str, raw: &[u8]) -> Result<Facts, WireError> {
    let mut f = Facts::default();
    let Some(shape) = shape(api_version, kind) else {
        return Ok(f);
    };
    match shape {
        Shape::Pod => {
            match sub(raw, 2)? {
                Some(spec) => pod_spec(spec, &mut f, true)?,
                None => f.images = Some(Vec::new()),
            }
            if let Some(status) = sub(raw, 3)? {
                f.phase = sub(status, 1)?.map(text);
            }
        }
        Shape::PodTemplate => template(sub(raw, 2)?, &mut f)?,
        Shape::Workload {
            template: t,
            replicas,
        } => {
            let spec = sub(raw, 2)?.unwrap_or_default();
            if replicas {
                for fld in Fields::new(spec) {
                    if let (1, W::Varint(v)) = fld? {
                        f.replicas = Some(v as i32);
                    }
                }
            }
            template(sub(spec, t)?, &mut f)?;
        }
        Shape::CronJob => {
            let spec = sub(raw, 2)?.unwrap_or_default();
            let job_spec = sub(spec, 5)?
                .map(|jt| sub(jt, 2))
                .transpose()?
                .flatten()
                .unwrap_or_default();
            template(sub(job_spec, 6)?, &mut f)?;
        }
        Shape::Phase => {
            if let Some(status) = sub(raw, 3)? {
                f.phase = sub(status, 1)?.map(text);
            }
        }
    }
    Ok(f)
}

/// Images (init, app, ephemeral) and node name of a pod spec in JSON.
fn json_pod_spec(spec: &serde_json::Value, f: &mut Facts, node: bool) {
    let mut images = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        if let Some(cs) = spec[list].as_array() {
            images.extend(
                cs.iter()
                    .filter_map(|c| c["image"].as_str().map(str::to_string)),
            );
        }
    }
    f.images = Some(images);
    if node {
        f.node_name = spec["nodeName"].as_str().map(str::to_string);
    }
}

/// The facts of an object decoded into a generic value (stored as JSON or CBOR).
pub fn from_json(v: &serde_json::Value) -> Facts {
    let mut f = Facts::default();
    let (av, kind) = (
        v["apiVersion"].as_str().unwrap_or(""),
        v["kind"].as_str().unwrap_or(""),
    );
    let Some(shape) = shape(av, kind) else {
        return f;
    };
    let spec = &v["spec"];
    let phase = || v["status"]["phase"].as_str().map(str::to_string);
    match shape {
        Shape::Pod => {
            json_pod_spec(spec, &mut f, true);
            f.phase = phase();
        }
        Shape::PodTemplate => json_pod_spec(&v["template"]["spec"], &mut f, false),
        Shape::Workload { replicas, .. } => {
            if replicas {
                f.replicas = spec["replicas"].as_i64().map(|r| r as i32);
            }
            json_pod_spec(&spec["template"]["spec"], &mut f, false);
        }
        Shape::CronJob => json_pod_spec(
            &spec["jobTemplate"]["spec"]["template"]["spec"],
            &mut f,
            false,
        ),
        Shape::Phase => f.phase = phase(),
    }
    f
}

/// The facts of a stored (unencrypted) value, or `None` when it is no object of a kind
/// with facts; a protobuf object whose fields do not parse is an error.
pub fn of_value(value: &[u8]) -> Result<Option<Facts>, String> {
    use super::value::{StoredValue, classify};
    match classify(value) {
        Ok(StoredValue::Protobuf(env)) => {
            let (av, kind) = (
                crate::wire::text_lossy(env.api_version),
                crate::wire::text_lossy(env.kind),
            );
            if !has_facts(&av, &kind) {
                return Ok(None);
            }
            from_protobuf(&av, &kind, env.raw)
                .map(Some)
                .map_err(|e| format!("{kind}: {e}"))
        }
        Ok(StoredValue::Json(j)) => Ok(serde_json::from_slice::<serde_json::Value>(j)
            .ok()
            .and_then(|v| json_facts(&v))),
        Ok(StoredValue::Cbor(c)) => Ok(super::cbor::to_value(c).ok().and_then(|v| json_facts(&v))),
        _ => Ok(None),
    }
}

/// [`from_json`] for a kind with facts, else `None`.
pub fn json_facts(v: &serde_json::Value) -> Option<Facts> {
    let (av, kind) = (
        v["apiVersion"].as_str().unwrap_or(""),
        v["kind"].as_str().unwrap_or(""),
    );
    has_facts(av, kind).then(|| from_json(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u32, b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::wire::put_varint(&mut out, u64::from(n << 3 | 2));
        crate::wire::put_varint(&mut out, b.len() as u64);
        out.extend_from_slice(b);
        out
    }

    fn varint(n: u32, v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        crate::wire::put_varint(&mut out, u64::from(n << 3));
        crate::wire::put_varint(&mut out, v);
        out
    }

    fn container(image: &str) -> Vec<u8> {
        [field(1, b"c"), field(2, image.as_bytes())].concat()
    }

    #[test]
    fn pods_and_deployments_on_the_wire() {
        let spec = [
            field(2, &container("app:1")),
            field(10, b"node-a"),
            field(20, &container("init:1")),
            field(34, &field(1, &container("debug:1"))),
        ]
        .concat();
        let pod = [
            field(1, b""),
            field(2, &spec),
            field(3, &field(1, b"Running")),
        ]
        .concat();
        let f = from_protobuf("v1", "Pod", &pod).unwrap();
        assert_eq!(
            f.images.as_deref(),
            Some(&["init:1".to_string(), "app:1".into(), "debug:1".into()][..])
        );
        assert_eq!(f.node_name.as_deref(), Some("node-a"));
        assert_eq!(f.phase.as_deref(), Some("Running"));
        let tmpl = [field(1, b""), field(2, &field(2, &container("web:2")))].concat();
        let dep = field(2, &[varint(1, 0), field(3, &tmpl)].concat());
        let f = from_protobuf("apps/v1", "Deployment", &dep).unwrap();
        assert_eq!(f.replicas, Some(0));
        assert_eq!(f.images, Some(vec!["web:2".to_string()]));
        assert_eq!(f.node_name, None);
        let f = from_protobuf("v1", "ConfigMap", &dep).unwrap();
        assert_eq!(f, Facts::default());
    }

    #[test]
    fn json_objects() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"apiVersion":"batch/v1","kind":"CronJob","spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"image":"cron:3"}]}}}}}}"#,
        )
        .unwrap();
        assert_eq!(from_json(&v).images, Some(vec!["cron:3".to_string()]));
    }
}
