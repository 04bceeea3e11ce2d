//! Shedding (`--cpu-budget`): while netcore's process is over its CPU budget, user space
//! sets `SHEDDING` to N and the capture programs send up the packets of one in N packets
//! for their packet events, with what the flow table and DNS need — never fewer flow
//! counts: the flows are counted in the kernel meanwhile ([`crate::flow_counts`]).

use aya_ebpf::macros::map;
use aya_ebpf::maps::{Array, PerCpuArray};

/// Non-zero: user space may shed (`--cpu-budget`); set at load time. Without it the
/// programs never look at `SHEDDING`.
#[unsafe(no_mangle)]
static SHEDDABLE: u32 = 0;

/// One in how many packets has its packet events written: 0 or 1 while netcore is
/// within its budget; set by user space at run time.
#[map]
static SHEDDING: Array<u32> = Array::with_max_entries(1, 0);

/// Each CPU's count of the packets it sampled among, for [`sampled`].
#[map]
static SAMPLE_CLOCK: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// The N of one-in-N sampling now; 0 when netcore is not shedding.
#[inline(always)]
pub(crate) fn sample_every() -> u32 {
    // SAFETY: a read of a static set at load time.
    if unsafe { core::ptr::read_volatile(&SHEDDABLE) } == 0 {
        return 0;
    }
    match SHEDDING.get(0) {
        Some(&n) if n > 1 => n,
        _ => 0,
    }
}

/// Whether this packet is the one in `every` (> 1) whose packet events are written.
#[inline(always)]
pub(crate) fn sampled(every: u32) -> bool {
    let Some(clock) = SAMPLE_CLOCK.get_ptr_mut(0) else {
        return true;
    };
    // SAFETY: this CPU's slot of a per-CPU array of u64; no other writer runs on this
    // CPU while the program does.
    unsafe {
        *clock += 1;
        *clock % u64::from(every) == 0
    }
}
