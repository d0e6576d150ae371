//! Which container (or systemd unit) a cgroup v2 path belongs to, from the path alone.
//!
//! Runtimes name the cgroups they make after the container's id, in a handful of layouts
//! (systemd or cgroupfs driver, Kubernetes pods around them). Reading the path is free and
//! needs no daemon; what it cannot give is a name chosen by the user (`docker run --name`),
//! which only the runtime's own API knows. The innermost container wins: a cgroup a
//! container made inside itself still belongs to it. Without a container, the innermost
//! systemd unit (`*.service`, `*.scope`) is what a user knows the process by.

use std::fmt;

/// Who made the cgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Docker,
    Containerd,
    CriO,
    Podman,
    /// A Kubernetes pod's container whose runtime the path does not name (cgroupfs driver).
    Kubernetes,
    Lxc,
    /// A machine registered with systemd-machined: systemd-nspawn, or a libvirt guest.
    Machine,
    /// No container: a systemd service or scope.
    Systemd,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Kubernetes => "kubernetes",
            Runtime::Lxc => "lxc",
            Runtime::Machine => "machine",
            Runtime::Systemd => "systemd",
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A container, or the systemd unit of a process in none: parts of the cgroup path, not
/// copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Container<'a> {
    pub runtime: Runtime,
    /// The container's id (64 hex digits), its name (LXC, machines), or the unit's name.
    pub id: &'a [u8],
    /// The Kubernetes pod's uid as the path spells it (systemd's driver writes `_` for `-`).
    pub pod: Option<&'a [u8]>,
}

/// How many hex digits of an id are shown, as `docker ps` does.
const SHORT_ID: usize = 12;

/// The fewest characters `--container` takes as a prefix of an id: fewer would match
/// almost anything.
pub const MIN_ID_PREFIX: usize = 4;

impl<'a> Container<'a> {
    /// What a column shows: an id cut to 12 digits, a name whole. Bytes from the path, to
    /// be escaped before a terminal sees them.
    pub fn short(&self) -> &'a [u8] {
        if is_id(self.id) {
            &self.id[..SHORT_ID]
        } else {
            self.id
        }
    }

    /// `query` names it: the whole id or name, a prefix of an id of at least
    /// [`MIN_ID_PREFIX`] characters, or a unit's name without its `.service`/`.scope`.
    pub fn matches(&self, query: &[u8]) -> bool {
        if self.id == query {
            return true;
        }
        if is_id(self.id) {
            return query.len() >= MIN_ID_PREFIX && self.id.starts_with(query);
        }
        self.runtime == Runtime::Systemd && unit_stem(self.id) == Some(query)
    }
}

fn is_id(s: &[u8]) -> bool {
    s.len() == 64 && s.iter().all(u8::is_ascii_hexdigit)
}

fn unit_stem(unit: &[u8]) -> Option<&[u8]> {
    [&b".service"[..], b".scope"]
        .iter()
        .find_map(|suffix| unit.strip_suffix(*suffix))
}

/// `prefix<id>` with an optional `.scope`, the systemd driver's form (the cgroupfs driver
/// of podman writes it without `.scope`).
fn prefixed_id<'a>(part: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let rest = part.strip_prefix(prefix)?;
    let id = rest.strip_suffix(b".scope").unwrap_or(rest);
    is_id(id).then_some(id)
}

/// The pod uid of a Kubernetes pod cgroup: `pod<uid>` (cgroupfs) or
/// `kubepods[-<qos>]-pod<uid>.slice` (systemd).
fn pod_uid(part: &[u8]) -> Option<&[u8]> {
    let uid = match part.strip_prefix(b"pod") {
        Some(uid) => uid,
        None => {
            let slice = part.strip_prefix(b"kubepods")?.strip_suffix(b".slice")?;
            let at = slice.windows(4).rposition(|w| w == b"-pod")?;
            &slice[at + 4..]
        }
    };
    let uid_byte = |b: &u8| b.is_ascii_hexdigit() || *b == b'-' || *b == b'_';
    (uid.len() == 36 && uid.iter().all(uid_byte)).then_some(uid)
}

/// The container the part `i` of `parts` names, if any; `parts[..i]` are its ancestors.
fn container_at<'a>(parts: &[&'a [u8]], i: usize) -> Option<Container<'a>> {
    let part = parts[i];
    let ancestors = &parts[..i];
    let pod = ancestors.iter().rev().find_map(|p| pod_uid(p));
    let found = |runtime, id| Container { runtime, id, pod };
    for (prefix, runtime) in [
        (&b"docker-"[..], Runtime::Docker),
        (b"cri-containerd-", Runtime::Containerd),
        (b"crio-", Runtime::CriO),
        (b"libpod-", Runtime::Podman),
    ] {
        if let Some(id) = prefixed_id(part, prefix) {
            return Some(found(runtime, id));
        }
    }
    if is_id(part) {
        let runtime = match ancestors.last() {
            Some(&b"docker") => Runtime::Docker,
            _ if pod.is_some() => Runtime::Kubernetes,
            _ => return None,
        };
        return Some(found(runtime, part));
    }
    if let Some(name) = part.strip_prefix(b"lxc.payload.") {
        return Some(found(Runtime::Lxc, name));
    }
    if ancestors.last() == Some(&&b"lxc"[..]) {
        return Some(found(Runtime::Lxc, part));
    }
    let machine = part.strip_prefix(b"machine-")?.strip_suffix(b".scope")?;
    Some(found(Runtime::Machine, machine))
}

/// The container `path` (a cgroup v2 path as /proc/PID/cgroup gives it, from the root of
/// the hierarchy) belongs to, or else its innermost systemd unit.
pub fn container_of(path: &[u8]) -> Option<Container<'_>> {
    let parts: Vec<&[u8]> = path
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty())
        .collect();
    if let Some(container) = (0..parts.len()).rev().find_map(|i| container_at(&parts, i)) {
        return Some(container);
    }
    let unit = parts.iter().rev().find(|p| unit_stem(p).is_some())?;
    Some(Container {
        runtime: Runtime::Systemd,
        id: unit,
        pod: None,
    })
}

/// `--container ID|NAME` or `--cgroup PATH`: the events of one container (or systemd
/// unit), or of one cgroup and the cgroups below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlaceFilter {
    Container(Box<[u8]>),
    Cgroup(Box<[u8]>),
}

/// Where cgroup v2 is mounted: a `--cgroup` path may be given as a directory under it.
const CGROUP_MOUNT: &str = "/sys/fs/cgroup";

impl PlaceFilter {
    /// `--container`: an id, a prefix of one, or a name.
    pub fn container(query: &str) -> Result<Self, String> {
        let hex = query.bytes().all(|b| b.is_ascii_hexdigit());
        if query.is_empty() || (hex && query.len() < MIN_ID_PREFIX) {
            return Err(format!(
                "--container takes a name or at least {MIN_ID_PREFIX} characters of an id"
            ));
        }
        Ok(Self::Container(query.as_bytes().into()))
    }

    /// `--cgroup`: a path in the cgroup hierarchy (`/system.slice/nginx.service`), or the
    /// same under /sys/fs/cgroup.
    pub fn cgroup(path: &str) -> Result<Self, String> {
        let path = match path.strip_prefix(CGROUP_MOUNT) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
            _ => path,
        };
        if !path.is_empty() && !path.starts_with('/') {
            return Err(format!(
                "--cgroup takes a path from the hierarchy's root, e.g. /system.slice, not {path:?}"
            ));
        }
        Ok(Self::Cgroup(path.trim_end_matches('/').as_bytes().into()))
    }

    /// An event or process in cgroup `path` passes; one whose cgroup is unknown does not.
    pub fn admits(&self, path: Option<&[u8]>) -> bool {
        let Some(path) = path else { return false };
        match self {
            PlaceFilter::Container(query) => container_of(path).is_some_and(|c| c.matches(query)),
            PlaceFilter::Cgroup(root) => path
                .strip_prefix(&root[..])
                .is_some_and(|rest| rest.is_empty() || rest[0] == b'/'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4e1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";

    /// Real layouts, as /proc/PID/cgroup shows them (ids replaced by one made-up id).
    #[test]
    fn each_runtime_layout_gives_its_container() {
        let cases: &[(&str, Runtime, &str, Option<&str>)] = &[
            // docker, systemd driver and cgroupfs driver
            ("/system.slice/docker-ID.scope", Runtime::Docker, ID, None),
            ("/docker/ID", Runtime::Docker, ID, None),
            // a cgroup the container made inside itself (systemd in a container)
            (
                "/system.slice/docker-ID.scope/init.scope",
                Runtime::Docker,
                ID,
                None,
            ),
            // containerd via CRI, systemd driver
            (
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8d1b6c3e_4f5a_4b7c_9d2e_1f0a3b4c5d6e.slice/cri-containerd-ID.scope",
                Runtime::Containerd,
                ID,
                Some("8d1b6c3e_4f5a_4b7c_9d2e_1f0a3b4c5d6e"),
            ),
            // CRI-O, a guaranteed pod
            (
                "/kubepods.slice/kubepods-pod8d1b6c3e_4f5a_4b7c_9d2e_1f0a3b4c5d6e.slice/crio-ID.scope",
                Runtime::CriO,
                ID,
                Some("8d1b6c3e_4f5a_4b7c_9d2e_1f0a3b4c5d6e"),
            ),
            // kubelet with the cgroupfs driver
            (
                "/kubepods/besteffort/pod8d1b6c3e-4f5a-4b7c-9d2e-1f0a3b4c5d6e/ID",
                Runtime::Kubernetes,
                ID,
                Some("8d1b6c3e-4f5a-4b7c-9d2e-1f0a3b4c5d6e"),
            ),
            // podman: rootful, rootless, and its cgroupfs driver
            ("/machine.slice/libpod-ID.scope", Runtime::Podman, ID, None),
            (
                "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-ID.scope/container",
                Runtime::Podman,
                ID,
                None,
            ),
            ("/libpod_parent/libpod-ID", Runtime::Podman, ID, None),
            // LXC 4+ and older LXC
            ("/lxc.payload.web1", Runtime::Lxc, "web1", None),
            ("/lxc/web1", Runtime::Lxc, "web1", None),
            // systemd-nspawn through machined
            (
                "/machine.slice/machine-build.scope/payload",
                Runtime::Machine,
                "build",
                None,
            ),
            // no container: the innermost unit
            (
                "/system.slice/nginx.service",
                Runtime::Systemd,
                "nginx.service",
                None,
            ),
            (
                "/user.slice/user-1000.slice/session-3.scope",
                Runtime::Systemd,
                "session-3.scope",
                None,
            ),
            (
                "/user.slice/user-1000.slice/user@1000.service/app.slice/app-foot.service",
                Runtime::Systemd,
                "app-foot.service",
                None,
            ),
        ];
        for (path, runtime, id, pod) in cases {
            let path = path.replace("ID", ID);
            let container = container_of(path.as_bytes()).unwrap_or_else(|| panic!("{path}"));
            assert_eq!(container.runtime, *runtime, "{path}");
            assert_eq!(container.id, id.as_bytes(), "{path}");
            assert_eq!(container.pod, pod.map(str::as_bytes), "{path}");
        }
    }

    #[test]
    fn paths_of_no_container_and_no_unit_give_nothing() {
        for path in [
            "/",
            "",
            "/init.slice",
            "/user.slice",
            "/forkwatch-test",
            // a 64-hex name not under a runtime's parent is anybody's cgroup
            &format!("/mine/{ID}"),
            // the monitor processes beside containers are not in them
            "/lxc.monitor.web1",
            // "pod" alone or a name that only starts like one is no pod
            &format!("/podman/{ID}"),
        ] {
            assert_eq!(container_of(path.as_bytes()), None, "{path}");
        }
    }

    #[test]
    fn conmon_beside_a_podman_container_is_in_its_own_scope() {
        let path = format!("/machine.slice/libpod-conmon-{ID}.scope");
        let unit = container_of(path.as_bytes()).unwrap();
        assert_eq!(unit.runtime, Runtime::Systemd);
    }

    #[test]
    fn ids_show_short_and_match_by_prefix_names_whole() {
        let path = format!("/system.slice/docker-{ID}.scope");
        let docker = container_of(path.as_bytes()).unwrap();
        assert_eq!(docker.short(), &ID.as_bytes()[..12]);
        assert!(docker.matches(ID.as_bytes()));
        assert!(docker.matches(&ID.as_bytes()[..4]));
        assert!(!docker.matches(&ID.as_bytes()[..3]), "too short a prefix");
        assert!(!docker.matches(b"4f"));

        let unit = container_of(b"/system.slice/nginx.service").unwrap();
        assert_eq!(unit.short(), b"nginx.service");
        assert!(unit.matches(b"nginx.service"));
        assert!(unit.matches(b"nginx"));
        assert!(!unit.matches(b"ngi"), "names match whole");

        let lxc = container_of(b"/lxc.payload.web1").unwrap();
        assert!(lxc.matches(b"web1"));
        assert!(!lxc.matches(b"web"));
    }

    #[test]
    fn a_cgroup_filter_takes_the_cgroup_and_those_below_it() {
        let filter = PlaceFilter::cgroup("/sys/fs/cgroup/system.slice/").unwrap();
        assert_eq!(filter, PlaceFilter::cgroup("/system.slice").unwrap());
        assert!(filter.admits(Some(b"/system.slice")));
        assert!(filter.admits(Some(b"/system.slice/nginx.service")));
        assert!(!filter.admits(Some(b"/system.slicex")));
        assert!(!filter.admits(Some(b"/user.slice")));
        assert!(!filter.admits(None), "an unknown cgroup is not in it");
        let root = PlaceFilter::cgroup("/").unwrap();
        assert!(root.admits(Some(b"/anything")));
        assert!(PlaceFilter::cgroup("system.slice").is_err());
    }

    #[test]
    fn a_container_filter_takes_what_names_the_container() {
        let filter = PlaceFilter::container(&ID[..12]).unwrap();
        assert!(filter.admits(Some(format!("/docker/{ID}").as_bytes())));
        assert!(filter.admits(Some(
            format!("/system.slice/docker-{ID}.scope/x").as_bytes()
        )));
        assert!(!filter.admits(Some(b"/system.slice/nginx.service")));
        let unit = PlaceFilter::container("nginx").unwrap();
        assert!(unit.admits(Some(b"/system.slice/nginx.service")));
        assert!(PlaceFilter::container("").is_err());
        assert!(PlaceFilter::container("3f4").is_err(), "too short an id");
    }
}
