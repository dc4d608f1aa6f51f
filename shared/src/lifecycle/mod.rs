//! The tenant data lifecycle.

pub mod retention;
pub mod sweep;
