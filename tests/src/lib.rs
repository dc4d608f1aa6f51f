//! Integration test crate; the tests live in `integration/`.
