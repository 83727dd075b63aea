//! End-to-end tests of hookline live in `tests/`; this library holds their harness: [`E2e`]
//! runs the whole pipeline (ingress + worker) against the Connect simulator, in either
//! [`Mode`], with typed helpers and bounded waits.
pub mod chaos;
pub mod embedded;
pub mod forge;
pub mod harness;
pub mod modes;
pub mod patience;
pub mod resources;
pub mod rules;
pub mod settings;

pub use harness::E2e;
pub use modes::Mode;
pub use patience::Patience;
