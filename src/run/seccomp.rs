//! The system calls a run may make after start-up (issue 35): once its programs are
//! attached and its sockets open, and before any other thread starts, netcore installs a
//! seccomp filter (compiled by `seccompiler`) on every thread: the calls below are
//! allowed; `bpf` only to read and update the maps it holds, `socket` only for Unix, IP
//! and netlink sockets, `prctl` only to name threads and memory regions; any other call fails with EPERM
//! and is logged by the kernel (`audit: type=1326 … exe=".../netcore" … syscall=N`), so
//! that a call path the list misses shows up in the kernel log, not as a silent death:
//! `scripts/test.sh` fails when the test suite made one. No `execve`, `ptrace`,
//! `mount`, `setns`, `unshare`, module, `kexec`, `perf_event_open`, BPF program or map
//! creation.

use std::collections::BTreeMap;

use crate::kernel::loader::bpf_command;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};

/// Allowed whatever their arguments.
const ALLOWED: &[libc::c_long] = &[
    // Files and descriptors.
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_close,
    libc::SYS_openat,
    libc::SYS_newfstatat,
    libc::SYS_fstat,
    libc::SYS_statx,
    libc::SYS_fstatfs,
    libc::SYS_lseek,
    libc::SYS_getdents64,
    libc::SYS_readlinkat,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_unlinkat,
    libc::SYS_ftruncate,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_fcntl,
    libc::SYS_ioctl,
    libc::SYS_dup,
    libc::SYS_dup3,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_getcwd,
    libc::SYS_inotify_init1,
    libc::SYS_inotify_add_watch,
    libc::SYS_inotify_rm_watch,
    // Memory.
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mprotect,
    libc::SYS_mremap,
    libc::SYS_madvise,
    libc::SYS_brk,
    libc::SYS_membarrier,
    // Threads, time, signals.
    libc::SYS_futex,
    libc::SYS_set_robust_list,
    libc::SYS_get_robust_list,
    libc::SYS_rseq,
    libc::SYS_clone,
    libc::SYS_clone3,
    libc::SYS_exit,
    libc::SYS_exit_group,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_getrandom,
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    libc::SYS_gettimeofday,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_getppid,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    libc::SYS_tgkill,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_sigaltstack,
    libc::SYS_restart_syscall,
    libc::SYS_getrusage,
    libc::SYS_prlimit64,
    libc::SYS_uname,
    libc::SYS_sysinfo,
    // Event loops.
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_pwait,
    libc::SYS_epoll_pwait2,
    libc::SYS_ppoll,
    libc::SYS_pselect6,
    libc::SYS_eventfd2,
    libc::SYS_pipe2,
    libc::SYS_timerfd_create,
    libc::SYS_timerfd_settime,
    libc::SYS_timerfd_gettime,
    // Sockets (made by `socket`, below).
    libc::SYS_socketpair,
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_listen,
    libc::SYS_accept4,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
    libc::SYS_getsockopt,
    libc::SYS_setsockopt,
    libc::SYS_sendto,
    libc::SYS_recvfrom,
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    libc::SYS_sendmmsg,
    libc::SYS_recvmmsg,
    libc::SYS_shutdown,
];

/// x86-64's calls that later architectures have only in their `*at` or `p*` forms.
#[cfg(target_arch = "x86_64")]
const ALLOWED_LEGACY: &[libc::c_long] = &[
    libc::SYS_open,
    libc::SYS_stat,
    libc::SYS_lstat,
    libc::SYS_readlink,
    libc::SYS_rename,
    libc::SYS_unlink,
    libc::SYS_access,
    libc::SYS_dup2,
    libc::SYS_poll,
    libc::SYS_select,
    libc::SYS_epoll_wait,
    libc::SYS_accept,
    libc::SYS_pipe,
];
#[cfg(not(target_arch = "x86_64"))]
const ALLOWED_LEGACY: &[libc::c_long] = &[];

/// Socket families a run opens after start-up: Unix (runtimes, NATS and Kafka clients
/// resolving names), IPv4 and IPv6 (brokers, metrics), netlink (name resolution).
const SOCKET_FAMILIES: &[u64] = &[
    libc::AF_UNIX as u64,
    libc::AF_INET as u64,
    libc::AF_INET6 as u64,
    libc::AF_NETLINK as u64,
];

/// `prctl` options: thread names, and names of memory regions (the allocator's).
const PRCTL_OPTIONS: &[u64] = &[
    libc::PR_SET_NAME as u64,
    libc::PR_GET_NAME as u64,
    libc::PR_SET_VMA as u64,
];

/// A rule for each of `values` of the call's first argument.
fn first_argument_in(values: &[u64]) -> Vec<SeccompRule> {
    values
        .iter()
        .map(|&value| {
            let condition =
                SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)
                    .expect("argument 0 exists");
            SeccompRule::new(vec![condition]).expect("one condition")
        })
        .collect()
}

/// The filter, compiled for this architecture: what is listed allowed, anything else EPERM.
pub fn filter() -> Result<BpfProgram, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| format!("no seccomp filter for {}: {e}", std::env::consts::ARCH))?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = ALLOWED
        .iter()
        .chain(ALLOWED_LEGACY)
        .map(|&call| (call, Vec::new()))
        .collect();
    let bpf_commands = bpf_command::AFTER_START_UP.map(|c| c as u64);
    rules.insert(libc::SYS_bpf, first_argument_in(&bpf_commands));
    rules.insert(libc::SYS_socket, first_argument_in(SOCKET_FAMILIES));
    rules.insert(libc::SYS_prctl, first_argument_in(PRCTL_OPTIONS));
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| format!("compiling the seccomp filter: {e}"))?;
    BpfProgram::try_from(filter).map_err(|e| format!("compiling the seccomp filter: {e}"))
}

/// The kernel's view of a filter program (`struct sock_fprog`).
#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const sock_filter,
}

/// Installs [`filter`] on every thread of the process, refused calls logged by the kernel.
/// Needs no-new-privileges set (or CAP_SYS_ADMIN) first.
pub fn install() -> Result<(), String> {
    let program = filter()?;
    let fprog = SockFprog {
        len: u16::try_from(program.len()).map_err(|_| "the seccomp filter is too long")?,
        filter: program.as_ptr(),
    };
    let flags = libc::SECCOMP_FILTER_FLAG_TSYNC | libc::SECCOMP_FILTER_FLAG_LOG;
    // SAFETY: the kernel copies the program `fprog` points to, which outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const SockFprog,
        )
    };
    match rc {
        0 => Ok(()),
        rc if rc > 0 => Err(format!("thread {rc} could not take the seccomp filter")),
        _ => Err(format!(
            "installing the seccomp filter: {}",
            std::io::Error::last_os_error()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a thread of its own under the filter (installed on that thread only).
    fn filtered<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(move || {
            seccompiler::apply_filter(&filter().unwrap()).unwrap();
            f()
        })
        .join()
        .unwrap()
    }

    fn errno() -> i32 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }

    #[test]
    fn what_a_run_does_is_allowed_the_rest_refused() {
        let (pid, file_read, unshare, raw_packet_socket, named, dumpable) = filtered(|| {
            // SAFETY: plain system calls on values of this test.
            unsafe {
                let pid = libc::getpid();
                let file_read = std::fs::read("/proc/self/status").is_ok();
                let unshare = (libc::unshare(libc::CLONE_NEWNET), errno());
                let raw = (libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0), errno());
                let named = libc::prctl(libc::PR_SET_NAME, c"filtered".as_ptr());
                let dumpable = (libc::prctl(libc::PR_SET_DUMPABLE, 0), errno());
                (pid, file_read, unshare, raw, named, dumpable)
            }
        });
        assert_eq!(pid, std::process::id() as i32);
        assert!(file_read);
        assert_eq!(unshare, (-1, libc::EPERM));
        assert_eq!(raw_packet_socket, (-1, libc::EPERM));
        assert_eq!(named, 0, "threads may be named");
        assert_eq!(
            dumpable,
            (-1, libc::EPERM),
            "other prctl options are refused"
        );
    }

    #[test]
    fn bpf_may_read_maps_but_not_load_programs() {
        let (load, lookup) = filtered(|| {
            let attr = [0u8; 128];
            // SAFETY: bpf() with a zeroed attribute block of the size the kernel reads.
            unsafe {
                const PROG_LOAD: libc::c_long = 5;
                let load = (
                    libc::syscall(libc::SYS_bpf, PROG_LOAD, attr.as_ptr(), 128),
                    errno(),
                );
                let lookup = (
                    libc::syscall(libc::SYS_bpf, bpf_command::LOOKUP, attr.as_ptr(), 128),
                    errno(),
                );
                (load, lookup)
            }
        });
        assert_eq!(
            load,
            (-1, libc::EPERM),
            "BPF_PROG_LOAD is refused by the filter"
        );
        // Allowed through: the kernel itself answers (no map with fd 0: EBADF or EINVAL).
        assert_eq!(lookup.0, -1);
        assert_ne!(
            lookup.1,
            libc::EPERM,
            "BPF_MAP_LOOKUP_ELEM reaches the kernel"
        );
    }
}
