//! The timeline pane (`T`): a subtree's lifetimes on a time axis, live and in a replay,
//! zoomed, panned, its cursor selecting in the tree, and a click on its axis seeking.

use super::*;

/// The machine's make with the timeline open on it.
fn make_timeline() -> App {
    let mut app = machine();
    draw_at(&mut app, 100, 24);
    let buf = draw_at(&mut app, 100, 24);
    let (x, y) = find(&buf, "make -j2");
    mouse(&mut app, MouseEventKind::Down(MouseButton::Left), x, y);
    key(&mut app, KeyCode::Char('T'));
    app
}

#[test]
fn live_timeline_of_the_make() {
    let mut app = make_timeline();
    println!("{}", screen(&mut app, 100, 24));
    panic!();
}
