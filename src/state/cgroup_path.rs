//! What a cgroup path says about the container it belongs to: the container's id, its
//! runtime, and its Kubernetes pod's UID. Pure text, no file system: the leaf the
//! container table, the cgroup watcher, the runtimes and the task table all read.
//!
//! Paths recognised, with systemd's and cgroupfs's layouts alike: Docker
//! (`docker-ID.scope`, `/docker/ID`), containerd and Kubernetes through CRI
//! (`cri-containerd-ID.scope`, `/kubepods/…/ID`), CRI-O (`crio-ID.scope`, not
//! `crio-conmon-ID`), Podman (`libpod-ID.scope`, `libpod-ID`, not `libpod-conmon-ID`).
//! A Kubernetes pod's UID comes from its `pod…` component (`kubepods-burstable-pod<UID
//! with _>.slice` or `/kubepods/burstable/pod<UID>`).

/// The engine that runs a container, as its cgroup path tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// Docker.
    Docker,
    /// containerd (Kubernetes through CRI included).
    Containerd,
    /// CRI-O.
    Crio,
    /// Podman.
    Podman,
    /// A bare 64-hex-digit component of another runtime.
    Unknown,
}

/// The container a cgroup path names, as far as the path tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathContainer {
    /// The full container id (64 hex digits).
    pub id: String,
    /// Its runtime.
    pub runtime: Runtime,
    /// The Kubernetes pod's UID, "" outside Kubernetes.
    pub pod_uid: String,
}

/// The container a cgroup path (relative to the hierarchy's root) names, if any: the
/// innermost component that holds a container id.
pub fn container_in(path: &str) -> Option<PathContainer> {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let (at, id, runtime) = components
        .iter()
        .enumerate()
        .rev()
        .find_map(|(at, component)| {
            let (id, runtime) = container_component(component)?;
            Some((at, id, runtime))
        })?;
    let pod_uid = components[..at]
        .iter()
        .rev()
        .find_map(|c| pod_uid(c))
        .unwrap_or_default();
    Some(PathContainer {
        id: id.to_owned(),
        runtime,
        pod_uid,
    })
}

/// The container id and runtime of one path component, if it names a container.
fn container_component(component: &str) -> Option<(&str, Runtime)> {
    let name = component.strip_suffix(".scope").unwrap_or(component);
    // Conmon, the monitor processes of CRI-O and Podman, sit beside their containers.
    if name.starts_with("crio-conmon-") || name.starts_with("libpod-conmon-") {
        return None;
    }
    let (runtime, id) = [
        ("docker-", Runtime::Docker),
        ("cri-containerd-", Runtime::Containerd),
        ("crio-", Runtime::Crio),
        ("libpod-", Runtime::Podman),
    ]
    .into_iter()
    .find_map(|(prefix, runtime)| Some((runtime, name.strip_prefix(prefix)?)))
    .unwrap_or((Runtime::Unknown, name));
    let is_id = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
    is_id.then_some((id, runtime))
}

/// The pod UID a `kubepods…pod<UID>.slice` or `pod<UID>` component holds.
fn pod_uid(component: &str) -> Option<String> {
    let name = component.strip_suffix(".slice").unwrap_or(component);
    let uid = match name.rsplit_once("-pod") {
        Some((_, uid)) => uid,
        None => name.strip_prefix("pod")?,
    };
    // systemd escapes the UID's dashes as underscores.
    let uid = uid.replace('_', "-");
    (uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')).then_some(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f6d2b0a41a1c1a7e2e8f9b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3";
    const POD: &str = "2a0e5a4b-8d7c-4e1f-9b3a-6c5d4e3f2a1b";

    #[test]
    fn runtimes_and_pods_from_cgroup_paths() {
        let pod_slice = POD.replace('-', "_");
        for (path, runtime, pod) in [
            (
                format!("/system.slice/docker-{ID}.scope"),
                Runtime::Docker,
                "",
            ),
            (format!("/docker/{ID}"), Runtime::Unknown, ""),
            (
                format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod_slice}.slice/cri-containerd-{ID}.scope"
                ),
                Runtime::Containerd,
                POD,
            ),
            (
                format!("/kubepods/burstable/pod{POD}/{ID}"),
                Runtime::Unknown,
                POD,
            ),
            (
                format!("/kubepods.slice/kubepods-pod{pod_slice}.slice/crio-{ID}.scope"),
                Runtime::Crio,
                POD,
            ),
            (
                format!("/machine.slice/libpod-{ID}.scope/container"),
                Runtime::Podman,
                "",
            ),
            (format!("/libpod_parent/libpod-{ID}"), Runtime::Podman, ""),
        ] {
            let container = container_in(&path).unwrap_or_else(|| panic!("{path}"));
            assert_eq!(
                (
                    container.id.as_str(),
                    container.runtime,
                    container.pod_uid.as_str()
                ),
                (ID, runtime, pod),
                "{path}"
            );
        }
        for path in [
            format!("/machine.slice/libpod-conmon-{ID}.scope"),
            format!("/system.slice/crio-conmon-{ID}.scope"),
            "/user.slice/user-1000.slice/session-2.scope".to_owned(),
            "/".to_owned(),
        ] {
            assert_eq!(container_in(&path), None, "{path}");
        }
    }
}
