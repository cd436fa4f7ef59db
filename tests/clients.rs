//! Real clients and real TLS against the emulator (issue 11): rclone's Box backend through a
//! CONNECT proxy to the emulator's TLS listener, and boxlift's own `--ca-cert` and certificate
//! errors.
mod rclone;
mod tls;
