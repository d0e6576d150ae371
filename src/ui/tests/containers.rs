//! Containers on screen: the CONTAINER column (a container's short id, a systemd unit, a
//! machine's name), the details pane's container line, and `--container`/`--cgroup`
//! showing only the processes in a place, with their ancestors dimmed.

use std::path::Path;

use super::*;
use crate::{config::Config, event::container::PlaceFilter};

const ID: &str = "3f4e1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
const POD: &str = "8d1b6c3e_4f5a_4b7c_9d2e_1f0a3b4c5d6e";
/// A unit in alice's delegated subtree, named by her: an OSC 52 clipboard write and a
/// screen clear.
const HOSTILE_UNIT: &[u8] =
    b"/user.slice/user-1000.slice/user@1000.service/\x1b]52;c;aGk=\x07\x1b[2J.service";
const HOSTILE_SHOWN: &str = r"\e]52;c;aGk=\a\e[2J.service";

fn docker() -> String {
    format!("/system.slice/docker-{ID}.scope")
}

fn pod() -> String {
    format!(
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{POD}.slice/cri-containerd-{ID}.scope"
    )
}

fn in_cgroup(info: ProcessInfo, path: &[u8]) -> ProcessInfo {
    ProcessInfo {
        cgroup: Some(CgroupPath::new(path)),
        ..info
    }
}

/// A host with a docker container (nginx and its worker under containerd's shim), a
/// Kubernetes pod's container, a machine, alice's shell, and her hostile unit.
fn host() -> App {
    let processes = vec![
        in_cgroup(info(1, 0, 1, "init", &["/sbin/init"], 0), b"/init.scope"),
        in_cgroup(
            info(400, 1, 10, "sshd", &["/usr/sbin/sshd", "-D"], 0),
            b"/system.slice/ssh.service",
        ),
        in_cgroup(
            info(600, 1, 30, "shim", &["containerd-shim"], 0),
            b"/system.slice/containerd.service",
        ),
        in_cgroup(
            info(610, 600, 40, "nginx", &["nginx", "-g", "daemon off;"], 0),
            docker().as_bytes(),
        ),
        in_cgroup(
            info(611, 610, 41, "nginx", &["nginx: worker process"], 0),
            docker().as_bytes(),
        ),
        in_cgroup(
            info(620, 600, 50, "pause", &["/pause"], 0),
            pod().as_bytes(),
        ),
        in_cgroup(
            info(630, 1, 60, "systemd", &["/usr/lib/systemd/systemd"], 0),
            b"/machine.slice/machine-build.scope/payload",
        ),
        in_cgroup(
            info(812, 400, 500, "bash", &["-bash"], 1000),
            b"/user.slice/user-1000.slice/session-3.scope",
        ),
        in_cgroup(info(900, 812, 900, "evil", &["evil"], 1000), HOSTILE_UNIT),
        info(950, 1, 950, "cron", &["/usr/sbin/cron", "-f"], 0),
    ];
    let mut model = Model::default();
    model.seed(&processes);
    let source = SourceInfo {
        name: "eBPF".into(),
        ..SourceInfo::default()
    };
    let mut app = App::new(model, source, noon_clock(), 1_000 * S, users());
    // Not among the default columns: the config file adds it.
    let columns = r#"columns = ["pid", "user", "container", "age"]"#;
    let config = Config::parse(Path::new("config.toml"), columns.to_owned()).unwrap();
    app.tree.look = config.look(None);
    app
}

/// The pids on a screen's tree lines.
fn pids(shown: &str) -> Vec<u32> {
    shown
        .lines()
        .skip(1)
        .map_while(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn the_container_column_shows_short_ids_units_and_names_escaped() {
    let mut app = host();
    let buf = draw_at(&mut app, 100, 13);
    assert_screen(
        &text(&buf),
        r"
    PID USER     CONTAINER         AGE COMMAND
      1 root     init.scope     16m39s /sbin/init
    400 root     ssh.service    16m30s ├─ /usr/sbin/sshd -D
    812 alice    session-3.scop  8m20s │  └─ -bash
    900 alice    \e]52;c;aGk=\a  1m40s │     └─ evil
    600 root     containerd.ser 16m10s ├─ containerd-shim
    610 root     3f4e1c2a9b8d   16m00s │  ├─ nginx -g daemon off;
    611 root     3f4e1c2a9b8d   15m59s │  │  └─ nginx: worker process
    620 root     3f4e1c2a9b8d   15m50s │  └─ /pause
    630 root     build          15m40s ├─ /usr/lib/systemd/systemd
    950 root                       50s └─ /usr/sbin/cron -f

eBPF │ 10 processes │ 0 lost │                      0/s │ ? help
",
    );
    let raw: String = (0..buf.area.height)
        .flat_map(|y| (0..buf.area.width).map(move |x| (x, y)))
        .map(|at| buf[at].symbol().to_owned())
        .collect();
    assert!(!raw.contains('\x1b') && !raw.contains('\x07'), "{raw:?}");
    // Narrower: CONTAINER goes first.
    let narrow = screen(&mut app, 79, 3);
    assert!(
        narrow.starts_with("    PID USER        AGE COMMAND\n"),
        "{narrow}"
    );
}

#[test]
fn the_details_pane_names_the_container_its_pod_and_a_hostile_unit_escaped() {
    let mut app = host();
    let details = |app: &mut App, search: &str| {
        key(app, KeyCode::Char('/'));
        type_text(app, search);
        key(app, KeyCode::Enter);
        screen(app, 250, 30)
    };
    key(&mut app, KeyCode::Char('d'));
    let shown = details(&mut app, "daemon");
    let line = format!("│container docker {ID}");
    assert!(shown.contains(&line), "no {line:?} in\n{shown}");
    let shown = details(&mut app, "pause");
    // Wrapped at a space, the pod's uid under the id.
    for line in [
        format!("│container containerd {ID}"),
        format!("│          (pod {POD})"),
    ] {
        assert!(shown.contains(&line), "no {line:?} in\n{shown}");
    }
    let shown = details(&mut app, "evil");
    let line = format!("│container systemd {HOSTILE_SHOWN}");
    assert!(shown.contains(&line), "no {line:?} in\n{shown}");
    // Without a container nor a unit: no line.
    let shown = details(&mut app, "cron");
    assert!(!shown.contains("│container"), "{shown}");
}

#[test]
fn a_container_filter_shows_its_processes_and_their_ancestors_dimmed() {
    let mut app = host();
    app.tree.options.place = Some(PlaceFilter::container(&ID[..12]).unwrap());
    let buf = draw_at(&mut app, 100, 8);
    assert_screen(
        &text(&buf),
        r"
    PID USER     CONTAINER         AGE COMMAND
      1 root     init.scope     16m39s /sbin/init
    600 root     containerd.ser 16m10s └─ containerd-shim
    610 root     3f4e1c2a9b8d   16m00s    ├─ nginx -g daemon off;
    611 root     3f4e1c2a9b8d   15m59s    │  └─ nginx: worker process
    620 root     3f4e1c2a9b8d   15m50s    └─ /pause

eBPF │ 10 processes │ 0 lost │                      0/s │ container 3f4e1c2a9b8d │ ? help
",
    );
    // init is selected: its row has the selection's colours.
    assert_eq!(style_at(&buf, "containerd-shim").fg, Some(Color::DarkGray));
    assert_eq!(style_at(&buf, "nginx -g").fg, Some(Color::Reset));

    // A process that starts in the container later joins them; one outside does not.
    let inside = P {
        pid: 612,
        ppid: 610,
        start_ms: 999_000,
        uid: 0,
    };
    let outside = P { pid: 613, ..inside };
    let in_docker = |e: Event| Event {
        cgroup: Some(CgroupPath::from(docker().as_str())),
        ..e
    };
    let mut events: Vec<Event> = inside.start("nginx", &["sh"]).map(in_docker).into();
    events.extend(outside.start("nginx", &["curl"]));
    update(&mut app, AppEvent::Events(events));
    assert_eq!(
        pids(&screen(&mut app, 100, 10)),
        [1, 600, 610, 611, 612, 620]
    );
    // Its next event says it is in the container now (`docker exec` moves a process in).
    let moved = in_docker(Event {
        tid: 614,
        ..outside.event(999_100, "curl", Kind::ThreadStart)
    });
    update(&mut app, AppEvent::Events(vec![moved]));
    assert_eq!(
        pids(&screen(&mut app, 100, 10)),
        [1, 600, 610, 611, 612, 613, 620]
    );

    // The flat list: theirs only.
    key(&mut app, KeyCode::F(5));
    assert_eq!(pids(&screen(&mut app, 100, 10)), [610, 611, 612, 613, 620]);
}

#[test]
fn a_cgroup_filter_takes_the_cgroups_below_and_says_its_path_escaped() {
    let mut app = host();
    app.tree.options.place = Some(PlaceFilter::cgroup("/sys/fs/cgroup/system.slice").unwrap());
    let shown = screen(&mut app, 100, 10);
    assert_eq!(pids(&shown), [1, 400, 600, 610, 611], "{shown}");
    assert!(shown.contains("│ cgroup /system.slice │"), "{shown}");

    app.tree.options.place = Some(PlaceFilter::cgroup("/\x1b[2J").unwrap());
    let shown = screen(&mut app, 100, 4);
    assert_screen(
        &shown,
        r"
    PID USER     CONTAINER         AGE COMMAND
no process in this container or cgroup

eBPF │ 10 processes │ 0 lost │                      0/s │ cgroup /\e[2J │ ? help
",
    );
}

/// From the real kernel: `--cgroup` with a fresh cgroup's path (its name holds an escape)
/// shows exactly the two processes in it, `unshare` and its child in a new PID
/// namespace, and says the path escaped.
#[test]
fn a_cgroup_filter_shows_exactly_a_real_cgroups_processes() {
    let root = crate::source::cgroups::cgroup2_mount().expect("cgroup v2 is mounted here");
    let cgroup = contained::Cgroup::new(&root, "ui-place");
    let marker = format!("fw-ui-place-{}", std::process::id());
    let (model, inner, contained) = seeded_with_contained(&cgroup, &marker);
    let outer = contained.outer();
    contained.finish();
    let now = crate::clock::boottime_ns();
    let mut app = App::new(model, SourceInfo::default(), noon_clock(), now, users());
    app.tree.options.place = Some(PlaceFilter::cgroup(&cgroup.path()).unwrap());
    let shown = screen(&mut app, 200, 60);
    let status = format!("cgroup {}", crate::text::escape(cgroup.path().as_bytes()));
    assert!(shown.contains(&status), "no {status:?} in\n{shown}");
    assert!(!shown.contains('\x1b'), "{shown:?}");
    // The tree: their ancestors too, from init down.
    let tree = pids(&shown);
    assert_eq!(tree.first(), Some(&1), "{shown}");
    assert_eq!(tree[tree.len() - 2..], [outer, inner], "{shown}");
    key(&mut app, KeyCode::F(5));
    let mut theirs = vec![outer, inner];
    theirs.sort_unstable();
    assert_eq!(pids(&screen(&mut app, 200, 60)), theirs);
}
