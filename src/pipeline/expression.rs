//! pcap filter expressions (`netcore port 53 and host 10.0.0.1`, or `--bpf EXPR`), as
//! tcpdump takes them: compiled by libpcap once per link type, and run by libpcap's BPF
//! interpreter on each frame before it is decoded. Frames it rejects cost no decoding.

use std::collections::HashMap;

use netcore_core::LinkType;
use pcap::{BpfProgram, Capture, Linktype};

/// A compiled pcap filter expression.
pub struct Expression {
    text: String,
    /// Programs by link type; `None` where the expression cannot apply (say, `ether host`
    /// on raw IP frames): those frames are rejected.
    programs: HashMap<LinkType, Option<BpfProgram>>,
}

impl Clone for Expression {
    /// libpcap's programs cannot be shared between threads' pipelines: each is compiled
    /// again (as it was the first time, so with the same outcome).
    fn clone(&self) -> Self {
        Expression {
            text: self.text.clone(),
            programs: self
                .programs
                .keys()
                .map(|&link_type| (link_type, compile(&self.text, link_type).ok()))
                .collect(),
        }
    }
}

/// Why an expression was refused: libpcap's message.
#[derive(Debug)]
pub struct BadExpression {
    /// The expression.
    pub text: String,
    /// libpcap's message.
    pub reason: String,
}

impl std::fmt::Display for BadExpression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pcap filter expression '{}': {}", self.text, self.reason)
    }
}

impl Expression {
    /// Compiles `text` for `link_type` (the first link type the source will hand out), so a
    /// mistake is reported before capture starts.
    pub fn compile(text: &str, link_type: LinkType) -> Result<Expression, BadExpression> {
        let program = compile(text, link_type).map_err(|reason| BadExpression {
            text: text.to_owned(),
            reason,
        })?;
        Ok(Expression {
            text: text.to_owned(),
            programs: HashMap::from([(link_type, Some(program))]),
        })
    }

    /// Whether the expression accepts `frame`, framed as `link_type`.
    pub fn accepts(&mut self, link_type: LinkType, frame: &[u8]) -> bool {
        let text = &self.text;
        let program = self.programs.entry(link_type).or_insert_with(|| {
            compile(text, link_type)
                .inspect_err(|reason| {
                    note!(
                        "netcore: the pcap filter expression cannot apply to {} frames \
                         ({reason}): they are left out",
                        link_type.name()
                    )
                })
                .ok()
        });
        program.as_ref().is_some_and(|p| p.filter(frame))
    }
}

/// libpcap's program for `text` on frames of `link_type`, or its message.
fn compile(text: &str, link_type: LinkType) -> Result<BpfProgram, String> {
    // pcap_open_dead takes a DLT_ value; raw IP is LINKTYPE_RAW (101) in files and DLT_RAW
    // (12 on Linux) in libpcap's API. The others share their numbers.
    let dlt = match link_type {
        LinkType::Raw => 12,
        other => other.linktype() as i32,
    };
    let capture = Capture::dead(Linktype(dlt)).map_err(|e| e.to_string())?;
    capture.compile(text, true).map_err(|e| e.to_string())
}
