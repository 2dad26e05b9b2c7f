//! Mapping of database failures to the domains' port errors.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use medico24_identity::PortError;

use crate::database::DatabaseError;

/// Whether a Diesel error means the database could not answer now (retry later → 503): the
/// connection is gone, or the statement ran past `statement_timeout` (SQLSTATE 57014, which
/// Diesel reports without a kind of its own).
pub fn is_unavailable(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        )
        | DieselError::BrokenTransactionManager => true,
        DieselError::DatabaseError(_, info) => {
            info.message() == "canceling statement due to statement timeout"
        }
        _ => false,
    }
}

impl From<DatabaseError> for PortError {
    fn from(error: DatabaseError) -> Self {
        match error {
            DatabaseError::Unavailable(cause) => PortError::Unavailable(cause),
            DatabaseError::Query(e) if is_unavailable(&e) => PortError::Unavailable(e.to_string()),
            other => PortError::Unexpected(other.to_string()),
        }
    }
}

/// `LIKE` pattern matching `text` literally anywhere (`%`, `_` and `\` escaped).
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_escaped() {
        assert_eq!(contains_pattern(r"50%_a\b"), r"%50\%\_a\\b%");
    }
}
