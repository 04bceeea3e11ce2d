//! The `task_struct` offsets the socket hooks read a task's namespace ids, parent and start
//! time with, and the `struct sock` ones the socket reports read its addresses, state and
//! error with, found in the running kernel's BTF (`/sys/kernel/btf/vmlinux`), so that one
//! object file works on every kernel (what libbpf's CO-RE relocations do for C programs).

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use btfparse::{Offset, Readable, TypeInformation};
use netcore_core::abi::task_offset;

/// Where each offset is: (index in `TASK_OFFSETS`, structure, member path).
const MEMBERS: [(usize, &str, &str); 26] = [
    (task_offset::TASK_REAL_PARENT, "task_struct", "real_parent"),
    (
        task_offset::TASK_GROUP_LEADER,
        "task_struct",
        "group_leader",
    ),
    (task_offset::TASK_THREAD_PID, "task_struct", "thread_pid"),
    (task_offset::TASK_TGID, "task_struct", "tgid"),
    (
        task_offset::TASK_START_BOOTTIME,
        "task_struct",
        "start_boottime",
    ),
    (task_offset::TASK_NSPROXY, "task_struct", "nsproxy"),
    (task_offset::NSPROXY_MNT_NS, "nsproxy", "mnt_ns"),
    (task_offset::MNT_NS_INUM, "mnt_namespace", "ns.inum"),
    (task_offset::PID_LEVEL, "pid", "level"),
    (task_offset::PID_NUMBERS, "pid", "numbers"),
    (task_offset::UPID_NR, "upid", "nr"),
    (task_offset::UPID_NS, "upid", "ns"),
    (task_offset::PID_NS_INUM, "pid_namespace", "ns.inum"),
    (task_offset::SOCK_ERR, "sock", "sk_err"),
    (task_offset::SOCK_ERR_SOFT, "sock", "sk_err_soft"),
    (task_offset::SKC_STATE, "sock", "__sk_common.skc_state"),
    (task_offset::SOCK_PROTOCOL, "sock", "sk_protocol"),
    (task_offset::SKC_FAMILY, "sock", "__sk_common.skc_family"),
    (task_offset::SKC_DADDR, "sock", "__sk_common.skc_daddr"),
    (
        task_offset::SKC_RCV_SADDR,
        "sock",
        "__sk_common.skc_rcv_saddr",
    ),
    (task_offset::SKC_DPORT, "sock", "__sk_common.skc_dport"),
    (task_offset::INET_SPORT, "inet_sock", "inet_sport"),
    (
        task_offset::SKC_V6_DADDR,
        "sock",
        "__sk_common.skc_v6_daddr",
    ),
    (
        task_offset::SKC_V6_RCV_SADDR,
        "sock",
        "__sk_common.skc_v6_rcv_saddr",
    ),
    (task_offset::SKC_NET, "sock", "__sk_common.skc_net.net"),
    (task_offset::NET_COOKIE, "net", "net_cookie"),
];

/// The offsets for the kernel whose BTF is in `vmlinux`, `READY` set.
pub fn from_btf(vmlinux: &Path) -> Result<[u32; task_offset::COUNT]> {
    let bytes = std::fs::read(vmlinux).with_context(|| format!("reading {}", vmlinux.display()))?;
    let types = TypeInformation::new(&Bytes(&bytes))
        .map_err(|e| anyhow!("parsing {}: {e:?}", vmlinux.display()))?;
    let type_id = |name: &str| {
        types
            .id_of(name)
            .ok_or_else(|| anyhow!("the kernel's BTF has no struct {name}"))
    };
    let mut offsets = [0u32; task_offset::COUNT];
    for (index, structure, path) in MEMBERS {
        let (_, offset) = types
            .offset_of(type_id(structure)?, path)
            .map_err(|e| anyhow!("{structure}.{path} in the kernel's BTF: {e:?}"))?;
        offsets[index] = match offset {
            Offset::ByteOffset(bytes) => bytes,
            Offset::BitOffsetAndSize(..) => {
                return Err(anyhow!("{structure}.{path} is a bit field"));
            }
        };
    }
    offsets[task_offset::UPID_SIZE] = types
        .size_of(type_id("upid")?)
        .map_err(|e| anyhow!("sizeof(struct upid): {e:?}"))?
        as u32;
    offsets[task_offset::READY] = 1;
    Ok(offsets)
}

/// A byte slice as btfparse reads it.
struct Bytes<'a>(&'a [u8]);

impl Readable for Bytes<'_> {
    fn read(&self, offset: u64, buffer: &mut [u8]) -> btfparse::Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start
            .checked_add(buffer.len())
            .and_then(|end| self.0.get(start..end))
        {
            Some(bytes) => {
                buffer.copy_from_slice(bytes);
                Ok(())
            }
            None => Err(btfparse::Error::new(
                btfparse::ErrorKind::IOError,
                "read past the end of the BTF data",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_of_the_running_kernel() {
        let vmlinux = Path::new("/sys/kernel/btf/vmlinux");
        if !vmlinux.exists() {
            eprintln!("\n*** SKIPPED: this kernel has no BTF ***\n");
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI machines have BTF"
            );
            return;
        }
        let offsets = from_btf(vmlinux).unwrap();
        assert_eq!(offsets[task_offset::READY], 1);
        // `nr` leads `struct upid`, a pointer follows it: 16 bytes on 64-bit kernels.
        assert_eq!(offsets[task_offset::UPID_NR], 0);
        assert_eq!(offsets[task_offset::UPID_SIZE], 16);
        // Distinct task_struct members at distinct offsets, all inside the structure.
        let mut task_members = [
            offsets[task_offset::TASK_REAL_PARENT],
            offsets[task_offset::TASK_GROUP_LEADER],
            offsets[task_offset::TASK_THREAD_PID],
            offsets[task_offset::TASK_TGID],
            offsets[task_offset::TASK_START_BOOTTIME],
            offsets[task_offset::TASK_NSPROXY],
        ];
        task_members.sort_unstable();
        assert!(
            task_members.windows(2).all(|w| w[0] < w[1]),
            "{task_members:?}"
        );
        assert!(task_members[0] > 0);
        // `struct sock` starts with `struct sock_common`, whose address and port pairs
        // lead it (in anonymous unions) in this order on every kernel since 4.x.
        let sock_common = [
            task_offset::SKC_DADDR,
            task_offset::SKC_RCV_SADDR,
            task_offset::SKC_DPORT,
            task_offset::SKC_FAMILY,
        ]
        .map(|index| offsets[index]);
        assert_eq!(sock_common, [0, 4, 12, 16]);
        // `struct inet_sock` begins with the `struct sock` it extends.
        assert!(offsets[task_offset::INET_SPORT] > offsets[task_offset::SOCK_ERR]);
        assert!(offsets[task_offset::SOCK_ERR] > offsets[task_offset::SKC_V6_RCV_SADDR]);
    }
}
