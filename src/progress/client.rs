//! The Box client of the run in progress, for observers that read its request counters while
//! it runs (the metrics' `boxlift_requests_total`): requests are not on the event stream.
use std::sync::Mutex;

use crate::box_api::{BoxClient, ClientStats};

/// The client while the uploads run, and its counts once they are over.
static CLIENT: Mutex<Option<BoxClient>> = Mutex::new(None);
static LAST: Mutex<Option<ClientStats>> = Mutex::new(None);

/// The run's Box client. Call [`unwatch_client`] when the uploads are over: the client holds
/// the event stream open (its retry hook is a sender).
pub fn watch_client(client: &BoxClient) {
    *LAST.lock().unwrap_or_else(|e| e.into_inner()) = None;
    *CLIENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(client.clone());
}

/// Forget the run's client, keeping its last counts.
pub fn unwatch_client() {
    let client = CLIENT.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(c) = client {
        *LAST.lock().unwrap_or_else(|e| e.into_inner()) = Some(c.stats());
    }
}

/// The run's request counters now (or as the uploads ended); `None` before a run.
pub fn client_stats() -> Option<ClientStats> {
    let client = CLIENT.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match client {
        Some(c) => Some(c.stats()),
        None => LAST.lock().unwrap_or_else(|e| e.into_inner()).clone(),
    }
}
