//! The vocabulary every stage shares: the `Event` stream upload emits and its observers (report,
//! state journal, progress) consume, the `ReportRow` each finished row becomes, and the `Cancel`
//! the caller triggers. A leaf: it imports nothing of boxlift but `manifest`'s row kinds, so no
//! import arrow runs back up the pipeline.
pub mod cancel;
pub mod event;
pub mod item;
pub mod journal;
pub mod row;

pub use cancel::{Cancel, Halt};
pub use event::{Event, SessionRecord};
pub use item::ItemKind;
pub use journal::JournalFile;
pub use row::{Action, ReportRow};
