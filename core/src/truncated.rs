//! The one error every header shares: input that ended before the header did, and the
//! checked way to view a header at the start of a buffer. A leaf module: the protocol
//! modules and the roll-up [`crate::error::DecodeError`] import it, it imports none of them.

use core::fmt;

use zerocopy::{FromBytes, Immutable, KnownLayout};

/// Input ended before a header was complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    /// Bytes the header needs.
    pub need: usize,
    /// Bytes that were there.
    pub have: usize,
}

impl Truncated {
    /// Fails with `Truncated` unless `have >= need`.
    pub(crate) fn check(need: usize, have: usize) -> Result<(), Truncated> {
        if have < need {
            Err(Truncated { need, have })
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "truncated: needs {} bytes, has {}", self.need, self.have)
    }
}

/// Views a header of type `H` at the start of `bytes`, and the bytes after it.
#[inline]
pub(crate) fn header_prefix<H: FromBytes + KnownLayout + Immutable>(
    bytes: &[u8],
) -> Result<(&H, &[u8]), Truncated> {
    H::ref_from_prefix(bytes).map_err(|_| Truncated {
        need: size_of::<H>(),
        have: bytes.len(),
    })
}
