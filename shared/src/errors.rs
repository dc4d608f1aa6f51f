//! Error text for logs and records: an error with its chain of causes.

/// "outer: cause: root cause". Errors of the types that quote their input (serde's
/// `invalid type: string "Jane Roe"`, a timestamp or amount as received) show without it
/// ([`crate::redact::without_input`]): the chain goes to logs and stored reasons.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = describe(error);
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&describe(cause));
        source = cause.source();
    }
    text
}

/// The error's own message, without the input it quotes when its type quotes input.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let quotes_input = error.is::<serde_json::Error>()
        || error.is::<serde_dynamo::Error>()
        || error.is::<crate::domain::TimestampError>()
        || error.is::<crate::domain::MoneyError>();
    if quotes_input {
        crate::redact::without_input(error)
    } else {
        error.to_string()
    }
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
        // then the chain names the field and leaves the value out
        assert_eq!(
            error_chain(&error),
            "field `updated_date` is not a valid timestamp: <redacted>"
        );
    }

    #[test]
    fn a_decode_failure_keeps_its_kind_and_position_but_not_the_value() {
        // given a Trackstar answer that could not be decoded
        let source = serde_json::from_str::<u32>(r#""+1 555-0199-7734""#).unwrap_err();
        let error = crate::trackstar::TrackstarError::Decode {
            source,
            meta: Default::default(),
        };
        // then the chain says what went wrong and where, not what was received
        let chain = error_chain(&error);
        assert!(!chain.contains("555"), "{chain}");
        assert!(
            chain.ends_with(": invalid type: string <redacted> at line 1 column 18"),
            "{chain}"
        );
    }

    #[test]
    fn errors_that_quote_no_input_read_as_before() {
        let error = crate::store::StoreError::dynamo("PutItem", "throttled");
        assert_eq!(error_chain(&error), "DynamoDB PutItem failed: throttled");
    }
}
