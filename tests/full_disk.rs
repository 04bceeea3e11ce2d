//! Full disks (issue 35): a `-w` file, rotated or not, and a `--output file:` on a small
//! tmpfs. The error is named once with the path; the file keeps whole packets (whole lines)
//! only; what could not be written is counted, exactly; the other outputs get every event;
//! the run ends with exit 0. Mounting a tmpfs needs root: outside CI the tests skip loudly,
//! under `CI=true` they fail instead.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::live::root_or_skip;
use common::{capture, ipv4_tcp, netcore, read_pcap};

/// A tmpfs of a few hundred kilobytes or megabytes, unmounted (and removed) on drop.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(name: &str, size: &str) -> SmallDisk {
        let dir = std::env::temp_dir().join(format!("netcore-disk-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mounting a {size} tmpfs at {}",
            dir.display()
        );
        SmallDisk { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A raw-IP capture of `n` TCP segments of 1,000 bytes, one a millisecond.
fn thousand_byte_segments(name: &str, n: u32) -> PathBuf {
    let packets = (0..n)
        .map(|i| {
            ipv4_tcp(
                ([10, 9, 0, 1], 40000),
                ([10, 9, 0, 2], 80),
                i * 1000,
                0x18,
                &[b'x'; 1000],
            )
        })
        .collect();
    capture(name, 1_700_000_000, packets)
}

fn run(args: &[&str]) -> (Output, String) {
    let out = netcore(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "netcore {args:?}: {}\n{stderr}",
        out.status
    );
    (out, stderr)
}

/// The number before `what` in the summary line.
fn counted(stderr: &str, what: &str) -> u64 {
    let before = stderr
        .split(what)
        .next()
        .filter(|b| b.len() < stderr.len())
        .unwrap_or_else(|| panic!("no '{what}' in {stderr}"));
    before
        .rsplit([' ', ','])
        .find(|w| !w.is_empty())
        .unwrap()
        .parse()
        .unwrap()
}

fn lines(bytes: &[u8]) -> usize {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count()
}

#[test]
fn a_w_file_on_a_full_disk_keeps_its_whole_packets_and_counts_the_rest() {
    if !root_or_skip("a_w_file_on_a_full_disk_keeps_its_whole_packets_and_counts_the_rest") {
        return;
    }
    let disk = SmallDisk::mount("w", "256k");
    let input = thousand_byte_segments("full-disk-w.pcap", 1000);
    let input = input.to_str().unwrap();
    let file = disk.path("cap.pcap");
    let (everything, _) = run(&["-r", input, "--json"]);
    let (out, stderr) = run(&["-r", input, "--json", "-w", file.to_str().unwrap()]);
    assert_eq!(
        out.stdout, everything.stdout,
        "standard output gets every event"
    );
    let named = format!("-w {}: No space left on device", file.display());
    assert_eq!(stderr.matches(&named).count(), 1, "named once: {stderr}");
    let written = counted(&stderr, " written to the -w file");
    let lost = counted(&stderr, " lost: the -w file could not be written");
    assert_eq!(written + lost, 1000, "{stderr}");
    assert!(written > 100 && lost > 100, "{stderr}");
    // The file holds whole packets only, exactly as many as said.
    assert_eq!(read_pcap(&file).records.len() as u64, written);
}

#[test]
fn a_rotated_w_file_writes_again_once_a_new_file_fits() {
    if !root_or_skip("a_rotated_w_file_writes_again_once_a_new_file_fits") {
        return;
    }
    // Two files of 1 MB in turn (-C 1 -W 2) on 2.5 MB with 1 MB taken: the second file
    // fills the disk; a second later the first is reused (emptied), and writing goes on.
    let disk = SmallDisk::mount("rotated", "2560k");
    std::fs::write(disk.path("filler"), vec![0u8; 1 << 20]).unwrap();
    let input = thousand_byte_segments("full-disk-rotated.pcap", 6000);
    let path = disk.path("cap.pcap");
    let (out, stderr) = run(&[
        "-r",
        input.to_str().unwrap(),
        "--json",
        "-w",
        path.to_str().unwrap(),
        "-C",
        "1",
        "-W",
        "2",
    ]);
    assert_eq!(lines(&out.stdout), 12_000, "every event on standard output");
    assert!(stderr.contains(": No space left on device"), "{stderr}");
    assert!(
        stderr.contains("netcore: -w: writing again, to "),
        "{stderr}"
    );
    let written = counted(&stderr, " written to the -w file");
    let lost = counted(&stderr, " lost: the -w file could not be written");
    assert_eq!(written + lost, 6000, "{stderr}");
    assert!(lost > 0, "{stderr}");
    // Both files parse whole; what they hold is what was written last, at most.
    let held: usize = ["cap.pcap0", "cap.pcap1"]
        .iter()
        .map(|name| read_pcap(&disk.path(name)).records.len())
        .sum();
    assert!(
        held > 0 && held as u64 <= written,
        "{held} packets in the files, {written} written"
    );
}

#[test]
fn an_output_file_on_a_full_disk_keeps_whole_lines_and_stdout_gets_everything() {
    if !root_or_skip("an_output_file_on_a_full_disk_keeps_whole_lines_and_stdout_gets_everything") {
        return;
    }
    let disk = SmallDisk::mount("output", "64k");
    let golden = common::root().join("tests/golden/ethernet.pcap");
    let golden = golden.to_str().unwrap();
    let file = disk.path("events.json");
    let target = format!("file:{}", file.display());
    let (everything, _) = run(&["-r", golden, "--json"]);
    let (out, stderr) = run(&[
        "-r", golden, "--json", "--output", &target, "--output", "stdout",
    ]);
    assert_eq!(
        out.stdout, everything.stdout,
        "standard output gets every event"
    );
    let named = format!("output {target}: No space left on device");
    assert_eq!(stderr.matches(&named).count(), 1, "named once: {stderr}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with('\n'), "whole lines only");
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("each line a whole event");
    }
    let delivered = counted(&stderr, " events delivered");
    let lost = counted(&stderr, " lost after leaving the queue");
    assert_eq!(delivered, text.lines().count() as u64);
    assert_eq!(
        delivered + lost,
        lines(&everything.stdout) as u64,
        "{stderr}"
    );
    assert!(lost > 0, "{stderr}");
}
