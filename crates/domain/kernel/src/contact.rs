//! Contact value rules shared by several domains: the phone rule and email syntax.

/// Why a phone number is refused; the messages are the wire messages with the field name
/// prefixed by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Shorter than 7 or longer than 20 characters.
    #[error("must be between 7 and 20 characters")]
    Length,
    /// Contains something other than digits, spaces, `+`, `-`, `(` and `)`.
    #[error("must contain only digits, spaces, +, -, ( and )")]
    Characters,
    /// Fewer than 7 digits.
    #[error("must contain at least 7 digits")]
    TooFewDigits,
}

/// The phone rule: 7–20 characters; after removing spaces, `-`, `(`, `)` and `+`, only ASCII
/// digits remain, at least 7 of them.
///
/// # Errors
/// The first rule broken.
pub fn check_phone(phone: &str) -> Result<(), PhoneError> {
    let length = phone.chars().count();
    if !(7..=20).contains(&length) {
        return Err(PhoneError::Length);
    }
    let mut digits = 0;
    for c in phone.chars() {
        match c {
            '0'..='9' => digits += 1,
            ' ' | '-' | '(' | ')' | '+' => {}
            _ => return Err(PhoneError::Characters),
        }
    }
    if digits < 7 {
        return Err(PhoneError::TooFewDigits);
    }
    Ok(())
}

/// A phone number that follows the phone rule ([`check_phone`]); holding one is the proof that it
/// was checked, so the rule runs once, where the number enters the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Checks `text` against the phone rule.
    ///
    /// # Errors
    /// The first rule broken.
    pub fn parse(text: impl Into<String>) -> Result<Self, PhoneError> {
        let text = text.into();
        check_phone(&text)?;
        Ok(Self(text))
    }

    /// The number as it was given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as it was given.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Whether `email` is a syntactically usable address: at most 254 characters, one `@` with a
/// non-empty local part and a domain of dot-separated labels, no whitespace or control
/// characters.
pub fn is_valid_email(email: &str) -> bool {
    if email.chars().count() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    if local.is_empty()
        || local.len() > 64
        || local.contains('@')
        || local.starts_with('.')
        || local.ends_with('.')
    {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_follow_the_rule() {
        assert_eq!(check_phone("+91 (22) 1234-5678"), Ok(()));
        assert_eq!(check_phone("1234567"), Ok(()));
        assert_eq!(check_phone("123456"), Err(PhoneError::Length));
        assert_eq!(
            check_phone("123456789012345678901"),
            Err(PhoneError::Length)
        );
        assert_eq!(check_phone("12345x7"), Err(PhoneError::Characters));
        assert_eq!(check_phone("+ (12) 34-56"), Err(PhoneError::TooFewDigits));
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(is_valid_email("asha@example.com"));
        assert!(is_valid_email("a.b+tag@sub.example.co.in"));
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@exa mple.com",
            "a@-x.com",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }
}
