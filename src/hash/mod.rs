//! hash (being built).
