//! The only door to Box: auth, pacing, one retry path, folders, files and upload sessions.
pub mod model;
