//! Request input: JSON bodies read as objects and checked field by field (strict types, except
//! that an integer may carry a zero fraction, a number may be an integer and a datetime may be
//! a number of Unix seconds), query strings with lenient scalar parsing,
//! path parameters parsed after authentication. Every failure found is reported, in discovery
//! order, as one 422.
//!
//! The JSON body reader lives in `body`, the query-string reader in `query`, path parameters in
//! `path` and the scalar parsers they share in `scalars`; this module re-exports them.

mod body;
mod path;
mod query;
mod scalars;

pub use self::body::{BodyKind, BodyReader, MAX_BODY_DEPTH, Object, json_object};
pub use self::path::{path_int, path_uuid};
pub use self::query::QueryReader;
pub use self::scalars::{
    enum_message, in_supported_range, parse_bool, parse_datetime, parse_int, parse_number,
    parse_time, percent_decode,
};

#[cfg(test)]
mod tests;
