//! Request input: JSON bodies read as objects and checked field by field (strict types, except
//! that an integer may carry a zero fraction, a number may be an integer and a datetime may be
//! a number of Unix seconds), query strings with lenient scalar parsing,
//! path parameters parsed after authentication. Every failure found is reported, in discovery
//! order, as one 422.

use std::collections::HashMap;

use actix_web::HttpRequest;
use actix_web::http::header;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

use super::error::{ApiError, ValidationIssue};

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
fn nesting_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 0_usize)];
    while let Some((value, above)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(above + 1);
        pending.extend(children.map(|child| (child, above + 1)));
    }
    deepest
}

/// Every place a string (or object key) contains a NUL character, in document order.
fn nul_locations(value: &Value, at: &mut Vec<Value>, found: &mut Vec<Vec<Value>>) {
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

/// `Input should be 'a', 'b' or 'c'`.
pub fn enum_message(allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|v| format!("'{v}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!("Input should be {} or {last}", rest.join(", "))
        }
        Some((last, _)) => format!("Input should be {last}"),
        None => "Input should be a known value".to_owned(),
    }
}

/// Query parameters: last occurrence wins (except repeatable keys), empty = absent.
pub struct QueryReader {
    values: HashMap<String, Vec<String>>,
    issues: Vec<ValidationIssue>,
}

impl QueryReader {
    /// Parses the request's query string.
    pub fn new(req: &HttpRequest) -> Self {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        for (key, value) in form_urlencoded_pairs(req.query_string()) {
            values.entry(key).or_default().push(value);
        }
        Self {
            values,
            issues: Vec::new(),
        }
    }

    fn last(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn issue(&mut self, name: &str, kind: &'static str, msg: impl Into<String>) {
        self.issues.push(ValidationIssue::new(
            vec![json!("query"), json!(name)],
            kind,
            msg,
        ));
    }

    /// Whether the query carries a non-empty value for `name`.
    pub fn has(&self, name: &str) -> bool {
        self.last(name).is_some()
    }

    /// Records a failure of `name` found by a rule outside this reader.
    pub fn report(&mut self, name: &str, kind: &'static str, msg: impl Into<String>) {
        self.issue(name, kind, msg);
    }

    /// Whether any failure was recorded so far.
    pub fn has_issues(&self) -> bool {
        !self.issues.is_empty()
    }

    /// Every non-empty value of a repeatable key, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.values
            .get(name)
            .map(|v| v.iter().filter(|s| !s.is_empty()).cloned().collect())
            .unwrap_or_default()
    }

    /// An optional string of at most `max` characters.
    pub fn string(&mut self, name: &str, max: usize) -> Option<String> {
        let value = self.last(name)?.to_owned();
        if value.contains('\0') {
            self.issue(name, "value_error", "Text must not contain NUL characters");
            return None;
        }
        if value.chars().count() > max {
            self.issue(
                name,
                "string_too_long",
                format!("String should have at most {max} characters"),
            );
            return None;
        }
        Some(value)
    }

    /// An optional boolean (`true/false/1/0/yes/no/on/off/t/f/y/n`).
    pub fn bool(&mut self, name: &str) -> Option<bool> {
        let value = self.last(name)?;
        match parse_bool(value) {
            Some(b) => Some(b),
            None => {
                self.issue(
                    name,
                    "bool_parsing",
                    "Input should be a valid boolean, unable to interpret input",
                );
                None
            }
        }
    }

    /// An integer in `min..=max`, `default` when absent.
    pub fn int(&mut self, name: &str, default: i64, min: i64, max: i64) -> i64 {
        let Some(value) = self.last(name) else {
            return default;
        };
        let Some(n) = parse_int(value) else {
            self.issue(
                name,
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
            );
            return default;
        };
        if n < min {
            self.issue(
                name,
                "greater_than_equal",
                format!("Input should be greater than or equal to {min}"),
            );
            default
        } else if n > max {
            self.issue(
                name,
                "less_than_equal",
                format!("Input should be less than or equal to {max}"),
            );
            default
        } else {
            n
        }
    }

    /// An optional number (decimal or exponent notation, finite) in `min..=max`.
    pub fn number(&mut self, name: &str, min: f64, max: f64) -> Option<f64> {
        let value = self.last(name)?;
        let Some(n) = parse_number(value) else {
            self.issue(
                name,
                "float_parsing",
                "Input should be a valid number, unable to parse string as a number",
            );
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

    /// An optional number `> min` and `≤ max` (e.g. a radius: `0 < r ≤ 100`).
    pub fn number_above(&mut self, name: &str, min: f64, max: f64) -> Option<f64> {
        let n = self.number(name, f64::NEG_INFINITY, max)?;
        if n > min {
            Some(n)
        } else {
            self.issue(
                name,
                "greater_than",
                format!("Input should be greater than {min}"),
            );
            None
        }
    }

    /// A required number in `min..=max`; absent or empty → `missing`.
    pub fn required_number(&mut self, name: &str, min: f64, max: f64) -> Option<f64> {
        if self.last(name).is_none() {
            self.issue(name, "missing", "Field required");
            return None;
        }
        self.number(name, min, max)
    }

    /// An optional UUID.
    pub fn uuid(&mut self, name: &str) -> Option<uuid::Uuid> {
        let value = self.last(name)?;
        match uuid::Uuid::parse_str(value) {
            Ok(id) => Some(id),
            Err(_) => {
                self.issue(name, "uuid_parsing", "Input should be a valid UUID");
                None
            }
        }
    }

    /// An optional datetime.
    pub fn datetime(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let value = self.last(name)?;
        match parse_datetime(value) {
            Some(dt) => Some(dt),
            None => {
                self.issue(name, "datetime_parsing", "Input should be a valid datetime");
                None
            }
        }
    }

    /// An optional enum value from `allowed`.
    pub fn enumeration(&mut self, name: &str, allowed: &[&str]) -> Option<String> {
        let value = self.last(name)?.to_owned();
        if allowed.contains(&value.as_str()) {
            Some(value)
        } else {
            self.issue(name, "enum", enum_message(allowed));
            None
        }
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

// Readers used by the care directory (clinics, doctors).
impl QueryReader {
    /// An optional integer in `min..=max` (`None` when absent or invalid).
    pub fn optional_int(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        self.last(name)?;
        // `int` reports every problem; the sentinel only tells "valid" from "reported".
        let before = self.issues.len();
        let n = self.int(name, 0, min, max);
        (self.issues.len() == before).then_some(n)
    }
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (as space).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Booleans as query parameters: `true`/`1`/`yes`/`on`/`t`/`y` and
/// `false`/`0`/`no`/`off`/`f`/`n`, case-insensitive.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// Integers in query strings and paths: optional sign, ASCII digits, optionally a fraction of
/// zeros.
pub fn parse_int(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if !fraction.chars().all(|c| c == '0') || (text.contains('.') && fraction.is_empty()) {
        return None;
    }
    let digits = whole.strip_prefix(['+', '-']).unwrap_or(whole);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    whole.parse::<i64>().ok()
}

/// Numbers as query parameters: decimal or exponent notation; no NaN or infinities.
pub fn parse_number(text: &str) -> Option<f64> {
    let valid_chars = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    if !valid_chars || !text.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Whether `instant` is within the accepted range: years 0001 to 9999 in UTC. Every datetime
/// the API reads passes this one rule, so each one it stores can be written back in the
/// four-digit-year form of the output rule (and PostgreSQL, which reaches back only to
/// 4713 BC, is never asked to store more).
pub fn in_supported_range(instant: DateTime<Utc>) -> bool {
    (1..=9999).contains(&chrono::Datelike::year(&instant))
}

/// Datetimes as input: `YYYY-MM-DD`, then `T` or space, `HH:MM[:SS[.f…]]`, optional offset
/// (`Z`, `±HH:MM`, `±HHMM`, `±HH`); no offset means UTC; a date alone is midnight UTC. An
/// instant outside [`in_supported_range`] is refused like a malformed one.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    parse_datetime_unbounded(text).filter(|instant| in_supported_range(*instant))
}

fn parse_datetime_unbounded(text: &str) -> Option<DateTime<Utc>> {
    if text.len() == 10 {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        return Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?));
    }
    if text.len() < 16 {
        return None;
    }
    let date = NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()?;
    if !matches!(text.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    let rest = &text[11..];
    let offset_start = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, offset) = rest.split_at(offset_start);
    let time = parse_clock(clock)?;
    let offset_seconds = parse_offset(offset)?;
    let local = NaiveDateTime::new(date, time);
    let utc = local.checked_sub_signed(chrono::Duration::seconds(i64::from(offset_seconds)))?;
    Some(Utc.from_utc_datetime(&utc))
}

fn parse_clock(clock: &str) -> Option<NaiveTime> {
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let parts: Vec<&str> = hms.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if clock.contains('.')
        && (parts.len() != 3
            || fraction.is_empty()
            || !fraction.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let hour: u32 = parts[0].parse().ok()?;
    let minute: u32 = parts[1].parse().ok()?;
    let second: u32 = parts.get(2).map_or(Some(0), |s| s.parse().ok())?;
    // Truncate to microseconds.
    let micros: u32 = if fraction.is_empty() {
        0
    } else {
        let mut digits: String = fraction.chars().take(6).collect();
        while digits.len() < 6 {
            digits.push('0');
        }
        digits.parse().ok()?
    };
    NaiveTime::from_hms_micro_opt(hour, minute, second, micros)
}

fn parse_offset(offset: &str) -> Option<i32> {
    if offset.is_empty() || offset == "Z" || offset == "z" {
        return Some(0);
    }
    let sign = match offset.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    let valid_shape =
        matches!(offset.len(), 3 | 5 | 6) && (offset.len() != 6 || offset.as_bytes()[3] == b':');
    if !valid_shape || !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4)
    {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Times of day as input: `HH:MM`, `HH:MM:SS` or `HH:MM:SS.ffffff`; the fraction is dropped.
pub fn parse_time(text: &str) -> Option<NaiveTime> {
    let time = parse_clock(text)?;
    NaiveTime::from_hms_opt(
        chrono::Timelike::hour(&time),
        chrono::Timelike::minute(&time),
        chrono::Timelike::second(&time),
    )
}

/// A UUID path parameter, parsed after authentication.
///
/// # Errors
/// 422 `uuid_parsing` at `["path", name]`.
pub fn path_uuid(req: &HttpRequest, name: &str) -> Result<uuid::Uuid, ApiError> {
    let raw = req.match_info().get(name).unwrap_or_default();
    uuid::Uuid::parse_str(&percent_decode(raw)).map_err(|_| {
        ApiError::invalid(
            vec![json!("path"), json!(name)],
            "uuid_parsing",
            "Input should be a valid UUID",
        )
    })
}

/// An integer path parameter in `min..=max`.
///
/// # Errors
/// 422 `int_parsing`, `greater_than_equal` or `less_than_equal` at `["path", name]`.
pub fn path_int(req: &HttpRequest, name: &str, min: i64, max: i64) -> Result<i64, ApiError> {
    let loc = || vec![json!("path"), json!(name)];
    let raw = percent_decode(req.match_info().get(name).unwrap_or_default());
    let n = parse_int(&raw).ok_or_else(|| {
        ApiError::invalid(
            loc(),
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
        )
    })?;
    if n < min {
        return Err(ApiError::invalid(
            loc(),
            "greater_than_equal",
            format!("Input should be greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(ApiError::invalid(
            loc(),
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
