//! `reel calib intrinsics`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use reel_calib::detect::find_checkerboard;
use reel_calib::files::{opencv_yaml, ros_camera_info_yaml, write_atomically};
use reel_calib::images::{read_episode, read_folder, NamedImage};
use reel_calib::intrinsics::{calibrate, Observation, Options};
use reel_calib::{Checkerboard, LensModel};

/// Arguments of `reel calib`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Camera intrinsics and distortion from checkerboard views.
    Intrinsics(IntrinsicsArgs),
    /// Time offset between two streams of an episode from correlated motion.
    TimeOffset(TimeOffsetArgs),
}

/// Arguments of `reel calib time-offset`.
#[derive(Debug, clap::Args)]
pub struct TimeOffsetArgs {
    /// Reference stream (JointState or CompressedImage topic).
    #[arg(long)]
    a: String,
    /// Stream whose offset to A is estimated.
    #[arg(long)]
    b: String,
    /// Largest offset searched, milliseconds (either sign).
    #[arg(long, default_value_t = 500.0)]
    max_lag_ms: f64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// The episode.
    episode: PathBuf,
}

/// Arguments of `reel calib intrinsics`.
#[derive(Debug, clap::Args)]
pub struct IntrinsicsArgs {
    /// Camera name (its topics are /camera/NAME/...; also the name in the YAML).
    #[arg(long)]
    camera: String,
    /// An episode holding the camera's JPEG frames of the target.
    #[arg(long, conflicts_with = "images", required_unless_present = "images")]
    episode: Option<PathBuf>,
    /// A folder of PNG/JPEG pictures of the target.
    #[arg(long)]
    images: Option<PathBuf>,
    /// Target: checkerboard:COLSxROWS:SQUARE_M, counting inner corners as OpenCV does.
    #[arg(long)]
    board: String,
    /// Lens model: pinhole-radtan (k1 k2 p1 p2 k3) or fisheye (k1..k4).
    #[arg(long, default_value = "pinhole-radtan")]
    model: String,
    /// Hold k3 at zero (narrow lenses rarely determine it).
    #[arg(long)]
    fix_k3: bool,
    /// Most frames taken from an episode (evenly spread).
    #[arg(long, default_value_t = 60)]
    max_frames: usize,
    /// Write ROS camera_info YAML here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write OpenCV FileStorage YAML here.
    #[arg(long)]
    opencv: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a calibration subcommand.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.what {
        What::Intrinsics(a) => intrinsics(a),
        What::TimeOffset(a) => time_offset(a),
    }
}

fn time_offset(args: &TimeOffsetArgs) -> anyhow::Result<ExitCode> {
    use reel_calib::time_offset::{activity, estimate};
    let a = activity(&args.episode, &args.a)?;
    let b = activity(&args.episode, &args.b)?;
    let r = estimate(&a, &b, args.max_lag_ms / 1000.0)
        .with_context(|| args.episode.display().to_string())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} lags {} by {:.2} ms (correlation {:.2}, distinctness {:.2}, {:.1} s of overlap); subtract it from {}'s stamps to align them",
        args.b,
        args.a,
        r.b_lags_a_s * 1000.0,
        r.correlation,
        r.distinctness,
        r.overlap_s,
        args.b
    );
    if r.correlation < 0.3 || r.distinctness < 0.05 {
        eprintln!(
            "reel: warning: weak evidence (correlation {:.2}, distinctness {:.2}): record varied, non-periodic motion that both streams see",
            r.correlation, r.distinctness
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn intrinsics(args: &IntrinsicsArgs) -> anyhow::Result<ExitCode> {
    let board = Checkerboard::parse(&args.board)?;
    let lens = LensModel::parse(&args.model)
        .with_context(|| format!("--model {}: expected pinhole-radtan or fisheye", args.model))?;
    let (source, images) = match (&args.episode, &args.images) {
        (Some(e), _) => (e.clone(), read_episode(e, &args.camera, args.max_frames)?),
        (None, Some(d)) => (d.clone(), read_folder(d)?),
        (None, None) => bail!("give --episode or --images"),
    };
    let (w, h) = (images[0].image.width, images[0].image.height);
    if let Some(odd) = images
        .iter()
        .find(|i| (i.image.width, i.image.height) != (w, h))
    {
        bail!(
            "{}: {} is {}x{} but the first image is {w}x{h}; calibrate one camera resolution at a time",
            source.display(),
            odd.name,
            odd.image.width,
            odd.image.height
        );
    }
    let found = detect_all(&images, &board);
    let observations: Vec<Observation> = found.iter().flatten().cloned().collect();
    let missing: Vec<&str> = images
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(i, _)| i.name.as_str())
        .collect();
    if observations.len() < reel_calib::intrinsics::MIN_VIEWS {
        bail!(
            "{}: the {}x{} board was found in {} of {} images; at least {} views at different angles are needed (check --board counts inner corners, and that the whole board is in view)",
            source.display(),
            board.cols,
            board.rows,
            observations.len(),
            images.len(),
            reel_calib::intrinsics::MIN_VIEWS
        );
    }
    let result = calibrate(
        &board,
        w as u32,
        h as u32,
        &observations,
        Options {
            lens,
            fix_k3: args.fix_k3,
        },
    )
    .with_context(|| source.display().to_string())?;
    if let Some(path) = &args.out {
        write_atomically(path, &ros_camera_info_yaml(&args.camera, &result.camera))?;
    }
    if let Some(path) = &args.opencv {
        write_atomically(path, &opencv_yaml(&result))?;
    }
    if args.json {
        let value = serde_json::json!({
            "camera": args.camera,
            "source": source,
            "images": images.len(),
            "without_board": missing,
            "result": result,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    for v in &result.views {
        println!(
            "  {:<24} rms {:6.3} px  tilt {:5.1} deg  distance {:5.3} m{}",
            v.name,
            v.rms_px,
            v.tilt_deg,
            v.distance_m,
            if v.rejected { "  REJECTED" } else { "" }
        );
    }
    for name in &missing {
        println!("  {name:<24} no board found");
    }
    let c = &result.camera;
    println!(
        "{}: {}x{} {}: fx {:.3} fy {:.3} cx {:.3} cy {:.3} (1-sigma {:.2} {:.2} {:.2} {:.2} px), distortion {:?}",
        args.camera,
        c.width,
        c.height,
        args.model,
        c.fx,
        c.fy,
        c.cx,
        c.cy,
        result.sigma[0],
        result.sigma[1],
        result.sigma[2],
        result.sigma[3],
        c.distortion.iter().map(|d| (d * 1e6).round() / 1e6).collect::<Vec<_>>()
    );
    println!(
        "reprojection RMS {:.3} px over {} of {} images; corners cover {:.0} % of the image",
        result.rms_px,
        result.views.iter().filter(|v| !v.rejected).count(),
        images.len(),
        100.0 * result.coverage
    );
    for w in &result.warnings {
        eprintln!("reel: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Detects the board in every image, on every core.
fn detect_all(images: &[NamedImage], board: &Checkerboard) -> Vec<Option<Observation>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = images.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = images
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|i| {
                            find_checkerboard(&i.image, board).map(|corners| Observation {
                                name: i.name.clone(),
                                corners,
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(images.chunks(chunk))
            .flat_map(|(h, part)| h.join().unwrap_or_else(|_| vec![None; part.len()]))
            .collect()
    })
}
