//! The reader of the variable map: typed values with defaults and bounds, and the problems and
//! warnings found while reading (each problem names its variable, never its value).

use std::collections::HashMap;
use std::fmt;

#[cfg(test)]
impl<'a> Reader<'a> {
    /// A reader over `vars` with nothing reported yet.
    pub(super) fn for_tests(vars: &'a HashMap<String, String>) -> Self {
        Reader {
            vars,
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

pub(super) struct Reader<'a> {
    pub(super) vars: &'a HashMap<String, String>,
    pub(super) problems: Vec<String>,
    pub(super) warnings: Vec<String>,
}

impl Reader<'_> {
    pub(super) fn problem(&mut self, message: &str) {
        self.problems.push(message.to_owned());
    }

    /// A set, non-empty (after trimming) value.
    pub(super) fn optional(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    pub(super) fn required(&mut self, name: &str) -> Option<String> {
        let value = self.optional(name);
        if value.is_none() {
            self.problem(&format!("{name} is required"));
        }
        value
    }

    pub(super) fn text(&self, name: &str, default: &str) -> String {
        self.optional(name).unwrap_or_else(|| default.to_owned())
    }

    pub(super) fn boolean(&mut self, name: &str, default: bool) -> bool {
        match self.optional(name).map(|v| v.to_ascii_lowercase()) {
            None => default,
            Some(v) if ["true", "1", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["false", "0", "no", "off"].contains(&v.as_str()) => false,
            Some(_) => {
                self.problem(&format!("{name} must be true or false"));
                default
            }
        }
    }

    pub(super) fn number<T>(&mut self, name: &str, default: T, min: T, max: T) -> T
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        match self.optional(name) {
            None => default,
            Some(v) => match v.parse::<T>() {
                Ok(n) if n >= min && n <= max => n,
                _ => {
                    self.problem(&format!(
                        "{name} must be a whole number between {min} and {max}"
                    ));
                    default
                }
            },
        }
    }
}
