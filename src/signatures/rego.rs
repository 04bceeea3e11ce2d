//! Rego signatures in Tracee's ABI (tracee-rules), evaluated with regorus: every `*.rego`
//! file of a directory (helper packages included) in one engine, Rego v0 syntax; each
//! package `tracee.<ID>` with a `__rego_metadoc__` is a signature, `tracee_selected_events`
//! its selection (a set of `{source, name, origin}`), `tracee_match` its verdict (`true`: a
//! finding without data; an object: the finding's data). The input document is the event
//! as Tracee's JSON in the selected schema, rendered only for events a Rego signature
//! selects.

use std::cell::RefCell;
use std::num::NonZeroU32;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use netcore_core::json::{self, Schema};
use netcore_core::{EventKind, EventSet, PacketEvents};
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{LimitError, Value};

use super::{Data, Finding, MAX_ERRORS, Metadata, Signature};

/// The longest one signature may take on one event; past it the evaluation is stopped
/// and the signature disabled.
pub const TIME_LIMIT: Duration = Duration::from_millis(250);

/// The most memory one signature may take on one event, beyond what the process held when
/// the evaluation began; past it the evaluation is stopped and the signature disabled.
pub const MEMORY_LIMIT: u64 = 256 << 20;

/// How many steps of an evaluation pass between looks at the clock.
const STEPS_BETWEEN_CLOCK_READS: u32 = 64;

/// The engine and the event renderer the Rego signatures of a directory share.
struct Runtime {
    engine: regorus::Engine,
    json: json::Encoder,
    scratch: Vec<u8>,
    /// The event the input document holds (timestamp, kind): rendered once for all.
    input_of: Option<(u64, EventKind)>,
}

/// One Rego signature.
pub struct RegoSignature {
    runtime: Rc<RefCell<Runtime>>,
    package: String,
    metadata: &'static Metadata,
    selected: EventSet,
    errors: u32,
}

/// Loads the Rego signatures of `dir` (none when it has no `.rego` file); ids of their
/// finding events from `first_id`.
/// A file that does not parse is named with its line and problem.
pub fn load(
    dir: &Path,
    schema: &'static Schema,
    first_id: u32,
) -> Result<Vec<Box<dyn Signature>>, String> {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(true);
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: TIME_LIMIT,
        check_interval: NonZeroU32::new(STEPS_BETWEEN_CLOCK_READS).unwrap_or(NonZeroU32::MIN),
    });
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rego"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut packages = Vec::new();
    for file in &files {
        let source =
            std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let package = engine
            .add_policy(file.display().to_string(), source)
            .map_err(|e| format!("{e}"))?;
        packages.push((file.clone(), package));
    }
    let runtime = Rc::new(RefCell::new(Runtime {
        engine,
        json: json::Encoder::new(schema),
        scratch: Vec::new(),
        input_of: None,
    }));
    let mut signatures: Vec<Box<dyn Signature>> = Vec::new();
    for (file, package) in packages {
        // Helper packages (tracee.helpers, …) have no metadoc.
        let query = |rule: &str| {
            runtime
                .borrow_mut()
                .engine
                .eval_rule(format!("{package}.{rule}"))
        };
        let metadoc = match query("__rego_metadoc__") {
            Ok(Value::Undefined) | Err(_) => continue,
            Ok(value) => to_json(&value),
        };
        let selection = to_json(&query("tracee_selected_events").unwrap_or(Value::Undefined));
        let id = first_id + signatures.len() as u32;
        let metadata = metadata_of(&metadoc, id)
            .ok_or_else(|| format!("{}: __rego_metadoc__ lacks an id", file.display()))?;
        let selected = selection
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| EventKind::from_name(s["name"].as_str()?))
            .fold(EventSet::NONE, EventSet::with);
        if selected == EventSet::NONE {
            eprintln!(
                "netcore: warning: {}: signature {} selects no network event; it never fires",
                file.display(),
                metadata.id
            );
        }
        signatures.push(Box::new(RegoSignature {
            runtime: Rc::clone(&runtime),
            package,
            metadata,
            selected,
            errors: 0,
        }));
    }
    Ok(signatures)
}

/// Runs `evaluate` with regorus's memory ceiling at [`MEMORY_LIMIT`] above what the
/// process holds now (the allocator's count of live bytes), and no ceiling after.
fn within_memory_limit<T>(evaluate: impl FnOnce() -> T) -> T {
    let held = regorus_mimalloc::global_allocation_stats_snapshot().allocated;
    regorus::set_global_memory_limit(Some(held.saturating_add(MEMORY_LIMIT)));
    let result = evaluate();
    regorus::set_global_memory_limit(None);
    result
}

/// A regorus value as JSON (sets become arrays; undefined becomes null).
fn to_json(value: &Value) -> serde_json::Value {
    value
        .to_json_str()
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// The metadata a `__rego_metadoc__` gives, kept for the whole run.
fn metadata_of(doc: &serde_json::Value, event_id: u32) -> Option<&'static Metadata> {
    let text = |key: &str| -> &'static str {
        Box::leak(doc[key].as_str().unwrap_or("").to_owned().into_boxed_str())
    };
    let id = doc["id"].as_str()?;
    let properties = &doc["properties"];
    let property = |key: &str| -> &'static str {
        Box::leak(
            properties[key]
                .as_str()
                .unwrap_or("")
                .to_owned()
                .into_boxed_str(),
        )
    };
    let tags: Vec<&'static str> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .map(|t| &*Box::leak(t.to_owned().into_boxed_str()))
        .collect();
    let event_name = match text("eventName") {
        "" => Box::leak(id.to_lowercase().into_boxed_str()),
        name => name,
    };
    Some(Box::leak(Box::new(Metadata {
        id: Box::leak(id.to_owned().into_boxed_str()),
        version: text("version"),
        name: text("name"),
        event_name,
        event_id: Box::leak(event_id.to_string().into_boxed_str()),
        description: text("description"),
        tags: Box::leak(tags.into_boxed_slice()),
        severity: properties["Severity"].as_i64().unwrap_or(0),
        category: property("Category"),
        technique: property("Technique"),
        external_id: property("external_id"),
    })))
}

impl Signature for RegoSignature {
    fn metadata(&self) -> &'static Metadata {
        self.metadata
    }

    fn selected_events(&self) -> EventSet {
        if self.errors >= MAX_ERRORS {
            return EventSet::NONE; // Disabled.
        }
        self.selected
    }

    fn on_event(&mut self, kind: EventKind, events: &PacketEvents<'_, '_>) -> Option<Finding> {
        let mut runtime = self.runtime.borrow_mut();
        let runtime = &mut *runtime;
        let key = (events.ctx.timestamp, kind);
        if runtime.input_of != Some(key) {
            runtime.scratch.clear();
            let alone = PacketEvents {
                events: EventSet::NONE.with(kind),
                ..*events
            };
            runtime.json.encode(&alone, &mut runtime.scratch);
            let text = std::str::from_utf8(&runtime.scratch).unwrap_or("{}");
            let set = runtime.engine.set_input_json(text.trim_end());
            runtime.input_of = set.is_ok().then_some(key);
        }
        let verdict = within_memory_limit(|| {
            runtime
                .engine
                .eval_rule(format!("{}.tracee_match", self.package))
        });
        match verdict {
            Ok(Value::Bool(true)) => Some(Finding::default()),
            Ok(value @ Value::Object(_)) => Some(finding_of(&to_json(&value))),
            Ok(_) => None,
            Err(e) if e.downcast_ref::<LimitError>().is_some() => {
                // A limit is not a passing fault: the next event would hit it again.
                self.errors = MAX_ERRORS;
                eprintln!(
                    "netcore: signature {} disabled: {e} (limits per event: {} ms, {} MiB)",
                    self.metadata.id,
                    TIME_LIMIT.as_millis(),
                    MEMORY_LIMIT >> 20
                );
                None
            }
            Err(e) => {
                self.errors += 1;
                if self.errors == MAX_ERRORS {
                    eprintln!(
                        "netcore: signature {} disabled after {MAX_ERRORS} errors; the last: {e}",
                        self.metadata.id
                    );
                }
                None
            }
        }
    }
}

/// The finding a `tracee_match` object describes: its keys and values as data.
fn finding_of(object: &serde_json::Value) -> Finding {
    let data = object
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let key = std::borrow::Cow::Owned(key.clone());
            let value = match value {
                serde_json::Value::String(s) => Data::Text(s.clone()),
                serde_json::Value::Number(n) => Data::Number(n.as_i64().unwrap_or(0)),
                serde_json::Value::Array(items) => Data::List(
                    items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                        .collect(),
                ),
                other => Data::Text(other.to_string()),
            };
            (key, value)
        })
        .collect();
    Finding { data }
}
