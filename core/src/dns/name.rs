//! Domain names (RFC 1035 §3.1, §4.1.4): labels and compression pointers, walked over the
//! message bytes without copying. Pointers may go backwards or forwards (as tshark and
//! gopacket, Tracee's decoder, accept them); every walk follows at most [`MAX_POINTERS`] of
//! them, which ends any loop, and accepts labels of at most 63 bytes and names of at most
//! 255 bytes on the wire.
//!
//! Names are presented in the RFC 1035 master-file form, without the trailing dot (the root
//! is ""): inside a label, `.` becomes `\.`, `\` becomes `\\`, `"` becomes `\"`, and any byte
//! outside printable ASCII (below 0x21 or above 0x7e, space included) becomes `\DDD` with
//! three decimal digits. Ordinary names are unchanged; hostile ones stay unambiguous and
//! always valid UTF-8.

use core::fmt;

/// Longest name on the wire, length octets included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label.
pub const MAX_LABEL_LEN: usize = 63;
/// Most compression pointers followed in one name.
pub const MAX_POINTERS: usize = 64;
/// Longest presentation form: every one of 254 label bytes as `\DDD`, with dots.
pub const MAX_PRESENTATION_LEN: usize = 4 * MAX_NAME_LEN;

/// Why a name could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// The name runs past the end of the message.
    Truncated,
    /// A label length with the reserved 0b01/0b10 prefix.
    BadLabelType(u8),
    /// More than [`MAX_POINTERS`] compression pointers (a pointer loop, say).
    TooManyPointers,
    /// More than [`MAX_NAME_LEN`] bytes on the wire.
    TooLong,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Truncated => f.write_str("name runs past the end of the message"),
            NameError::BadLabelType(b) => write!(f, "reserved label type 0x{b:02x}"),
            NameError::TooManyPointers => {
                write!(f, "more than {MAX_POINTERS} compression pointers")
            }
            NameError::TooLong => write!(f, "name longer than {MAX_NAME_LEN} bytes"),
        }
    }
}

/// A name inside a message: where it starts. Its labels are read on demand.
#[derive(Debug, Clone, Copy)]
pub struct Name<'a> {
    message: &'a [u8],
    start: usize,
}

impl<'a> Name<'a> {
    /// Checks the name at `start` of `message` and returns it with the offset right after
    /// its wire form (after the first pointer, or after the root label).
    pub fn parse(message: &'a [u8], start: usize) -> Result<(Name<'a>, usize), NameError> {
        let end = check(message, start, &mut SuffixCache::default())?;
        Ok((Name { message, start }, end))
    }

    /// The name at `start` of a message whose names were all checked by [`check`].
    pub(super) fn checked_at(message: &'a [u8], start: usize) -> Name<'a> {
        Name { message, start }
    }

    /// The whole message the name is in.
    pub(super) fn message(&self) -> &'a [u8] {
        self.message
    }

    /// Walks the name, calling `on_label` with each label (root excluded); stops at the
    /// first fault, which it returns.
    fn walk(&self, mut on_label: impl FnMut(&'a [u8])) -> Result<(), NameError> {
        let message = self.message;
        let mut pos = self.start;
        let mut pointers = 0;
        let mut wire_len = 0;
        loop {
            let len = *message.get(pos).ok_or(NameError::Truncated)?;
            match len & 0xc0 {
                0x00 => {
                    wire_len += 1 + usize::from(len);
                    if wire_len > MAX_NAME_LEN {
                        return Err(NameError::TooLong);
                    }
                    if len == 0 {
                        return Ok(());
                    }
                    let label = message
                        .get(pos + 1..pos + 1 + usize::from(len))
                        .ok_or(NameError::Truncated)?;
                    on_label(label);
                    pos += 1 + usize::from(len);
                }
                0xc0 => {
                    let low = *message.get(pos + 1).ok_or(NameError::Truncated)?;
                    pointers += 1;
                    if pointers > MAX_POINTERS {
                        return Err(NameError::TooManyPointers);
                    }
                    pos = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                }
                _ => return Err(NameError::BadLabelType(len)),
            }
        }
    }

    /// The labels, root excluded.
    pub fn labels(&self) -> impl Iterator<Item = &'a [u8]> {
        let mut labels = [&[][..]; MAX_NAME_LEN / 2];
        let mut count = 0;
        // A name that parsed once walks the same way again; a name that did not yields
        // the labels before the fault.
        let _ = self.walk(|label| {
            if let Some(slot) = labels.get_mut(count) {
                *slot = label;
                count += 1;
            }
        });
        labels.into_iter().take(count)
    }

    /// Writes the presentation form (see the module docs) into `buf` and returns it.
    pub fn presentation<'b>(
        &self,
        buf: &'b mut [u8; MAX_PRESENTATION_LEN],
    ) -> Result<&'b str, NameError> {
        let mut len = 0;
        self.walk(|label| {
            if len > 0 {
                buf[len] = b'.';
                len += 1;
            }
            if label.iter().all(|&b| is_plain_label_byte(b)) {
                buf[len..len + label.len()].copy_from_slice(label);
                len += label.len();
            } else {
                for &b in label {
                    len += escape_label_byte(b, &mut buf[len..len + 4]);
                }
            }
        })?;
        // Only ASCII was written.
        let text = core::str::from_utf8(&buf[..len]);
        debug_assert!(text.is_ok(), "a presentation is ASCII");
        Ok(text.unwrap_or_default())
    }
}

/// Slots of a [`SuffixCache`].
const SUFFIX_SLOTS: usize = 8;

/// Positions of a message already checked to start a label sequence that ends at the root,
/// with the wire length from there: a small direct-mapped table, so that checking the names
/// of a response does not follow the same compression pointers again and again.
#[derive(Debug, Clone, Default)]
pub(super) struct SuffixCache {
    /// (position + 1, remaining wire length); 0 marks an empty slot.
    slots: [(u16, u8); SUFFIX_SLOTS],
}

impl SuffixCache {
    fn get(&self, pos: usize) -> Option<u8> {
        let (key, rest) = self.slots[pos % SUFFIX_SLOTS];
        (usize::from(key) == pos + 1).then_some(rest)
    }

    fn put(&mut self, pos: usize, rest: usize) {
        // Positions past 65534 cannot be pointed at; lengths are at most 255.
        if let (Ok(key), Ok(rest)) = (u16::try_from(pos + 1), u8::try_from(rest)) {
            self.slots[pos % SUFFIX_SLOTS] = (key, rest);
        }
    }
}

/// Checks the name at `start` of `message` (labels, pointers, lengths) and returns the
/// offset right after its wire form (after its first pointer, or after its root label).
///
/// `cache` remembers where this name and the pointers it followed lead: a later name of the
/// same message whose pointer reaches one of those positions stops there instead of
/// walking the same labels again. Pointers may go backwards or forwards; a loop ends at
/// [`MAX_POINTERS`].
#[inline(always)]
pub(super) fn check(
    message: &[u8],
    start: usize,
    cache: &mut SuffixCache,
) -> Result<usize, NameError> {
    // Where the walk entered a label sequence after a pointer (up to three of them), with
    // the wire length before it; the start comes with none before it.
    let mut entered = [(0u16, 0u8); 3];
    let mut entered_count = 0;
    let mut pos = start;
    // The offset after the first pointer, once there is one.
    let mut end = None;
    let mut pointers = 0;
    let mut wire_len = 0;
    let total = loop {
        let len = *message.get(pos).ok_or(NameError::Truncated)?;
        if len == 0 {
            break wire_len + 1;
        }
        if len <= MAX_LABEL_LEN as u8 {
            // A label that runs past the end fails the next read.
            wire_len += 1 + usize::from(len);
            if wire_len > MAX_NAME_LEN {
                return Err(NameError::TooLong);
            }
            pos += 1 + usize::from(len);
            continue;
        }
        if len & 0xc0 != 0xc0 {
            return Err(NameError::BadLabelType(len));
        }
        let low = *message.get(pos + 1).ok_or(NameError::Truncated)?;
        pointers += 1;
        if pointers > MAX_POINTERS {
            return Err(NameError::TooManyPointers);
        }
        end.get_or_insert(pos + 2);
        pos = usize::from(u16::from_be_bytes([len & 0x3f, low]));
        // The cache knows where names start and pointers lead: ask it there only.
        if let Some(rest) = cache.get(pos) {
            break wire_len + usize::from(rest);
        }
        if let Some(slot) = entered.get_mut(entered_count) {
            // A target fits in 14 bits; a wire length before it in 8, or the name is too long.
            *slot = (pos as u16, wire_len as u8);
            entered_count += 1;
        }
    };
    if total > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    // A name that starts with a pointer is not worth remembering: others point where it
    // points.
    if end != Some(start + 2) {
        cache.put(start, total);
    }
    for &(at, before) in &entered[..entered_count] {
        cache.put(usize::from(at), total - usize::from(before));
    }
    // Without a pointer, the walk stopped on the root label.
    Ok(end.unwrap_or(pos + 1))
}

/// The offset after the wire form of the name at `start` (after its first pointer or its
/// root label), without following pointers: for names [`Name::parse`] has checked.
pub(super) fn skip(message: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    loop {
        let len = *message.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            1..=0x3f => pos += 1 + usize::from(len),
            _ => return Some(pos + 2),
        }
    }
}

/// Printable ASCII that stands for itself in a presented label.
fn is_plain_label_byte(b: u8) -> bool {
    const PLAIN: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0x21;
        while b <= 0x7e {
            table[b] = !matches!(b as u8, b'.' | b'\\' | b'"');
            b += 1;
        }
        table
    };
    PLAIN[usize::from(b)]
}

/// Writes `b` as it appears inside a presented label into `out`; returns the length (1–4).
fn escape_label_byte(b: u8, out: &mut [u8]) -> usize {
    match b {
        b'.' | b'\\' | b'"' => {
            out[0] = b'\\';
            out[1] = b;
            2
        }
        0x21..=0x7e => {
            out[0] = b;
            1
        }
        _ => {
            out[..4].copy_from_slice(&[b'\\', b'0' + b / 100, b'0' + b / 10 % 10, b'0' + b % 10]);
            4
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn present(message: &[u8], start: usize) -> Result<alloc::string::String, NameError> {
        let (name, _) = Name::parse(message, start)?;
        let mut buf = [0; MAX_PRESENTATION_LEN];
        name.presentation(&mut buf).map(alloc::string::String::from)
    }

    #[test]
    fn plain_and_root_names() {
        let m = b"\x03www\x03uol\x03com\x02br\x00";
        assert_eq!(present(m, 0).unwrap(), "www.uol.com.br");
        assert_eq!(Name::parse(m, 0).unwrap().1, m.len());
        assert_eq!(present(b"\x00", 0).unwrap(), "");
        let labels: Vec<&[u8]> = Name::parse(m, 0).unwrap().0.labels().collect();
        assert_eq!(labels, [&b"www"[..], b"uol", b"com", b"br"]);
    }

    #[test]
    fn compression_pointers_backwards() {
        // "uol.com.br" at 0, then "www" + pointer to 0 at 12, then pointer to 12 at 18.
        let m = b"\x03uol\x03com\x02br\x00\x03www\xc0\x00\xc0\x0c";
        assert_eq!(present(m, 12).unwrap(), "www.uol.com.br");
        assert_eq!(Name::parse(m, 12).unwrap().1, 18);
        assert_eq!(present(m, 18).unwrap(), "www.uol.com.br");
        assert_eq!(Name::parse(m, 18).unwrap().1, 20);
    }

    #[test]
    fn compression_pointers_forwards() {
        // "www" then a pointer to "example.com" further on, as some encoders write it.
        let m = b"\x03www\xc0\x06\x07example\x03com\x00";
        assert_eq!(present(m, 0).unwrap(), "www.example.com");
        assert_eq!(Name::parse(m, 0).unwrap().1, 6);
        let labels: Vec<&[u8]> = Name::parse(m, 0).unwrap().0.labels().collect();
        assert_eq!(labels, [&b"www"[..], b"example", b"com"]);
    }

    #[test]
    fn impossible_names() {
        assert_eq!(present(b"\x03ww", 0), Err(NameError::Truncated));
        assert_eq!(present(b"\x03www", 0), Err(NameError::Truncated));
        assert_eq!(present(b"\xc0", 0), Err(NameError::Truncated));
        // A pointer to itself, and two pointing at each other: loops, ended by the bound.
        assert_eq!(present(b"\xc0\x00", 0), Err(NameError::TooManyPointers));
        assert_eq!(
            present(b"\xc0\x02\xc0\x00", 0),
            Err(NameError::TooManyPointers)
        );
        assert_eq!(present(b"\x00\xc0\x05", 1), Err(NameError::Truncated));
        assert_eq!(present(b"\x41a", 0), Err(NameError::BadLabelType(0x41)));
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert_eq!(present(&long, 0), Err(NameError::TooLong));
        // A long chain without a loop: each pointer points to the one before it.
        let mut chain = alloc::vec![0u8];
        for i in 0..70u16 {
            let target = if i == 0 { 0 } else { 1 + 2 * (i - 1) };
            chain.extend_from_slice(&(0xc000 | target).to_be_bytes());
        }
        assert_eq!(
            present(&chain, chain.len() - 2),
            Err(NameError::TooManyPointers)
        );
    }

    #[test]
    fn hostile_labels_are_escaped() {
        let m = b"\x07a.b\\c\"d\x04 \x00\xff\xe9\x00";
        assert_eq!(
            present(m, 0).unwrap(),
            "a\\.b\\\\c\\\"d.\\032\\000\\255\\233"
        );
    }

    #[test]
    fn longest_name_fits_the_presentation_buffer() {
        let mut m = Vec::new();
        for _ in 0..3 {
            m.push(63);
            m.extend_from_slice(&[0xff; 63]);
        }
        m.push(61);
        m.extend_from_slice(&[0xff; 61]);
        m.push(0);
        assert_eq!(m.len(), 255);
        let s = present(&m, 0).unwrap();
        assert_eq!(s.len(), 250 * 4 + 3);
    }
}
