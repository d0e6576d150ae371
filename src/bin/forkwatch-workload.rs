//! Generates process events on purpose, for forkwatch's benchmarks and tests:
//!
//! - `storm [--workers N] [--seconds S] [--pin 1]`: N worker processes fork and reap children
//!   that exit at once, as fast as they can, for S seconds; prints one JSON line with the
//!   workers' pids and how many children each made. With `--pin 1` worker i and its children
//!   stay on CPU i, so a fork never waits for another CPU to wake up.
//! - `threads N`: starts N threads that end at once, then exits 0.
//! - `setuid ID` / `setgid ID`: calls setuid(2) / setgid(2), then exits 0 (1 if it failed).
//! - `setuid32 ID CMD [ARG...]` (x86_64): calls the 32-bit setuid (`int $0x80`, syscall 213
//!   `setuid32`), which no syscall tracepoint reports, then executes CMD.
//! - `exit CODE`: exits with CODE.
//! - `subreaper CMD [ARG...]`: becomes a child subreaper (PR_SET_CHILD_SUBREAPER), runs CMD,
//!   and reaps every process handed to it; exits 0 once no child is left.
//! - `name NAME [ARG...]`: takes NAME as its command name (PR_SET_NAME, which an exec's file
//!   name cannot give: any 15 bytes), forks a child that exits at once, prints `named`, and
//!   exits 0 when its stdin ends. The ARGs are not used: they make an argv of the caller's
//!   choosing.
//! - `execs COUNT ARGS`: runs `/bin/true` COUNT times, each with ARGS empty arguments, two
//!   at a time; exits 0 once all have ended.
//! - `spin`: keeps one CPU busy, in a thread of its own; exits 0 when its stdin ends.
//! - `burn MS THREADS`: the main thread and THREADS more each use MS milliseconds of CPU;
//!   with THREADS > 0 the main thread ends first and the others once it has, so the process
//!   ends with another thread while its leader is a zombie. Exits 0.
//! - `touch MIB`: writes to every page of MIB MiB, prints `touched PID`, and exits 0 when
//!   its stdin ends, the memory still held: the kernel releases it in the exit.
//! - `node DIR`: a process of a tree a test grows: it makes the fifo DIR/PID, prints
//!   `ready PID`, and does what each line written to the fifo says: `fork` (the child is a
//!   node too), `subreaper` (PR_SET_CHILD_SUBREAPER), `touch` (setuid to its own uid: an
//!   event of its own), `exit`; each but `fork` prints `did PID`. Children are reaped at
//!   once (SIGCHLD ignored).

use std::{
    io::{Read, Write},
    os::fd::{FromRawFd, OwnedFd},
    process::ExitCode,
    time::{Duration, Instant},
};

fn usage() -> ExitCode {
    eprintln!(
        "usage: forkwatch-workload storm [--workers N] [--seconds S] [--pin 0|1] | threads N | setuid ID | setgid ID | setuid32 ID CMD [ARG...] | exit CODE | subreaper CMD [ARG...] | name NAME [ARG...] | execs COUNT ARGS | burn MS THREADS | spin | touch MIB | node DIR"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| args.get(i).and_then(|a| a.parse::<u32>().ok());
    match args.first().map(String::as_str) {
        Some("storm") => {
            let mut workers = 2;
            let mut seconds = 5.0;
            let mut pin = false;
            let mut rest = args[1..].iter();
            while let Some(flag) = rest.next() {
                let value = rest.next().and_then(|v| v.parse::<f64>().ok());
                match (flag.as_str(), value) {
                    ("--workers", Some(v)) if v >= 1.0 => workers = v as usize,
                    ("--seconds", Some(v)) if v > 0.0 => seconds = v,
                    ("--pin", Some(v)) => pin = v != 0.0,
                    _ => return usage(),
                }
            }
            storm(workers, Duration::from_secs_f64(seconds), pin)
        }
        Some("threads") => match number(1) {
            Some(n) => {
                let threads: Vec<_> = (0..n).map(|_| std::thread::spawn(|| ())).collect();
                threads.into_iter().for_each(|t| t.join().expect("thread"));
                ExitCode::SUCCESS
            }
            None => usage(),
        },
        Some(call @ ("setuid" | "setgid")) => match number(1) {
            Some(id) => set_id(call, id),
            None => usage(),
        },
        #[cfg(target_arch = "x86_64")]
        Some("setuid32") if args.len() > 2 => match number(1) {
            Some(id) => setuid32_then_exec(id, &args[2], &args[3..]),
            None => usage(),
        },
        Some("exit") => match number(1).and_then(|c| u8::try_from(c).ok()) {
            Some(code) => ExitCode::from(code),
            None => usage(),
        },
        Some("subreaper") if args.len() > 1 => subreaper(&args[1], &args[2..]),
        Some("name") if args.len() > 1 => take_name(&args[1]),
        Some("execs") => match (number(1), number(2)) {
            (Some(count), Some(empty)) => execs(count, empty as usize),
            _ => usage(),
        },
        Some("spin") => {
            // Not in the main thread: a process's CPU time is all its threads'.
            std::thread::spawn(|| {
                loop {
                    std::hint::black_box(0u64);
                }
            });
            exit_when_stdin_ends()
        }
        Some("burn") => match (number(1), number(2)) {
            (Some(ms), Some(threads)) => burn(Duration::from_millis(ms.into()), threads),
            _ => usage(),
        },
        Some("touch") => match number(1) {
            Some(mib) => touch(mib as usize),
            None => usage(),
        },
        Some("node") if args.len() == 2 => tree_root(&args[1]),
        _ => usage(),
    }
}

/// `setuid ID` / `setgid ID`.
fn set_id(call: &str, id: u32) -> ExitCode {
    // SAFETY: plain system calls on this process.
    let ret = unsafe {
        if call == "setuid" {
            libc::setuid(id)
        } else {
            libc::setgid(id)
        }
    };
    if ret == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{call}({id}): {}", std::io::Error::last_os_error());
        ExitCode::FAILURE
    }
}

/// Reads stdin to its end, then exits 0.
fn exit_when_stdin_ends() -> ! {
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    std::process::exit(0)
}

/// Changes the uid through the 32-bit system call entry, then executes `command`.
#[cfg(target_arch = "x86_64")]
fn setuid32_then_exec(uid: u32, command: &str, args: &[String]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    const SETUID32: u64 = 213;
    let ret: u64;
    // SAFETY: the i386 setuid32 call takes its argument in ebx and returns in eax; LLVM
    // keeps rbx for itself, so the argument is swapped in and out around the call. The
    // kernel clears r8-r11 on the way back from `int $0x80`.
    unsafe {
        std::arch::asm!(
            "xchg {arg}, rbx",
            "int 0x80",
            "xchg {arg}, rbx",
            arg = inout(reg) u64::from(uid) => _,
            inlateout("rax") SETUID32 => ret,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
        );
    }
    // A negative errno in eax on failure.
    let ret = ret as u32 as i32;
    if ret != 0 {
        eprintln!(
            "setuid32({uid}): {}",
            std::io::Error::from_raw_os_error(-ret)
        );
        return ExitCode::FAILURE;
    }
    let err = std::process::Command::new(command).args(args).exec();
    eprintln!("{command}: {err}");
    ExitCode::FAILURE
}

/// Runs `command` as a child, adopting the orphans of its descendants, and reaps them all.
fn subreaper(command: &str, args: &[String]) -> ExitCode {
    // SAFETY: a plain prctl on this process.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } != 0 {
        eprintln!("prctl: {}", std::io::Error::last_os_error());
        return ExitCode::FAILURE;
    }
    if let Err(e) = std::process::Command::new(command).args(args).spawn() {
        eprintln!("{command}: {e}");
        return ExitCode::FAILURE;
    }
    // SAFETY: reaps our own children until there are none (ECHILD).
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), 0) } > 0 {}
    ExitCode::SUCCESS
}

/// Takes `name` as this process's command name, forks a child under it, says so, and
/// lives until stdin ends.
fn take_name(name: &str) -> ExitCode {
    let Ok(name) = std::ffi::CString::new(name) else {
        return usage();
    };
    // SAFETY: a plain prctl on this thread, with a C string the kernel copies.
    if unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) } != 0 {
        eprintln!("prctl: {}", std::io::Error::last_os_error());
        return ExitCode::FAILURE;
    }
    // SAFETY: this process is single-threaded; the child only calls _exit.
    match unsafe { libc::fork() } {
        -1 => {
            eprintln!("fork: {}", std::io::Error::last_os_error());
            return ExitCode::FAILURE;
        }
        0 => unsafe { libc::_exit(0) },
        // SAFETY: reaps our own child.
        pid => unsafe {
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        },
    }
    println!("named");
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    ExitCode::SUCCESS
}

/// Runs `/bin/true` with `empty` empty arguments `count` times, two at a time. The argv is
/// built once and handed to posix_spawn, so the exec storm costs little but the kernel's.
fn execs(count: u32, empty: usize) -> ExitCode {
    let path = c"/bin/true";
    let mut argv: Vec<*mut libc::c_char> = vec![path.as_ptr().cast_mut()];
    argv.extend(std::iter::repeat_n(c"".as_ptr().cast_mut(), empty));
    argv.push(std::ptr::null_mut());
    let envp: [*mut libc::c_char; 1] = [std::ptr::null_mut()];
    let mut running = 0;
    for _ in 0..count {
        if running == 2 {
            // SAFETY: reaps one of our own children.
            unsafe { libc::wait(std::ptr::null_mut()) };
            running -= 1;
        }
        let mut pid = 0;
        // SAFETY: every pointer is valid and NUL-terminated for the call; argv and envp
        // end with a null pointer.
        let rc = unsafe {
            libc::posix_spawn(
                &mut pid,
                path.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                argv.as_ptr(),
                envp.as_ptr(),
            )
        };
        if rc != 0 {
            eprintln!("posix_spawn: {}", std::io::Error::from_raw_os_error(rc));
            return ExitCode::FAILURE;
        }
        running += 1;
    }
    // SAFETY: reaps our own children until there are none (ECHILD).
    while unsafe { libc::wait(std::ptr::null_mut()) } > 0 {}
    ExitCode::SUCCESS
}

/// Uses `cpu` of CPU time on the calling thread.
fn spin(cpu: Duration) {
    let thread_cpu = || {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: writes the calling thread's CPU clock into `now`.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
        Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    };
    let mut x = 0u64;
    while thread_cpu() < cpu {
        for i in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
}

/// `threads` threads and the main thread each use `cpu`; the main thread ends first.
fn burn(cpu: Duration, threads: u32) -> ExitCode {
    for _ in 0..threads {
        std::thread::spawn(move || {
            spin(cpu);
            while !leader_ended() {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
    }
    spin(cpu);
    if threads == 0 {
        return ExitCode::SUCCESS;
    }
    // Ends the main thread alone (exit, not exit_group; no unwinding through Rust frames):
    // the process lives on in its threads and exits 0 when the last one returns.
    // SAFETY: nothing on this thread is used after it ends.
    unsafe { libc::syscall(libc::SYS_exit, 0) };
    unreachable!("SYS_exit returned")
}

/// Whether this process's main thread has ended: it waits as a zombie for the others.
fn leader_ended() -> bool {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{}/stat", std::process::id()));
    // The state letter follows the command name's closing parenthesis.
    stat.map_or(true, |s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    })
}

/// Writes to every page of `mib` MiB, says so, and lives until stdin ends.
fn touch(mib: usize) -> ! {
    let mut memory = vec![0u8; mib << 20];
    for page in memory.chunks_mut(4096) {
        page[0] = 1;
    }
    std::hint::black_box(&memory);
    println!("touched {}", std::process::id());
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    // Not freed here: the kernel releases it in the exit itself, between the exit
    // tracepoint and the hand-over of the children (tests/follow.rs wants that long).
    std::process::exit(0)
}

/// Forks `workers` processes that each fork+reap children until `duration` has passed.
fn storm(workers: usize, duration: Duration, pin: bool) -> ExitCode {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut running = Vec::new();
    for worker in 0..workers {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fds into `fds`.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            eprintln!("pipe: {}", std::io::Error::last_os_error());
            return ExitCode::FAILURE;
        }
        // SAFETY: both fds were just created and are owned here.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: this process is single-threaded, so the child may run Rust code.
        match unsafe { libc::fork() } {
            -1 => {
                eprintln!("fork: {}", std::io::Error::last_os_error());
                return ExitCode::FAILURE;
            }
            0 => {
                drop(read);
                if pin {
                    pin_to_cpu(worker % cpus);
                }
                let made = fork_until(Instant::now() + duration);
                let _ = std::fs::File::from(write).write_all(&made.to_le_bytes());
                // SAFETY: ends the worker without running the parent's exit handlers.
                unsafe { libc::_exit(0) };
            }
            pid => {
                drop(write);
                running.push((pid, read));
            }
        }
    }
    let mut pids = Vec::new();
    let mut forks = Vec::new();
    for (pid, read) in running {
        let mut count = [0u8; 8];
        let made = std::fs::File::from(read)
            .read_exact(&mut count)
            .map(|()| u64::from_le_bytes(count))
            .unwrap_or(0);
        // SAFETY: reaps our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        pids.push(pid);
        forks.push(made);
    }
    println!(
        "{{\"workers\":{pids:?},\"forks\":{forks:?},\"seconds\":{}}}",
        duration.as_secs_f64()
    );
    ExitCode::SUCCESS
}

/// Keeps this process (and the children it forks) on one CPU.
fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET and sched_setaffinity only touch it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Forks children that exit at once, reaping each, until `deadline`; returns how many.
fn fork_until(deadline: Instant) -> u64 {
    let mut made = 0;
    while Instant::now() < deadline {
        // SAFETY: the child only calls _exit.
        match unsafe { libc::fork() } {
            -1 => continue,
            0 => unsafe { libc::_exit(0) },
            pid => {
                // SAFETY: reaps our own child.
                unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
                made += 1;
            }
        }
    }
    made
}

/// The first node of a test's tree (`node DIR` in the module documentation): its children
/// and theirs are reaped at once.
fn tree_root(dir: &str) -> ExitCode {
    // SAFETY: sets this process's disposition of SIGCHLD (inherited); no handler runs.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    node(dir)
}

/// A node of a test's tree.
fn node(dir: &str) -> ExitCode {
    let pid = std::process::id();
    let path = format!("{dir}/{pid}");
    let Ok(c_path) = std::ffi::CString::new(path.as_str()) else {
        return usage();
    };
    // SAFETY: a valid C string.
    if unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) } != 0 {
        eprintln!("mkfifo {path}: {}", std::io::Error::last_os_error());
        return ExitCode::FAILURE;
    }
    say(&format!("ready {pid}"));
    loop {
        // Blocks until the test opens it to write.
        let mut line = String::new();
        match std::fs::File::open(&path) {
            Ok(mut fifo) => drop(fifo.read_to_string(&mut line)),
            Err(e) => {
                eprintln!("{path}: {e}");
                return ExitCode::FAILURE;
            }
        }
        // SAFETY: plain system calls on this single-threaded process.
        match line.trim() {
            "fork" => match unsafe { libc::fork() } {
                0 => return node(dir),
                -1 => eprintln!("fork: {}", std::io::Error::last_os_error()),
                _ => {}
            },
            "subreaper" => unsafe {
                libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
            },
            "touch" => unsafe {
                libc::setuid(libc::getuid());
            },
            "exit" => {
                let _ = std::fs::remove_file(&path);
                say(&format!("did {pid}"));
                return ExitCode::SUCCESS;
            }
            _ => continue,
        }
        if line.trim() != "fork" {
            say(&format!("did {pid}"));
        }
    }
}

/// One line on stdout, in one write: the nodes of a tree share the pipe.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{line}\n").as_bytes());
    let _ = out.flush();
}
