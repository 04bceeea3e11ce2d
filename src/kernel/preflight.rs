//! Checks, before anything is loaded, that host capture can work here, so that a missing
//! privilege or kernel feature is one clear message instead of a verifier or syscall error.

use std::fmt;
use std::path::{Path, PathBuf};

use netcore_core::abi::OwnerHandoff;

/// Linux capability numbers (`linux/capability.h`) host capture needs.
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// What live capture needs and did not find, each with how to fix it.
#[derive(Debug, Default)]
pub struct Missing(Vec<String>);

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "live capture cannot start:")?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Missing {}

/// Checks privileges, the cgroup v2 mount and kernel BTF. Returns the cgroup to attach to:
/// `cgroup` if given, else the root of the cgroup v2 hierarchy.
pub fn check_host_capture(cgroup: Option<&Path>) -> Result<PathBuf, Missing> {
    let mut missing = Missing::default();
    if let Some(caps) = missing_capabilities() {
        missing.0.push(caps);
    }
    let cgroup =
        match cgroup {
            Some(path) if is_cgroup2(path) => Some(path.to_owned()),
            Some(path) => {
                missing.0.push(format!(
                    "--cgroup {}: not a directory of a cgroup v2 (cgroup2) file system",
                    path.display()
                ));
                None
            }
            None => {
                let root = cgroup2_root();
                if root.is_none() {
                    missing.0.push(if let Some(name) = named_network_namespace() {
                    format!(
                        "no cgroup v2 hierarchy is visible: netcore runs in network namespace \
                         {name}, and `ip netns exec` remounts /sys, which hides the cgroup and \
                         BPF file systems; enter it with `nsenter --net=/run/netns/{name} \
                         netcore …` instead (host capture sees every namespace's sockets \
                         anyway)"
                    )
                } else {
                    "no cgroup v2 hierarchy is mounted: mount one with \
                     `mount -t cgroup2 none /sys/fs/cgroup/unified` (or boot with \
                     systemd.unified_cgroup_hierarchy=1)"
                        .to_owned()
                });
                }
                root
            }
        };
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        missing.0.push(
            "the kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing): netcore needs \
             Linux ≥ 5.8 built with CONFIG_DEBUG_INFO_BTF=y"
                .to_owned(),
        );
    }
    match cgroup {
        Some(path) if missing.0.is_empty() => Ok(path),
        _ => Err(missing),
    }
}

/// The name under `/run/netns` of this process's network namespace, if it has one (as
/// under `ip netns exec NAME`).
fn named_network_namespace() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let own = std::fs::metadata("/proc/self/ns/net").ok()?;
    std::fs::read_dir("/run/netns").ok()?.find_map(|entry| {
        let entry = entry.ok()?;
        let ns = std::fs::metadata(entry.path()).ok()?;
        (ns.dev() == own.dev() && ns.ino() == own.ino())
            .then(|| entry.file_name().to_string_lossy().into_owned())
    })
}

/// What this kernel and this process offer netcore, one line each, for `--version` (the
/// first thing a bug report needs).
pub fn kernel_features() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |r| r.trim().to_owned());
    let btf = if Path::new("/sys/kernel/btf/vmlinux").exists() {
        "yes"
    } else {
        "no (host capture needs CONFIG_DEBUG_INFO_BTF)"
    };
    let cgroup = cgroup2_root().map_or_else(
        || "not mounted (host capture needs it)".to_owned(),
        |root| root.display().to_string(),
    );
    // SAFETY: socket(2) with constant arguments; the descriptor is closed right away.
    let fd = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW, 0) };
    let af_xdp = if fd >= 0 {
        // SAFETY: closing the descriptor just opened.
        unsafe { libc::close(fd) };
        "yes".to_owned()
    } else {
        format!("no ({})", std::io::Error::last_os_error())
    };
    let handoff = match xdp_metadata_offered() {
        Ok(true) => OwnerHandoff::Metadata.phrase().to_owned(),
        Ok(false) => format!(
            "{} ({XDP_METADATA_REFUSED})",
            OwnerHandoff::Prepended.phrase()
        ),
        Err(e) => format!("unknown (probing XDP metadata: {e})"),
    };
    let privileges = missing_capabilities().unwrap_or_else(|| "enough for capture".to_owned());
    format!(
        "kernel {release}\nBTF: {btf}\ncgroup v2: {cgroup}\nAF_XDP sockets: {af_xdp}\n\
         AF_XDP frame owners: {handoff}\nprivileges: {privileges}"
    )
}

/// Why a kernel that refuses XDP metadata gets the prepended way.
const XDP_METADATA_REFUSED: &str =
    "this kernel offers XDP programs no metadata: the verifier refuses bpf_xdp_adjust_meta";

/// Whether the verifier lets XDP programs call `bpf_xdp_adjust_meta` (libbpf's helper
/// probe loads a minimal program that calls it). An error says why it could not tell
/// (no privilege, no BPF).
pub fn xdp_metadata_offered() -> std::io::Result<bool> {
    // SAFETY: a probe with constant arguments; the options pointer may be null.
    let rc = unsafe {
        libbpf_sys::libbpf_probe_bpf_helper(
            libbpf_sys::BPF_PROG_TYPE_XDP,
            libbpf_sys::BPF_FUNC_xdp_adjust_meta,
            std::ptr::null(),
        )
    };
    match rc {
        1 => Ok(true),
        0 => Ok(false),
        rc => Err(std::io::Error::from_raw_os_error(-rc)),
    }
}

/// The way AF_XDP mode hands each frame's owner over: `forced` (`--xdp-owner`) if the
/// kernel offers it, else metadata where offered and the prepended way otherwise. The
/// note says why the prepended way was chosen, for the start-up line.
pub fn xdp_owner_handoff(
    forced: Option<OwnerHandoff>,
) -> Result<(OwnerHandoff, Option<&'static str>), Missing> {
    let offered = xdp_metadata_offered().map_err(|e| {
        Missing(vec![format!(
            "cannot tell whether this kernel offers XDP metadata (loading a probe program: \
             {e})"
        )])
    })?;
    match (forced, offered) {
        (Some(OwnerHandoff::Metadata), false) => Err(Missing(vec![format!(
            "--xdp-owner metadata: {XDP_METADATA_REFUSED}; use --xdp-owner prepended, or \
             leave the flag out and netcore chooses"
        )])),
        (Some(way), _) => Ok((way, None)),
        (None, true) => Ok((OwnerHandoff::Metadata, None)),
        (None, false) => Ok((OwnerHandoff::Prepended, Some(XDP_METADATA_REFUSED))),
    }
}

/// Names the capabilities the effective set lacks, with the fix; `None` when all are there.
fn missing_capabilities() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let effective = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())?;
    let has = |cap: u32| effective & (1 << cap) != 0;
    // CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON (and on kernels before 5.8, is
    // the only way to get them).
    let needed = [
        (CAP_BPF, "CAP_BPF", true),
        (CAP_PERFMON, "CAP_PERFMON", true),
        (CAP_NET_ADMIN, "CAP_NET_ADMIN", false),
    ];
    let lacking: Vec<&str> = needed
        .iter()
        .filter(|&&(cap, _, sys_admin_covers)| {
            !has(cap) && !(sys_admin_covers && has(CAP_SYS_ADMIN))
        })
        .map(|&(_, name, _)| name)
        .collect();
    if lacking.is_empty() {
        return None;
    }
    Some(format!(
        "missing privilege {}: run netcore as root, or grant it with \
         `setcap cap_bpf,cap_perfmon,cap_net_admin+ep PATH/TO/netcore`",
        lacking.join(", ")
    ))
}

/// The capture interface for AF_XDP mode: its index and the rx queues to read. Refuses an
/// interface that carries a default route unless `force`: AF_XDP takes its frames off the
/// host stack.
pub fn check_xdp_interface(
    interface: &str,
    queue: Option<u32>,
    force: bool,
) -> Result<(u32, Vec<u32>), Missing> {
    let problem = |text: String| Missing(vec![text]);
    let Some(ifindex) = interface_index(interface) else {
        return Err(problem(format!(
            "--xdp {interface}: no such network interface (see `ip link`)"
        )));
    };
    if !force && carries_default_route(interface) {
        return Err(problem(format!(
            "--xdp {interface}: this interface carries a default route, and AF_XDP would take \
             its traffic away from the host; use a capture or mirror interface, or add --force"
        )));
    }
    let available = std::fs::read_dir(format!("/sys/class/net/{interface}/queues"))
        .map(|dir| {
            dir.filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_prefix("rx-")?
                    .parse()
                    .ok()
            })
            .collect::<Vec<u32>>()
        })
        .unwrap_or_default();
    let queues = match queue {
        Some(q) if available.contains(&q) || available.is_empty() => vec![q],
        Some(q) => {
            return Err(problem(format!(
                "--queue {q}: {interface} has rx queues 0..{}",
                available.len()
            )));
        }
        None if available.is_empty() => vec![0],
        None => {
            let mut all = available;
            all.sort_unstable();
            all
        }
    };
    Ok((ifindex, queues))
}

/// The index of the interface called `name` in this network namespace.
pub fn interface_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: a valid NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (ifindex != 0).then_some(ifindex)
}

/// Whether `/proc/net/route` or `/proc/net/ipv6_route` has a usable default route via
/// `interface`.
fn carries_default_route(interface: &str) -> bool {
    let read = |path| std::fs::read_to_string(path).unwrap_or_default();
    default_route_in(
        interface,
        &read("/proc/net/route"),
        &read("/proc/net/ipv6_route"),
    )
}

/// Route flags (`linux/route.h`, `linux/ipv6_route.h`).
const RTF_UP: u32 = 0x0001;
const RTF_REJECT: u32 = 0x0200;

/// Whether the route tables (`/proc/net/route` and `/proc/net/ipv6_route` text) hold a
/// default route via `interface` that carries traffic: up and not a reject route (the
/// kernel's `unreachable` IPv6 default on `lo` is one).
fn default_route_in(interface: &str, v4: &str, v6: &str) -> bool {
    let usable = |flags: &str| {
        u32::from_str_radix(flags, 16).is_ok_and(|f| f & RTF_UP != 0 && f & RTF_REJECT == 0)
    };
    let v4_default = v4.lines().skip(1).any(|l| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        fields.len() > 7
            && fields[0] == interface
            && fields[1] == "00000000"
            && fields[7] == "00000000"
            && usable(fields[3])
    });
    let v6_default = v6.lines().any(|l| {
        let fields: Vec<&str> = l.split_whitespace().collect();
        fields.len() == 10
            && fields[9] == interface
            && fields[0].bytes().all(|b| b == b'0')
            && fields[1] == "00"
            && usable(fields[8])
    });
    v4_default || v6_default
}

/// The mount point of the cgroup v2 hierarchy: `/sys/fs/cgroup` on unified systems,
/// `/sys/fs/cgroup/unified` on hybrid ones, else the first cgroup2 mount.
pub fn cgroup2_root() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mounts: Vec<PathBuf> = mountinfo.lines().filter_map(cgroup2_mount_point).collect();
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .iter()
        .map(PathBuf::from)
        .find(|preferred| mounts.contains(preferred))
        .or_else(|| mounts.into_iter().next())
}

/// The mount point of a `/proc/self/mountinfo` line if it mounts cgroup2.
fn cgroup2_mount_point(line: &str) -> Option<PathBuf> {
    // `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS`
    let (before, after) = line.split_once(" - ")?;
    if after.split(' ').next()? != "cgroup2" {
        return None;
    }
    let mount_point = before.split(' ').nth(4)?;
    Some(PathBuf::from(unescape_octal(mount_point)))
}

/// Undoes mountinfo's `\NNN` escaping of spaces and other bytes in paths.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `path` is a directory on a cgroup2 file system.
fn is_cgroup2(path: &Path) -> bool {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a statfs buffer of the right type.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), &mut stat) };
    rc == 0 && stat.f_type as i64 == CGROUP2_SUPER_MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_usable_default_routes_count() {
        // Read off a host: eth0's real defaults, and the kernel's unreachable one on lo.
        let v4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
                  eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                  eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let zeros = "00000000000000000000000000000000";
        let v6 = format!(
            "{zeros} 00 {zeros} 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n\
             {zeros} 00 {zeros} 00 {zeros} ffffffff 00000001 00000000 00200200       lo\n"
        );
        assert!(default_route_in("eth0", v4, &v6));
        assert!(default_route_in("eth0", "", &v6), "the IPv6 default alone");
        assert!(
            !default_route_in("lo", v4, &v6),
            "unreachable is not a route"
        );
        assert!(!default_route_in("veth0", v4, &v6));
        let rejected = v4.replace("0003", "0203");
        assert!(!default_route_in("eth0", &rejected, ""), "a reject route");
    }

    #[test]
    fn finds_cgroup2_mounts() {
        let hybrid =
            "35 24 0:30 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount_point(hybrid.trim_end()),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let v1 = "36 24 0:31 / /sys/fs/cgroup/cpu rw shared:11 - cgroup cgroup rw,cpu";
        assert_eq!(cgroup2_mount_point(v1), None);
        let spaced = "37 24 0:32 / /mnt/my\\040cg rw - cgroup2 none rw";
        assert_eq!(
            cgroup2_mount_point(spaced),
            Some(PathBuf::from("/mnt/my cg"))
        );
        assert_eq!(cgroup2_mount_point("garbage"), None);
    }

    #[test]
    fn unescapes_only_octal_triples() {
        assert_eq!(unescape_octal("a\\040b"), "a b");
        assert_eq!(unescape_octal("a\\09b\\"), "a\\09b\\");
    }

    #[test]
    fn a_plain_directory_is_not_a_cgroup() {
        assert!(!is_cgroup2(Path::new("/tmp")));
        assert!(!is_cgroup2(Path::new("/no/such/dir")));
    }
}
