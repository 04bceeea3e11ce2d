//! Sockets that existed before netcore started: the socket hooks never saw them created,
//! so their owners are seeded once at start-up, from the kernel's socket diagnostics
//! (`sock_diag`: each TCP and UDP socket's cookie, inode, state and local port, in every
//! network namespace that has a process) joined with `/proc/PID/fd` (which process holds
//! which socket inode).
//!
//! Seeded entries never overwrite what the hooks recorded; the hooks replace them as soon
//! as a task uses the socket.

use std::collections::HashMap;
use std::fs;
use std::io::ErrorKind;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use netcore_core::abi::{COMM_LEN, ListenerKey, TaskContext};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

const NETLINK_SOCK_DIAG: libc::c_int = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const TCP_LISTEN: u8 = 10;
const SO_NETNS_COOKIE: libc::c_int = 71;

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
struct NlMsgHdr {
    len: u32,
    kind: u16,
    flags: u16,
    seq: u32,
    pid: u32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
struct InetDiagSockId {
    sport: [u8; 2],
    dport: [u8; 2],
    src: [u32; 4],
    dst: [u32; 4],
    interface: u32,
    cookie: [u32; 2],
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
struct InetDiagReqV2 {
    family: u8,
    protocol: u8,
    ext: u8,
    pad: u8,
    states: u32,
    id: InetDiagSockId,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
struct InetDiagMsg {
    family: u8,
    state: u8,
    timer: u8,
    retrans: u8,
    id: InetDiagSockId,
    expires: u32,
    rqueue: u32,
    wqueue: u32,
    uid: u32,
    inode: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
struct Request {
    header: NlMsgHdr,
    body: InetDiagReqV2,
}

/// One socket as `sock_diag` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiagSocket {
    /// The socket cookie (what the BPF programs key on).
    pub cookie: u64,
    /// Its inode (what `/proc/PID/fd` links name).
    pub inode: u32,
    /// Local port, 0 if unbound.
    pub local_port: u16,
    /// Whether other sockets inherit its owner: a TCP listener or a bound UDP socket.
    pub serves: bool,
}

/// What to seed: socket owners by cookie, and port owners by namespace and port.
#[derive(Debug, Default)]
pub struct Seed {
    /// Socket cookie → owner.
    pub owners: Vec<(u64, TaskContext)>,
    /// (netns, local port) → owner of the socket serving on it.
    pub ports: Vec<(ListenerKey, TaskContext)>,
    /// Processes whose open files this process may not read (`/proc/PID/fd`).
    pub unreadable_processes: usize,
    /// Network namespaces this process could not enter to list their sockets.
    pub unentered_namespaces: usize,
}

impl Seed {
    /// What seeding could not see, and why, when that is anything.
    pub fn blind_spots(&self) -> Option<String> {
        let mut spots = Vec::new();
        if self.unreadable_processes > 0 {
            spots.push(format!(
                "the open sockets of {} processes (reading another user's /proc/PID/fd \
                 needs CAP_SYS_PTRACE)",
                self.unreadable_processes
            ));
        }
        if self.unentered_namespaces > 0 {
            spots.push(format!(
                "the sockets of {} network namespaces (entering one needs CAP_SYS_ADMIN)",
                self.unentered_namespaces
            ));
        }
        (!spots.is_empty()).then(|| {
            format!(
                "could not see {}: their packets are attributed once a task uses the socket",
                spots.join(", nor ")
            )
        })
    }
}

/// Finds every TCP and UDP socket a process holds, with its owner. `cgroup_root` is the
/// cgroup v2 mount (cgroup ids are inode numbers there). Best effort: what cannot be read
/// is left out.
pub fn existing_sockets(cgroup_root: &Path) -> Seed {
    // Socket inodes per process, and one process per network namespace to enter.
    let mut holders: HashMap<u32, u32> = HashMap::new();
    let mut namespaces: HashMap<u64, u32> = HashMap::new();
    let pids = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok());
    let mut unreadable_processes = 0;
    for pid in pids {
        let fds = match fs::read_dir(format!("/proc/{pid}/fd")) {
            Ok(fds) => fds,
            Err(e) => {
                // A process that exited meanwhile is no blind spot.
                unreadable_processes += usize::from(e.kind() == ErrorKind::PermissionDenied);
                continue;
            }
        };
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            let inode = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok());
            if let Some(inode) = inode {
                holders.entry(inode).or_insert(pid);
            }
        }
        if let Ok(ns) = fs::metadata(format!("/proc/{pid}/ns/net")) {
            namespaces.entry(ns.ino()).or_insert(pid);
        }
    }
    let mut seed = Seed {
        unreadable_processes,
        ..Seed::default()
    };
    let mut tasks: HashMap<u32, Option<TaskContext>> = HashMap::new();
    for &pid in namespaces.values() {
        let Some((netns_cookie, sockets)) = sockets_in_namespace_of(pid) else {
            seed.unentered_namespaces += 1;
            continue;
        };
        for socket in sockets {
            let Some(&holder) = holders.get(&socket.inode) else {
                continue;
            };
            let task = tasks
                .entry(holder)
                .or_insert_with(|| task_of(holder, cgroup_root));
            let Some(task) = *task else {
                continue;
            };
            seed.owners.push((socket.cookie, task));
            if socket.serves {
                let key = ListenerKey {
                    netns_cookie,
                    port: socket.local_port,
                    _pad: [0; 6],
                };
                seed.ports.push((key, task));
            }
        }
    }
    seed
}

/// The sockets of the network namespace of `pid`, read from a thread that enters it
/// (namespaces are per thread), and the namespace's cookie.
fn sockets_in_namespace_of(pid: u32) -> Option<(u64, Vec<DiagSocket>)> {
    let netns = fs::File::open(format!("/proc/{pid}/ns/net")).ok()?;
    std::thread::spawn(move || {
        // SAFETY: setns on a namespace fd, affecting this short-lived thread only.
        if unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return None;
        }
        let cookie = netns_cookie().ok()?;
        let mut sockets = Vec::new();
        for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
            for protocol in [libc::IPPROTO_TCP as u8, libc::IPPROTO_UDP as u8] {
                sockets.extend(dump(family, protocol)?);
            }
        }
        Some((cookie, sockets))
    })
    .join()
    .ok()
    .flatten()
}

/// Every socket of one family and protocol in this thread's network namespace.
fn dump(family: u8, protocol: u8) -> Option<Vec<DiagSocket>> {
    // SAFETY: plain socket syscalls; the fd is owned right away.
    let fd = unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        );
        if fd < 0 {
            return None;
        }
        OwnedFd::from_raw_fd(fd)
    };
    let request = Request {
        header: NlMsgHdr {
            len: std::mem::size_of::<Request>() as u32,
            kind: SOCK_DIAG_BY_FAMILY,
            flags: NLM_F_REQUEST | NLM_F_DUMP,
            seq: 1,
            pid: 0,
        },
        body: InetDiagReqV2 {
            family,
            protocol,
            states: u32::MAX,
            ..InetDiagReqV2::default()
        },
    };
    let bytes = request.as_bytes();
    // SAFETY: a valid buffer of `bytes.len()` bytes; the kernel is the default destination.
    if unsafe { libc::send(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) } < 0 {
        return None;
    }
    let mut sockets = Vec::new();
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        // SAFETY: receiving into a buffer we own, of the stated length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len(), 0) };
        if n <= 0 {
            return Some(sockets);
        }
        let mut rest = &buffer[..n as usize];
        while let Ok((header, _)) = NlMsgHdr::read_from_prefix(rest) {
            let len = (header.len as usize).max(std::mem::size_of::<NlMsgHdr>());
            if header.kind == NLMSG_DONE || header.kind == NLMSG_ERROR {
                return Some(sockets);
            }
            let body = rest.get(std::mem::size_of::<NlMsgHdr>()..len.min(rest.len()))?;
            if let Ok((msg, _)) = InetDiagMsg::read_from_prefix(body) {
                sockets.push(DiagSocket {
                    cookie: u64::from(msg.id.cookie[0]) | u64::from(msg.id.cookie[1]) << 32,
                    inode: msg.inode,
                    local_port: u16::from_be_bytes(msg.id.sport),
                    serves: match protocol as i32 {
                        libc::IPPROTO_TCP => msg.state == TCP_LISTEN,
                        _ => msg.id.sport != [0, 0],
                    },
                });
            }
            rest = rest.get(len.next_multiple_of(4)..).unwrap_or_default();
        }
    }
}

/// The cookie of this thread's network namespace (`SO_NETNS_COOKIE`, Linux ≥ 5.14): what
/// the BPF programs' port table is keyed by.
pub fn netns_cookie() -> std::io::Result<u64> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let mut cookie = 0u64;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: a valid socket and an output buffer of the advertised size.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&raw mut cookie).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(std::io::Error::new(
            e.kind(),
            format!("reading SO_NETNS_COOKIE (Linux ≥ 5.14): {e}"),
        ));
    }
    Ok(cookie)
}

/// The kernel's view of process `pid` (its main thread), from `/proc`.
fn task_of(pid: u32, cgroup_root: &Path) -> Option<TaskContext> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let first = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<u32>().ok())
    };
    let comm_bytes = fs::read(format!("/proc/{pid}/comm")).ok()?;
    let comm_bytes = comm_bytes.strip_suffix(b"\n").unwrap_or(&comm_bytes);
    let mut comm = [0u8; COMM_LEN];
    let n = comm_bytes.len().min(COMM_LEN - 1);
    comm[..n].copy_from_slice(&comm_bytes[..n]);
    let cgroup_path = fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_owned))?;
    let cgroup_id = fs::metadata(cgroup_root.join(cgroup_path.trim_start_matches('/')))
        .map(|m| m.ino())
        .unwrap_or(0);
    Some(TaskContext {
        cgroup_id,
        host_pid: pid,
        host_tid: pid,
        uid: first("Uid:")?,
        gid: first("Gid:")?,
        comm,
        // User space reads the rest from /proc: the process is alive.
        ..TaskContext::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_listening_socket_of_this_process() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("\n*** SKIPPED seed test: reading other namespaces needs root ***\n");
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "must run as root under CI"
            );
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let root = Path::new("/sys/fs/cgroup");
        let seed = existing_sockets(root);
        let pid = std::process::id();
        let (key, task) = seed
            .ports
            .iter()
            .find(|(k, t)| k.port == port && t.host_pid == pid)
            .expect("our listener is seeded as a port owner");
        assert_ne!(key.netns_cookie, 0);
        assert_eq!(task.uid, 0);
        let comm = fs::read("/proc/self/comm").unwrap();
        assert_eq!(task.comm(), comm.trim_ascii_end());
        assert!(seed.owners.iter().any(|(_, t)| t.host_pid == pid));
    }
}
