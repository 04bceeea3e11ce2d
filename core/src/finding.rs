//! A signature's finding as an event: what Tracee's `FindingToEvent` makes of a
//! `detect.Finding` — the triggering event's envelope, the finding's data as arguments,
//! the triggering event itself (`triggeredBy`, v0.24: `detectedFrom`) and the signature's
//! metadata.

use alloc::string::String;

/// One value of a finding's data or a signature's properties.
#[derive(Debug, Clone, PartialEq)]
pub enum FindingValue<'a> {
    /// A string (`const char *`).
    Text(&'a str),
    /// An integer (`long`).
    Number(i64),
    /// A boolean (`bool`).
    Bool(bool),
    /// A list of strings (`const char**`).
    List(&'a [String]),
    /// Absent (JSON `null`), as Tracee writes a property the signature lacks.
    Null,
}

/// The event a finding came from, as its JSON rendered it.
#[derive(Debug, Clone, Copy)]
pub struct Trigger<'a> {
    /// Its event id (a number).
    pub id: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its `args` array, as written (`[…]`).
    pub args_json: &'a [u8],
}

/// A finding to write as an event.
#[derive(Debug, Clone)]
pub struct FindingEvent<'a> {
    /// The signature's event id (Tracee's signature range, 6000–6999).
    pub event_id: &'a str,
    /// The signature's event name.
    pub event_name: &'a str,
    /// The finding's data: one argument each, in this order.
    pub data: &'a [(&'a str, FindingValue<'a>)],
    /// The signature's version.
    pub version: &'a str,
    /// The signature's description.
    pub description: &'a str,
    /// The signature's tags.
    pub tags: &'a [&'a str],
    /// The signature's properties, sorted by name (a Go map's order), `signatureID`,
    /// `signatureName` and the ones Tracee always writes included.
    pub properties: &'a [(&'a str, FindingValue<'a>)],
    /// The triggering event.
    pub trigger: Trigger<'a>,
}
