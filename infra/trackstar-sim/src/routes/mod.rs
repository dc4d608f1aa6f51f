//! Trackstar's public endpoints.

pub mod link;
pub mod read;
pub mod write;

use std::sync::Arc;

use crate::state::SimState;

pub type AppState = Arc<SimState>;
