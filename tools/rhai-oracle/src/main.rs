//! rhai-oracle: evaluates Rhai scripts with the real `rhai` crate, one JSON request per stdin line,
//! one JSON reply per stdout line, for the `rhai_differential` test tier.
//!
//! The engine is configured the way the seed worker's `rhai` tool configures it (noetl-tools
//! `src/tools/rhai.rs`): `Engine::new()` plus the host helpers it registers (log/print/debug/info/
//! warn/error taking one string, timestamp/timestamp_ms returning strings, sleep/sleep_ms,
//! parse_json/to_json, contains/contains_any). The network helpers (http_*, get_gcp_token) are
//! registered as failing, exactly as this pool disables them. The scope is pushed in the tool's
//! order from JSON, and the result is converted to JSON the way the tool converts it.
//!
//! Request:  {"script": "...", "scope": [["name", <json>], ...], "limits": {...} | null}
//!   limits (all optional): max_operations, max_call_depth, max_expr_depth, max_string_size,
//!   max_array_size, max_map_size, max_wall_time (seconds). `null` keeps the seed's engine defaults.
//! Reply:    {"ok": true, "value": <json>, "type": "<type_of name>", "ops": N, "output": [[level, text]]}
//!        or {"ok": false, "error": {"variant", "parse", "class", "message", "line", "column",
//!            "thrown"}, "ops": N, "output": [...]}
//! class is "syntax", "runtime" or "limit" (the three error classes of noetl_worker.rhai).

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rhai::{Dynamic, Engine, EvalAltResult, Scope};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, Default)]
struct Limits {
    max_operations: Option<u64>,
    max_call_depth: Option<usize>,
    max_expr_depth: Option<usize>,
    max_string_size: Option<usize>,
    max_array_size: Option<usize>,
    max_map_size: Option<usize>,
    max_wall_time: Option<f64>,
}

#[derive(Deserialize)]
struct Request {
    script: String,
    #[serde(default)]
    scope: Vec<(String, Value)>,
    #[serde(default)]
    limits: Option<Limits>,
}

type Lines = Arc<Mutex<Vec<(String, String)>>>;

const DISABLED: [(&str, usize); 7] = [
    ("http_get", 1),
    ("http_post", 2),
    ("http_delete", 1),
    ("http_get_auth", 2),
    ("http_post_auth", 3),
    ("http_delete_auth", 2),
    ("get_gcp_token", 0),
];

fn disabled(name: &str) -> Box<EvalAltResult> {
    format!("host function `{name}` is disabled in this pool (scripts have no network access)").into()
}

fn register_helpers(engine: &mut Engine, lines: &Lines) {
    // The seed registers these with a single `&str` parameter; other argument types are not
    // registered (they fall through to Rhai's own print/debug, or to "function not found").
    for level in ["log", "print", "debug", "info", "warn", "error"] {
        let sink = lines.clone();
        let shown = if level == "log" { "info" } else { level }.to_string();
        engine.register_fn(level, move |msg: &str| {
            sink.lock().unwrap().push((shown.clone(), msg.to_string()));
        });
    }
    engine.register_fn("timestamp", || {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0).to_string()
    });
    engine.register_fn("timestamp_ms", || {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0).to_string()
    });
    engine.register_fn("sleep", |seconds: i64| std::thread::sleep(Duration::from_secs(seconds as u64)));
    engine.register_fn("sleep_ms", |millis: i64| std::thread::sleep(Duration::from_millis(millis as u64)));
    engine.register_fn("parse_json", |s: &str| -> Dynamic {
        serde_json::from_str::<Value>(s).map(|v| to_dynamic(&v)).unwrap_or(Dynamic::UNIT)
    });
    engine.register_fn("to_json", |v: Dynamic| -> String {
        serde_json::to_string(&to_json(&v)).unwrap_or_else(|_| "null".to_string())
    });
    engine.register_fn("contains", |s: &str, sub: &str| s.contains(sub));
    engine.register_fn("contains_any", |s: &str, subs: rhai::Array| {
        subs.into_iter().any(|item| item.into_string().map(|sub| s.contains(sub.as_str())).unwrap_or(false))
    });
    for (name, arity) in DISABLED {
        match arity {
            0 => engine.register_fn(name, move || -> Result<Dynamic, Box<EvalAltResult>> { Err(disabled(name)) }),
            1 => engine.register_fn(name, move |_: &str| -> Result<Dynamic, Box<EvalAltResult>> { Err(disabled(name)) }),
            2 => engine.register_fn(name, move |_: &str, _: &str| -> Result<Dynamic, Box<EvalAltResult>> {
                Err(disabled(name))
            }),
            _ => engine.register_fn(name, move |_: &str, _: &str, _: &str| -> Result<Dynamic, Box<EvalAltResult>> {
                Err(disabled(name))
            }),
        };
    }
}

/// JSON -> Dynamic as the tool builds its scope: integers that fit i64 stay integers, other numbers
/// become floats, null becomes unit.
fn to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().map(Dynamic::from).unwrap_or(Dynamic::UNIT),
        },
        Value::String(s) => s.clone().into(),
        Value::Array(items) => Dynamic::from_array(items.iter().map(to_dynamic).collect()),
        Value::Object(entries) => {
            Dynamic::from_map(entries.iter().map(|(k, v)| (k.as_str().into(), to_dynamic(v))).collect())
        }
    }
}

/// Dynamic -> JSON as the tool reports `data`: unit is null, non-finite floats are null, maps keep
/// Rhai's (sorted) key order, anything else (characters, function pointers, ranges) is its text.
fn to_json(value: &Dynamic) -> Value {
    if value.is_unit() {
        Value::Null
    } else if let Ok(b) = value.as_bool() {
        Value::Bool(b)
    } else if let Ok(i) = value.as_int() {
        json!(i)
    } else if let Ok(f) = value.as_float() {
        serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
    } else if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        Value::String(s.to_string())
    } else if let Some(a) = value.read_lock::<rhai::Array>() {
        Value::Array(a.iter().map(to_json).collect())
    } else if let Some(m) = value.read_lock::<rhai::Map>() {
        Value::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
    } else {
        Value::String(value.to_string())
    }
}

/// The name Rhai's own `type_of` gives the value (asked of the engine, so iterators and ranges are
/// named exactly as a script would see them).
fn type_of(engine: &Engine, value: &Dynamic) -> String {
    let mut scope = Scope::new();
    scope.push_dynamic("value", value.clone());
    engine
        .eval_with_scope::<String>(&mut scope, "type_of(value)")
        .unwrap_or_else(|_| engine.map_type_name(value.type_name()).to_string())
}

fn variant(debug: &str) -> String {
    debug.split(['(', ' ', '{']).next().unwrap_or(debug).to_string()
}

/// The error a wrapper (an error inside a function, closure or module call) carries, innermost first.
fn innermost(err: &EvalAltResult) -> &EvalAltResult {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) | EvalAltResult::ErrorInModule(_, inner, _) => {
            innermost(inner)
        }
        _ => err,
    }
}

fn error_json(err: &EvalAltResult) -> Value {
    // Classified by the innermost error: a limit hit inside a `map` callback is still a limit.
    let cause = innermost(err);
    let mut name = variant(&format!("{err:?}"));
    if !std::ptr::eq(cause, err) {
        name = format!("{name}>{}", variant(&format!("{cause:?}")));
    }
    let (parse, class) = match cause {
        EvalAltResult::ErrorParsing(kind, _) => {
            let kind = variant(&format!("{kind:?}"));
            let class = if kind == "ExprTooDeep" || kind == "LiteralTooLarge" { "limit" } else { "syntax" };
            (Some(kind), class)
        }
        EvalAltResult::ErrorTooManyOperations(_)
        | EvalAltResult::ErrorStackOverflow(_)
        | EvalAltResult::ErrorDataTooLarge(..)
        | EvalAltResult::ErrorTerminated(..)
        | EvalAltResult::ErrorTooManyModules(_) => (None, "limit"),
        _ => (None, "runtime"),
    };
    let position = err.position();
    let thrown = match cause {
        EvalAltResult::ErrorRuntime(value, _) => Some(to_json(value)),
        _ => None,
    };
    json!({
        "variant": name,
        "parse": parse,
        "class": class,
        "message": err.to_string(),
        "line": position.line(),
        "column": position.position(),
        "thrown": thrown,
    })
}

fn evaluate(request: Request) -> Value {
    let lines: Lines = Arc::new(Mutex::new(Vec::new()));
    let ops = Arc::new(AtomicU64::new(0));
    let mut engine = Engine::new();
    register_helpers(&mut engine, &lines);
    // Engine::new() prints `print`/`debug` output to stdout, which is our reply channel: capture it.
    let sink = lines.clone();
    engine.on_print(move |text| sink.lock().unwrap().push(("print".to_string(), text.to_string())));
    let sink = lines.clone();
    engine.on_debug(move |text, _, _| sink.lock().unwrap().push(("debug".to_string(), text.to_string())));

    let deadline = request
        .limits
        .as_ref()
        .and_then(|l| l.max_wall_time)
        .map(|s| Instant::now() + Duration::from_secs_f64(s));
    let counter = ops.clone();
    engine.on_progress(move |count| {
        counter.store(count, Ordering::Relaxed);
        match deadline {
            Some(at) if count % 256 == 0 && Instant::now() > at => Some("wall time".into()),
            _ => None,
        }
    });
    if let Some(limits) = &request.limits {
        if let Some(n) = limits.max_operations {
            engine.set_max_operations(n);
        }
        if let Some(n) = limits.max_call_depth {
            engine.set_max_call_levels(n);
        }
        if let Some(n) = limits.max_expr_depth {
            engine.set_max_expr_depths(n, n);
        }
        if let Some(n) = limits.max_string_size {
            engine.set_max_string_size(n);
        }
        if let Some(n) = limits.max_array_size {
            engine.set_max_array_size(n);
        }
        if let Some(n) = limits.max_map_size {
            engine.set_max_map_size(n);
        }
    }

    let mut scope = Scope::new();
    for (name, value) in &request.scope {
        scope.push_dynamic(name.clone(), to_dynamic(value));
    }
    let result = engine.eval_with_scope::<Dynamic>(&mut scope, &request.script);
    let output: Vec<Value> = lines.lock().unwrap().iter().map(|(l, t)| json!([l, t])).collect();
    let ops = ops.load(Ordering::Relaxed);
    match result {
        Ok(value) => json!({
            "ok": true,
            "value": to_json(&value),
            "type": type_of(&engine, &value),
            "ops": ops,
            "output": output,
        }),
        Err(err) => json!({"ok": false, "error": error_json(&err), "ops": ops, "output": output}),
    }
}

fn main() {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(request) => evaluate(request),
            Err(err) => json!({"ok": false, "error": {"variant": "BadRequest", "class": "request",
                                "message": format!("bad request line: {err}")}}),
        };
        if writeln!(stdout, "{reply}").and_then(|_| stdout.flush()).is_err() {
            break;
        }
    }
}
