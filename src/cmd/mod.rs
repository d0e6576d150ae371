//! The headless subcommands.
pub mod events;
pub mod relay;
