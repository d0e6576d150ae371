//! Command-line interface.

mod replay;
mod samples;
mod schema;
mod tree;

use std::{
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::{Result, anyhow, bail};
use clap::{
    Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum, builder::PossibleValue,
    error::ErrorKind, parser::ValueSource,
};

use crate::{
    cmd::Printing,
    config::{self, Config},
    event::{KindSet, Schema, container::PlaceFilter},
    remote::RemoteOptions,
    source::{BackendChoice, LiveOptions, ebpf::ProbeOptions},
    tracker::rules::RuleFields,
    ui::{UiOptions, columns_dialog::ColumnsSaver, keymap::Keymap, replay::ReplayOptions},
};
pub use replay::ReplayArgs;
pub use samples::SampleArgs;
pub use tree::TreeArgs;

#[derive(Parser, Debug)]
#[command(
    name = "forkwatch-tui",
    version,
    about = "Watch a Linux machine's processes live: fork, exec, exit, threads, uid and gid changes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Where the terminal UI's events come from (without a subcommand).
    #[command(flatten)]
    pub live: LiveArgs,

    /// How often the terminal UI samples processes (without a subcommand).
    #[command(flatten)]
    pub samples: SampleArgs,

    /// What the terminal UI starts with (without a subcommand).
    #[command(flatten)]
    pub ui: UiArgs,

    /// Write the log here instead of $XDG_STATE_HOME/forkwatch/forkwatch.log.
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Size of the kernel buffer events wait in until they are read, in MiB: the eBPF
    /// probe's ring buffer (a power of two), or the proc connector socket's receive buffer.
    #[arg(long, global = true, value_name = "MIB", default_value_t = 16)]
    pub buffer_mib: u32,

    /// Start with the default settings, without reading the config file
    /// ($XDG_CONFIG_HOME/forkwatch/config.toml, else ~/.config/forkwatch/config.toml).
    #[arg(long, global = true)]
    pub ignore_config: bool,
}

impl Cli {
    /// Parses the command line, exiting with clap's message if it is wrong. The terminal
    /// UI's `--backend`, `--poll-interval`, `--sample-interval`, `--container` and `--cgroup` go before any
    /// subcommand and a subcommand's after it; given before a subcommand they would be
    /// ignored, so that is an error, as are the UI's own `--pin`, `--relay` and `--record` with a subcommand.
    pub fn parse_args() -> Self {
        let mut command = Self::command();
        let matches = command.get_matches_mut();
        if let Some((name, _)) = matches.subcommand() {
            for (id, flag) in [
                ("backend", "--backend"),
                ("poll_interval", "--poll-interval"),
                ("sample_interval", "--sample-interval"),
                ("container", "--container"),
                ("cgroup", "--cgroup"),
            ] {
                if matches.value_source(id) == Some(ValueSource::CommandLine) {
                    let message = format!("{flag} goes after the subcommand: {name} {flag} ...");
                    command.error(ErrorKind::ArgumentConflict, message).exit();
                }
            }
            for (id, flag) in [
                ("pins", "--pin"),
                ("relays", "--relay"),
                ("record", "--record"),
            ] {
                if matches.value_source(id) == Some(ValueSource::CommandLine) {
                    let message = format!("{flag} is for the terminal UI, not for `{name}`");
                    command.error(ErrorKind::ArgumentConflict, message).exit();
                }
            }
        }
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// The config file's settings; the defaults with `--ignore-config`, without a file,
    /// or for a command that does not read it.
    pub fn config(&self) -> Result<Config> {
        if self.ignore_config || !self.command.as_ref().is_none_or(Command::reads_config) {
            return Ok(Config::default());
        }
        let config = Config::load()?;
        // A mistake in `[keys]` stops every command, as any other mistake in the file does.
        keymap(&config)?;
        Ok(config)
    }

    /// What saves the columns chosen in the UI: into the config file, unless it is
    /// ignored (`--ignore-config`) or the environment names none.
    pub fn columns_saver(&self) -> Option<ColumnsSaver> {
        if self.ignore_config {
            return None;
        }
        let (path, user) = config::location()?;
        Some(ColumnsSaver::new(move |columns| {
            // The UI gave up root before it runs: it then is the user it would act as.
            let user = user
                .as_ref()
                .filter(|_| rustix::process::geteuid().is_root());
            config::save::save_columns(&path, user, columns)?;
            Ok(format!(
                "columns saved in {}",
                crate::text::escape_path(&path)
            ))
        }))
    }

    /// The probe's options: its ring buffer of `--buffer-mib`.
    pub fn probe_options(&self) -> Result<ProbeOptions> {
        let ring_bytes = self
            .buffer_mib
            .checked_mul(1 << 20)
            .ok_or_else(|| anyhow!("--buffer-mib {} is too large", self.buffer_mib))?;
        Ok(ProbeOptions {
            ring_bytes,
            ..ProbeOptions::default()
        })
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print process events as they happen, one per line.
    Events(EventsArgs),
    /// Print the events of one process's subtree as they happen, in the formats of
    /// `events`: the process, its descendants, and those born later (orphans adopted by
    /// pid 1 stay; processes handed to a subreaper outside the subtree leave it). Exits 0
    /// once no process is left in it.
    Watch(WatchArgs),
    /// Record the process events to a file, to replay later (without root).
    Record(RecordArgs),
    /// Play back a recording made with `record` or `--record`: in the terminal UI when
    /// stdin and stdout are a terminal, else (or with --text, --json or --kinds) printed
    /// as `events` prints.
    Replay(ReplayArgs),
    /// Forward matching events as real-time signals to other processes, until interrupted
    /// or until no target is left.
    Relay(RelayArgs),
    /// Print the process tree as it is now, from a fresh model (/proc and a short stream of
    /// events, as the terminal UI starts), one line per live process; or compare that
    /// model with /proc (`--check`).
    Tree(TreeArgs),
    /// Wait until every listed process has exited (any process, not only children) and
    /// print how each ended. Exits like the shell's wait: with the status of the last pid
    /// listed (128 + signal if a signal killed it), 127 if a pid names no process, 255 if
    /// how it ended could not be seen (the procfs backend, or lost events).
    Wait(WaitArgs),
    /// Print this manual page (roff) to standard output, e.g. for `man -l -`, or that of a
    /// subcommand (forkwatch-tui-SUBCOMMAND(1)).
    Man {
        #[arg(value_name = "SUBCOMMAND")]
        subcommand: Option<String>,
    },
    /// Print the completion script of a shell to standard output, e.g. for bash:
    /// `forkwatch-tui completions bash > /usr/share/bash-completion/completions/forkwatch-tui`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

impl Command {
    /// Whether it reads the config file: every command but those that print files made
    /// from these definitions, so that a broken config never stops an install.
    pub fn reads_config(&self) -> bool {
        !matches!(self, Self::Man { .. } | Self::Completions { .. })
    }
}

/// `man [SUBCOMMAND]`: the manual page of forkwatch-tui or of a subcommand, made from these
/// definitions, in roff.
pub fn print_man(subcommand: Option<&str>) -> Result<ExitCode> {
    let mut command = Cli::command();
    // Names the subcommands forkwatch-tui-NAME, as the main page refers to them.
    command.build();
    let page = match subcommand {
        None => command,
        Some(name) => match command.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<_> = command.get_subcommands().map(|c| c.get_name()).collect();
                let names = names.join(", ");
                bail!("man: no subcommand `{name}`; the subcommands are {names}");
            }
        },
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff)?;
    io::stdout().lock().write_all(&roff)?;
    Ok(ExitCode::SUCCESS)
}

/// `completions SHELL`: the shell's completion script, made from these definitions.
pub fn print_completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    // Made in memory first: clap_complete panics if its output fails (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, &name, &mut script);
    if shell == clap_complete::Shell::Bash {
        script = bash_subcommands_fixed(&script, &name);
    }
    io::stdout().lock().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// clap_complete's bash script spells a subcommand's state `forkwatch__subcmd__tui__...` in
/// its case arms but `forkwatch__tui__...` where it sets it, for a name with a hyphen, so
/// no option of a subcommand completes (clap-rs/clap#6421): the arms are spelled as set.
fn bash_subcommands_fixed(script: &[u8], name: &str) -> Vec<u8> {
    let arm = format!("{}__subcmd__", name.replace('-', "__subcmd__"));
    let state = format!("{}__subcmd__", name.replace('-', "__"));
    String::from_utf8_lossy(script)
        .replace(&arm, &state)
        .into_bytes()
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// The file to record to, e.g. session.fwrec: created mode 0600, or replaced if it is a
    /// regular file of the user forkwatch runs as (never through a symbolic link). `-`
    /// streams the recording to standard output (for `replay -`, e.g. over ssh), flushed at
    /// least every 100 ms while events flow.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub duration: Option<std::time::Duration>,

    #[command(flatten)]
    pub live: LiveArgs,

    #[command(flatten)]
    pub samples: SampleArgs,

    /// Record only the events of one container or cgroup (and the snapshot's processes
    /// in it).
    #[command(flatten)]
    pub place: PlaceArgs,

    /// Also write the recording as a Perfetto trace (Chrome trace-event JSON, for
    /// ui.perfetto.dev and chrome://tracing) when it ends, created like the recording.
    #[arg(long, value_name = "OUT")]
    pub perfetto: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    /// The processes to wait for.
    #[arg(value_name = "PID", required = true)]
    pub pids: Vec<u32>,

    #[command(flatten)]
    pub live: LiveArgs,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// The root of the subtree to watch.
    #[arg(value_name = "PID")]
    pub pid: u32,

    /// Pick the subtree's events here, not in the kernel (as before; for comparison).
    #[arg(long)]
    pub filter_in_user_space: bool,

    #[command(flatten)]
    pub live: LiveArgs,

    #[command(flatten)]
    pub samples: SampleArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    #[command(flatten)]
    pub live: LiveArgs,

    /// With `--kinds sample`: how often.
    #[command(flatten)]
    pub samples: SampleArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub duration: Option<std::time::Duration>,
}

/// The flags of `relay`: the parts of one relay rule, each checked by
/// [`crate::tracker::rules::RuleFields::build`] (so a bad value is a one-line error, as for `--relay`).
#[derive(Args, Debug)]
pub struct RelayArgs {
    #[command(flatten)]
    pub live: LiveArgs,

    /// The processes to signal: comma-separated pids (not pid 1, not kernel threads).
    /// Each should block the signal and read it with sigwaitinfo, or handle it.
    #[arg(long, value_name = "PID[,PID...]")]
    pub to: String,

    /// The real-time signal: RTMIN+N, RTMAX-N or a number in SIGRTMIN..SIGRTMAX as the C
    /// library reports them (34..64 with glibc). [default: RTMIN+1]
    #[arg(long, value_name = "SIG")]
    pub signal: Option<String>,

    /// The kinds to relay: fork, thread_start, exec, exit, thread_exit, uid, gid
    /// (comma-separated). [default: fork with relayfork, every kind with kmonitor]
    #[arg(long, value_name = "LIST")]
    pub kinds: Option<String>,

    /// Relay only the events of this process: its own, and the forks it makes. The run
    /// ends when it exits.
    #[arg(long, value_name = "PID", conflicts_with = "subtree")]
    pub pid: Option<String>,

    /// Relay only the events of this process's subtree, as `watch` sees it: the process,
    /// its descendants and those born later (a fork matches when its child is born into
    /// the subtree). The run ends when no process is left in it.
    #[arg(long, value_name = "PID")]
    pub subtree: Option<String>,

    /// What the siginfo carries. relayfork: si_pid = the parent of the process concerned,
    /// si_value = that process. kmonitor: si_pid = the process concerned, si_uid = its uid,
    /// si_int = the event bit (thread_start 0x01, thread_exit 0x04, fork 0x08, exec 0x20,
    /// exit 0x40, uid 0x80, gid 0x100). [default: relayfork]
    #[arg(long, value_name = "LAYOUT")]
    pub layout: Option<String>,

    /// Relay only the events of processes in this container (as `events --container`).
    #[arg(long, value_name = "ID|NAME", conflicts_with = "cgroup")]
    pub container: Option<String>,

    /// Relay only the events of processes in this cgroup and those below it (as `events
    /// --cgroup`).
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,

    /// Who sends the signals: `user` (default) or `kernel` (another siginfo: see the README).
    #[arg(long, value_name = "user|kernel")]
    pub path: Option<String>,
}

impl RelayArgs {
    /// The rule the flags give, its parts still text.
    pub fn rule(&self) -> RuleFields<'_> {
        RuleFields {
            to: &self.to,
            pid: self.pid.as_deref(),
            subtree: self.subtree.as_deref(),
            kinds: self.kinds.as_deref(),
            signal: self.signal.as_deref(),
            layout: self.layout.as_deref(),
            container: self.container.as_deref(),
            cgroup: self.cgroup.as_deref(),
            path: self.path.as_deref(),
        }
    }
}

/// What the terminal UI starts with.
#[derive(Args, Debug, Clone, Default)]
pub struct UiArgs {
    /// Start with this process's subtree pinned (repeatable).
    #[arg(long = "pin", value_name = "PID")]
    pub pins: Vec<u32>,

    /// Start with this relay rule (repeatable): the flags of `relay` as KEY=VALUE parts
    /// joined by colons, e.g. to=4242,4243:subtree=812:kinds=fork,exec:signal=RTMAX-2.
    /// Rules given here make the probe wake its reader sooner, as `relay` does.
    #[arg(long = "relay", value_name = "SPEC")]
    pub relays: Vec<String>,

    /// Record what the terminal UI shows to this file (replaced if it exists), to replay
    /// later with `replay FILE`.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// View another machine instead, live: runs `ssh HOST sudo forkwatch-tui record -o -`
    /// (`[remote]` in the config file changes the ssh command and the remote command) and
    /// shows the recording as it arrives. HOST is [USER@]HOST or ssh://[USER@]HOST[:PORT].
    /// Several are merged into one view, each host under its own root.
    #[arg(
        long,
        value_name = "HOST",
        conflicts_with_all = ["pins", "relays", "record", "backend", "poll_interval"]
    )]
    pub remote: Vec<String>,

    /// With --remote: what ssh runs there instead of `sudo forkwatch-tui record -o -`.
    #[arg(long, value_name = "COMMAND", requires = "remote")]
    pub remote_command: Option<String>,

    /// The processes the terminal UI shows.
    #[command(flatten)]
    pub place: PlaceArgs,
}

impl UiArgs {
    /// How `--remote` reaches its host: the config file's `[remote]`, and
    /// `--remote-command` over its command.
    pub fn remote_options(&self, config: &Config) -> RemoteOptions {
        let mut options = config.remote.clone();
        if let Some(command) = &self.remote_command {
            options.command = command.clone();
        }
        options
    }

    /// What a remote view shows, and how it looks and takes keys as the config file says.
    pub fn remote_view(&self, config: &Config) -> Result<ReplayOptions> {
        Ok(ReplayOptions {
            look: config.look(std::env::var_os("NO_COLOR").as_deref()),
            model: config.model(),
            keymap: keymap(config)?,
            place: self.place.filter(),
            ..ReplayOptions::default()
        })
    }

    /// What the terminal UI starts with, the config file's look, linger and keys given.
    pub fn options(&self, config: &Config) -> Result<UiOptions> {
        Ok(UiOptions {
            pins: self.pins.clone(),
            relays: self.relays.clone(),
            record: self.record.clone(),
            look: config.look(std::env::var_os("NO_COLOR").as_deref()),
            model: config.model(),
            keymap: keymap(config)?,
            place: self.place.filter(),
            columns_saver: None,
        })
    }
}

/// The terminal UI's keys: the defaults, with the config file's `[keys]` over them.
fn keymap(config: &Config) -> Result<Keymap> {
    Ok(config.check_keys(|overrides| Keymap::with_overrides(overrides))?)
}

/// How events are printed: shared by every command that prints them.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,

    /// The names of the JSON lines' fields: forkwatch's own (README "JSON fields"), or the
    /// OpenTelemetry process semantic conventions' (docs/clickhouse.md), for a fleet store.
    #[arg(
        long,
        value_enum,
        value_name = "SCHEMA",
        default_value = "forkwatch",
        requires = "json"
    )]
    pub schema: Schema,

    /// Print only these kinds: fork, thread_start, exec, exit, thread_exit, uid, gid
    /// (comma-separated), and sample (live samples: printed only when named). Loss reports
    /// are always printed.
    #[arg(long, value_name = "LIST")]
    pub kinds: Option<KindSet>,

    #[command(flatten)]
    pub place: PlaceArgs,
}

impl OutputArgs {
    /// How to print: every kind unless `--kinds` says otherwise, of every place unless
    /// `--container` or `--cgroup` names one.
    pub fn printing(&self) -> Printing {
        Printing {
            json: self.json,
            schema: self.schema,
            kinds: self.kinds.unwrap_or_default(),
            place: self.place.filter(),
        }
    }
}

/// `--container` or `--cgroup`: the events of one place only. Shared by the terminal UI
/// and every command that prints or records events.
#[derive(Args, Debug, Clone, Default)]
pub struct PlaceArgs {
    /// Only the processes of this container: its id (at least 4 characters of it), or the
    /// name a cgroup path gives it (an LXC or systemd-nspawn machine's name, a systemd
    /// unit's name with or without .service). Derived from the cgroup path alone: a name
    /// given with `docker run --name` is not known.
    #[arg(long, value_name = "ID|NAME", value_parser = PlaceFilter::container,
          conflicts_with = "cgroup")]
    pub container: Option<PlaceFilter>,

    /// Only the processes of this cgroup v2 and the cgroups below it: a path from the
    /// hierarchy's root (/system.slice/nginx.service), or the same directory under
    /// /sys/fs/cgroup.
    #[arg(long, value_name = "PATH", value_parser = PlaceFilter::cgroup)]
    pub cgroup: Option<PlaceFilter>,
}

impl PlaceArgs {
    /// The place asked for, if any.
    pub fn filter(&self) -> Option<PlaceFilter> {
        self.container.clone().or_else(|| self.cgroup.clone())
    }
}

/// Where live events come from: shared by every command that reads them.
#[derive(Args, Debug, Clone)]
pub struct LiveArgs {
    /// Where events come from: auto picks ebpf, else netlink (the kernel's proc connector),
    /// else procfs (polling /proc, works for anyone), and says why. [default: the config
    /// file's backend, else auto]
    #[arg(long, value_enum)]
    pub backend: Option<BackendChoice>,

    /// How often the procfs backend reads /proc, in seconds. Processes that live shorter
    /// than this are not seen.
    #[arg(long, value_name = "SECS", value_parser = parse_interval,
          default_value = "0.1")]
    pub poll_interval: std::time::Duration,
}

impl LiveArgs {
    /// The options to open the live source with, the probe's (`--buffer-mib`) and the
    /// config file given: `--backend` wins over the file's.
    pub fn options(&self, probe: ProbeOptions, config: &Config) -> LiveOptions {
        LiveOptions {
            backend: self.backend.or(config.backend).unwrap_or_default(),
            poll_interval: self.poll_interval,
            probe,
            ..LiveOptions::default()
        }
    }
}

/// `--backend auto|ebpf|netlink|procfs`.
impl ValueEnum for BackendChoice {
    fn value_variants<'a>() -> &'a [Self] {
        &[Self::Auto, Self::Ebpf, Self::Netlink, Self::Procfs]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Self::Auto => PossibleValue::new("auto").help("eBPF, else netlink, else procfs"),
            Self::Ebpf => PossibleValue::new("ebpf"),
            Self::Netlink => PossibleValue::new("netlink"),
            Self::Procfs => PossibleValue::new("procfs"),
        })
    }
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    match parse_seconds(s)? {
        d if d.is_zero() => Err("the poll interval must be longer than zero".into()),
        d => Ok(d),
    }
}

fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    std::time::Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("`{s}` is not a positive number of seconds"))
}
