//! forkwatch: a live view of a Linux machine's process lifetimes.
//!
//! The modules, by layer (each imports only from its own layer or below; the table is
//! checked by tests/architecture.rs, and README.md's "Architecture" shows how an event
//! flows through them):
//! - the event ([`event`]), the one reader of /proc ([`proc`]) and leaf utilities:
//!   [`text`], [`clock`], [`pidfd`], [`signals`], [`privileges`], [`private_file`],
//!   [`logging`];
//! - where events come from ([`source`]), recordings of them ([`recording`]) and the ssh
//!   that streams another machine's ([`remote`]);
//! - the core, free of side effects ([`tracker`]);
//! - the effects a driver performs for relay rules ([`relay`]);
//! - the drivers: the headless commands ([`cmd`]) and the terminal UI ([`ui`]), and the
//!   config file that sets their defaults ([`config`]);
//! - the command line ([`cli`]), converted into the options the drivers take.
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod event;
pub mod logging;
pub mod pidfd;
pub mod private_file;
pub mod privileges;
pub mod proc;
pub mod recording;
pub mod relay;
pub mod remote;
pub mod signals;
pub mod source;
pub mod text;
pub mod tracker;
pub mod ui;
