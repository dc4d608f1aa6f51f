//! Who is erased: an email address, or a full name with a postal code, normalised so that
//! the spellings a WMS stores compare equal (case, spacing, a postal code's separators).

use std::fmt;

/// Longest identifier accepted (characters), per field.
pub const MAX_FIELD_CHARS: usize = 320;

/// Why an erasure request names no person; each names its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("{field} {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    #[error("give either email, or name with postal_code")]
    Ambiguous,
}

impl SubjectError {
    pub fn field(&self) -> &'static str {
        match self {
            SubjectError::Invalid { field, .. } => field,
            SubjectError::Ambiguous => "email",
        }
    }

    fn invalid(field: &'static str, reason: &'static str) -> Self {
        SubjectError::Invalid { field, reason }
    }
}

/// The person to erase, normalised. Personal data: `Debug` shows only which form it is.
#[derive(Clone, PartialEq, Eq)]
pub enum ErasureSubject {
    Email(String),
    NamePostal { name: String, postal_code: String },
}

impl fmt::Debug for ErasureSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErasureSubject::Email(_) => f.write_str("ErasureSubject::Email(<redacted>)"),
            ErasureSubject::NamePostal { .. } => {
                f.write_str("ErasureSubject::NamePostal(<redacted>)")
            }
        }
    }
}

/// Trimmed, lower-case, inner whitespace collapsed to one space.
pub fn normalize_text(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// An email as compared: trimmed and lower-case.
pub fn normalize_email(value: &str) -> String {
    value.trim().to_lowercase()
}

/// A postal code as compared: upper-case, without spaces or dashes (`sw1a 1aa` = `SW1A1AA`,
/// `12345-6789` = `123456789`).
pub fn normalize_postal(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

fn checked<'a>(field: &'static str, value: &'a str) -> Result<&'a str, SubjectError> {
    if value.trim().is_empty() {
        return Err(SubjectError::invalid(field, "must not be blank"));
    }
    if value.chars().count() > MAX_FIELD_CHARS {
        return Err(SubjectError::invalid(
            field,
            "must be at most 320 characters",
        ));
    }
    // Tabs and line breaks are whitespace (collapsed); other control characters are not text.
    if value.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(SubjectError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value)
}

/// Whether `value` (normalised) looks like an email address: one `@`, a local part, a
/// domain with a dot, no spaces.
pub fn looks_like_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(char::is_whitespace)
}

impl ErasureSubject {
    /// An email subject.
    pub fn email(value: &str) -> Result<Self, SubjectError> {
        let email = normalize_email(checked("email", value)?);
        if !looks_like_email(&email) {
            return Err(SubjectError::invalid("email", "must be an email address"));
        }
        Ok(ErasureSubject::Email(email))
    }

    /// A name-and-postal-code subject (both required).
    pub fn name_postal(name: &str, postal_code: &str) -> Result<Self, SubjectError> {
        let name = normalize_text(checked("name", name)?);
        let postal_code = normalize_postal(checked("postal_code", postal_code)?);
        if postal_code.is_empty() {
            return Err(SubjectError::invalid(
                "postal_code",
                "must hold letters or digits",
            ));
        }
        Ok(ErasureSubject::NamePostal { name, postal_code })
    }

    /// From a request's optional fields: either `email`, or `name` and `postal_code`.
    pub fn from_fields(
        email: Option<&str>,
        name: Option<&str>,
        postal_code: Option<&str>,
    ) -> Result<Self, SubjectError> {
        match (email, name, postal_code) {
            (Some(email), None, None) => Self::email(email),
            (None, Some(name), Some(postal)) => Self::name_postal(name, postal),
            (None, Some(_), None) => Err(SubjectError::invalid(
                "postal_code",
                "is required with name",
            )),
            (None, None, Some(_)) => Err(SubjectError::invalid(
                "name",
                "is required with postal_code",
            )),
            (None, None, None) => Err(SubjectError::invalid(
                "email",
                "is required (or name with postal_code)",
            )),
            (Some(_), _, _) => Err(SubjectError::Ambiguous),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            ErasureSubject::email("  Jane.Roe@Example.COM ").unwrap(),
            ErasureSubject::Email("jane.roe@example.com".into())
        );
    }

    #[test]
    fn names_collapse_whitespace_and_postal_codes_drop_separators() {
        assert_eq!(
            ErasureSubject::name_postal("  Jane \t  ROE ", "sw1a 1aa").unwrap(),
            ErasureSubject::NamePostal {
                name: "jane roe".into(),
                postal_code: "SW1A1AA".into()
            }
        );
        assert_eq!(normalize_postal("12345-6789"), "123456789");
    }

    #[test]
    fn each_invalid_request_names_its_field() {
        let field = |r: Result<ErasureSubject, SubjectError>| r.unwrap_err().field();
        assert_eq!(field(ErasureSubject::email("not-an-email")), "email");
        assert_eq!(field(ErasureSubject::email("   ")), "email");
        assert_eq!(field(ErasureSubject::email("a@b@c.d")), "email");
        assert_eq!(field(ErasureSubject::name_postal("", "12345")), "name");
        assert_eq!(
            field(ErasureSubject::name_postal("Jane", " - ")),
            "postal_code"
        );
        assert_eq!(
            field(ErasureSubject::from_fields(None, Some("Jane"), None)),
            "postal_code"
        );
        assert_eq!(
            field(ErasureSubject::from_fields(None, None, Some("1"))),
            "name"
        );
        assert_eq!(
            field(ErasureSubject::from_fields(None, None, None)),
            "email"
        );
        assert_eq!(
            ErasureSubject::from_fields(Some("a@b.co"), Some("x"), Some("1")),
            Err(SubjectError::Ambiguous)
        );
        assert_eq!(
            field(ErasureSubject::email(&format!("{}@b.co", "a".repeat(330)))),
            "email"
        );
    }

    #[test]
    fn debug_shows_no_identifier() {
        let subject = ErasureSubject::email("jane@example.com").unwrap();
        assert!(!format!("{subject:?}").contains("jane"));
    }
}
