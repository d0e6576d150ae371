//! forkwatch: a live view of a Linux machine's process lifetimes.
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod event;
pub mod logging;
pub mod pidfd;
pub mod private_file;
pub mod privileges;
pub mod proc;
pub mod recording;
pub mod relay;
pub mod signals;
pub mod source;
pub mod text;
pub mod tracker;
pub mod ui;
