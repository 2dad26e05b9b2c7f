//! Query strings: [`QueryReader`] decodes the pairs once and reads each parameter with lenient
//! scalar parsing, collecting every issue for one 422.

use std::collections::HashMap;

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::scalars::{
    enum_message, parse_bool, parse_datetime, parse_int, parse_number, percent_decode,
};
use crate::http::error::{ApiError, ValidationIssue};

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
