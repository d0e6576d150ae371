//! forkwatch: a live view of a Linux machine's process lifetimes.
pub mod backend;
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod event;
pub mod logging;
pub mod model;
pub mod output;
pub mod pidfd;
pub mod pins;
pub mod probe;
pub mod recording;
pub mod relay;
pub mod snapshot;
pub mod source;
pub mod text;
pub mod ui;
