//! Differential test against Wireshark: for each public capture of tcpdump's test suite
//! in `tests/data/tcpdump/`, netcore's events and tshark's dissection must name the same
//! layers for every packet — each IP header (source, destination), each TCP and UDP header
//! (ports) and each DNS message (id, QR, question names, answer count), tunnels included.
//!
//! Captures where the two are known to differ live in `differs/`, each with its reason in
//! [`KNOWN_DIFFERENCES`], and must still differ, so the gap stays visible.
//!
//! tshark is installed by `scripts/setup.sh`; without it this test skips loudly, and under
//! `CI=true` it fails instead.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

/// The captures of `tests/data/tcpdump/differs/`, where netcore and tshark are known to
/// differ, and why. Each must still differ: when netcore learns one, move it up a folder.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "dns_udp_2.pcap",
        "a reply cut to 98 bytes: tshark shows the header and question, netcore counts dns.truncated_record and writes no DNS event",
    ),
    (
        "ipv6-srh-ipproto-ether.pcap",
        "SRv6 carrying Ethernet (next header 143) is not followed",
    ),
    (
        "ipv6_39_byte_header.pcap",
        "an IPv6 header cut short: tshark shows the source, netcore counts a decode error",
    ),
    (
        "mpls-over-udp.pcap",
        "MPLS over UDP (port 6635) is not followed",
    ),
    (
        "mpls-traceroute.pcap",
        "tshark also dissects the packet quoted inside an ICMP error; netcore, like Tracee, does not",
    ),
    (
        "nsh-over-vxlan-gpe.pcap",
        "VXLAN-GPE (UDP 4790) and NSH are not followed",
    ),
    (
        "various_gre.pcap",
        "GRE keepalives and GRE payload types other than IP, Ethernet and ERSPAN are not followed",
    ),
    (
        "wccp_redirect_gre.pcap",
        "GRE protocol 0x883e (WCCP redirect) is not followed",
    ),
];

/// One packet's layers, sorted, keyed by its capture time in nanoseconds.
type Layers = BTreeMap<u128, Vec<String>>;

fn tshark_available() -> bool {
    let found = Command::new("tshark").arg("--version").output().is_ok();
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("tshark is missing under CI=true: scripts/setup.sh installs it");
        }
        eprintln!("\n*** SKIPPED tshark differential test: tshark is not installed ***\n");
    }
    found
}

/// netcore's layers: one per IP, TCP, UDP and DNS event.
fn netcore_layers(path: &str) -> Layers {
    let mut layers = Layers::new();
    for event in common::events_of(&["--json", "--tunnel", "both", "-r", path]) {
        let args: BTreeMap<&str, &serde_json::Value> = event["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["name"].as_str().unwrap(), &a["value"]))
            .collect();
        let layer = match event["eventName"].as_str().unwrap() {
            "net_packet_ipv4" | "net_packet_ipv6" => {
                format!(
                    "ip {} {}",
                    args["src"].as_str().unwrap(),
                    args["dst"].as_str().unwrap()
                )
            }
            name @ ("net_packet_tcp" | "net_packet_udp") => {
                format!("{} {} {}", &name[11..], args["src_port"], args["dst_port"])
            }
            "net_packet_dns" => {
                let dns = args["proto_dns"];
                let names: Vec<&str> = dns["questions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|q| q["name"].as_str().unwrap())
                    .collect();
                format!(
                    "dns {} {} {} {}",
                    dns["ID"],
                    dns["QR"],
                    names.join(","),
                    dns["ANCount"]
                )
            }
            _ => continue,
        };
        let time = event["timestamp"].as_u64().unwrap();
        layers.entry(u128::from(time)).or_default().push(layer);
    }
    layers.values_mut().for_each(|l| l.sort());
    layers
}

/// tshark's layers from the same fields, every occurrence (outer and inner headers).
fn tshark_layers(path: &str) -> Layers {
    const FIELDS: [&str; 13] = [
        "frame.time_epoch",
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
        "dns.id",
        "dns.flags.response",
        "dns.qry.name",
        "dns.count.answers",
    ];
    let mut command = Command::new("tshark");
    command.args([
        "-n",
        "-r",
        path,
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "separator=/t",
    ]);
    for field in FIELDS {
        command.args(["-e", field]);
    }
    let out = command.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut layers = Layers::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let c: Vec<&str> = line.split('\t').collect();
        let (seconds, fraction) = c[0].split_once('.').unwrap();
        let time = seconds.parse::<u128>().unwrap() * 1_000_000_000
            + format!("{fraction:0<9}")[..9].parse::<u128>().unwrap();
        let packet = layers.entry(time).or_default();
        for (src, dst, kind) in [(1, 2, "ip"), (3, 4, "ip"), (5, 6, "tcp"), (7, 8, "udp")] {
            if !c[src].is_empty() {
                for (s, d) in c[src].split(',').zip(c[dst].split(',')) {
                    packet.push(format!("{kind} {s} {d}"));
                }
            }
        }
        if !c[9].is_empty() {
            // Every question of the frame, with tshark's "<Root>" for the root name.
            let names = c[11].replace("<Root>", "");
            for ((id, qr), answers) in c[9].split(',').zip(c[10].split(',')).zip(c[12].split(',')) {
                let id = u16::from_str_radix(id.trim_start_matches("0x"), 16).unwrap();
                let qr = u8::from(qr == "1" || qr == "True");
                packet.push(format!("dns {id} {qr} {names} {answers}"));
            }
        }
    }
    layers.retain(|_, l| !l.is_empty());
    layers.values_mut().for_each(|l| l.sort());
    layers
}

/// The `.pcap` files of `folder`, sorted.
fn captures_in(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut captures: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    captures.sort();
    captures
}

#[test]
fn netcore_and_tshark_see_the_same_layers_in_tcpdumps_captures() {
    if !tshark_available() {
        return;
    }
    let folder = common::root().join("tests/data/tcpdump");
    let captures = captures_in(&folder);
    assert!(
        captures.len() >= 30,
        "expected the tcpdump captures in {folder:?}"
    );
    let (mut packets, mut differing) = (0, Vec::new());
    for capture in &captures {
        let path = capture.to_str().unwrap();
        let (ours, theirs) = (netcore_layers(path), tshark_layers(path));
        assert!(
            !theirs.is_empty(),
            "{path}: tshark found no IP layer; not a useful capture"
        );
        packets += theirs.len();
        if ours != theirs {
            differing.push(format!("{path}:\n  netcore {ours:?}\n  tshark  {theirs:?}"));
        }
    }
    assert!(
        differing.is_empty(),
        "{} captures differ:\n{}",
        differing.len(),
        differing.join("\n")
    );
    eprintln!(
        "{} captures, {packets} packets: netcore and tshark agree",
        captures.len()
    );
}

#[test]
fn the_known_differences_still_differ() {
    if !tshark_available() {
        return;
    }
    let captures = captures_in(&common::root().join("tests/data/tcpdump/differs"));
    let names: Vec<_> = captures
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap())
        .collect();
    let listed: Vec<_> = KNOWN_DIFFERENCES.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names, listed,
        "differs/ and KNOWN_DIFFERENCES must list the same captures"
    );
    for (capture, (name, why)) in captures.iter().zip(KNOWN_DIFFERENCES) {
        let path = capture.to_str().unwrap();
        assert_ne!(
            netcore_layers(path),
            tshark_layers(path),
            "{name} now decodes like tshark (was: {why}); move it to tests/data/tcpdump/"
        );
    }
}
