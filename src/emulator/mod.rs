//! emulator (being built).
