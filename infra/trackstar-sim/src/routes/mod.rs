//! Trackstar's public endpoints.

pub mod link;
pub mod read;
pub mod syncs;
pub mod write;
pub mod write_inbound;

use std::sync::Arc;

use crate::state::SimState;

pub type AppState = Arc<SimState>;
