//! The status of goods travelling *into* a warehouse: inbound shipments (ASNs) and returns
//! share Trackstar's words (`open`, `in-transit`, `receiving`, `received`, `cancelled`,
//! `other`). Packr serves them snake_case (`in_transit`); on the wire both `in-transit` and
//! `in_transit` are read, and any other word is `other` (the WMS's own word is kept in the
//! object's `raw_status`).

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! receiving_status {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            Open,
            InTransit,
            Receiving,
            Received,
            Cancelled,
            #[serde(other)]
            Other,
        }

        impl $name {
            pub const ALL: [$name; 6] = [
                Self::Open,
                Self::InTransit,
                Self::Receiving,
                Self::Received,
                Self::Cancelled,
                Self::Other,
            ];

            /// Packr's word (snake_case).
            pub fn as_str(&self) -> &'static str {
                match self {
                    Self::Open => "open",
                    Self::InTransit => "in_transit",
                    Self::Receiving => "receiving",
                    Self::Received => "received",
                    Self::Cancelled => "cancelled",
                    Self::Other => "other",
                }
            }

            /// Strict parse for client input (query filters): only Packr's own words.
            pub fn parse(value: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|s| s.as_str() == value)
            }

            /// Tolerant mapping of Trackstar's word: `in-transit` and `in_transit` are the
            /// same status, case and surrounding blanks are ignored, and anything unknown is
            /// `Other`.
            pub fn from_wire(word: &str) -> Self {
                let word = word.trim().to_ascii_lowercase().replace('-', "_");
                Self::parse(&word).unwrap_or(Self::Other)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

receiving_status!(
    /// Where an inbound shipment (ASN) stands.
    InboundShipmentStatus
);
receiving_status!(
    /// Where a return stands.
    ReturnStatus
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trackstars_hyphenated_in_transit_and_packrs_snake_case_are_one_status() {
        // given Trackstar's documented word and the snake_case variant some WMSes send
        // when mapped
        // then both are InTransit, and Packr serves `in_transit`
        assert_eq!(
            InboundShipmentStatus::from_wire("in-transit"),
            InboundShipmentStatus::InTransit
        );
        assert_eq!(
            InboundShipmentStatus::from_wire("in_transit"),
            InboundShipmentStatus::InTransit
        );
        assert_eq!(
            ReturnStatus::from_wire(" In-Transit "),
            ReturnStatus::InTransit
        );
        assert_eq!(
            serde_json::to_value(InboundShipmentStatus::InTransit).unwrap(),
            serde_json::json!("in_transit")
        );
    }

    #[test]
    fn unknown_words_map_to_other() {
        assert_eq!(
            InboundShipmentStatus::from_wire("docked_at_bay_4"),
            InboundShipmentStatus::Other
        );
        assert_eq!(ReturnStatus::from_wire(""), ReturnStatus::Other);
        let s: ReturnStatus = serde_json::from_str("\"quarantined\"").unwrap();
        assert_eq!(s, ReturnStatus::Other);
    }

    #[test]
    fn strict_parse_accepts_only_packrs_words() {
        for s in InboundShipmentStatus::ALL {
            assert_eq!(InboundShipmentStatus::parse(s.as_str()), Some(s));
        }
        for s in ReturnStatus::ALL {
            assert_eq!(ReturnStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(InboundShipmentStatus::parse("in-transit"), None);
        assert_eq!(ReturnStatus::parse("Received"), None);
    }
}
