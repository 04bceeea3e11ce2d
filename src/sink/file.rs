//! Standard output and files. Standard output failing ends the run (its reader left, or
//! the disk it is redirected to is full: as before outputs existed). A file output
//! failing loses the batch (counted, and cut off the file, which keeps whole lines only),
//! says so once, and tries again with the next one;
//! it rotates by size (`PATH` → `PATH.1` → … → `PATH.<keep>`) and reopens `PATH` on
//! SIGHUP, for logrotate.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::thread::JoinHandle;

use super::{OutputCounters, Queue};
use crate::encode::Lines;

/// Writes every batch to standard output, until its reader leaves.
pub(super) fn start_stdout(
    mut queue: Queue,
    counters: Arc<OutputCounters>,
) -> io::Result<JoinHandle<()>> {
    counters.connected.store(true, Relaxed);
    spawn("netcore-stdout", move || {
        let mut stdout = io::stdout().lock();
        while let Some(batch) = queue.blocking_recv() {
            counters.queued.fetch_sub(1, Relaxed);
            match write_lines(&mut stdout, &batch).and_then(|()| stdout.flush()) {
                Ok(()) => OutputCounters::add(&counters.delivered, batch.len()),
                Err(e) => {
                    OutputCounters::add(&counters.failed, batch.len());
                    counters.connected.store(false, Relaxed);
                    if let Ok(mut closed) = counters.closed.lock() {
                        *closed = Some(e);
                    }
                    return;
                }
            }
        }
    })
}

/// Writes every batch to the file at `path` (appending), rotating it when it reaches
/// `max_bytes` (0: never). Fails at once when the file cannot be opened.
pub(super) fn start_file(
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    mut queue: Queue,
    counters: Arc<OutputCounters>,
) -> io::Result<JoinHandle<()>> {
    let mut file = RotatingFile::open(path, max_bytes, keep)?;
    counters.connected.store(true, Relaxed);
    spawn("netcore-file", move || {
        let mut failing = false;
        while let Some(batch) = queue.blocking_recv() {
            counters.queued.fetch_sub(1, Relaxed);
            let reopen = counters.reopen.swap(false, Relaxed);
            match file.write(&batch, reopen) {
                Ok(()) => {
                    OutputCounters::add(&counters.delivered, batch.len());
                    failing = false;
                }
                Err(e) => {
                    OutputCounters::add(&counters.failed, batch.len());
                    if !failing {
                        note!(
                            "netcore: output file:{}: {e}; its events are lost (counted) until a write succeeds",
                            file.path.display()
                        );
                    }
                    failing = true;
                }
            }
            counters.connected.store(!failing, Relaxed);
        }
    })
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.into()).spawn(body)
}

/// A file appended to, rotated by size.
struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    /// None after a failed reopen: opened again before the next write.
    file: Option<File>,
    size: u64,
}

impl RotatingFile {
    fn open(path: PathBuf, max_bytes: u64, keep: u32) -> io::Result<Self> {
        let file = open_append(&path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path,
            max_bytes,
            keep,
            file: Some(file),
            size,
        })
    }

    /// Appends `lines`, after rotating when they would take the file past its limit, or
    /// reopening when asked to.
    fn write(&mut self, lines: &Lines, reopen: bool) -> io::Result<()> {
        if reopen {
            self.file = None;
        }
        let len = lines.bytes_len() as u64;
        if self.max_bytes > 0 && self.size > 0 && self.size + len > self.max_bytes {
            self.file = None;
            rotate(&self.path, self.keep)?;
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let file = open_append(&self.path)?;
                self.size = file.metadata()?.len();
                self.file.insert(file)
            }
        };
        if let Err(e) = write_lines(file, lines) {
            // Whole lines only: what part of the batch went in is cut off again.
            let _ = file.set_len(self.size);
            return Err(e);
        }
        self.size += len;
        Ok(())
    }
}

/// Writes all of `lines`' pieces, as few system calls as `out` allows (`writev`).
fn write_lines(out: &mut impl Write, lines: &Lines) -> io::Result<()> {
    let mut pieces: Vec<IoSlice<'_>> = lines.pieces().map(IoSlice::new).collect();
    let mut pieces = &mut pieces[..];
    while !pieces.is_empty() {
        match out.write_vectored(pieces) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut pieces, written),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// `PATH.<keep-1>` → `PATH.<keep>` (the oldest is replaced), …, `PATH` → `PATH.1`; with
/// `keep` 0, `PATH` is removed.
fn rotate(path: &Path, keep: u32) -> io::Result<()> {
    let numbered = |n: u32| {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    if keep == 0 {
        return std::fs::remove_file(path);
    }
    for n in (1..keep).rev() {
        match std::fs::rename(numbered(n), numbered(n + 1)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    std::fs::rename(path, numbered(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::Batch;

    /// `text` (whole lines) as the outputs get it.
    fn lines(text: &str) -> Lines {
        let mut batch = Batch::default();
        batch.bytes.extend_from_slice(text.as_bytes());
        batch.lines = text.matches('\n').count();
        Lines::from(batch)
    }

    #[test]
    fn files_rotate_by_size_and_keep_the_newest() {
        let dir = std::env::temp_dir().join(format!("netcore-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.json");
        let mut file = RotatingFile::open(path.clone(), 100, 2).unwrap();
        for i in 0..10 {
            // Each line 40 bytes: two fit in 100.
            let line = format!("{i:039}\n");
            file.write(&lines(&line), false).unwrap();
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["events.json", "events.json.1", "events.json.2"]);
        assert_eq!(read(&path), format!("{:039}\n{:039}\n", 8, 9));
        assert_eq!(
            read(&dir.join("events.json.1")),
            format!("{:039}\n{:039}\n", 6, 7)
        );
        assert_eq!(
            read(&dir.join("events.json.2")),
            format!("{:039}\n{:039}\n", 4, 5)
        );
        // Reopen (logrotate moved the file away): a new file at PATH.
        std::fs::rename(&path, dir.join("moved")).unwrap();
        file.write(&lines("after\n"), true).unwrap();
        assert_eq!(read(&path), "after\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
