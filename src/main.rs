use std::process::ExitCode;

use forkwatch::{
    cli::{self, Cli, Command},
    cmd,
    event::KindName,
    logging, text, ui,
};

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    if let Err(e) = logging::init(cli.log.as_deref()) {
        eprintln!("forkwatch-tui: {}", text::escape_str(&format!("{e:#}")));
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("forkwatch-tui: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // An error may quote a file name, a command name or a recording's contents.
            let e = format!("{e:#}");
            let e = text::escape_str(&e);
            tracing::error!("{e}");
            eprintln!("forkwatch-tui: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config()?;
    let probe = cli.probe_options()?;
    match cli.command {
        Some(Command::Events(args)) => {
            let mut live = args.live.options(probe, &config);
            // Samples are printed only when asked for by name: otherwise none are taken.
            if args
                .output
                .kinds
                .is_some_and(|k| k.contains(KindName::Sample))
            {
                live = args.samples.apply(live);
            }
            cmd::events::run(live, args.output.printing(), args.duration).await
        }
        Some(Command::Watch(args)) => {
            let mut live = args.samples.apply(args.live.options(probe, &config));
            live.follow_in_kernel = !args.filter_in_user_space;
            cmd::watch::run(live, args.pid, args.output.printing()).await
        }
        Some(Command::Record(args)) => {
            let live = args.samples.apply(args.live.options(probe, &config));
            let place = args.place.filter();
            let perfetto = args.perfetto.as_deref();
            cmd::record::run(live, &args.output, args.duration, place, perfetto).await
        }
        Some(Command::Replay(args)) if args.in_ui() => {
            ui::replay::run(&args.ui_options(&config)?).await
        }
        Some(Command::Replay(args))
            if args.streamed() && (args.tree_at.is_some() || args.diff.is_some()) =>
        {
            anyhow::bail!(
                "--tree-at and --diff read a whole recording: save the stream to a file first"
            )
        }
        Some(Command::Replay(args)) => match (&args.tree_at, args.diff.as_deref()) {
            (Some(time), _) => {
                let options = cmd::tree::TreeOptions {
                    json: args.output.json,
                    pid: args.pid,
                    place: args.output.place.filter(),
                    hosts: None,
                };
                cmd::tree::tree_at(&args.files, time, options, args.skip_damage).await
            }
            (None, Some([first, second])) => {
                let times = [first.as_str(), second.as_str()];
                let printing = args.output.printing();
                cmd::tree::diff(&args.files, times, args.pid, printing, args.skip_damage).await
            }
            _ => {
                let instead = args.instead();
                let printing = args.output.printing();
                let modes = (args.skip_damage, args.follow);
                cmd::replay::run(&args.files, printing, modes, &instead).await
            }
        },
        Some(Command::Relay(args)) => {
            let live = args.live.options(probe, &config);
            cmd::relay::run(live, args.rule()).await
        }
        Some(Command::Tree(args)) => {
            let live = args.live.options(probe, &config);
            cmd::tree::run(live, args.options(), args.check, args.follow).await
        }
        Some(Command::Wait(args)) => {
            cmd::wait::run(args.live.options(probe, &config), &args.pids).await
        }
        Some(Command::Man { subcommand }) => cli::print_man(subcommand.as_deref()),
        Some(Command::Completions { shell }) => cli::print_completions(shell),
        None if !cli.ui.remote.is_empty() => {
            let remote = cli.ui.remote_options(&config);
            ui::replay::run_remote(&cli.ui.remote, &remote, &cli.ui.remote_view(&config)?).await
        }
        None => {
            let mut options = cli.ui.options(&config)?;
            options.columns_saver = cli.columns_saver();
            let live = cli.samples.apply(cli.live.options(probe, &config));
            ui::run(live, &options).await
        }
    }
}
