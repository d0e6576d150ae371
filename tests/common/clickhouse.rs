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
    io::{self, Read, Write},
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
    fn request(&self, request: &str, body: &[u8]) -> io::Result<(u16, String)> {
        let head = format!(
            "{request} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.http_port))?;
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        read_answer(stream)
    }

    /// One HTTP request with `body` and then all `rest` gives, sent as it comes (chunked,
    /// as `curl -T -` sends a pipe): the status and the answer.
    fn request_streamed(
        &self,
        request: &str,
        body: &[u8],
        mut rest: impl Read,
    ) -> io::Result<(u16, String)> {
        let head = format!(
            "{request} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.http_port))?;
        stream.write_all(head.as_bytes())?;
        write_chunk(&mut stream, body)?;
        let mut buffer = vec![0; 1 << 20];
        loop {
            match rest.read(&mut buffer)? {
                0 => break,
                n => write_chunk(&mut stream, &buffer[..n])?,
            }
        }
        stream.write_all(b"0\r\n\r\n")?;
        read_answer(stream)
    }

    /// Runs `sql` (the query first in the POST body, as `curl --data-binary` sends it;
    /// an INSERT's data after it): its answer, or a panic with ClickHouse's error. 64-bit
    /// numbers come back as JSON numbers, not strings.
    pub fn query(&self, sql: &[u8]) -> String {
        answer(self.request(QUERY, sql))
    }

    /// Runs the INSERT `sql` with the data `data` gives (a file, a pipe), sent while it is
    /// read, as `forkwatch-tui replay F --json --schema otel | curl -T - URL` does.
    pub fn insert(&self, sql: &str, data: impl Read) {
        let head = format!("{sql}\n");
        answer(self.request_streamed(QUERY, head.as_bytes(), data));
    }

    /// Loads the recording `file` as docs/clickhouse.md does: `forkwatch-tui replay FILE
    /// --json --schema otel` (the binary `bin`) piped into the INSERT of its table.
    pub fn load_replay(&self, bin: &str, file: &Path) {
        let mut replay = Command::new(bin)
            .arg("replay")
            .arg(file)
            .args(["--json", "--schema", "otel"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = replay.stdout.take().unwrap();
        self.insert("INSERT INTO forkwatch_events FORMAT JSONEachRow", lines);
        assert!(replay.wait().unwrap().success(), "replay {file:?}");
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

/// One chunk of a chunked body (an empty one would end it, so none is written).
fn write_chunk(stream: &mut TcpStream, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    stream.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
    stream.write_all(data)?;
    stream.write_all(b"\r\n")
}

/// The status and the body of an answer read to its end.
fn read_answer(mut stream: TcpStream) -> io::Result<(u16, String)> {
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

/// What a query answered, or a panic with ClickHouse's error.
fn answer(answer: io::Result<(u16, String)>) -> String {
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
