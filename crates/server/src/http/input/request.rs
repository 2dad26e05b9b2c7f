//! Typed request bodies: a body is one struct declared with [`request_body!`], and the type of
//! each member says both how the member is read (strict JSON type, bounds, absent versus
//! `null`) and how it is documented in the OpenAPI schema. There is no second list of fields.
//!
//! Reading never stops at the first problem: every broken rule of every member is collected, in
//! declaration order, and answered as one 422.

use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};

use super::body::{BodyKind, json_object};
use crate::http::error::{ApiError, ValidationIssue};

/// The schemas a body's members reference by name (enum sets, nested bodies), collected for the
/// document's `components`.
pub type Components = Vec<(String, RefOr<Schema>)>;

/// The state of one read: where the reader is (`["body", "hours", 2, "open_time"]`) and every
/// issue found so far.
#[derive(Debug)]
pub struct Reading {
    loc: Vec<Value>,
    issues: Vec<ValidationIssue>,
}

impl Reading {
    /// A read of a request body: locations start at `["body"]`.
    pub fn body() -> Self {
        Self::at_root("body")
    }

    /// A read whose locations start at `[root]` (`"body"`, `"query"`).
    pub fn at_root(root: &str) -> Self {
        Self {
            loc: vec![json!(root)],
            issues: Vec::new(),
        }
    }

    /// Records an issue at the current location.
    pub fn issue(&mut self, kind: &'static str, msg: impl Into<String>) {
        self.issues
            .push(ValidationIssue::new(self.loc.clone(), kind, msg));
    }

    /// Runs `read` one level deeper, at `segment` (a member name or an array index).
    pub fn at<T>(&mut self, segment: Value, read: impl FnOnce(&mut Self) -> T) -> T {
        self.loc.push(segment);
        let value = read(self);
        self.loc.pop();
        value
    }

    /// The name of the member being read (the innermost name in the location), for messages
    /// that name it.
    pub fn member_name(&self) -> Option<&str> {
        self.loc.iter().rev().find_map(Value::as_str)
    }

    /// Whether no issue has been found.
    pub fn is_clean(&self) -> bool {
        self.issues.is_empty()
    }

    /// `value` when the read found no issue; otherwise every issue, as one 422.
    ///
    /// # Errors
    /// 422 `validation_error` listing the issues in the order they were found.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ApiError> {
        match value {
            Some(value) if self.issues.is_empty() => Ok(value),
            _ => Err(self.into_error()),
        }
    }

    /// The issues found, as one 422.
    pub fn into_error(self) -> ApiError {
        if self.issues.is_empty() {
            // A value is only missing when an issue explains why.
            ApiError::internal("a request read failed without an issue")
        } else {
            ApiError::validation(self.issues)
        }
    }
}

/// A JSON value a request member may hold: how it is read and how it is documented.
pub trait FromJson: Sized {
    /// Reads a present value (`null` only as a list item, where it is of the wrong type); each
    /// broken rule is recorded on `reading` at its
    /// current location, and then the answer is `None`.
    fn from_json(value: &Value, reading: &mut Reading) -> Option<Self>;

    /// The value's schema (inline, or a reference to a component listed by
    /// [`FromJson::components`]).
    fn schema() -> RefOr<Schema>;

    /// The named schemas [`FromJson::schema`] references, with their own references.
    fn components(_into: &mut Components) {}
}

/// One member of a body: what absence and `null` mean for it.
///
/// - a plain `T` is required: absent or `null` is a `missing` issue;
/// - `Option<T>` is optional: absent or `null` is `None`;
/// - [`Patch<T>`] keeps absent and `null` apart (keep versus clear).
pub trait Member: Sized {
    /// Whether the schema lists the member as required.
    const REQUIRED: bool;

    /// Reads the member (`None` when absent), at the member's location.
    fn read(member: Option<&Value>, reading: &mut Reading) -> Option<Self>;

    /// The member's schema, nullable when `null` is accepted.
    fn schema() -> RefOr<Schema>;

    /// The named schemas the member references.
    fn components(into: &mut Components);
}

impl<T: FromJson> Member for T {
    const REQUIRED: bool = true;

    fn read(member: Option<&Value>, reading: &mut Reading) -> Option<Self> {
        match member {
            None | Some(Value::Null) => {
                reading.issue("missing", "Field required");
                None
            }
            Some(value) => T::from_json(value, reading),
        }
    }

    fn schema() -> RefOr<Schema> {
        T::schema()
    }

    fn components(into: &mut Components) {
        T::components(into);
    }
}

impl<T: FromJson> Member for Option<T> {
    const REQUIRED: bool = false;

    fn read(member: Option<&Value>, reading: &mut Reading) -> Option<Self> {
        match member {
            None | Some(Value::Null) => Some(None),
            Some(value) => T::from_json(value, reading).map(Some),
        }
    }

    fn schema() -> RefOr<Schema> {
        nullable(T::schema())
    }

    fn components(into: &mut Components) {
        T::components(into);
    }
}

/// A member of a partial update where `null` means something: absent keeps the stored value,
/// `null` clears it, a value replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// Absent: unchanged.
    #[default]
    Keep,
    /// `null`: cleared.
    Clear,
    /// A new value.
    Set(T),
}

impl<T> Patch<T> {
    /// `None` to keep, `Some(None)` to clear, `Some(Some(v))` to set.
    pub fn into_option(self) -> Option<Option<T>> {
        match self {
            Self::Keep => None,
            Self::Clear => Some(None),
            Self::Set(value) => Some(Some(value)),
        }
    }

    /// The same patch with the value converted.
    pub fn map<U>(self, convert: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Self::Keep => Patch::Keep,
            Self::Clear => Patch::Clear,
            Self::Set(value) => Patch::Set(convert(value)),
        }
    }
}

impl<T: FromJson> Member for Patch<T> {
    const REQUIRED: bool = false;

    fn read(member: Option<&Value>, reading: &mut Reading) -> Option<Self> {
        match member {
            None => Some(Self::Keep),
            Some(Value::Null) => Some(Self::Clear),
            Some(value) => T::from_json(value, reading).map(Self::Set),
        }
    }

    fn schema() -> RefOr<Schema> {
        nullable(T::schema())
    }

    fn components(into: &mut Components) {
        T::components(into);
    }
}

/// `schema` that also accepts `null`: a `null` added to an inline schema's types, a reference
/// in a `oneOf` with `null`.
pub fn nullable(schema: RefOr<Schema>) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            object.schema_type = match object.schema_type {
                SchemaType::Type(single) if single != Type::Null => {
                    SchemaType::Array(vec![single, Type::Null])
                }
                SchemaType::Array(mut types) => {
                    if !types.contains(&Type::Null) {
                        types.push(Type::Null);
                    }
                    SchemaType::Array(types)
                }
                other => other,
            };
            RefOr::T(Schema::Object(object))
        }
        RefOr::T(Schema::Array(mut array)) => {
            array.schema_type = SchemaType::Array(vec![Type::Array, Type::Null]);
            RefOr::T(Schema::Array(array))
        }
        other => OneOfBuilder::new()
            .item(other)
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .into(),
    }
}

/// The object at the reading's location, or a `dict_type` issue.
pub fn expect_object<'v>(
    value: &'v Value,
    reading: &mut Reading,
) -> Option<&'v Map<String, Value>> {
    if let Value::Object(members) = value {
        Some(members)
    } else {
        reading.issue(
            "dict_type",
            "Input should be a valid dictionary or object to extract fields from",
        );
        None
    }
}

/// Reads one member of `object` at its own location.
pub fn read_member<M: Member>(
    object: &Map<String, Value>,
    name: &'static str,
    reading: &mut Reading,
) -> Option<M> {
    reading.at(json!(name), |reading| M::read(object.get(name), reading))
}

/// Adds member `name` to an object schema (and to its `required` list when it is required).
pub fn with_member<M: Member>(
    object: ObjectBuilder,
    name: &'static str,
    description: &str,
) -> ObjectBuilder {
    let schema = describe(M::schema(), description);
    let object = object.property(name, schema);
    if M::REQUIRED {
        object.required(name)
    } else {
        object
    }
}

/// `schema` with `description` (on a nullable reference, the reference carries it).
fn describe(schema: RefOr<Schema>, description: &str) -> RefOr<Schema> {
    if description.is_empty() {
        return schema;
    }
    match schema {
        RefOr::Ref(mut reference) => {
            reference.description = description.to_owned();
            RefOr::Ref(reference)
        }
        RefOr::T(Schema::OneOf(mut one_of))
            if matches!(one_of.items.first(), Some(RefOr::Ref(_))) =>
        {
            if let Some(RefOr::Ref(reference)) = one_of.items.first_mut() {
                reference.description = description.to_owned();
            }
            RefOr::T(Schema::OneOf(one_of))
        }
        RefOr::T(Schema::Object(mut object)) => {
            object.description = Some(description.to_owned());
            RefOr::T(Schema::Object(object))
        }
        RefOr::T(Schema::Array(mut array)) => {
            array.description = Some(description.to_owned());
            RefOr::T(Schema::Array(array))
        }
        RefOr::T(Schema::OneOf(mut one_of)) => {
            one_of.description = Some(description.to_owned());
            RefOr::T(Schema::OneOf(one_of))
        }
        other => other,
    }
}

/// Doc-comment lines joined the way the API document shows them: each line trimmed, joined with
/// line breaks.
pub fn doc_text(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|line| line.trim())
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

/// A body the route requires, read as `T`.
///
/// # Errors
/// 422 for a body that is not a JSON object (see [`json_object`]) or breaks any member's rule.
pub fn body<T: FromObject>(req: &actix_web::HttpRequest, bytes: &[u8]) -> Result<T, ApiError> {
    parse_object(&json_object(req, bytes, BodyKind::Required)?)
}

/// A body the route accepts but does not require: an empty body or `null` reads as `{}`.
///
/// # Errors
/// As [`body`].
pub fn optional_body<T: FromObject>(
    req: &actix_web::HttpRequest,
    bytes: &[u8],
) -> Result<T, ApiError> {
    parse_object(&json_object(req, bytes, BodyKind::Optional)?)
}

/// Reads `T` from an object already parsed (for routes that also need the raw object, such as
/// the idempotency hash of a booking).
///
/// # Errors
/// 422 listing every broken rule.
pub fn parse_object<T: FromObject>(object: &Map<String, Value>) -> Result<T, ApiError> {
    let mut reading = Reading::body();
    let value = T::from_object(object, &mut reading);
    reading.finish(value)
}

/// A [`FromJson`] type that is a JSON object with named members: it can be read straight from a
/// parsed map.
pub trait FromObject: FromJson {
    /// Reads the members of `object`.
    fn from_object(object: &Map<String, Value>, reading: &mut Reading) -> Option<Self>;
}

/// Declares a typed request body: the struct, how it is read ([`FromJson`], [`FromObject`]) and
/// how it is documented (`utoipa::ToSchema`, named after the struct), all from the one list of
/// members. Each member's doc comment becomes its description.
macro_rules! request_body {
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

        impl $crate::http::input::FromObject for $name {
            fn from_object(
                object: &serde_json::Map<String, serde_json::Value>,
                reading: &mut $crate::http::input::Reading,
            ) -> Option<Self> {
                $(
                    let $member = $crate::http::input::read_member::<$ty>(
                        object,
                        stringify!($member),
                        reading,
                    );
                )*
                Some(Self { $($member: $member?,)* })
            }
        }

        impl $crate::http::input::FromJson for $name {
            fn from_json(
                value: &serde_json::Value,
                reading: &mut $crate::http::input::Reading,
            ) -> Option<Self> {
                let object = $crate::http::input::expect_object(value, reading)?;
                <Self as $crate::http::input::FromObject>::from_object(object, reading)
            }

            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    stringify!($name),
                ))
            }

            fn components(into: &mut $crate::http::input::Components) {
                if into.iter().any(|(name, _)| name == stringify!($name)) {
                    return;
                }
                into.push((
                    stringify!($name).to_owned(),
                    <Self as utoipa::PartialSchema>::schema(),
                ));
                $(<$ty as $crate::http::input::Member>::components(into);)*
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let object = utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Object)
                    .description(Some($crate::http::input::doc_text(&[$($doc),*])));
                $(
                    let object = $crate::http::input::with_member::<$ty>(
                        object,
                        stringify!($member),
                        &$crate::http::input::doc_text(&[$($member_doc),*]),
                    );
                )*
                object.into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }

            fn schemas(into: &mut $crate::http::input::Components) {
                $(<$ty as $crate::http::input::Member>::components(into);)*
            }
        }
    };
}
pub(crate) use request_body;

#[cfg(test)]
mod tests;
