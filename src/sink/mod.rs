//! The sinks: encoded events gathered in one buffer and written out in large blocks
//! ([`Output`]), and the packets themselves into a pcapng or pcap file ([`capture`]).

pub mod capture;

use std::io::{self, Write};

/// Bytes gathered before they are written out.
const FLUSH_AT: usize = 64 << 10;

/// A buffered writer of encoded events.
pub struct Output<W: Write> {
    buffer: Vec<u8>,
    sink: W,
}

impl<W: Write> Output<W> {
    /// Writes into `sink`.
    pub fn new(sink: W) -> Self {
        Output {
            buffer: Vec::with_capacity(FLUSH_AT * 2),
            sink,
        }
    }

    /// The buffer encoders append to.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buffer
    }

    /// Writes the buffer out once it holds a block's worth.
    pub fn write_due(&mut self) -> io::Result<()> {
        if self.buffer.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes out everything buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.sink.write_all(&self.buffer)?;
        self.buffer.clear();
        self.sink.flush()
    }
}
