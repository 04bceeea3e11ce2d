//! Interface names by index, for the interfaces of netcore's own network namespace:
//! `if_indextoname` once per interface and then from a bounded cache (a name can change,
//! so entries are read again after a while). Interfaces of other namespaces have indexes
//! netcore cannot resolve: they stay unnamed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::source::Interface;

/// How long a name is trusted before it is read again.
const TTL: Duration = Duration::from_secs(10);
/// Names kept at most; the cache starts over when full.
const CAPACITY: usize = 4096;

/// Interface names of one network namespace.
pub struct InterfaceNames {
    /// The cookie of netcore's own network namespace.
    own_netns: u64,
    names: HashMap<u32, (Option<String>, Instant)>,
}

impl InterfaceNames {
    /// Names for the interfaces of the namespace with cookie `own_netns`.
    pub fn new(own_netns: u64) -> Self {
        InterfaceNames {
            own_netns,
            names: HashMap::new(),
        }
    }

    /// The name of `interface`, if it is one of this namespace's and still exists.
    pub fn name(&mut self, interface: Interface, now: Instant) -> Option<&str> {
        if interface.ifindex == 0 || interface.netns_cookie != self.own_netns {
            return None;
        }
        let fresh = |(_, read): &(Option<String>, Instant)| now.duration_since(*read) < TTL;
        if !self.names.get(&interface.ifindex).is_some_and(fresh) {
            if self.names.len() >= CAPACITY {
                self.names.clear();
            }
            let name = name_of(interface.ifindex);
            self.names.insert(interface.ifindex, (name, now));
        }
        self.names[&interface.ifindex].0.as_deref()
    }
}

/// `if_indextoname`.
fn name_of(ifindex: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` holds IF_NAMESIZE bytes, as the call requires.
    let name = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr()) };
    if name.is_null() {
        return None;
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_only_this_namespaces_interfaces() {
        let mut names = InterfaceNames::new(7);
        let now = Instant::now();
        let lo = Interface {
            ifindex: 1,
            netns_cookie: 7,
        };
        assert_eq!(names.name(lo, now), Some("lo"));
        let elsewhere = Interface {
            ifindex: 1,
            netns_cookie: 8,
        };
        assert_eq!(names.name(elsewhere, now), None);
        assert_eq!(names.name(Interface::UNKNOWN, now), None);
        let missing = Interface {
            ifindex: 999_999,
            netns_cookie: 7,
        };
        assert_eq!(names.name(missing, now), None);
    }
}
