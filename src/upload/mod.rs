//! The upload stage: an executor that takes planned files from a bounded channel and runs many
//! uploads at once through the Box client, emitting `Event`s for the report, progress and state.
pub mod event;

pub use event::Event;
