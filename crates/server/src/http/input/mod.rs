//! Request input: JSON bodies read into typed request structs (strict types, except that an
//! integer may carry a zero fraction, a number may be an integer and a datetime may be a number
//! of Unix seconds), query strings with lenient scalar parsing, path parameters parsed after
//! authentication. Every failure found is reported, in discovery order, as one 422.
//!
//! The gate every JSON body passes lives in `body`, typed bodies in `request` (the reading and
//! the `request_body!` declaration) and `values` (the member types; the domain's value types in
//! `domain_values`, those of the directory and the pharmacies in `directory_values`), typed
//! query parameters in `params` (`request_query!`), path parameters in `path` and the scalar
//! parsers they share in `scalars`; this module re-exports them.

mod body;
mod directory_values;
mod domain_values;
mod params;
mod path;
mod request;
mod scalars;
mod values;

pub use self::body::{BodyKind, MAX_BODY_DEPTH, Object, json_object};
pub use self::directory_values::{
    ClosingTime, DoctorEmail, Fee, HoursList, OpeningTime, PharmacyEmail, Slug, Timezone, texts,
};
pub(crate) use self::params::request_query;
pub use self::params::{
    Above, FlagOr, FromParam, FromQuery, IntOr, ParamMember, Parts, Query, Repeated, query,
    query_parameter, with_default,
};
pub use self::path::{path_int, path_uuid};
pub(crate) use self::request::request_body;
pub use self::request::{
    Components, FromJson, FromObject, Member, Patch, Reading, body, doc_text, expect_object,
    nullable, optional_body, parse_object, read_member, with_member,
};
pub use self::scalars::{
    enum_message, in_supported_range, parse_bool, parse_datetime, parse_int, parse_number,
    parse_time, percent_decode,
};
pub use self::values::{
    AnyText, Ignored, Int, JsonObject, List, Number, Text, check_length, expect_number, expect_str,
    string_schema,
};

#[cfg(test)]
mod tests;

/// Reads a JSON body as `T`, for unit tests: the value, or every issue of the 422 answer as
/// `(loc, type, msg)`, in its order.
#[cfg(test)]
pub fn read_test_body<T: FromObject>(
    body: serde_json::Value,
) -> Result<T, Vec<(serde_json::Value, String, String)>> {
    let serde_json::Value::Object(object) = body else {
        panic!("test bodies are objects")
    };
    parse_object::<T>(&object).map_err(|error| {
        let rendered = error.body().render("/", "r");
        rendered["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|issue| {
                (
                    issue["loc"].clone(),
                    issue["type"].as_str().unwrap().to_owned(),
                    issue["msg"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    })
}

/// The issues of reading a JSON body that must not read as `T`, for unit tests.
#[cfg(test)]
pub fn test_body_issues<T: FromObject + std::fmt::Debug>(
    body: serde_json::Value,
) -> Vec<(serde_json::Value, String, String)> {
    match read_test_body::<T>(body) {
        Ok(read) => panic!("expected issues, read {read:?}"),
        Err(issues) => issues,
    }
}
