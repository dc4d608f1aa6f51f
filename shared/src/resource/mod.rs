//! The one resource model: every Trackstar resource Packr mirrors is declared once, as an
//! implementation of [`Resource`] on its domain type (its Trackstar listing, webhook event
//! names, wire → domain conversion, id, version, owner, the attributes its listings filter
//! on), and listed once in [`kinds`] (`resources!`), which makes [`ResourceKind`]. Webhooks,
//! sync, reconciliation, the store, health and the API take resources from there:
//!
//! - typed code is generic over `R: Resource` (the store's keys and items, the API's
//!   listings);
//! - code that meets objects of every kind at once (the processor, the sync runner,
//!   reconciliation) holds them erased: [`WireObject`] (as Trackstar sent it) and
//!   [`DomainObject`] (ready to store), with the per-kind operations it needs reached
//!   through [`ResourceKind::ops`] — no `match` on the kind anywhere else.
//!
//! Why a trait per resource rather than one table of descriptors: the parts that differ
//! between resources are types (the wire shape, the domain shape, the conversion), which
//! a table can hold only as function pointers written out per row; a trait lets the
//! compiler build those (`ResourceOps::of::<R>()`) and keeps the data part
//! ([`ResourceSpec`]) a plain constant of the same declaration.

mod bills;
mod declare;
mod inbound_shipments;
mod inventory;
pub mod kinds;
mod object;
mod orders;
mod personal;
mod products;
mod returns;
mod shipping_methods;
mod warehouses;

pub use declare::{Owner, Resource, ResourceSpec};
pub use kinds::{ResourceKind, ResourceOps};
pub use object::{AnyObject, DomainObject, PayloadError, WireObject};
pub use personal::{OrderLink, Personal, PersonalFields};
