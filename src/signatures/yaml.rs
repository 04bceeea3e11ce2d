//! Detectors in Tracee's YAML format (its main branch, `pkg/detectors/yaml/schema.go`):
//! every `*.yaml` / `*.yml` of a `--signatures` directory with `type: detector` is one
//! signature — `requirements.events` selects events by name, narrowed by
//! `data_filters` (an argument, `dst_port=53`) and `scope_filters` (`comm=curl`,
//! `container`) in netcore's Tracee filter language; `conditions` are CEL expressions
//! (the `cel` crate) that must all hold; `output.fields` are CEL expressions whose values
//! become the finding's data; `threat` becomes its severity and MITRE properties. Files
//! with `type: string_list` define a list every detector's CEL can name.
//!
//! In CEL: `getEventData("name")` / `hasData("name")` read an argument of the event —
//! netcore's superset: structured arguments too, by the names of the event's JSON
//! (`getEventData("proto_dns").questions.exists(q, q.name.endsWith(".example"))`), where
//! Tracee's give scalars only; `event` is the event as netcore's JSON writes it;
//! `workload` has Tracee's proto names (`workload.process.thread.name`,
//! `workload.process.pid`, `workload.container.id`, `workload.k8s.pod.name`…);
//! `timestamp` (ns); the string helpers `split`, `join`, `trim`, `replace`, `upper`,
//! `lower`, `basename`, `dirname`. A condition that errs is false, as in Tracee.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use cel::{Context, ExecutionError, Program, ResolveResult, Value};
use netcore_core::filter::Filter;
use netcore_core::json::{self, Schema};
use netcore_core::{EventKind, EventSet, PacketEvents};
use serde::Deserialize;

use super::{Data, Finding, MAX_ERRORS, Metadata, Signature, leak};

/// How deep comprehensions (`exists`, `all`, `map`, `filter`, `exists_one`) may nest in
/// one expression. CEL has no unbounded loop, so an expression's cost is the product of
/// the lists it walks: at most two levels keep it within the square of an event's
/// longest list (a DNS message's records), where Tracee bounds it with a cost limit.
const MAX_NESTED_COMPREHENSIONS: usize = 2;

/// The longest the conditions and outputs of one detector may take on one event; a
/// detector that took longer is disabled (CEL cannot be stopped mid-way: the nesting
/// limit bounds that one evaluation).
const TIME_LIMIT: std::time::Duration = super::rego::TIME_LIMIT;

/// A YAML file's `type`, and the rest of it by kind.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum File {
    Detector(Box<DetectorFile>),
    StringList(StringList),
}

/// `type: string_list`: a list CEL names as `NAME`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StringList {
    name: String,
    values: Vec<String>,
}

/// `type: detector`, as Tracee's schema defines it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectorFile {
    id: String,
    produced_event: ProducedEvent,
    requirements: Requirements,
    #[serde(default)]
    threat: Option<Threat>,
    /// Accepted for compatibility; netcore always writes the threat and the trigger.
    #[serde(default)]
    #[allow(dead_code)]
    auto_populate: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    conditions: Vec<String>,
    #[serde(default)]
    output: Option<Output>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProducedEvent {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    /// The fields' declared names and types (the values come from `output.fields`).
    #[serde(default)]
    #[allow(dead_code)]
    fields: Vec<serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
struct Requirements {
    events: Vec<EventRequirement>,
    /// Tracee's version and architecture bounds and enrichments: accepted, not checked.
    #[serde(flatten)]
    #[allow(dead_code)]
    other: BTreeMap<String, serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
struct EventRequirement {
    name: String,
    #[serde(default)]
    data_filters: Vec<String>,
    #[serde(default)]
    scope_filters: Vec<String>,
    /// `dependency`, `min_version`, `max_version`: accepted, not checked.
    #[serde(flatten)]
    #[allow(dead_code)]
    other: BTreeMap<String, serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Threat {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    mitre: Option<Mitre>,
    #[serde(default)]
    #[allow(dead_code)]
    properties: BTreeMap<String, serde_yaml_ng::Value>,
}

#[derive(Deserialize)]
struct Mitre {
    #[serde(default)]
    tactic: Option<Named>,
    #[serde(default)]
    technique: Option<Named>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Output {
    #[serde(default)]
    fields: Vec<OutputField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputField {
    name: String,
    expression: String,
    #[serde(default)]
    optional: bool,
}

/// One loaded detector.
pub struct YamlDetector {
    metadata: &'static Metadata,
    selected: EventSet,
    /// Per selected event: the filters its requirement names.
    filters: Vec<(EventKind, Filter)>,
    conditions: Vec<Program>,
    fields: Vec<(String, Program, bool)>,
    /// The functions and the directory's `string_list`s every evaluation sees.
    base: Context<'static>,
    /// What its expressions read of an event.
    reads: Reads,
    json: json::Encoder,
    scratch: Vec<u8>,
    errors: u32,
}

/// Loads the YAML detectors of `dir`; ids of their finding events from `first_id`. A file
/// that does not load is named with its line, or its condition, and the problem.
pub fn load(
    dir: &Path,
    schema: &'static Schema,
    first_id: u32,
) -> Result<Vec<Box<dyn super::Signature>>, String> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    let mut detectors = Vec::new();
    let mut lists = Vec::new();
    for path in &paths {
        let named = |problem: String| format!("{}: {problem}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| named(e.to_string()))?;
        match serde_yaml_ng::from_str::<File>(&text).map_err(|e| named(e.to_string()))? {
            File::StringList(list) => {
                if lists.iter().any(|(name, _)| *name == list.name) {
                    return Err(named(format!("the list {} is defined twice", list.name)));
                }
                lists.push((list.name, list.values));
            }
            File::Detector(file) => detectors.push((path, file)),
        }
    }
    detectors
        .into_iter()
        .enumerate()
        .map(|(i, (path, file))| {
            let event_id = first_id + i as u32;
            YamlDetector::new(*file, event_id, schema, &lists)
                .map(|d| Box::new(d) as Box<dyn super::Signature>)
                .map_err(|problem| format!("{}: {problem}", path.display()))
        })
        .collect()
}

impl YamlDetector {
    fn new(
        file: DetectorFile,
        event_id: u32,
        schema: &'static Schema,
        lists: &[(String, Vec<String>)],
    ) -> Result<YamlDetector, String> {
        let mut selected = EventSet::NONE;
        let mut filters = Vec::new();
        for requirement in &file.requirements.events {
            let kind = EventKind::from_name(&requirement.name).ok_or_else(|| {
                format!(
                    "requirements.events: {} is not a packet event netcore feeds to signatures",
                    requirement.name
                )
            })?;
            selected = selected.with(kind);
            let mut expressions: Vec<String> = requirement
                .data_filters
                .iter()
                .map(|f| format!("{}.args.{f}", requirement.name))
                .collect();
            expressions.extend(requirement.scope_filters.iter().cloned());
            let filter = Filter::parse(&expressions).map_err(|e| format!("filter {e}"))?;
            filters.push((kind, filter));
        }
        let mut reads = Reads::default();
        let mut compile = |what: &str, text: &str| {
            let depth = comprehension_depth(text);
            if depth > MAX_NESTED_COMPREHENSIONS {
                return Err(format!(
                    "{what} `{text}`: comprehensions nest {depth} deep (at most \
                     {MAX_NESTED_COMPREHENSIONS}: the cost grows with the power of the depth)"
                ));
            }
            Program::compile(&rewrite_helpers(text, &mut reads))
                .map_err(|e| format!("{what} `{text}`: {e}"))
        };
        let conditions = file
            .conditions
            .iter()
            .map(|c| compile("condition", c))
            .collect::<Result<_, String>>()?;
        let fields = file
            .output
            .iter()
            .flat_map(|o| &o.fields)
            .map(|f| {
                Ok((
                    f.name.clone(),
                    compile("output field", &f.expression)?,
                    f.optional,
                ))
            })
            .collect::<Result<_, String>>()?;
        Ok(YamlDetector {
            reads,
            metadata: metadata_of(&file, event_id),
            selected,
            filters,
            conditions,
            fields,
            base: base_context(lists),
            json: json::Encoder::new(schema),
            scratch: Vec::new(),
            errors: 0,
        })
    }

    /// The event `kind` of `events` as CEL sees it — `event`, its arguments (what
    /// `getEventData` reads), `workload`, `timestamp` — as far as the expressions read them.
    fn event_variables(
        &mut self,
        kind: EventKind,
        events: &PacketEvents<'_, '_>,
    ) -> Option<Vec<(&'static str, serde_json::Value)>> {
        self.scratch.clear();
        let alone = PacketEvents {
            events: EventSet::NONE.with(kind),
            ..*events
        };
        self.json.encode(&alone, &mut self.scratch);
        let mut event: serde_json::Value = serde_json::from_slice(&self.scratch).ok()?;
        let wanted = |name: &str| {
            self.reads
                .args
                .as_ref()
                .is_none_or(|args| args.contains(name))
        };
        let data: serde_json::Map<String, serde_json::Value> = event["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["name"].as_str().map(|name| (name, a)))
            .filter(|(name, _)| wanted(name))
            .map(|(name, a)| (name.to_owned(), a["value"].clone()))
            .collect();
        let mut variables = vec![
            (DATA, serde_json::Value::Object(data)),
            ("timestamp", event["timestamp"].clone()),
        ];
        if self.reads.workload {
            variables.push(("workload", workload(&event)));
        }
        if self.reads.event {
            variables.push(("event", event.take()));
        }
        Some(variables)
    }
}

/// The context every evaluation of a directory's detectors starts from: Tracee's string
/// helpers and the directory's lists.
fn base_context(lists: &[(String, Vec<String>)]) -> Context<'static> {
    let mut context = Context::default();
    add_string_helpers(&mut context);
    for (name, values) in lists {
        // A list of strings always converts.
        let _ = context.add_variable(name.as_str(), values.clone());
    }
    context
}

/// The variable `getEventData`/`hasData` read: the event's arguments by name.
const DATA: &str = "__netcore_event_data";

/// `getEventData("x")` → `DATA["x"]`, `hasData("x")` → `("x" in DATA)`: Tracee's macros,
/// as text (the argument must be a string literal, as Tracee's checker also requires).
/// Notes in `reads` the arguments named.
fn rewrite_helpers(expression: &str, reads: &mut Reads) -> String {
    let mut out = String::with_capacity(expression.len());
    let mut rest = expression;
    while let Some(at) = rest
        .find("getEventData(")
        .into_iter()
        .chain(rest.find("hasData("))
        .min()
    {
        let (before, call) = rest.split_at(at);
        out.push_str(before);
        let (name, open) = if call.starts_with("getEventData(") {
            ("get", "getEventData(".len())
        } else {
            ("has", "hasData(".len())
        };
        let Some(close) = call[open..].find(')') else {
            out.push_str(call);
            return out;
        };
        let argument = call[open..open + close].trim();
        let literal = argument
            .strip_prefix('"')
            .and_then(|a| a.strip_suffix('"'))
            .or_else(|| argument.strip_prefix('\'')?.strip_suffix('\''));
        match (literal, &mut reads.args) {
            (Some(name), Some(names)) => {
                names.insert(name.to_owned());
            }
            // Not a literal: every argument may be read.
            (None, _) => reads.args = None,
            (Some(_), None) => {}
        }
        match name {
            "get" => out.push_str(&format!("{DATA}[{argument}]")),
            _ => out.push_str(&format!("({argument} in {DATA})")),
        }
        rest = &call[open + close + 1..];
    }
    out.push_str(rest);
    reads.event |= names_identifier(expression, "event");
    reads.workload |= names_identifier(expression, "workload");
    out
}

/// Whether `expression` has `identifier` as a word of its own.
fn names_identifier(expression: &str, identifier: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    expression.match_indices(identifier).any(|(at, _)| {
        let before = expression[..at].chars().next_back();
        let after = expression[at + identifier.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// What a detector's expressions read of an event: only that is handed to CEL (each value
/// handed over is converted whole, a DNS message's records and all).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reads {
    /// The arguments named; None when one is named by more than a literal (all, then).
    args: Option<std::collections::BTreeSet<String>>,
    /// Whether `event` is read.
    event: bool,
    /// Whether `workload` is read.
    workload: bool,
}

impl Default for Reads {
    fn default() -> Self {
        Reads {
            args: Some(Default::default()),
            event: false,
            workload: false,
        }
    }
}

/// How deep CEL's comprehension macros nest in `expression` (by its parentheses).
fn comprehension_depth(expression: &str) -> usize {
    const MACROS: [&str; 5] = [".exists(", ".all(", ".map(", ".filter(", ".exists_one("];
    // For each open parenthesis: whether it opened a comprehension.
    let mut open: Vec<bool> = Vec::new();
    let mut deepest = 0;
    for (at, c) in expression.char_indices() {
        match c {
            '(' => {
                let is_macro = MACROS.iter().any(|m| expression[..=at].ends_with(m));
                open.push(is_macro);
                deepest = deepest.max(open.iter().filter(|&&m| m).count());
            }
            ')' => {
                open.pop();
            }
            _ => {}
        }
    }
    deepest
}

/// Tracee's `workload`, with its proto names, from the event's envelope.
fn workload(event: &serde_json::Value) -> serde_json::Value {
    let text = |key: &str| event[key].clone();
    serde_json::json!({
        "process": {
            "pid": event["hostProcessId"],
            "host_pid": event["hostProcessId"],
            "thread": {"name": text("processName"), "tid": event["hostThreadId"]},
            "real_user": {"id": event["userId"]},
        },
        "container": {
            "id": text("containerId"),
            "name": text("containerName"),
            "image": {"name": text("containerImage")},
        },
        "k8s": {
            "pod": {"name": text("podName"), "uid": text("podUID")},
            "namespace": {"name": text("podNamespace")},
        },
    })
}

/// Tracee's string helpers.
fn add_string_helpers(context: &mut Context<'_>) {
    let text = |s: String| -> ResolveResult { Ok(Value::String(Arc::new(s))) };
    context.add_function(
        "split",
        |s: Arc<String>, sep: Arc<String>| -> ResolveResult {
            let parts: Vec<Value> = s
                .split(sep.as_str())
                .map(|p| Value::String(Arc::new(p.into())))
                .collect();
            Ok(Value::List(Arc::new(parts)))
        },
    );
    context.add_function(
        "join",
        |list: Arc<Vec<Value>>, sep: Arc<String>| -> ResolveResult {
            let parts: Result<Vec<&str>, ExecutionError> = list
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.as_str()),
                    other => Err(ExecutionError::function_error(
                        "join",
                        format!("{other:?} is no string"),
                    )),
                })
                .collect();
            Ok(Value::String(Arc::new(parts?.join(sep.as_str()))))
        },
    );
    context.add_function("trim", move |s: Arc<String>| text(s.trim().to_owned()));
    context.add_function("upper", move |s: Arc<String>| text(s.to_uppercase()));
    context.add_function("lower", move |s: Arc<String>| text(s.to_lowercase()));
    context.add_function(
        "replace",
        move |s: Arc<String>, old: Arc<String>, new: Arc<String>| {
            text(s.replace(old.as_str(), new.as_str()))
        },
    );
    context.add_function("basename", move |s: Arc<String>| {
        text(
            s.trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_owned(),
        )
    });
    context.add_function("dirname", move |s: Arc<String>| {
        let trimmed = s.trim_end_matches('/');
        text(match trimmed.rfind('/') {
            Some(0) => "/".to_owned(),
            Some(at) => trimmed[..at].to_owned(),
            None => ".".to_owned(),
        })
    });
}

/// The metadata of `file`'s findings: its id, the produced event, the threat.
fn metadata_of(file: &DetectorFile, event_id: u32) -> &'static Metadata {
    let threat = file.threat.as_ref();
    let mitre = threat.and_then(|t| t.mitre.as_ref());
    let technique = mitre.and_then(|m| m.technique.as_ref());
    let event = &file.produced_event;
    // Tracee's severities, as its legacy findings number them.
    let severity = match threat.and_then(|t| t.severity.as_deref()) {
        Some("low") => 1,
        Some("medium") => 2,
        Some("high") => 3,
        Some("critical") => 4,
        _ => 0,
    };
    let description = threat
        .and_then(|t| t.description.clone())
        .or_else(|| event.description.clone())
        .unwrap_or_default();
    let tags: Vec<&'static str> = event.tags.iter().map(|t| leak(t.clone())).collect();
    Box::leak(Box::new(Metadata {
        id: leak(file.id.clone()),
        version: leak(event.version.clone().unwrap_or_else(|| "1".into())),
        name: leak(
            threat
                .and_then(|t| t.name.clone())
                .unwrap_or_else(|| event.name.clone()),
        ),
        event_name: leak(event.name.clone()),
        event_id: leak(event_id.to_string()),
        description: leak(description),
        tags: Box::leak(tags.into_boxed_slice()),
        severity,
        category: leak(
            mitre
                .and_then(|m| m.tactic.as_ref())
                .and_then(|t| t.name.clone())
                .unwrap_or_default(),
        ),
        technique: leak(technique.and_then(|t| t.name.clone()).unwrap_or_default()),
        external_id: leak(technique.and_then(|t| t.id.clone()).unwrap_or_default()),
    }))
}

/// A CEL value as a finding's data: strings, numbers, lists of strings; other values as
/// their CEL text.
fn data_of(value: &Value) -> Data {
    match value {
        Value::String(s) => Data::Text(s.to_string()),
        Value::Int(n) => Data::Number(*n),
        Value::UInt(n) => Data::Number(i64::try_from(*n).unwrap_or(i64::MAX)),
        Value::Bool(b) => Data::Text(b.to_string()),
        Value::List(items) => Data::List(
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.to_string(),
                    other => format!("{other:?}"),
                })
                .collect(),
        ),
        other => Data::Text(format!("{other:?}")),
    }
}

impl Signature for YamlDetector {
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
        let one = EventSet::NONE.with(kind);
        let passes = self
            .filters
            .iter()
            .filter(|(k, _)| *k == kind)
            .any(|(_, filter)| {
                let set = filter.packet_events(events.ctx, events.packet, one);
                match events.dns {
                    Some(message) => filter.dns_events(message, set).contains(kind),
                    None => set.contains(kind),
                }
            });
        if !passes {
            return None;
        }
        let Some(variables) = self.event_variables(kind, events) else {
            self.errors += 1;
            return None;
        };
        let mut context = self.base.new_inner_scope();
        for (name, value) in &variables {
            // JSON values always convert.
            let _ = context.add_variable(*name, value);
        }
        let started = std::time::Instant::now();
        let verdict = self.evaluate(&context);
        drop(context);
        if started.elapsed() > TIME_LIMIT {
            self.errors = MAX_ERRORS;
            eprintln!(
                "netcore: detector {} disabled: one event took {:?} (limit {TIME_LIMIT:?})",
                self.metadata.id,
                started.elapsed()
            );
        }
        match verdict {
            Ok(finding) => finding,
            Err(e) => {
                self.errors += 1;
                if self.errors == MAX_ERRORS {
                    eprintln!(
                        "netcore: detector {} disabled after {MAX_ERRORS} errors; the last: {e}",
                        self.metadata.id
                    );
                }
                None
            }
        }
    }
}

impl YamlDetector {
    /// The conditions on `context`, and the finding when they all hold; an output field
    /// (not optional) that does not evaluate is an error.
    fn evaluate(&self, context: &Context<'_>) -> Result<Option<Finding>, String> {
        for condition in &self.conditions {
            // An error is false, as in Tracee.
            if condition.execute(context) != Ok(Value::Bool(true)) {
                return Ok(None);
            }
        }
        let mut finding = Finding::default();
        for (name, program, optional) in &self.fields {
            match program.execute(context) {
                Ok(value) => finding.data.push((name.clone().into(), data_of(&value))),
                Err(_) if *optional => {}
                Err(e) => return Err(format!("output field {name}: {e}")),
            }
        }
        Ok(Some(finding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracees_macros_become_reads_of_the_events_arguments() {
        let mut reads = Reads::default();
        let text = r#"getEventData("dst_port") == 53u && hasData('proto_dns') && event.x"#;
        assert_eq!(
            rewrite_helpers(text, &mut reads),
            format!(r#"{DATA}["dst_port"] == 53u && ('proto_dns' in {DATA}) && event.x"#)
        );
        let names = ["dst_port", "proto_dns"].map(String::from);
        assert_eq!(reads.args, Some(names.into_iter().collect()));
        assert!(reads.event && !reads.workload);
        let mut reads = Reads::default();
        assert_eq!(rewrite_helpers("size(x) > 1", &mut reads), "size(x) > 1");
        assert_eq!(reads, Reads::default());
        // A name that is no literal: every argument is handed over.
        rewrite_helpers("getEventData(names[0]) == 1 && workload.k8s", &mut reads);
        assert!(reads.args.is_none() && reads.workload);
        assert!(!names_identifier("getEventData(1) && eventually", "event"));
    }

    #[test]
    fn comprehensions_nest_at_most_twice() {
        assert_eq!(comprehension_depth("a.exists(x, x > 1)"), 1);
        assert_eq!(
            comprehension_depth("a.all(x, b.exists(y, y == x)) && c.map(z, z)"),
            2
        );
        assert_eq!(
            comprehension_depth("a.all(x, b.all(y, c.exists(z, z == y)))"),
            3
        );
        assert_eq!(comprehension_depth("size(a) > (1 + 2)"), 0);
    }

    #[test]
    fn string_helpers_as_tracees() {
        let mut context = Context::default();
        add_string_helpers(&mut context);
        for (expression, expected) in [
            (r#"split("a.b.c", ".")[2]"#, "c"),
            (r#"join(["a", "b"], "-")"#, "a-b"),
            (r#"trim("  x ")"#, "x"),
            (r#"upper("ab") + lower("CD")"#, "ABcd"),
            (r#"replace("a-b-c", "-", "+")"#, "a+b+c"),
            (r#"basename("/usr/bin/curl")"#, "curl"),
            (r#"dirname("/usr/bin/curl")"#, "/usr/bin"),
            (r#"dirname("curl")"#, "."),
        ] {
            let value = Program::compile(expression)
                .unwrap()
                .execute(&context)
                .unwrap();
            assert_eq!(
                value,
                Value::String(Arc::new(expected.into())),
                "{expression}"
            );
        }
    }
}
