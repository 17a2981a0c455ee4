//! The model of the system of record: events (what happened), the state they fold into, and
//! read views of that state. Pure: no I/O, no clock, no engine. Everything above (the engine,
//! the workflows, the adapters) reads it; it reads only the foundation below it (numbers, cards,
//! divisions, stations, the population types, the policy).

pub mod event;
mod event_v1;
pub mod state;
pub mod view;

pub use event::*;
pub use state::*;
