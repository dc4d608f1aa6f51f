//! Which fields of a resource's objects are personal data, declared with the resource
//! (every `Resource` is `Personal`): the addresses on it, its free text, and how it links
//! to an order. The erasure of a person (`crate::privacy`) matches and redacts objects
//! through this declaration only, never by a match on the kind.

use crate::domain::Address;

/// How an object relates to orders, for erasures that follow a person's orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderLink<'a> {
    /// It is the order with this id.
    Is(&'a str),
    /// It belongs to the order with this id (a return).
    RefersTo(&'a str),
}

/// The personal fields of one object, borrowed for matching and redaction.
#[derive(Default)]
pub struct PersonalFields<'a> {
    /// Every address on it: all of their fields but `country` are personal.
    pub addresses: Vec<&'a mut Address>,
    /// Free text written in the WMS (notes): personal as a whole once the object matches.
    pub free_text: Vec<&'a mut String>,
    pub order: Option<OrderLink<'a>>,
}

impl PersonalFields<'_> {
    /// A kind without personal data.
    pub fn none() -> Self {
        Self::default()
    }
}

/// A domain type's personal fields.
pub trait Personal {
    fn personal_fields(&mut self) -> PersonalFields<'_>;
}
