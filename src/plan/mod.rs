//! Planning a migration from a manifest, without touching Box: how each file is uploaded
//! (`kind`), what already exists at the destination (`dest`), and what it costs in API calls
//! and time under Box's limits (`estimate`). `units` parses the sizes and rates users type.
pub mod dest;
pub mod estimate;
pub mod kind;
pub mod units;
