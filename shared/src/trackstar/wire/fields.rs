//! Conversions of fields that several resources share.

use crate::domain::Address;

use super::order::TrackstarAddress;

/// The WMS's own word: its `raw_status`, or, when it sent none, the normalized word that
/// Packr did not know (so an unknown status is never lost).
pub(crate) fn raw_or_unknown(
    raw_status: Option<String>,
    status: Option<&str>,
    mapped_to_other: bool,
) -> Option<String> {
    raw_status.or_else(|| {
        status
            .filter(|word| mapped_to_other && !word.trim().eq_ignore_ascii_case("other"))
            .map(str::to_owned)
    })
}

/// An address with no field set is no address.
pub(crate) fn some_address(address: Option<TrackstarAddress>) -> Option<Address> {
    address
        .map(Address::from)
        .filter(|a| *a != Address::default())
}
