//! `reel record`: episodes from a rig, interactively on a terminal or
//! unattended (`--duration`).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyModifiers};
use reel_capture::recorder::writer::EpisodeSummary;
use reel_capture::recorder::Recorder;
use reel_episode::Outcome;

/// Arguments of `reel record`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub recorder: super::RecorderArgs,
    /// Operator name stored in each episode.
    #[arg(long)]
    pub operator: Option<String>,
    /// Episodes to record unattended.
    #[arg(long, default_value_t = 1)]
    pub episodes: u32,
    /// Seconds per episode; with it (or without a terminal) recording runs unattended.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Seconds to wait for every device to answer before the first episode.
    #[arg(long, default_value_t = 5.0)]
    pub warmup: f64,
    /// Stream the recording live to a spawned rerun viewer.
    #[arg(long)]
    pub view: bool,
    /// Stream the recording live to this viewer (rerun+http://HOST:PORT/proxy), or
    /// with `--view-save FILE.rrd` into a file.
    #[arg(long, value_name = "URL", conflicts_with = "view_save")]
    pub view_url: Option<String>,
    /// Write the live view into an .rrd file as it is recorded.
    #[arg(long, value_name = "FILE.rrd")]
    pub view_save: Option<std::path::PathBuf>,
}

fn print_summary(s: &EpisodeSummary) {
    let dropped: u64 = s.dropped.iter().map(|d| d.1).sum();
    let packets: String = s
        .packet_losses
        .iter()
        .map(|(device, reason, n)| match reason.as_str() {
            "lost" => format!("; {device}: {n} packets lost"),
            _ => format!("; {device}: {n} packets refused ({reason})"),
        })
        .collect();
    eprintln!(
        "episode {}: {:.1} s, {} messages, {} dropped{packets}{}",
        s.path.display(),
        s.duration_s,
        s.messages,
        dropped,
        s.error
            .as_ref()
            .map(|e| format!("; ended early: {e}"))
            .unwrap_or_default()
    );
}

/// Records.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let stop = super::interrupted()?;
    let target = if let Some(url) = &args.view_url {
        Some(reel_viewer::Target::Connect(url.clone()))
    } else if let Some(file) = &args.view_save {
        Some(reel_viewer::Target::Save(file.clone()))
    } else if args.view {
        Some(reel_viewer::Target::Spawn {
            executable: None,
            port: 9876,
        })
    } else {
        None
    };
    let live = match target {
        Some(t) => Some(super::live_view::LiveView::start(
            t,
            &super::load_rig(&args.recorder.rig)?,
        )?),
        None => None,
    };
    let (_emulators, recorder) = args
        .recorder
        .start(args.operator.clone(), live.as_ref().map(|l| l.tap.clone()))?;
    // Give every device a moment to answer, and say which do not.
    let warm = Instant::now();
    while warm.elapsed().as_secs_f64() < args.warmup && !stop.load(Ordering::Relaxed) {
        if recorder.status().devices.iter().all(|d| d.connected) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for d in recorder.status().devices.iter().filter(|d| !d.connected) {
        eprintln!(
            "reel record: warning: {} does not answer: {}",
            d.name, d.last_error
        );
    }
    let interactive = args.duration.is_none() && std::io::stdin().is_terminal();
    let failed = if interactive {
        interactive_loop(&recorder, &stop)?
    } else {
        let duration = args.duration.unwrap_or(10.0);
        unattended(&recorder, args.episodes, duration, &stop)
    };
    for s in recorder.shutdown().iter().filter(|s| s.error.is_some()) {
        eprintln!(
            "reel record: {}: {}",
            s.path.display(),
            s.error.as_deref().unwrap_or("")
        );
    }
    if let Some(live) = live {
        live.finish();
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// N episodes of S seconds; true if any failed or ended early.
fn unattended(
    recorder: &Recorder,
    episodes: u32,
    duration: f64,
    stop: &std::sync::atomic::AtomicBool,
) -> bool {
    let mut failed = false;
    for _ in 0..episodes {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if let Err(e) = recorder.start_episode(None) {
            eprintln!("reel record: {e}");
            return true;
        }
        let t = Instant::now();
        while t.elapsed().as_secs_f64() < duration && !stop.load(Ordering::Relaxed) {
            if !recorder.is_recording() {
                break; // closed early by the writer (disk full, write error)
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if recorder.is_recording() {
            match recorder.stop_episode(Outcome::Unknown) {
                Ok(s) => {
                    failed |= s.error.is_some();
                    print_summary(&s);
                }
                Err(e) => {
                    eprintln!("reel record: {e}");
                    failed = true;
                }
            }
        } else {
            failed = true;
            if let Some(s) = recorder.closed_episodes().last() {
                print_summary(s);
            }
        }
    }
    failed
}

const KEYS: &str =
    "[space] start/stop  [s] stop as success  [f] stop as failure  [d] discard  [n] next  [q] quit";

/// Keys on a raw terminal with a live status line.
fn interactive_loop(
    recorder: &Recorder,
    stop: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<bool> {
    eprintln!("{KEYS}");
    crossterm::terminal::enable_raw_mode()?;
    let result = (|| -> anyhow::Result<bool> {
        let mut failed = false;
        let mut message = String::new();
        loop {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let line = crate::report::status_line(&recorder.status());
            let mut err = std::io::stderr();
            write!(err, "\r\x1b[2K{line}{message}")?;
            err.flush()?;
            if !event::poll(Duration::from_millis(250))? {
                continue;
            }
            let Event::Key(KeyEvent {
                code, modifiers, ..
            }) = event::read()?
            else {
                continue;
            };
            let stop_as = |outcome| -> String {
                match recorder.stop_episode(outcome) {
                    Ok(s) => format!("  saved {}", s.path.display()),
                    Err(e) => format!("  {e}"),
                }
            };
            message = match code {
                KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => break,
                KeyCode::Char('q') => break,
                KeyCode::Char(' ') if recorder.is_recording() => stop_as(Outcome::Unknown),
                KeyCode::Char(' ') => match recorder.start_episode(None) {
                    Ok(_) => String::new(),
                    Err(e) => format!("  {e}"),
                },
                KeyCode::Char('s') => stop_as(Outcome::Success),
                KeyCode::Char('f') => stop_as(Outcome::Failure),
                KeyCode::Char('d') => match recorder.discard_episode() {
                    Ok(()) => "  discarded".into(),
                    Err(e) => format!("  {e}"),
                },
                KeyCode::Char('n') => {
                    let m = if recorder.is_recording() {
                        stop_as(Outcome::Success)
                    } else {
                        String::new()
                    };
                    match recorder.start_episode(None) {
                        Ok(_) => m,
                        Err(e) => {
                            failed = true;
                            format!("  {e}")
                        }
                    }
                }
                _ => format!("  keys: {KEYS}"),
            };
        }
        Ok(failed)
    })();
    let _ = crossterm::terminal::disable_raw_mode();
    eprintln!();
    result
}
