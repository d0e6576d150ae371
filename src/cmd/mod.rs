//! The headless subcommands.
pub mod events;
