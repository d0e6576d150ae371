//! The real terminal: raw mode, the alternate screen and mouse capture while the UI runs,
//! and given back as it was whatever ends the UI: quitting, an error (on drop), a panic
//! (the panic hook) or a signal (it makes the loop quit, then the drop).

use std::{
    io::{self, BufWriter, Stdout, Write},
    sync::{
        Once,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::{Context, Result};
use crossterm::{
    cursor::Show,
    event::{DisableMouseCapture, EnableMouseCapture},
    execute, queue,
    terminal::{
        BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
        disable_raw_mode, enable_raw_mode,
    },
};
use ratatui::{Terminal, backend::CrosstermBackend};

use super::{
    app::App,
    runtime::{Screen, draw},
};

/// The terminal is in the UI's modes and must be given back.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Gives the terminal back: leaves the alternate screen, stops mouse capture, shows the
/// cursor and leaves raw mode. Does nothing if that was done already.
pub fn restore() {
    if TAKEN.swap(false, Ordering::SeqCst) {
        let _ = execute!(
            io::stdout(),
            DisableMouseCapture,
            LeaveAlternateScreen,
            Show
        );
        let _ = disable_raw_mode();
    }
}

/// The terminal the UI draws on; given back when dropped.
pub struct LiveScreen {
    terminal: Terminal<CrosstermBackend<BufWriter<Stdout>>>,
}

impl LiveScreen {
    /// Takes the terminal over.
    pub fn enter() -> Result<Self> {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                // The message must land on the normal screen, not the alternate one.
                restore();
                previous(info);
            }));
        });
        TAKEN.store(true, Ordering::SeqCst);
        let taken = (|| {
            enable_raw_mode()?;
            execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
            Terminal::new(CrosstermBackend::new(BufWriter::new(io::stdout())))
        })();
        match taken {
            Ok(terminal) => Ok(Self { terminal }),
            Err(e) => {
                restore();
                Err(e).context("cannot set the terminal up")
            }
        }
    }
}

impl Drop for LiveScreen {
    fn drop(&mut self) {
        // A draw that failed midway leaves its frame, synchronized update begun, in the
        // buffer: end the update and send it while the alternate screen is still there,
        // not onto the normal screen when the buffer goes.
        let backend = self.terminal.backend_mut();
        let _ = queue!(backend, EndSynchronizedUpdate);
        let _ = backend.flush();
        restore();
    }
}

impl Screen for LiveScreen {
    /// One frame, shown at once by terminals that know synchronized updates (others
    /// ignore them): no half-drawn frame flickers.
    fn draw(&mut self, app: &mut App) -> Result<()> {
        queue!(self.terminal.backend_mut(), BeginSynchronizedUpdate)?;
        draw(&mut self.terminal, app)?;
        let backend = self.terminal.backend_mut();
        queue!(backend, EndSynchronizedUpdate)?;
        backend.flush()?;
        Ok(())
    }
}
