//! forkwatch: a live view of a Linux machine's process lifetimes.
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod event;
pub mod logging;
pub mod output;
pub mod probe;
pub mod recording;
pub mod snapshot;
pub mod source;
