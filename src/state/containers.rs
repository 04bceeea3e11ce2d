//! Container identity is a property of the cgroup: a cgroup id (the inode of its directory
//! in the cgroup v2 hierarchy, which the kernel records with every packet) is resolved to
//! its path once, and the path names the container and its runtime. Any process of the
//! container is attributed, however short-lived: no `/proc` reading is involved. Which
//! paths name which containers: [`super::cgroup_path`].
//!
//! Each container learned is then described by its runtime (name, image, pod) through
//! [`Lookups`], asynchronously: its events carry the id until the answer is in.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cgroup_path::{Runtime, container_in};
use super::runtimes::{Description, Lookups};

/// Cgroups remembered at most (with the container each is in, or none); the table starts
/// over when full, and the evictions are counted.
const CAPACITY: usize = 65_536;
/// Deepest cgroup directory looked at below the root.
const MAX_DEPTH: usize = 16;

/// A container, as its cgroup path names it and its runtime describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// The full container id (64 hex digits).
    pub id: String,
    /// Its runtime.
    pub runtime: Runtime,
    /// Started after netcore (Tracee's `container=new`): its cgroup was not there when
    /// netcore first walked the hierarchy.
    pub is_new: bool,
    /// What its runtime said; empty until the answer is in (and for good when no
    /// runtime knew it). The pod UID is the cgroup path's when the labels have none.
    pub description: Description,
    /// Whether the runtime's answer is in.
    pub answered: bool,
}

/// What became of the runtime lookups, for the summary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LookupCounts {
    /// Containers asked about.
    pub asked: u64,
    /// … that a runtime described.
    pub described: u64,
    /// … that no runtime knew.
    pub unknown: u64,
    /// Lookup latencies (the first [`LATENCY_SAMPLES`]), for the median.
    pub latencies: Vec<Duration>,
}

/// Lookup latencies kept for the summary's median.
const LATENCY_SAMPLES: usize = 4096;

/// Containers by cgroup id.
pub struct Containers {
    /// The cgroup v2 mount; `None` in file mode.
    root: Option<PathBuf>,
    by_cgroup: HashMap<u64, Option<Container>>,
    /// The runtimes' lookup thread; `None` in file mode.
    lookups: Option<Lookups>,
    /// The runtimes' answers by container id, kept for the cgroups not learned yet (the
    /// cgroup watcher has the runtime asked before the first packet); at most
    /// [`CAPACITY`], all forgotten (and counted as evicted) when full.
    answers: HashMap<String, Option<Description>>,
    /// Entries dropped because the table was full.
    pub evicted: u64,
    /// The lookups so far.
    pub counts: LookupCounts,
    /// Bumped by each answer applied: what was built from the table before may be stale.
    revision: u64,
}

impl Containers {
    /// Containers of the cgroup v2 hierarchy mounted at `root` (none when `None`),
    /// described through `lookups`. The containers there now are the ones that existed
    /// before netcore; their runtimes are asked about them right away.
    pub fn new(root: Option<PathBuf>, lookups: Option<Lookups>) -> Self {
        let mut containers = Containers {
            root,
            by_cgroup: HashMap::new(),
            lookups,
            answers: HashMap::new(),
            evicted: 0,
            counts: LookupCounts::default(),
            revision: 0,
        };
        containers.learn(false);
        containers
    }

    /// The container of the cgroup with id `cgroup_id`, if it is one's. An unknown id
    /// (a new cgroup) makes one walk of the hierarchy, which learns every cgroup in it.
    pub fn lookup(&mut self, cgroup_id: u64) -> Option<&Container> {
        if cgroup_id == 0 {
            return None;
        }
        if !self.by_cgroup.contains_key(&cgroup_id) {
            if self.by_cgroup.len() >= CAPACITY {
                self.evicted += self.by_cgroup.len() as u64;
                self.by_cgroup.clear();
            }
            self.learn(true);
            // Not found: a cgroup that is already gone, or not below the root.
            self.by_cgroup.entry(cgroup_id).or_insert(None);
        }
        self.by_cgroup.get(&cgroup_id)?.as_ref()
    }

    /// Walks the hierarchy, recording each new cgroup's container (`is_new` as given) and
    /// asking the runtimes about containers not seen before.
    fn learn(&mut self, is_new: bool) {
        let Some(root) = &self.root else {
            return;
        };
        for (cgroup_id, found) in walk(root, CAPACITY.saturating_sub(self.by_cgroup.len())) {
            if self.by_cgroup.contains_key(&cgroup_id) {
                continue;
            }
            let container = found.map(|(id, runtime, pod_uid)| {
                // Another cgroup of the same container (Podman nests one) shares its entry.
                let sibling = self.by_cgroup.values().flatten().find(|c| c.id == id);
                if let Some(sibling) = sibling {
                    return sibling.clone();
                }
                let mut container = Container {
                    id,
                    runtime,
                    is_new,
                    description: Description {
                        pod_uid,
                        ..Description::default()
                    },
                    answered: self.lookups.is_none(),
                };
                match self.answers.get(&container.id) {
                    Some(answer) => describe(&mut container, answer.as_ref()),
                    None => {
                        if let Some(lookups) = &mut self.lookups {
                            lookups.ask(&container.id, runtime);
                            self.counts.asked += 1;
                        }
                    }
                }
                container
            });
            self.by_cgroup.insert(cgroup_id, container);
        }
    }

    /// Fills in the containers the runtimes have described since the last call; returns
    /// the [`Containers::revision`] after them.
    pub fn apply_answers(&mut self) -> u64 {
        let Some(lookups) = &self.lookups else {
            return self.revision;
        };
        for answer in lookups.answers() {
            self.revision += 1;
            if lookups.counts(&answer) {
                if self.counts.latencies.len() < LATENCY_SAMPLES {
                    self.counts.latencies.push(answer.latency);
                }
                match &answer.description {
                    Some(_) => self.counts.described += 1,
                    None => self.counts.unknown += 1,
                }
            }
            let same = |c: &&mut Container| c.id == answer.id;
            for container in self.by_cgroup.values_mut().flatten().filter(same) {
                describe(container, answer.description.as_ref());
            }
            if self.answers.len() >= CAPACITY {
                self.evicted += self.answers.len() as u64;
                self.answers.clear();
            }
            self.answers.insert(answer.id, answer.description);
        }
        self.revision
    }

    /// Questions the lookup thread's full queue turned away.
    pub fn lookups_dropped(&self) -> u64 {
        self.lookups.as_ref().map_or(0, |l| l.dropped)
    }
}

/// Fills in what `container`'s runtime said of it (nothing, when it did not know it); the
/// pod UID stays the cgroup path's when the labels have none.
fn describe(container: &mut Container, description: Option<&Description>) {
    container.answered = true;
    if let Some(description) = description {
        let pod_uid = std::mem::take(&mut container.description.pod_uid);
        container.description = description.clone();
        if container.description.pod_uid.is_empty() {
            container.description.pod_uid = pod_uid;
        }
    }
}

/// What the path of a container's cgroup says: its id, runtime and pod UID.
type PathIdentity = (String, Runtime, String);

/// The cgroups below `root` (at most `limit`), each with the container its path names.
fn walk(root: &Path, limit: usize) -> Vec<(u64, Option<PathIdentity>)> {
    let mut found = Vec::new();
    let mut pending = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = pending.pop() {
        if found.len() >= limit {
            break;
        }
        if let Ok(meta) = fs::metadata(&dir) {
            let path = dir.strip_prefix(root).unwrap_or(&dir).to_string_lossy();
            let container = container_in(&path).map(|c| (c.id, c.runtime, c.pod_uid));
            found.push((meta.ino(), container));
        }
        if depth >= MAX_DEPTH {
            continue;
        }
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push((entry.path(), depth + 1));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f6d2b0a41a1c1a7e2e8f9b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3";

    #[test]
    fn cgroup_ids_are_learned_from_the_hierarchy() {
        // A directory tree standing in for the cgroup v2 mount: ids are inodes.
        let root = std::env::temp_dir().join(format!("netcore-cgroups-{}", std::process::id()));
        let container = root.join("libpod_parent").join(format!("libpod-{ID}"));
        fs::create_dir_all(&container).unwrap();
        let id_of = |p: &Path| fs::metadata(p).unwrap().ino();
        let mut containers = Containers::new(Some(root.clone()), None);
        assert_eq!(
            containers.lookup(id_of(&container)).map(|c| c.id.as_str()),
            Some(ID)
        );
        assert_eq!(containers.lookup(id_of(&root.join("libpod_parent"))), None);
        assert_eq!(containers.lookup(0), None);
        let before = containers.lookup(id_of(&container)).unwrap();
        assert!(
            !before.is_new && before.answered,
            "no runtimes to ask: nothing pending"
        );
        // A container that appears later is new (Tracee's `container=new`).
        let later_id = ID.replace('4', "5");
        let later = root
            .join("libpod_parent")
            .join(format!("libpod-{later_id}"));
        fs::create_dir_all(&later).unwrap();
        let found = containers.lookup(id_of(&later)).unwrap();
        assert_eq!((found.id.as_str(), found.is_new), (later_id.as_str(), true));
        let _ = fs::remove_dir_all(&root);
    }
}
