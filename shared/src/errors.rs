//! Error text for logs and records: an error with its chain of causes.

/// "outer: cause: root cause".
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// [`error_chain`] for an error whose own message is Packr's wording (it names fields, not
/// values), over causes that may quote input (a timestamp, an id, a currency as received):
/// each cause passes through [`crate::redact::without_input`].
pub fn error_chain_without_input(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&crate::redact::without_input(cause));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trackstar::wire::ConversionError;

    #[test]
    fn a_conversion_failure_names_the_field_but_not_the_value_it_received() {
        // given a timestamp field holding an email address
        let source = crate::domain::Timestamp::parse("zelda.q@planted.example").unwrap_err();
        let error = ConversionError::Timestamp {
            field: "updated_date",
            source,
        };
        // then the full chain quotes it, the chain without input does not
        assert!(error_chain(&error).contains("zelda.q@planted.example"));
        assert_eq!(
            error_chain_without_input(&error),
            "field `updated_date` is not a valid timestamp: <redacted>"
        );
    }
}
