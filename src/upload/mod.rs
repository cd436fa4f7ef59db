//! The upload stage: a planner on the scan thread turns manifest rows into work, and an async
//! executor runs many uploads at once through the Box client, emitting `Event`s for the report,
//! progress and state.
pub mod executor;
pub mod folders;
pub mod planner;
mod send;
pub mod task;

pub use executor::{Limits, Work, execute};
pub use planner::Planner;
pub use send::Dedup;
pub use task::{Ctx, FileTask, OnConflict, TaskOptions};
