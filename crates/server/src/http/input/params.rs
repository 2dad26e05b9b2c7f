//! Typed query parameters: a group of parameters (numbered paging, a search point, a listing's
//! filters) is one struct declared with [`request_query!`]; the type of each member says how its
//! text is parsed and bounded and how it is documented as an OpenAPI parameter, so the reader
//! and the document come from one declaration.
//!
//! Query values are text: the last occurrence of a name wins and an empty value counts as
//! absent, except for [`Repeated`] members, which take every non-empty occurrence. Scalars are
//! read leniently (`1`/`yes`/`on` for `true`, `3.0` for 3). A route may read several groups from
//! one [`Query`]; every issue of every group is answered in one 422.

use std::collections::HashMap;

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};

use super::request::{FromJson, Reading};
use super::scalars::{parse_bool, parse_datetime, parse_int, parse_number, percent_decode};
use super::values::{Int, Number, Text, check_bounds, check_length, string_schema, uuid_text};
use crate::http::error::ApiError;

/// The decoded query string of one request and the issues found reading it.
#[derive(Debug)]
pub struct Query {
    values: HashMap<String, Vec<String>>,
    reading: Reading,
}

impl Query {
    /// Decodes the request's query string (`+` and `%XX` escapes).
    pub fn new(req: &HttpRequest) -> Self {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        for pair in req
            .query_string()
            .split('&')
            .filter(|pair| !pair.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            values
                .entry(percent_decode(key))
                .or_default()
                .push(percent_decode(value));
        }
        Self {
            values,
            reading: Reading::at_root("query"),
        }
    }

    /// Reads one group of parameters; `None` when any of its members broke a rule (recorded).
    pub fn read<T: FromQuery>(&mut self) -> Option<T> {
        T::from_query(self)
    }

    /// Every occurrence of `name`, in order.
    pub fn occurrences(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    /// Whether the query carries a non-empty value for `name`.
    pub fn has(&self, name: &str) -> bool {
        last_value(self.occurrences(name)).is_some()
    }

    /// Records a broken rule of `name` that involves more than one parameter (or stored
    /// state, such as a cursor's scope).
    pub fn report(&mut self, name: &str, kind: &'static str, msg: impl Into<String>) {
        self.reading
            .at(json!(name), |reading| reading.issue(kind, msg));
    }

    /// Whether any issue has been recorded.
    pub fn has_issues(&self) -> bool {
        !self.reading.is_clean()
    }

    /// Reads `name` as the member type `M` (for the macro).
    pub fn member<M: ParamMember>(&mut self, name: &'static str) -> Option<M> {
        let Self { values, reading } = self;
        let occurrences = values.get(name).map_or(&[][..], Vec::as_slice);
        reading.at(json!(name), |reading| M::read(occurrences, reading))
    }

    /// The groups read so far, when every one was read and no issue was recorded; otherwise
    /// every issue so far, as one 422 (the query is then done: later reports are dropped).
    ///
    /// # Errors
    /// 422 `validation_error` listing the issues in the order they were found.
    pub fn complete<P: Parts>(&mut self, parts: P) -> Result<P::Complete, ApiError> {
        match parts.complete() {
            Some(complete) if self.reading.is_clean() => Ok(complete),
            _ => Err(std::mem::replace(&mut self.reading, Reading::at_root("query")).into_error()),
        }
    }

    /// `value` when no issue was recorded; otherwise every issue, as one 422.
    ///
    /// # Errors
    /// 422 `validation_error` listing the issues in the order they were found.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ApiError> {
        self.reading.finish(value)
    }
}

/// Groups read from one query, each `None` when it broke a rule.
pub trait Parts {
    /// The groups, all read.
    type Complete;

    /// The groups when every one was read.
    fn complete(self) -> Option<Self::Complete>;
}

impl<A> Parts for Option<A> {
    type Complete = A;

    fn complete(self) -> Option<A> {
        self
    }
}

impl<A, B> Parts for (Option<A>, Option<B>) {
    type Complete = (A, B);

    fn complete(self) -> Option<(A, B)> {
        Some((self.0?, self.1?))
    }
}

impl<A, B, C> Parts for (Option<A>, Option<B>, Option<C>) {
    type Complete = (A, B, C);

    fn complete(self) -> Option<(A, B, C)> {
        Some((self.0?, self.1?, self.2?))
    }
}

/// Reads one group `T` from the request's query.
///
/// # Errors
/// 422 listing every broken rule.
pub fn query<T: FromQuery>(req: &HttpRequest) -> Result<T, ApiError> {
    let mut query = Query::new(req);
    let value = query.read::<T>();
    query.finish(value)
}

/// The last occurrence, unless it is empty.
fn last_value(occurrences: &[String]) -> Option<&str> {
    occurrences
        .last()
        .map(String::as_str)
        .filter(|text| !text.is_empty())
}

/// A group of query parameters declared with [`request_query!`].
pub trait FromQuery: Sized {
    /// Reads the group's members from `query`, recording each broken rule.
    fn from_query(query: &mut Query) -> Option<Self>;
}

/// A value one query parameter may hold: how its text is read and how it is documented.
pub trait FromParam: Sized {
    /// Reads a non-empty value; each broken rule is recorded on `reading`, and then the answer
    /// is `None`.
    fn from_param(text: &str, reading: &mut Reading) -> Option<Self>;

    /// The parameter's schema.
    fn schema() -> RefOr<Schema>;
}

/// One parameter of a group: what absence means for it.
///
/// - a plain `T` is required (absent or empty is a `missing` issue);
/// - `Option<T>` is optional;
/// - [`IntOr`] and [`FlagOr`] carry their default;
/// - [`Repeated<T>`] takes every occurrence.
pub trait ParamMember: Sized {
    /// Whether the document lists the parameter as required.
    const REQUIRED: bool;
    /// Whether the parameter repeats (`?k=a&k=b`), documented as an exploded array.
    const REPEATS: bool = false;

    /// Reads the parameter from its occurrences.
    fn read(occurrences: &[String], reading: &mut Reading) -> Option<Self>;

    /// The parameter's schema.
    fn schema() -> RefOr<Schema>;
}

impl<T: FromParam> ParamMember for T {
    const REQUIRED: bool = true;

    fn read(occurrences: &[String], reading: &mut Reading) -> Option<Self> {
        match last_value(occurrences) {
            Some(text) => T::from_param(text, reading),
            None => {
                reading.issue("missing", "Field required");
                None
            }
        }
    }

    fn schema() -> RefOr<Schema> {
        T::schema()
    }
}

impl<T: FromParam> ParamMember for Option<T> {
    const REQUIRED: bool = false;

    fn read(occurrences: &[String], reading: &mut Reading) -> Option<Self> {
        match last_value(occurrences) {
            Some(text) => T::from_param(text, reading).map(Some),
            None => Some(None),
        }
    }

    fn schema() -> RefOr<Schema> {
        T::schema()
    }
}

/// Every non-empty occurrence of a repeatable parameter, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Repeated<T>(Vec<T>);

impl<T> Repeated<T> {
    /// The values.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T: FromParam> ParamMember for Repeated<T> {
    const REQUIRED: bool = false;
    const REPEATS: bool = true;

    fn read(occurrences: &[String], reading: &mut Reading) -> Option<Self> {
        let mut values = Vec::with_capacity(occurrences.len());
        let mut valid = true;
        for text in occurrences.iter().filter(|text| !text.is_empty()) {
            match T::from_param(text, reading) {
                Some(value) => values.push(value),
                None => valid = false,
            }
        }
        valid.then_some(Self(values))
    }

    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new().items(T::schema()).into()
    }
}

/// An integer parameter in `MIN..=MAX`, `DEFAULT` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntOr<const MIN: i64, const MAX: i64, const DEFAULT: i64>(i64);

impl<const MIN: i64, const MAX: i64, const DEFAULT: i64> IntOr<MIN, MAX, DEFAULT> {
    /// The integer (the default when the parameter was absent).
    pub fn get(self) -> i64 {
        self.0
    }
}

impl<const MIN: i64, const MAX: i64, const DEFAULT: i64> ParamMember for IntOr<MIN, MAX, DEFAULT> {
    const REQUIRED: bool = false;

    fn read(occurrences: &[String], reading: &mut Reading) -> Option<Self> {
        match last_value(occurrences) {
            Some(text) => Int::<MIN, MAX>::from_param(text, reading).map(|n| Self(n.get())),
            None => Some(Self(DEFAULT)),
        }
    }

    fn schema() -> RefOr<Schema> {
        with_default(<Int<MIN, MAX> as FromParam>::schema(), json!(DEFAULT))
    }
}

/// A boolean parameter, `DEFAULT` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagOr<const DEFAULT: bool>(bool);

impl<const DEFAULT: bool> FlagOr<DEFAULT> {
    /// The flag (the default when the parameter was absent).
    pub fn get(self) -> bool {
        self.0
    }
}

impl<const DEFAULT: bool> ParamMember for FlagOr<DEFAULT> {
    const REQUIRED: bool = false;

    fn read(occurrences: &[String], reading: &mut Reading) -> Option<Self> {
        match last_value(occurrences) {
            Some(text) => bool::from_param(text, reading).map(Self),
            None => Some(Self(DEFAULT)),
        }
    }

    fn schema() -> RefOr<Schema> {
        with_default(<bool as FromParam>::schema(), json!(DEFAULT))
    }
}

/// `schema` with its `default`.
pub fn with_default(schema: RefOr<Schema>, default: Value) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            object.default = Some(default);
            RefOr::T(Schema::Object(object))
        }
        other => other,
    }
}

/// Text parameters: NUL characters are refused (PostgreSQL text cannot hold them).
impl<const MIN: usize, const MAX: usize> FromParam for Text<MIN, MAX> {
    fn from_param(text: &str, reading: &mut Reading) -> Option<Self> {
        if text.contains('\0') {
            reading.issue("value_error", "Text must not contain NUL characters");
            return None;
        }
        check_length(text, MIN, MAX, reading).then(|| Text::new_unchecked(text.to_owned()))
    }

    fn schema() -> RefOr<Schema> {
        string_schema(MIN, MAX).into()
    }
}

/// `true`/`1`/`yes`/`on`/`t`/`y` and `false`/`0`/`no`/`off`/`f`/`n`, any case.
impl FromParam for bool {
    fn from_param(text: &str, reading: &mut Reading) -> Option<Self> {
        let flag = parse_bool(text);
        if flag.is_none() {
            reading.issue(
                "bool_parsing",
                "Input should be a valid boolean, unable to interpret input",
            );
        }
        flag
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Boolean).into()
    }
}

/// Digits with an optional sign, optionally followed by a fraction of zeros.
impl<const MIN: i64, const MAX: i64> FromParam for Int<MIN, MAX> {
    fn from_param(text: &str, reading: &mut Reading) -> Option<Self> {
        let Some(n) = parse_int(text) else {
            reading.issue(
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
            );
            return None;
        };
        check_bounds(n, MIN, MAX, reading).then(|| Int::new_unchecked(n))
    }

    fn schema() -> RefOr<Schema> {
        <Int<MIN, MAX> as FromJson>::schema()
    }
}

/// A number in decimal or exponent notation; no NaN or infinities.
pub(super) fn param_number(text: &str, reading: &mut Reading) -> Option<f64> {
    let n = parse_number(text);
    if n.is_none() {
        reading.issue(
            "float_parsing",
            "Input should be a valid number, unable to parse string as a number",
        );
    }
    n
}

impl<const MIN: i64, const MAX: i64> FromParam for Number<MIN, MAX> {
    fn from_param(text: &str, reading: &mut Reading) -> Option<Self> {
        let n = param_number(text, reading)?;
        check_bounds(n, MIN as f64, MAX as f64, reading).then(|| Number::new_unchecked(n))
    }

    fn schema() -> RefOr<Schema> {
        <Number<MIN, MAX> as FromJson>::schema()
    }
}

/// A number in `MIN < n ≤ MAX` (whole-number bounds), such as a search radius.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Above<const MIN: i64, const MAX: i64>(f64);

impl<const MIN: i64, const MAX: i64> Above<MIN, MAX> {
    /// The number.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl<const MIN: i64, const MAX: i64> FromParam for Above<MIN, MAX> {
    fn from_param(text: &str, reading: &mut Reading) -> Option<Self> {
        let n = param_number(text, reading)?;
        if !check_bounds(n, f64::NEG_INFINITY, MAX as f64, reading) {
            return None;
        }
        if n > MIN as f64 {
            Some(Self(n))
        } else {
            reading.issue(
                "greater_than",
                format!("Input should be greater than {MIN}"),
            );
            None
        }
    }

    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double)))
            .exclusive_minimum(Some(MIN as f64))
            .maximum(Some(MAX as f64))
            .into()
    }
}

impl FromParam for uuid::Uuid {
    fn from_param(text: &str, reading: &mut Reading) -> Option<Self> {
        uuid_text(text, reading)
    }

    fn schema() -> RefOr<Schema> {
        <uuid::Uuid as FromJson>::schema()
    }
}

/// A datetime as the datetime rule reads it (no offset means UTC; a date alone is midnight).
impl FromParam for DateTime<Utc> {
    fn from_param(text: &str, reading: &mut Reading) -> Option<Self> {
        let instant = parse_datetime(text);
        if instant.is_none() {
            reading.issue("datetime_parsing", "Input should be a valid datetime");
        }
        instant
    }

    fn schema() -> RefOr<Schema> {
        <DateTime<Utc> as FromJson>::schema()
    }
}

/// Declares a group of query parameters: the struct, how it is read ([`FromQuery`]) and how it
/// is documented (`utoipa::IntoParams`: one query parameter per member, its doc comment as the
/// description), from the one list of members. Routes name the group in `params(…)`.
macro_rules! request_query {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            $(
                $(#[doc = $member_doc:literal])*
                pub $member:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug)]
        pub struct $name {
            $(
                $(#[doc = $member_doc])*
                pub $member: $ty,
            )*
        }

        impl $crate::http::input::FromQuery for $name {
            fn from_query(query: &mut $crate::http::input::Query) -> Option<Self> {
                $(let $member = query.member::<$ty>(stringify!($member));)*
                Some(Self { $($member: $member?,)* })
            }
        }

        impl utoipa::IntoParams for $name {
            fn into_params(
                _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
            ) -> Vec<utoipa::openapi::path::Parameter> {
                vec![$(
                    $crate::http::input::query_parameter::<$ty>(
                        stringify!($member),
                        &$crate::http::input::doc_text(&[$($member_doc),*]),
                    ),
                )*]
            }
        }
    };
}
pub(crate) use request_query;

/// The document's description of one query parameter of member type `M`.
pub fn query_parameter<M: ParamMember>(
    name: &str,
    description: &str,
) -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::Required;
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    let parameter = ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .description((!description.is_empty()).then_some(description))
        .required(if M::REQUIRED {
            Required::True
        } else {
            Required::False
        })
        .schema(Some(M::schema()));
    if M::REPEATS {
        parameter.explode(Some(true)).build()
    } else {
        parameter.build()
    }
}

#[cfg(test)]
mod tests;
