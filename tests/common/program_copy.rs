//! Copies a program to run it from elsewhere. The copy is written by `cp`, never by the
//! test process: a test binary forks from many threads at once, and a child forked while
//! this process held the copy open for writing would keep it so until its exec, which
//! makes an exec of the copy fail with ETXTBSY ("Text file busy").

use std::{path::Path, process::Command};

pub fn copy_program(from: impl AsRef<Path>, to: impl AsRef<Path>) {
    let (from, to) = (from.as_ref(), to.as_ref());
    let status = Command::new("cp")
        .arg("--")
        .args([from, to])
        .status()
        .unwrap_or_else(|e| panic!("cannot run cp: {e}"));
    assert!(status.success(), "cp {from:?} {to:?} failed: {status}");
}
