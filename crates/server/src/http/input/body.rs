//! JSON request bodies: [`json_object`] reads a body as one JSON object (content type, size of
//! nesting, NUL characters), and [`BodyReader`] checks its members field by field with strict
//! types, collecting every issue for one 422.

use actix_web::HttpRequest;
use actix_web::http::header;
use chrono::{DateTime, NaiveTime, Utc};
use serde_json::{Map, Value, json};

use super::scalars::{enum_message, in_supported_range, parse_datetime, parse_time};
use crate::http::error::{ApiError, ValidationIssue};

/// A JSON object body.
pub type Object = Map<String, Value>;

/// Whether a body may be absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// Empty body → 422 `missing`.
    Required,
    /// Empty body and `null` mean `{}`.
    Optional,
}

/// Parses a request body as a JSON object.
///
/// # Errors
/// 422 with `content_type`, `missing`, `json_invalid` or `dict_type`.
pub fn json_object(req: &HttpRequest, body: &[u8], kind: BodyKind) -> Result<Object, ApiError> {
    let body_loc = || vec![json!("body")];
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
        let accepted = content_type
            .to_str()
            .ok()
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| {
                m.type_() == mime::APPLICATION
                    && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
            });
        if !accepted {
            return Err(ApiError::invalid(
                body_loc(),
                "content_type",
                "Expected a JSON body",
            ));
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return match kind {
            BodyKind::Required => Err(ApiError::invalid(body_loc(), "missing", "Field required")),
            BodyKind::Optional => Ok(Object::new()),
        };
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::invalid(body_loc(), "json_invalid", "JSON decode error"))?;
    // Free-form members (contacts, opening hours, notification data) are stored as jsonb and
    // copied into audit details one or two levels deeper; a bound well below the JSON reader's
    // own nesting limit (128) keeps every stored document readable back.
    if nesting_depth(&value) > MAX_BODY_DEPTH {
        return Err(ApiError::invalid(
            body_loc(),
            "json_invalid",
            format!("JSON nested deeper than {MAX_BODY_DEPTH} levels"),
        ));
    }
    // PostgreSQL cannot store NUL characters: refuse them here, for every endpoint.
    let mut found = Vec::new();
    nul_locations(&value, &mut vec![json!("body")], &mut found);
    if !found.is_empty() {
        let issues = found
            .into_iter()
            .map(|loc| {
                ValidationIssue::new(loc, "value_error", "Text must not contain NUL characters")
            })
            .collect();
        return Err(ApiError::validation(issues));
    }
    match value {
        Value::Object(object) => Ok(object),
        Value::Null if kind == BodyKind::Optional => Ok(Object::new()),
        _ => Err(ApiError::invalid(
            body_loc(),
            "dict_type",
            "Input should be a valid dictionary or object to extract fields from",
        )),
    }
}

/// The deepest nesting of arrays and objects a request body may have; the body object itself
/// is level 1.
pub const MAX_BODY_DEPTH: usize = 32;

/// How many arrays and objects enclose the innermost value (a scalar is 0, `{}` is 1).
pub(super) fn nesting_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 0_usize)];
    // Runs on every request body: one stack, no allocation per container.
    while let Some((value, above)) = pending.pop() {
        let level = above + 1;
        match value {
            Value::Array(items) => pending.extend(items.iter().map(|child| (child, level))),
            Value::Object(map) => pending.extend(map.values().map(|child| (child, level))),
            _ => continue,
        }
        deepest = deepest.max(level);
    }
    deepest
}

/// Every place a string (or object key) contains a NUL character, in document order.
pub(super) fn nul_locations(value: &Value, at: &mut Vec<Value>, found: &mut Vec<Vec<Value>>) {
    match value {
        Value::String(text) if text.contains('\0') => found.push(at.clone()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                at.push(json!(i));
                nul_locations(item, at, found);
                at.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                at.push(json!(key.replace('\0', "")));
                if key.contains('\0') {
                    found.push(at.clone());
                } else {
                    nul_locations(item, at, found);
                }
                at.pop();
            }
        }
        _ => {}
    }
}

/// Field-by-field reader of a JSON object that collects every issue.
pub struct BodyReader<'a> {
    object: &'a Object,
    issues: Vec<ValidationIssue>,
    /// `loc` of the object itself (`["body"]`, or deeper for nested objects).
    prefix: Vec<Value>,
}

/// How a present member is treated.
enum Member<'a> {
    Absent,
    Null,
    Value(&'a Value),
}

impl<'a> BodyReader<'a> {
    /// Reads `object`.
    pub fn new(object: &'a Object) -> Self {
        Self::nested(object, vec![json!("body")])
    }

    /// Reads an object found at `loc` (e.g. `["body", "hours", 0]`); its issues are reported
    /// under that location. Merge them into the outer reader with [`BodyReader::absorb`].
    pub fn nested(object: &'a Object, loc: Vec<Value>) -> Self {
        Self {
            object,
            issues: Vec::new(),
            prefix: loc,
        }
    }

    /// Takes over every issue of a nested reader, after the ones found so far.
    pub fn absorb(&mut self, nested: BodyReader<'_>) {
        self.issues.extend(nested.issues);
    }

    /// `loc` of the member `name` of this object.
    pub fn loc(&self, name: &str) -> Vec<Value> {
        let mut loc = self.prefix.clone();
        loc.push(json!(name));
        loc
    }

    fn member(&self, name: &str) -> Member<'a> {
        match self.object.get(name) {
            None => Member::Absent,
            Some(Value::Null) => Member::Null,
            Some(value) => Member::Value(value),
        }
    }

    /// Whether the object has the member (even `null`).
    pub fn has(&self, name: &str) -> bool {
        self.object.contains_key(name)
    }

    /// Records a custom issue at `["body", name]` (under the reader's location).
    pub fn issue(&mut self, name: &str, kind: &'static str, msg: impl Into<String>) {
        let loc = self.loc(name);
        self.issues.push(ValidationIssue::new(loc, kind, msg));
    }

    /// Records an issue at an explicit `loc` (e.g. an array item: `["body", "hours", 2]`).
    pub fn issue_at(&mut self, loc: Vec<Value>, kind: &'static str, msg: impl Into<String>) {
        self.issues.push(ValidationIssue::new(loc, kind, msg));
    }

    /// A required JSON object member (for [`BodyReader::nested`]).
    pub fn required_object(&mut self, name: &str) -> Option<&'a Object> {
        match self.member(name) {
            Member::Absent | Member::Null => {
                self.missing(name);
                None
            }
            Member::Value(Value::Object(object)) => Some(object),
            Member::Value(_) => {
                self.issue(
                    name,
                    "dict_type",
                    "Input should be a valid dictionary or object to extract fields from",
                );
                None
            }
        }
    }

    /// An optional JSON array member of at most `max_items` items.
    pub fn optional_array(&mut self, name: &str, max_items: usize) -> Option<&'a Vec<Value>> {
        match self.member(name) {
            Member::Absent | Member::Null => None,
            Member::Value(Value::Array(items)) if items.len() > max_items => {
                self.issue(
                    name,
                    "too_long",
                    format!(
                        "List should have at most {max_items} items after validation, not {}",
                        items.len()
                    ),
                );
                None
            }
            Member::Value(Value::Array(items)) => Some(items),
            Member::Value(_) => {
                self.issue(name, "list_type", "Input should be a valid list");
                None
            }
        }
    }

    /// A required integer in `min..=max` (a number whose fraction is zero is accepted).
    pub fn required_int(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        if matches!(self.member(name), Member::Absent | Member::Null) {
            self.missing(name);
            return None;
        }
        self.optional_int(name, min, max)
    }

    /// An optional finite number in `min..=max` (an integer is accepted).
    pub fn optional_number(&mut self, name: &str, min: f64, max: f64) -> Option<f64> {
        let value = match self.member(name) {
            Member::Absent | Member::Null => return None,
            Member::Value(value) => value,
        };
        let Some(n) = value.as_f64().filter(|n| n.is_finite()) else {
            self.issue(name, "float_type", "Input should be a valid number");
            return None;
        };
        if n < min {
            self.issue(
                name,
                "greater_than_equal",
                format!("Input should be greater than or equal to {min}"),
            );
            None
        } else if n > max {
            self.issue(
                name,
                "less_than_equal",
                format!("Input should be less than or equal to {max}"),
            );
            None
        } else {
            Some(n)
        }
    }

    /// A required finite number in `min..=max`.
    pub fn required_number(&mut self, name: &str, min: f64, max: f64) -> Option<f64> {
        if matches!(self.member(name), Member::Absent | Member::Null) {
            self.missing(name);
            return None;
        }
        self.optional_number(name, min, max)
    }

    /// A required time of day (`HH:MM`, `HH:MM:SS`, fraction dropped).
    pub fn required_time(&mut self, name: &str) -> Option<NaiveTime> {
        match self.member(name) {
            Member::Absent | Member::Null => {
                self.missing(name);
                None
            }
            Member::Value(Value::String(text)) => {
                let time = parse_time(text);
                if time.is_none() {
                    self.issue(name, "time_parsing", "Input should be a valid time");
                }
                time
            }
            Member::Value(_) => {
                self.issue(name, "time_parsing", "Input should be a valid time");
                None
            }
        }
    }

    fn missing(&mut self, name: &str) {
        self.issue(name, "missing", "Field required");
    }

    fn string_value(
        &mut self,
        name: &str,
        value: &Value,
        min: usize,
        max: usize,
    ) -> Option<String> {
        let Some(text) = value.as_str() else {
            self.issue(name, "string_type", "Input should be a valid string");
            return None;
        };
        let length = text.chars().count();
        if length < min {
            let unit = if min == 1 { "character" } else { "characters" };
            self.issue(
                name,
                "string_too_short",
                format!("String should have at least {min} {unit}"),
            );
            return None;
        }
        if length > max {
            self.issue(
                name,
                "string_too_long",
                format!("String should have at most {max} characters"),
            );
            return None;
        }
        Some(text.to_owned())
    }

    /// A required string of `min..=max` characters.
    pub fn required_string(&mut self, name: &str, min: usize, max: usize) -> Option<String> {
        match self.member(name) {
            Member::Absent | Member::Null => {
                self.missing(name);
                None
            }
            Member::Value(value) => self.string_value(name, value, min, max),
        }
    }

    /// An optional string (absent or `null` → `None`).
    pub fn optional_string(&mut self, name: &str, min: usize, max: usize) -> Option<String> {
        match self.member(name) {
            Member::Absent | Member::Null => None,
            Member::Value(value) => self.string_value(name, value, min, max),
        }
    }

    /// A merge-patch string: absent → `None`, `null` → `Some(None)`, string → `Some(Some(s))`.
    /// An invalid value yields `None` (with an issue recorded).
    pub fn patch_string(&mut self, name: &str, min: usize, max: usize) -> Option<Option<String>> {
        match self.member(name) {
            Member::Absent => None,
            Member::Null => Some(None),
            Member::Value(value) => self.string_value(name, value, min, max).map(Some),
        }
    }

    /// An optional boolean.
    pub fn optional_bool(&mut self, name: &str) -> Option<bool> {
        match self.member(name) {
            Member::Absent | Member::Null => None,
            Member::Value(Value::Bool(b)) => Some(*b),
            Member::Value(_) => {
                self.issue(name, "bool_type", "Input should be a valid boolean");
                None
            }
        }
    }

    /// An optional integer in `min..=max`; a number whose fraction is zero is accepted.
    pub fn optional_int(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        match self.member(name) {
            Member::Absent | Member::Null => None,
            Member::Value(value) => {
                let n = value.as_i64().or_else(|| {
                    value
                        .as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                });
                let Some(n) = n else {
                    self.issue(name, "int_type", "Input should be a valid integer");
                    return None;
                };
                self.int_bounds(name, n, min, max)
            }
        }
    }

    fn int_bounds(&mut self, name: &str, n: i64, min: i64, max: i64) -> Option<i64> {
        if n < min {
            self.issue(
                name,
                "greater_than_equal",
                format!("Input should be greater than or equal to {min}"),
            );
            None
        } else if n > max {
            self.issue(
                name,
                "less_than_equal",
                format!("Input should be less than or equal to {max}"),
            );
            None
        } else {
            Some(n)
        }
    }

    /// An optional enum value from `allowed`.
    pub fn optional_enum(&mut self, name: &str, allowed: &[&str]) -> Option<String> {
        match self.member(name) {
            Member::Absent | Member::Null => None,
            Member::Value(Value::String(s)) if allowed.contains(&s.as_str()) => Some(s.clone()),
            Member::Value(_) => {
                self.issue(name, "enum", enum_message(allowed));
                None
            }
        }
    }

    fn datetime_value(&mut self, name: &str, value: &Value) -> Option<DateTime<Utc>> {
        let parsed = match value {
            Value::String(text) => parse_datetime(text),
            // A JSON number is Unix seconds (UTC).
            Value::Number(n) => n
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1.0e12)
                .and_then(|f| DateTime::from_timestamp_micros((f * 1_000_000.0).round() as i64))
                .filter(|instant| in_supported_range(*instant)),
            _ => {
                self.issue(name, "datetime_parsing", "Input should be a valid datetime");
                return None;
            }
        };
        if parsed.is_none() {
            self.issue(name, "datetime_parsing", "Input should be a valid datetime");
        }
        parsed
    }

    /// A required datetime (a string as [`parse_datetime`] reads it, or a JSON number of Unix
    /// seconds).
    pub fn required_datetime(&mut self, name: &str) -> Option<DateTime<Utc>> {
        match self.member(name) {
            Member::Absent | Member::Null => {
                self.missing(name);
                None
            }
            Member::Value(value) => self.datetime_value(name, value),
        }
    }

    /// An optional datetime.
    pub fn optional_datetime(&mut self, name: &str) -> Option<DateTime<Utc>> {
        match self.member(name) {
            Member::Absent | Member::Null => None,
            Member::Value(value) => self.datetime_value(name, value),
        }
    }

    /// An optional UUID string.
    pub fn optional_uuid(&mut self, name: &str) -> Option<uuid::Uuid> {
        match self.member(name) {
            Member::Absent | Member::Null => None,
            Member::Value(Value::String(text)) => match uuid::Uuid::parse_str(text) {
                Ok(id) => Some(id),
                Err(_) => {
                    self.issue(name, "uuid_parsing", "Input should be a valid UUID");
                    None
                }
            },
            Member::Value(_) => {
                self.issue(name, "uuid_type", "UUID input should be a string");
                None
            }
        }
    }

    /// A required UUID string.
    pub fn required_uuid(&mut self, name: &str) -> Option<uuid::Uuid> {
        if matches!(self.member(name), Member::Absent | Member::Null) {
            self.missing(name);
            return None;
        }
        self.optional_uuid(name)
    }

    /// A required enum value from `allowed`.
    pub fn required_enum(&mut self, name: &str, allowed: &[&str]) -> Option<String> {
        if matches!(self.member(name), Member::Absent | Member::Null) {
            self.missing(name);
            return None;
        }
        self.optional_enum(name, allowed)
    }

    /// Done: every issue found, as one 422.
    ///
    /// # Errors
    /// 422 when any issue was recorded.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.issues))
        }
    }
}

// Readers used by the care directory (clinics, doctors, associations).
impl<'a> BodyReader<'a> {
    /// An optional JSON object member (`contacts`, `opening_hours`, …).
    pub fn optional_object(&mut self, name: &str) -> Option<&'a Object> {
        match self.member(name) {
            Member::Absent | Member::Null => None,
            Member::Value(Value::Object(object)) => Some(object),
            Member::Value(_) => {
                self.issue(
                    name,
                    "dict_type",
                    "Input should be a valid dictionary or object to extract fields from",
                );
                None
            }
        }
    }

    /// An optional array of at most `max_items` strings of `min..=max` characters each; item
    /// issues are reported at `[…, name, index]`.
    pub fn optional_string_array(
        &mut self,
        name: &str,
        max_items: usize,
        min: usize,
        max: usize,
    ) -> Option<Vec<String>> {
        let items = self.optional_array(name, max_items)?;
        let mut strings = Vec::with_capacity(items.len());
        let mut valid = true;
        for (index, item) in items.iter().enumerate() {
            let mut loc = self.loc(name);
            loc.push(json!(index));
            let Some(text) = item.as_str() else {
                self.issue_at(loc, "string_type", "Input should be a valid string");
                valid = false;
                continue;
            };
            let length = text.chars().count();
            if length < min {
                let unit = if min == 1 { "character" } else { "characters" };
                self.issue_at(
                    loc,
                    "string_too_short",
                    format!("String should have at least {min} {unit}"),
                );
                valid = false;
            } else if length > max {
                self.issue_at(
                    loc,
                    "string_too_long",
                    format!("String should have at most {max} characters"),
                );
                valid = false;
            } else {
                strings.push(text.to_owned());
            }
        }
        valid.then_some(strings)
    }

    /// An optional array of at most `max_items` JSON objects; item issues are reported at
    /// `[…, name, index]`.
    pub fn optional_object_array(&mut self, name: &str, max_items: usize) -> Option<Vec<Value>> {
        let items = self.optional_array(name, max_items)?;
        let mut valid = true;
        for (index, item) in items.iter().enumerate() {
            if !item.is_object() {
                let mut loc = self.loc(name);
                loc.push(json!(index));
                self.issue_at(
                    loc,
                    "dict_type",
                    "Input should be a valid dictionary or object to extract fields from",
                );
                valid = false;
            }
        }
        valid.then(|| items.clone())
    }
}
