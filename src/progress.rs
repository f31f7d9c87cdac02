//! Progress bars for long commands: drawn on stderr when it is a terminal,
//! nothing at all on a pipe or a file (so `--json` and logs stay clean).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar, or nothing when stderr is not a terminal.
#[derive(Debug)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar of `len` steps labelled with what is counted.
    pub fn bar(len: u64, what: &str) -> Self {
        if !std::io::stderr().is_terminal() || std::env::var_os("REEL_NO_PROGRESS").is_some() {
            return Self(None);
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg} (eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Self(Some(bar))
    }

    /// No bar at all.
    pub fn hidden(self) -> Self {
        drop(self);
        Self(None)
    }

    /// Sets the steps done.
    pub fn set(&self, done: u64) {
        if let Some(b) = &self.0 {
            b.set_position(done);
        }
    }

    /// Shows `done` of `total` steps of what is now counted.
    pub fn show(&self, done: u64, total: u64, what: &str) {
        if let Some(b) = &self.0 {
            if b.length() != Some(total) {
                b.set_length(total);
            }
            if b.message() != what {
                b.set_message(what.to_string());
            }
            b.set_position(done);
        }
    }

    /// One more step done.
    pub fn step(&self) {
        if let Some(b) = &self.0 {
            b.inc(1);
        }
    }

    /// Prints a line of the command's output on stdout, above the bar.
    pub fn println(&self, line: &str) {
        match &self.0 {
            Some(b) => b.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }

    /// Removes the bar (the command's own output follows).
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // Cleared even when a command fails half-way.
        self.finish();
    }
}
