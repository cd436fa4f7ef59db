//! Box's OpenAPI spec (the trimmed copy in `spec/`) and a validator for the part of OpenAPI
//! 3.0's schema language it uses: `$ref`, `allOf`, `oneOf`, `anyOf`, `nullable`, `enum`,
//! `type`, `properties`, `required`, `items`, `additionalProperties`, length and count bounds,
//! and the `date-time` format. A crate (`jsonschema`) would need the spec converted from
//! OpenAPI's dialect (`nullable`) first and adds ~20 crates to every test build; this is the
//! whole of what the contract needs, with its own tests below.
use serde_json::{Map, Value};

/// The trimmed spec, as `spec/trim.py` wrote it. Committed, so CI needs no copy of Box's.
const TRIMMED: &str = include_str!("../../spec/box-openapi.trimmed.json");

const REF: &str = "#/components/schemas/";

pub struct Spec {
    pub doc: Value,
}

impl Spec {
    pub fn load() -> Spec {
        Spec {
            doc: serde_json::from_str(TRIMMED).expect("spec/box-openapi.trimmed.json parses"),
        }
    }

    /// A component schema, to patch (the cited exceptions in `contract.rs`).
    pub fn schema_mut(&mut self, name: &str) -> &mut Value {
        self.doc["components"]["schemas"]
            .get_mut(name)
            .unwrap_or_else(|| panic!("schema {name} in the trimmed spec"))
    }

    /// The responses of an operation (`method` lowercase, `path` as the spec writes it).
    pub fn responses(&self, method: &str, path: &str) -> Option<&Map<String, Value>> {
        self.doc["paths"][path][method]["responses"].as_object()
    }

    /// Every violation of `schema` by `value`, each prefixed with where it is (`$.a[0].b`).
    pub fn validate(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        self.check(schema, value, "$", 0, &mut errs);
        errs
    }

    fn resolve<'a>(&'a self, reference: &str) -> Option<&'a Value> {
        let name = reference.strip_prefix(REF)?;
        self.doc["components"]["schemas"].get(name)
    }

    fn check(&self, s: &Value, v: &Value, at: &str, depth: usize, errs: &mut Vec<String>) {
        if depth > 64 {
            errs.push(format!("{at}: schema nests too deep (a $ref cycle?)"));
            return;
        }
        let Some(s) = s.as_object() else { return };
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            match self.resolve(r) {
                Some(target) => self.check(target, v, at, depth + 1, errs),
                None => errs.push(format!("{at}: unresolved $ref {r}")),
            }
            return;
        }
        if v.is_null() {
            if s.get("nullable") == Some(&Value::Bool(true)) {
                return;
            }
            if s.contains_key("type") {
                errs.push(format!("{at}: null where the spec does not allow it"));
                return;
            }
        }
        self.combinators(s, v, at, depth, errs);
        if v.is_null() {
            return;
        }
        if let Some(t) = s.get("type").and_then(Value::as_str)
            && !type_ok(t, v)
        {
            errs.push(format!("{at}: expected {t}, got {v}"));
            return;
        }
        if let Some(allowed) = s.get("enum").and_then(Value::as_array)
            && !allowed.contains(v)
        {
            errs.push(format!(
                "{at}: {v} is not one of {}",
                Value::from(allowed.clone())
            ));
        }
        bounds(s, v, at, errs);
        if let Value::String(text) = v
            && s.get("format").and_then(Value::as_str) == Some("date-time")
            && chrono::DateTime::parse_from_rfc3339(text).is_err()
        {
            errs.push(format!("{at}: {text:?} is not an RFC 3339 date-time"));
        }
        match v {
            Value::Object(obj) => self.object(s, obj, at, depth, errs),
            Value::Array(list) => {
                if let Some(items) = s.get("items") {
                    for (i, item) in list.iter().enumerate() {
                        self.check(items, item, &format!("{at}[{i}]"), depth + 1, errs);
                    }
                }
            }
            _ => {}
        }
    }

    fn combinators(
        &self,
        s: &Map<String, Value>,
        v: &Value,
        at: &str,
        depth: usize,
        errs: &mut Vec<String>,
    ) {
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check(sub, v, at, depth + 1, errs);
            }
        }
        for (key, want_one) in [("oneOf", true), ("anyOf", false)] {
            let Some(alts) = s.get(key).and_then(Value::as_array) else {
                continue;
            };
            let mut why = Vec::new();
            let matched = alts
                .iter()
                .filter(|alt| {
                    let mut e = Vec::new();
                    self.check(alt, v, at, depth + 1, &mut e);
                    why.extend(e.iter().take(2).cloned());
                    e.is_empty()
                })
                .count();
            if matched == 0 || (want_one && matched > 1) {
                errs.push(format!(
                    "{at}: matches {matched} of the {} {key} alternatives ({})",
                    alts.len(),
                    why.join("; ")
                ));
            }
        }
    }

    fn object(
        &self,
        s: &Map<String, Value>,
        obj: &Map<String, Value>,
        at: &str,
        depth: usize,
        errs: &mut Vec<String>,
    ) {
        for name in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !obj.contains_key(name) {
                errs.push(format!("{at}: required property {name:?} is missing"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, value) in obj {
            let here = format!("{at}.{k}");
            match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                (Some(sub), _) => self.check(sub, value, &here, depth + 1, errs),
                (None, Some(Value::Bool(false))) => {
                    errs.push(format!("{here}: property not allowed"))
                }
                (None, Some(extra @ Value::Object(_))) => {
                    self.check(extra, value, &here, depth + 1, errs)
                }
                (None, _) => {}
            }
        }
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        _ => true,
    }
}

/// `minLength`/`maxLength`, `minItems`/`maxItems`, `minimum`/`maximum`.
fn bounds(s: &Map<String, Value>, v: &Value, at: &str, errs: &mut Vec<String>) {
    let num = |k: &str| s.get(k).and_then(Value::as_f64);
    let (len, lo, hi) = match v {
        Value::String(t) => (t.chars().count() as f64, "minLength", "maxLength"),
        Value::Array(a) => (a.len() as f64, "minItems", "maxItems"),
        Value::Number(n) => (n.as_f64().unwrap_or(0.0), "minimum", "maximum"),
        _ => return,
    };
    if num(lo).is_some_and(|m| len < m) || num(hi).is_some_and(|m| len > m) {
        errs.push(format!("{at}: {v} is outside {lo}/{hi}"));
    }
}

// The validator's own tests: each rule it claims rejects what breaks it, on the real schemas.
#[test]
fn validator_rejects_what_the_spec_forbids() {
    let spec = Spec::load();
    let file = serde_json::json!({"$ref": "#/components/schemas/File--Full"});
    let ok = serde_json::json!({
        "type": "file", "id": "1", "etag": "0", "name": "a", "size": 3,
        "created_at": "2024-01-02T03:04:05-08:00", "content_created_at": null,
    });
    assert_eq!(spec.validate(&file, &ok), Vec::<String>::new());
    let broken = [
        // required `id` missing (File--Base)
        serde_json::json!({"type": "file"}),
        // enum (`type` is "file")
        serde_json::json!({"type": "folder", "id": "1"}),
        // type (`size` is an integer)
        serde_json::json!({"type": "file", "id": "1", "size": "3"}),
        // nullable: false (`modified_at`)
        serde_json::json!({"type": "file", "id": "1", "modified_at": null}),
        // format: date-time
        serde_json::json!({"type": "file", "id": "1", "created_at": "yesterday"}),
        // nested through allOf + $ref (`path_collection.entries[].type`)
        serde_json::json!({"type": "file", "id": "1",
            "path_collection": {"total_count": 1, "entries": [{"type": "file", "id": "0"}]}}),
    ];
    for body in broken {
        assert!(!spec.validate(&file, &body).is_empty(), "accepted {body}");
    }
    // oneOf: a listing entry must be exactly one of file, folder, web link.
    let item = serde_json::json!({"$ref": "#/components/schemas/Item"});
    let folder = serde_json::json!({"type": "folder", "id": "2", "name": "d"});
    assert_eq!(spec.validate(&item, &folder), Vec::<String>::new());
    let neither = serde_json::json!({"type": "user", "id": "2"});
    assert!(!spec.validate(&item, &neither).is_empty());
}
