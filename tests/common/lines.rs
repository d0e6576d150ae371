//! A child's output line by line as it comes, so that a test can wait for a line with a
//! failure guard instead of blocking for ever.

use std::{
    io::{BufRead, BufReader, Read},
    sync::mpsc,
    time::Duration,
};

/// Lines of a child's output, read on a thread; the channel closes at EOF.
pub fn lines(from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

pub fn next_line(lines: &mpsc::Receiver<String>, what: &str) -> String {
    lines
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("no {what} within 30 s"))
}
