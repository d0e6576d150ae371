//! A named pipe whose far end reads nothing until told: a disk that stopped. Shared by
//! the recorder's unit tests (through `#[path]`) and tests/recording.rs.

use std::{
    ffi::CString,
    fs::File,
    io::Read,
    os::unix::ffi::OsStrExt,
    path::PathBuf,
    sync::mpsc,
    thread::{self, JoinHandle},
};

pub struct StalledPipe {
    /// Where the pipe is; the directory goes with it.
    pub path: PathBuf,
    _dir: tempfile::TempDir,
    go: mpsc::Sender<()>,
    far_end: JoinHandle<Vec<u8>>,
}

impl StalledPipe {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stalled");
        let c_path = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let (go, wait_for_go) = mpsc::channel::<()>();
        let far_end = {
            let path = path.clone();
            thread::spawn(move || {
                let mut pipe = File::open(path).unwrap();
                wait_for_go.recv().unwrap();
                let mut bytes = Vec::new();
                pipe.read_to_end(&mut bytes).unwrap();
                bytes
            })
        };
        Self {
            path,
            _dir: dir,
            go,
            far_end,
        }
    }

    /// The end to write to (opened once the far end is).
    pub fn open(&self) -> File {
        File::options().write(true).open(&self.path).unwrap()
    }

    /// Lets the far end read: the disk goes again.
    pub fn resume(&self) {
        self.go.send(()).unwrap();
    }

    /// All the far end read, once every writer has closed the pipe.
    pub fn bytes(self) -> Vec<u8> {
        self.far_end.join().unwrap()
    }
}
