//! Planning a migration from a manifest: each manifest row becomes `Work` (`planner`, on the
//! scan thread, with the state journal: skip what is done), how each file is uploaded (`kind`),
//! the one conflict decision dry and real runs share (`conflict`), what already exists at the
//! destination (`dest`), and what it costs in API calls and time under Box's limits
//! (`estimate`). `units` parses the sizes and rates users type.
pub mod conflict;
pub mod deletes;
pub mod dest;
pub mod estimate;
pub mod kind;
pub mod moves;
pub mod owners;
pub mod planner;
pub mod units;
pub mod work;

pub use conflict::OnConflict;
pub use planner::Planner;
pub use work::{FileTask, Work};
