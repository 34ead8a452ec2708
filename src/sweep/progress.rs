//! Progress on stderr and the Ctrl-C stop flag.
//!
//! indicatif draws the bar (rate and ETA) when stderr is a terminal; when it
//! is not (a log file, a Kubernetes pod, a Slurm job), a plain line every ten
//! seconds is what a log wants instead of redraw escapes.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How a sweep reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar on a terminal, periodic lines otherwise.
    #[default]
    Auto,
    /// Nothing.
    Quiet,
}

static STOP: AtomicBool = AtomicBool::new(false);
static HANDLER: OnceLock<bool> = OnceLock::new();

/// Installs (once per process) a Ctrl-C and SIGTERM handler that stops
/// running sweeps: no run starts, and the runs in progress stop within
/// [`crate::engine::CHECK_EVERY`] events, unwritten; a second signal exits
/// at once.
pub fn install_interrupt_handler() {
    HANDLER.get_or_init(|| {
        ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            note(
                "\npoolsim: stopping; the runs in progress are left for --resume (Ctrl-C again to quit now)",
            );
        })
        .is_ok()
    });
}

/// Writes a line to stderr, ignoring failure: a full or closed stderr must
/// never stop a sweep.
fn note(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Makes a write beyond the file size limit (`ulimit -f`) fail with an
/// error (EFBIG) that the sweep reports, instead of the signal SIGXFSZ
/// killing the process without a word. (SIGPIPE is already ignored by the
/// Rust runtime, so a closed pipe is an error `EPIPE` too.)
pub fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler
    // and touches no memory; it is what `nohup`-style tools do.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// The flag Ctrl-C and SIGTERM raise; a run in progress checks it every
/// [`crate::engine::CHECK_EVERY`] events and stops (it is not written, and
/// `--resume` runs it again).
pub(crate) fn stop_flag() -> &'static AtomicBool {
    &STOP
}

/// Whether Ctrl-C was pressed.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// The progress display of one sweep.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    total: u64,
    done: u64,
    resumed: u64,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    /// Progress over `total` runs of which `resumed` are already done.
    pub fn new(mode: ProgressMode, total: u64, resumed: u64) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (mode == ProgressMode::Auto && terminal).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{bar:40} {pos}/{len} runs  {rate}  ETA {eta}  {elapsed} elapsed",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.1} runs/s", s.per_sec());
                },
            );
            bar.set_style(style);
            bar.set_position(resumed);
            bar.reset_eta();
            bar
        });
        Progress {
            bar,
            plain: mode == ProgressMode::Auto && !terminal,
            total,
            done: resumed,
            resumed,
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    /// One more run is written.
    pub fn tick(&mut self) {
        self.done += 1;
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
        } else if self.plain && self.last_line.elapsed() >= Duration::from_secs(10) {
            self.last_line = Instant::now();
            note(&format!("poolsim: {}", self.line()));
        }
    }

    fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let ran = self.done - self.resumed;
        let rate = if secs > 0.0 { ran as f64 / secs } else { 0.0 };
        let eta = if rate > 0.0 {
            format!("{:.0}s", (self.total - self.done) as f64 / rate)
        } else {
            "?".into()
        };
        format!(
            "{}/{} runs ({:.0}%), {rate:.1} runs/s, ETA {eta}",
            self.done,
            self.total,
            100.0 * self.done as f64 / self.total.max(1) as f64
        )
    }

    /// The sweep is over (finished or stopped).
    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            // Cleared and replaced by a plain line, so that what the command
            // prints next starts on a line of its own.
            bar.finish_and_clear();
            note(&format!("poolsim: {}", self.line()));
        } else if self.plain {
            note(&format!("poolsim: {}", self.line()));
        }
    }
}
