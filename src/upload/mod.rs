//! upload (being built).
