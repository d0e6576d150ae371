//! A ClickHouse server of the test's own (Debian's `clickhouse-server`, 18.16): a child
//! process with a config in a temporary directory, listening on 127.0.0.1 only, on free
//! ports, its data, temporary files and logs in that directory; stopped when dropped.
//! Spoken to over its HTTP interface with std's TcpStream (HTTP/1.0, one request per
//! connection), as `curl` would. The server runs as root without complaint (checked with
//! 18.16), so the test runs it as it is.
//!
//! Used by tests/clickhouse.rs and benches/clickhouse.rs.

use std::{
    fs,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

/// A failure guard for the server's start, not a wait: the wait ends on its /ping.
const START_GUARD: Duration = Duration::from_secs(120);

/// The table forkwatch's OpenTelemetry records go into, as docs/clickhouse.md makes it.
pub const SCHEMA: &str = include_str!("../../docs/clickhouse.sql");

/// Where queries go: 64-bit numbers in JSON answers as numbers, not strings.
const QUERY: &str = "POST /?output_format_json_quote_64bit_integers=0";

pub struct ClickHouse {
    child: Child,
    http_port: u16,
    dir: tempfile::TempDir,
}

/// A port nothing listens on now (the kernel's pick for a socket bound to port 0).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The server's config: ports, paths and the one user, `default`, from 127.0.0.1 only.
fn config(dir: &Path, http_port: u16, tcp_port: u16) -> String {
    let d = dir.display();
    format!(
        r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/log/server.log</log><errorlog>{d}/log/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <mark_cache_size>268435456</mark_cache_size>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <profiles><default></default></profiles>
  <quotas><default></default></quotas>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
</yandex>
"#
    )
}

impl ClickHouse {
    /// Starts the server and waits until it answers /ping.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (http_port, tcp_port) = (free_port(), free_port());
        let config_file = dir.path().join("config.xml");
        fs::write(&config_file, config(dir.path(), http_port, tcp_port)).unwrap();
        // Debian puts it in /usr/sbin, which PATH may lack.
        let program = Path::new("/usr/sbin/clickhouse-server");
        let program = if program.exists() {
            program
        } else {
            Path::new("clickhouse-server")
        };
        let child = Command::new(program)
            .arg(format!("--config-file={}", config_file.display()))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("clickhouse-server (scripts/setup.sh installs it)");
        let mut server = Self {
            child,
            http_port,
            dir,
        };
        server.wait_for_ping();
        server
    }

    fn wait_for_ping(&mut self) {
        let deadline = Instant::now() + START_GUARD;
        loop {
            if let Ok((200, body)) = self.request("GET /ping", b"") {
                assert_eq!(body, "Ok.\n");
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("clickhouse-server ended ({status}): {}", self.log());
            }
            assert!(Instant::now() < deadline, "no /ping answer: {}", self.log());
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's error log, for a failure's message.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("log/error.log")).unwrap_or_default()
    }

    /// One HTTP request (`METHOD TARGET`) with `body`: the status and the answer.
    fn request(&self, request: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
        self.request_with(request, body, None)
    }

    /// One HTTP request with `body` and then what `rest` holds: the status and the answer.
    fn request_with(
        &self,
        request: &str,
        body: &[u8],
        rest: Option<&mut fs::File>,
    ) -> std::io::Result<(u16, String)> {
        let rest_len = match &rest {
            Some(file) => file.metadata()?.len(),
            None => 0,
        };
        let mut stream = TcpStream::connect(("127.0.0.1", self.http_port))?;
        let head = format!(
            "{request} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
            body.len() as u64 + rest_len
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        if let Some(file) = rest {
            std::io::copy(file, &mut stream)?;
        }
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((status, body.to_owned()))
    }

    /// Runs `sql` (the query first in the POST body, as `curl --data-binary` sends it;
    /// an INSERT's data after it): its answer, or a panic with ClickHouse's error. 64-bit
    /// numbers come back as JSON numbers, not strings.
    pub fn query(&self, sql: &[u8]) -> String {
        answer(self.request(QUERY, sql))
    }

    /// Runs the INSERT `sql` with the data in `file`, as [`ClickHouse::query`] does.
    pub fn insert_file(&self, sql: &str, file: &Path) -> String {
        let mut file = fs::File::open(file).unwrap();
        let body = format!("{sql}\n");
        answer(self.request_with(QUERY, body.as_bytes(), Some(&mut file)))
    }

    /// Runs each statement of `script` (separated by `;`, `--` comments left out).
    pub fn run_script(&self, script: &str) {
        let code: String = script
            .lines()
            .map(|line| line.split("--").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        for statement in code.split(';').filter(|s| !s.trim().is_empty()) {
            self.query(statement.as_bytes());
        }
    }
}

/// What a query answered, or a panic with ClickHouse's error.
fn answer(answer: std::io::Result<(u16, String)>) -> String {
    match answer {
        Ok((200, body)) => body,
        Ok((status, body)) => panic!("ClickHouse answered {status}: {body}"),
        Err(e) => panic!("cannot reach ClickHouse: {e}"),
    }
}

impl Drop for ClickHouse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
