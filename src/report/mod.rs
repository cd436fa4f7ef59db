//! The migration report: one CSV row per manifest row, flushed as each file finishes, and a
//! summary table at the end. A killed run keeps every row it wrote. `boxlift report` merges
//! reports (`merge`) and turns one into a self-contained HTML page (`html`).
pub mod csv;
pub mod html;
pub mod merge;
pub mod summary;

pub use self::csv::{Action, ReportRow, ReportWriter};
pub use self::summary::Summary;
