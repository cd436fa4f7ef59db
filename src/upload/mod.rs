//! The upload stage: an async executor runs the `Work` planning made (`crate::plan`), many
//! uploads at once through the Box client, emitting `Event`s for the report, progress and state.
pub mod access;
mod changed;
pub mod executor;
pub mod folders;
pub mod heal;
pub mod lanes;
mod send;
pub mod task;

pub use crate::plan::{FileTask, OnConflict, Work};
pub use changed::CHANGED_DURING_UPLOAD;
pub use executor::{Limits, execute};
pub use send::Dedup;
pub use task::{Ctx, TaskOptions};
