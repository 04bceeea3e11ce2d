//! Least privilege after start-up (issue 35). Once a run has attached its programs and
//! opened its maps, ring buffers, AF_XDP sockets and metrics socket, and before any other
//! thread starts, it gives up every capability it no longer needs (effective, permitted,
//! inheritable, ambient and bounding sets) and sets no-new-privileges. Both are per
//! thread and inherited by the threads started after, so [`give_up`] runs on the main
//! thread before the first of them: every thread of the run holds only what it keeps.
//!
//! What a run keeps, and why (docs/live.md, "Privileges"):
//! - live modes: `CAP_SYS_PTRACE`, to read `/proc/PID/exe` and `/proc/PID/ns/*` of the
//!   processes that own new sockets, whoever runs them (the executable path and the
//!   namespaces of every event's process);
//! - file mode: `CAP_DAC_READ_SEARCH`, to open the capture named, whoever owns it.
//!
//! Everything else a run does after start-up works on file descriptors opened before
//! (maps, rings, links, sockets) or on files root owns.

use caps::{CapSet, Capability, CapsHashSet};

/// The capabilities a run keeps after start-up.
#[derive(Debug, Clone, Copy)]
pub enum Keep {
    /// Host and AF_XDP mode.
    Live,
    /// File mode.
    File,
}

impl Keep {
    fn capabilities(self) -> &'static [Capability] {
        match self {
            Keep::Live => &[Capability::CAP_SYS_PTRACE],
            Keep::File => &[Capability::CAP_DAC_READ_SEARCH],
        }
    }
}

/// Gives up every capability but those `keep` names (the ones this thread holds) and sets
/// no-new-privileges, for this thread and every thread it starts after; an error names
/// the step that failed.
pub fn give_up(keep: Keep) -> Result<(), String> {
    let permitted = caps::read(None, CapSet::Permitted).map_err(|e| format!("reading: {e}"))?;
    let kept: CapsHashSet = keep
        .capabilities()
        .iter()
        .copied()
        .filter(|c| permitted.contains(c))
        .collect();
    // The bounding set first: dropping from it needs CAP_SETPCAP, given up below. Without
    // CAP_SETPCAP (a user given a few capabilities) the bounding set stays; with
    // no-new-privileges no program run later could gain from it anyway.
    if caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP).unwrap_or(false) {
        let supported = caps::runtime::thread_all_supported();
        for capability in supported.difference(&kept) {
            caps::drop(None, CapSet::Bounding, *capability)
                .map_err(|e| format!("the bounding set, {capability}: {e}"))?;
        }
    }
    caps::clear(None, CapSet::Ambient).map_err(|e| format!("the ambient set: {e}"))?;
    for set in [CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        let value = match set {
            CapSet::Inheritable => CapsHashSet::new(),
            _ => kept.clone(),
        };
        caps::set(None, set, &value).map_err(|e| format!("the {set:?} set: {e}"))?;
    }
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1) reads no memory of ours.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!(
            "no-new-privileges: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
