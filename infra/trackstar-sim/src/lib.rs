//! The Trackstar simulator.
