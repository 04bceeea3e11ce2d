//! A bounded UDP load for the live-capture benchmarks (`bench/live_overhead.sh`).
//!
//! `flood send ADDR:PORT RATE SECONDS [PAYLOAD] [FLOWS]` sends RATE datagrams per second
//! for SECONDS (at most 60 s and 10 M datagrams) with sendmmsg in batches of 32, each
//! batch from the next of FLOWS sockets (default 1; each its own source port, so its own
//! flow), then prints how many it sent. `flood recv ADDR:PORT SECONDS` counts datagrams with recvmmsg until
//! SECONDS pass without one, then prints the count. Only ever point it at a test
//! namespace's addresses.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const BATCH: usize = 32;
const MAX_SECONDS: u64 = 60;
const MAX_PACKETS: u64 = 10_000_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage =
        "usage: flood send ADDR:PORT RATE SECONDS [PAYLOAD] [FLOWS] | flood recv ADDR:PORT SECONDS";
    let parse_addr = |s: &str| {
        s.parse::<SocketAddr>()
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    };
    let number = |s: &str| {
        s.parse::<u64>()
            .unwrap_or_else(|e| panic!("{s}: {e}\n{usage}"))
    };
    match args.get(1).map(String::as_str) {
        Some("send") if args.len() >= 5 => {
            let payload = args.get(5).map_or(18, |p| number(p) as usize);
            let flows = args.get(6).map_or(1, |f| number(f).clamp(1, 1024) as usize);
            let sent = send(
                parse_addr(&args[2]),
                number(&args[3]),
                number(&args[4]),
                payload,
                flows,
            );
            println!("{sent}");
        }
        Some("recv") if args.len() == 4 => {
            println!("{}", receive(parse_addr(&args[2]), number(&args[3])))
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}

/// Sends at `rate` datagrams/s for `seconds`, batches taking turns over `flows` sockets;
/// returns the number sent.
fn send(to: SocketAddr, rate: u64, seconds: u64, payload: usize, flows: usize) -> u64 {
    let seconds = seconds.min(MAX_SECONDS);
    let total = (rate * seconds).min(MAX_PACKETS);
    let sockets: Vec<UdpSocket> = (0..flows)
        .map(|_| {
            let socket =
                UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }).unwrap();
            socket.connect(to).unwrap();
            socket
        })
        .collect();
    let buffer = vec![0x5au8; payload];
    let mut iov: Vec<libc::iovec> = (0..BATCH)
        .map(|_| libc::iovec {
            iov_base: buffer.as_ptr() as *mut _,
            iov_len: payload,
        })
        .collect();
    let mut messages = message_headers(&mut iov); // `buffer` outlives them.
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        // Pace: the number that should have gone by now.
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        if due < (sent + BATCH as u64).min(total) {
            // Sleep until a whole batch is due rather than spin: the load should cost the
            // host what sending costs, not a busy core.
            let batch_due =
                start + Duration::from_secs_f64((sent + BATCH as u64) as f64 / rate as f64);
            std::thread::sleep(batch_due.saturating_duration_since(Instant::now()));
            continue;
        }
        let n = ((due - sent) as usize).min(BATCH);
        // SAFETY: `messages` holds `n` ≤ BATCH initialised headers.
        let socket = &sockets[(sent / BATCH as u64) as usize % flows];
        let rc = unsafe { libc::sendmmsg(socket.as_raw_fd(), messages.as_mut_ptr(), n as u32, 0) };
        if rc > 0 {
            sent += rc as u64;
        }
        if start.elapsed() > Duration::from_secs(seconds + 5) {
            break; // Never run far past the bound, whatever the pacing.
        }
    }
    sent
}

/// One sendmmsg/recvmmsg header per iovec, each pointing at its one iovec.
fn message_headers(iov: &mut [libc::iovec]) -> Vec<libc::mmsghdr> {
    iov.iter_mut()
        .map(|iov| {
            // SAFETY: an all-zero mmsghdr is a valid empty header.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect()
}

/// Counts datagrams arriving at `on` until `idle_seconds` pass without one.
fn receive(on: SocketAddr, idle_seconds: u64) -> u64 {
    let socket = UdpSocket::bind(on).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(idle_seconds.max(1))))
        .unwrap();
    let mut buffers = vec![[0u8; 2048]; BATCH];
    let mut iov: Vec<libc::iovec> = buffers
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    let mut messages = message_headers(&mut iov); // The buffers outlive them.
    let mut received = 0u64;
    loop {
        // SAFETY: BATCH initialised headers over live buffers. The socket's read timeout
        // ends the wait when the sender is done.
        let rc = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                messages.as_mut_ptr(),
                BATCH as u32,
                0,
                std::ptr::null_mut(),
            )
        };
        if rc <= 0 {
            return received;
        }
        received += rc as u64;
    }
}
