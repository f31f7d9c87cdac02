//! `reel view`: an episode, a folder of episodes or a LeRobot dataset in
//! rerun (native viewer, `.rrd`, a running viewer, or the web viewer).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reel_viewer::{Output, RobotSource, Target, ViewError, ViewOptions};

use crate::progress::Progress;

/// Arguments of `reel view`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An episode (.mcap), a folder of episodes, or a LeRobot v3 dataset folder.
    pub path: PathBuf,
    /// Write an .rrd file instead of opening a viewer.
    #[arg(long, value_name = "OUT.rrd", conflicts_with_all = ["connect", "web"])]
    pub save: Option<PathBuf>,
    /// Stream to a running viewer, e.g. rerun+http://127.0.0.1:9876/proxy.
    #[arg(long, value_name = "URL", conflicts_with = "web")]
    pub connect: Option<String>,
    /// Serve the web viewer on localhost until interrupted.
    #[arg(long)]
    pub web: bool,
    /// Port of the web viewer (--web); its data is served on PORT+1.
    #[arg(long, default_value_t = 9090)]
    pub port: u16,
    /// Only this episode: index in the folder (0-based), or the dataset's episode_index.
    #[arg(long)]
    pub episode: Option<usize>,
    /// URDF to draw the robot with (default: the one attached to the episode).
    #[arg(long, value_name = "FILE.urdf")]
    pub urdf: Option<PathBuf>,
    /// Folder to look for robot meshes in (repeatable).
    #[arg(long = "meshes", value_name = "DIR")]
    pub meshes: Vec<PathBuf>,
    /// Open the default browser (--web).
    #[arg(long)]
    pub open_browser: bool,
    /// Print what was shown as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Where meshes are looked for after the URDF's own folder: the episode's
/// folder, `$REEL_ROBOT_PATH`, and each robot under `samples/robots/`.
pub fn mesh_dirs(path: &Path, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = extra.to_vec();
    if let Some(dir) = path.parent() {
        dirs.push(dir.to_path_buf());
    }
    if let Some(p) = std::env::var_os("REEL_ROBOT_PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    for root in [
        PathBuf::from("samples/robots"),
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/samples/robots")),
    ] {
        if let Ok(entries) = std::fs::read_dir(&root) {
            let mut robots: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect();
            robots.sort();
            dirs.extend(robots);
        }
    }
    dirs
}

/// Views.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let target = if let Some(out) = &args.save {
        Target::Save(out.clone())
    } else if let Some(url) = &args.connect {
        Target::Connect(url.clone())
    } else if args.web {
        Target::Web {
            port: args.port,
            grpc_port: args.port.checked_add(1).unwrap_or(args.port),
            open_browser: args.open_browser,
        }
    } else {
        Target::Spawn {
            executable: None,
            port: 9876,
        }
    };
    let stop = if args.web {
        Some(super::interrupted()?)
    } else {
        None
    };
    let output = Output::open(&target)?;
    if args.web {
        eprintln!("reel view: web viewer at {}", output.location);
    }
    let options = ViewOptions {
        episode: args.episode,
        robot: RobotSource {
            urdf: args.urdf.clone(),
            mesh_dirs: mesh_dirs(&args.path, &args.meshes),
        },
    };
    // A bar while an .rrd is written; a live viewer shows progress itself.
    let bar = if args.save.is_some() {
        Progress::bar(0, "episodes converted")
    } else {
        Progress::bar(0, "").hidden()
    };
    let summary = reel_viewer::view_with_progress(&args.path, &output, &options, &|done, total| {
        bar.show(done as u64, total as u64, "episodes converted")
    })
    .map_err(|e| match e {
        // The index is the command's --episode.
        ViewError::NoSuchEpisode { path, index, count } => anyhow::anyhow!(
            "{}: --episode {index}: there are {count} episode(s) (0-based)",
            path.display()
        ),
        e => e.into(),
    })?;
    bar.finish();
    for (name, stats) in &summary.recordings {
        let logged: u64 = stats.logged.values().sum();
        eprintln!(
            "{name}: {} messages read, {logged} logged, {} quality flag(s){}",
            stats.messages,
            stats.flags,
            stats
                .time_range
                .map(|(a, b)| format!(", {:.3} s", (b - a) as f64 * 1e-9))
                .unwrap_or_default()
        );
        for w in &stats.warnings {
            eprintln!("  warning: {w}");
        }
    }
    if args.json {
        let recs: Vec<serde_json::Value> = summary
            .recordings
            .iter()
            .map(|(name, s)| {
                serde_json::json!({
                    "name": name,
                    "messages": s.messages,
                    "logged": s.logged,
                    "time_range_ns": s.time_range.map(|(a, b)| [a, b]),
                    "flags": s.flags,
                    "first_frame_ms": s.first_frame_at.map(|t| t.duration_since(started).as_secs_f64() * 1e3),
                    "warnings": s.warnings,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "recordings": recs }))?
        );
    }
    match &target {
        Target::Save(p) => {
            output.close()?;
            eprintln!("reel view: wrote {}", p.display());
            return Ok(ExitCode::SUCCESS);
        }
        Target::Web { .. } => {
            eprintln!(
                "reel view: serving {} until interrupted (Ctrl-C)",
                output.location
            );
            let stop = stop.unwrap_or_default();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        _ => eprintln!("reel view: sent to {}", output.location),
    }
    drop(output);
    Ok(ExitCode::SUCCESS)
}
