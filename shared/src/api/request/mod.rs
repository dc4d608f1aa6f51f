//! What every handler shares, by concern: the response (`reply`), who calls and what their
//! role allows (`auth`), path parameters (`path`), query parameters and brand scope
//! (`query`), and bodies and the `Idempotency-Key` (`body`).

mod auth;
mod body;
mod path;
mod query;
mod reply;

pub use auth::{allows, authenticated, require, Action, Ctx};
pub use body::{idempotency_key, integer, json_body, opt_integer, Validator};
pub use path::{match_template, path_param};
pub use query::Query;
pub use reply::{request_id, respond, Reply};
