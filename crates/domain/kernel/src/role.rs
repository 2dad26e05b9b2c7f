//! User roles (`users.role`).

use std::fmt;
use std::str::FromStr;

/// What a user may do; always read from the database row, never from a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Default for new users.
    Patient,
    /// A doctor's account.
    Doctor,
    /// A pharmacy's account.
    Pharmacy,
    /// Platform administrator.
    Admin,
}

impl Role {
    /// Every role, in the order the API documents them.
    pub const ALL: [Role; 4] = [Role::Patient, Role::Doctor, Role::Pharmacy, Role::Admin];

    /// The stored and wire form.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Doctor => "doctor",
            Role::Pharmacy => "pharmacy",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not one of the four roles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role")]
pub struct ParseRoleError;

impl FromStr for Role {
    type Err = ParseRoleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or(ParseRoleError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_are_case_sensitive() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("Admin".parse::<Role>(), Err(ParseRoleError));
    }
}
