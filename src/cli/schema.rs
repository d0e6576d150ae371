//! `--schema`: which names the JSON lines' fields have.

use clap::{ValueEnum, builder::PossibleValue};

use crate::event::Schema;

/// `--schema forkwatch|otel`.
impl ValueEnum for Schema {
    fn value_variants<'a>() -> &'a [Self] {
        &[Self::Forkwatch, Self::Otel]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Self::Forkwatch => PossibleValue::new("forkwatch").help("forkwatch's own fields"),
            Self::Otel => PossibleValue::new("otel")
                .help("OpenTelemetry process semantic conventions, forkwatch.* for the rest"),
        })
    }
}
