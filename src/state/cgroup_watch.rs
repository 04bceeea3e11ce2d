//! Notices new containers as their runtimes create their cgroups (inotify on the cgroup v2
//! hierarchy: every directory watched for new subdirectories), so that the runtime is
//! asked about a container before its first packet rather than after it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

use super::cgroup_path::{Runtime, container_in};

/// Directories watched at most (one inotify watch each, ~1 KiB of kernel memory); the
/// cgroups beyond are still found by the walk a new cgroup id triggers, only later.
pub const MAX_WATCHES: usize = 65_536;

/// Watches the hierarchy at `root` on a thread of its own; calls `notice` with the id and
/// runtime of each container whose cgroup appears. Returns once the existing directories
/// are watched, so a container created after this returns is noticed.
pub fn start(
    root: PathBuf,
    notice: impl FnMut(String, Runtime) -> bool + Send + 'static,
) -> std::io::Result<()> {
    let mut watcher = Watcher {
        inotify: Inotify::init()?,
        dirs: HashMap::new(),
        root,
        notice,
    };
    let root = watcher.root.clone();
    watcher.watch_tree(&root, false);
    std::thread::Builder::new()
        .name("netcore-cgroups".into())
        .spawn(move || watcher.run())?;
    Ok(())
}

struct Watcher<F> {
    inotify: Inotify,
    /// The directory each watch is on.
    dirs: HashMap<WatchDescriptor, PathBuf>,
    root: PathBuf,
    /// Told of each new container; returns false when nobody listens any more.
    notice: F,
}

impl<F: FnMut(String, Runtime) -> bool> Watcher<F> {
    /// Reads the kernel's notices until the listener goes away or inotify fails.
    fn run(mut self) {
        let mut buffer = [0u8; 16 << 10];
        loop {
            let Ok(events) = self.inotify.read_events_blocking(&mut buffer) else {
                return;
            };
            let mut created = Vec::new();
            for event in events {
                if event.mask.contains(EventMask::IGNORED) {
                    self.dirs.remove(&event.wd); // The directory is gone.
                } else if event.mask.contains(EventMask::CREATE | EventMask::ISDIR)
                    && let (Some(dir), Some(name)) = (self.dirs.get(&event.wd), event.name)
                {
                    created.push(dir.join(name));
                }
            }
            for dir in created {
                if !self.watch_tree(&dir, true) {
                    return;
                }
            }
        }
    }

    /// Watches `dir` and the directories below it, telling of the containers among them
    /// when `tell`. Returns false when the listener is gone.
    fn watch_tree(&mut self, dir: &Path, tell: bool) -> bool {
        let mut pending = vec![dir.to_path_buf()];
        while let Some(dir) = pending.pop() {
            if self.dirs.len() >= MAX_WATCHES {
                return true;
            }
            // Watch first, then list: a subdirectory made in between is both listed
            // and noticed, which only asks about it twice.
            let mask = WatchMask::CREATE | WatchMask::ONLYDIR;
            let Ok(wd) = self.inotify.watches().add(&dir, mask) else {
                continue; // Removed already.
            };
            if tell {
                let path = dir.strip_prefix(&self.root).unwrap_or(&dir);
                if let Some(container) = container_in(&path.to_string_lossy())
                    && !(self.notice)(container.id, container.runtime)
                {
                    return false;
                }
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            pending.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
            self.dirs.insert(wd, dir);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn a_container_cgroup_made_later_is_noticed() {
        let root = std::env::temp_dir().join(format!("netcore-watch-{}", std::process::id()));
        let parent = root.join("machine.slice");
        std::fs::create_dir_all(&parent).unwrap();
        let (tx, rx) = mpsc::channel();
        start(root.clone(), move |id, runtime| {
            tx.send((id, runtime)).is_ok()
        })
        .unwrap();
        let id = "0e".repeat(32);
        // A new slice and the container's scope inside it, in quick succession.
        let scope = parent.join("sub.slice").join(format!("docker-{id}.scope"));
        std::fs::create_dir_all(&scope).unwrap();
        let noticed = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(noticed, (id, Runtime::Docker));
        std::fs::create_dir_all(parent.join("not-a-container")).unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        let _ = std::fs::remove_dir_all(&root);
    }
}
