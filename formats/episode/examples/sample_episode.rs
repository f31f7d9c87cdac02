//! Writes a sample episode of a synthetic SO-101 rig: two 640×480 JPEG cameras
//! at 30 Hz, one arm (the URDF's six joints) at 200 Hz, a VLP-16-like LiDAR at
//! 10 Hz, `/tf_static`, `/robot_description` and the URDF as an attachment.
//!
//! ```text
//! sample_episode --out DIR/demo.mcap [--seconds 5] [--urdf samples/robots/so101/so101_new_calib.urdf]
//!                [--crash-after SECS]
//! ```
//! With `--crash-after`, messages are written at their real pace and the
//! process aborts after SECS seconds without finishing (as `kill -9` or a
//! power loss would leave it), so `reel recover` has something real to repair.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reel_episode::ros2::std_msgs::StringMsg;
use reel_episode::time::host_now_nanos;
use reel_episode::topics;
use reel_episode::{EpisodeMeta, EpisodeWriter, EpisodeWriterOptions, SourceKind};
use reel_testkit::synthetic_rig::{generate_mix, RigMessage, RigMix, RigTopics, SO101_JOINTS};

struct Args {
    out: PathBuf,
    seconds: f64,
    urdf: PathBuf,
    crash_after: Option<f64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        out: PathBuf::new(),
        seconds: 5.0,
        urdf: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/robots/so101/so101_new_calib.urdf"
        )),
        crash_after: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--out" => args.out = PathBuf::from(value()?),
            "--seconds" => {
                args.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?
            }
            "--urdf" => args.urdf = PathBuf::from(value()?),
            "--crash-after" => {
                args.crash_after = Some(
                    value()?
                        .parse()
                        .map_err(|e| format!("--crash-after: {e}"))?,
                )
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.out.as_os_str().is_empty() {
        return Err("--out FILE.mcap is required".into());
    }
    Ok(args)
}

fn main() -> Result<(), String> {
    let args = parse_args()?;
    let urdf =
        std::fs::read_to_string(&args.urdf).map_err(|e| format!("{}: {e}", args.urdf.display()))?;
    let mix = RigMix::so101(640, 480, 30, 28_800);
    let mut meta = EpisodeMeta::new("wave the arm over the table", "so101");
    meta.source = SourceKind::Other;
    meta.source_params.insert(
        "generator".into(),
        "formats/examples/sample_episode.rs".into(),
    );
    meta.source_params.insert(
        "mix".into(),
        "2 cameras 640x480 JPEG @ 30 Hz, 1 arm x 6 joints @ 200 Hz, VLP-16-like LiDAR 28800 pts @ 10 Hz".into(),
    );
    let mut w = EpisodeWriter::create(&args.out, meta, EpisodeWriterOptions::default())
        .map_err(|e| e.to_string())?;
    let start = host_now_nanos();
    w.attach(
        "so101_new_calib.urdf",
        "application/xml",
        urdf.as_bytes(),
        start,
    )
    .map_err(|e| e.to_string())?;
    let description = w
        .add_topic::<StringMsg>(topics::ROBOT_DESCRIPTION)
        .map_err(|e| e.to_string())?;
    w.write(description, &StringMsg { data: urdf }, start, start)
        .map_err(|e| e.to_string())?;
    let rig = RigTopics::register(&mut w, &mix).map_err(|e| e.to_string())?;
    let began = Instant::now();
    for mut m in generate_mix(&mix, start, args.seconds) {
        if let RigMessage::Joints(_, js) = &mut m.message {
            js.name = SO101_JOINTS.iter().map(|s| s.to_string()).collect();
        }
        if let Some(crash) = args.crash_after {
            // Real pace: wait until this message's receive time.
            let due = Duration::from_nanos(m.log_nanos.saturating_sub(start));
            if let Some(wait) = due.checked_sub(began.elapsed()) {
                std::thread::sleep(wait);
            }
            if began.elapsed().as_secs_f64() >= crash {
                eprintln!(
                    "sample_episode: aborting after {crash} s without finishing, as a crash would; {} messages written",
                    w.messages_written()
                );
                std::process::abort();
            }
        }
        rig.write(&mut w, &m).map_err(|e| e.to_string())?;
    }
    let path = w.finish().map_err(|e| e.to_string())?;
    println!("wrote {}", path.display());
    Ok(())
}
