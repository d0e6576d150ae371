//! Empty library target: it lets the user-space crate name this crate as a
//! build-dependency, so cargo rebuilds the probe when it or the ABI changes.
#![no_std]
