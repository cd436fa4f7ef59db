//! The emulator behaves like Box: every route over real HTTP with a plain client, each success
//! path and each error code Box gives, the switchable faults, persistence and the counters.
mod auth;
mod clients;
mod faults;
mod files;
mod folders;
mod persist;
mod sessions;
