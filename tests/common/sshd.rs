//! An sshd of the test's own (Debian's openssh-server, installed by scripts/setup.sh) on
//! 127.0.0.1 and a free port, with throw-away host and user keys in a private directory;
//! stopped when dropped. Logs in as the user the test runs as (root in CI).

use std::{
    fs,
    net::TcpListener,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

pub struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

const SSHD: &str = "/usr/sbin/sshd";

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs (openssh-client)");
    assert!(status.success(), "ssh-keygen failed");
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap().port()
}

impl Sshd {
    pub fn start() -> Self {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: scripts/setup.sh installs openssh-server"
        );
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let path = |name: &str| dir.path().join(name);
        keygen(&path("host_key"));
        keygen(&path("user_key"));
        fs::copy(path("user_key.pub"), path("authorized_keys")).unwrap();
        // Privilege separation needs this directory, which the package's service makes.
        fs::create_dir_all("/run/sshd").unwrap();
        for _ in 0..10 {
            let port = free_port();
            let config = format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {host}\n\
                 AuthorizedKeysFile {keys}\nPidFile none\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
                 UsePAM no\nStrictModes no\n",
                host = path("host_key").display(),
                keys = path("authorized_keys").display(),
            );
            fs::write(path("sshd_config"), config).unwrap();
            let mut child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(path("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(fs::File::create(path("sshd.log")).unwrap())
                .spawn()
                .expect("sshd starts");
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until {
                if fs::read_to_string(path("sshd.log"))
                    .unwrap_or_default()
                    .contains("Server listening")
                {
                    return Self { child, dir, port };
                }
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "sshd did not start: {}",
            fs::read_to_string(path("sshd.log")).unwrap_or_default()
        );
    }

    /// Where the user key is, for an `ssh -i`.
    pub fn key(&self) -> PathBuf {
        self.dir.path().join("user_key")
    }

    /// The destination to give ssh: this user on 127.0.0.1 at sshd's port.
    pub fn destination(&self) -> String {
        let user = if rustix::process::getuid().is_root() {
            "root".to_owned()
        } else {
            std::env::var("USER").unwrap_or_default()
        };
        format!("ssh://{user}@127.0.0.1:{}", self.port)
    }

    /// The ssh command that reaches it with the throw-away key and host key, and no one
    /// else's keys or known hosts.
    pub fn ssh(&self) -> Vec<String> {
        let known = self.dir.path().join("known_hosts");
        vec![
            "ssh".into(),
            "-i".into(),
            self.key().display().to_string(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-o".into(),
            format!("UserKnownHostsFile={}", known.display()),
            "-o".into(),
            "StrictHostKeyChecking=accept-new".into(),
        ]
    }

    /// The sessions sshd started, for a test that cuts them (children of sshd's own pid).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
