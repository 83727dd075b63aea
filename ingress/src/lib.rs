//! The ingress: hookline's thin, hardened HTTP front door.
//!
//! It serves the app descriptor, handles the install lifecycle, verifies the Connect JWT of
//! every webhook and answers 2xx only once the queue has confirmed the event.
pub mod admin_check;
pub mod auth;
pub mod body;
pub mod caller;
pub mod connection;
pub mod descriptor;
pub mod errors;
pub mod forge;
pub mod install_keys;
pub mod metrics;
pub mod publisher;
pub mod routes;
pub mod startup;
pub mod state;
