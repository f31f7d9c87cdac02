//! `reel calib intrinsics | hand-eye | time-offset`

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
    /// Where a camera is mounted (on the arm or in the workspace) from an
    /// episode of checkerboard views with the arm's joint states.
    HandEye(HandEyeArgs),
    /// Time offset between two streams of an episode from correlated motion.
    TimeOffset(TimeOffsetArgs),
}

/// Arguments of `reel calib hand-eye`.
#[derive(Debug, clap::Args)]
pub struct HandEyeArgs {
    /// Camera name (its frames are /camera/NAME/image/compressed).
    #[arg(long)]
    camera: String,
    /// Arm whose joint states place the gripper (/robot/ARM/joint_states).
    #[arg(long)]
    arm: String,
    /// eye-in-hand: camera on the arm, board fixed; eye-to-hand: camera
    /// fixed, board held by the arm.
    #[arg(long, value_parser = ["eye-in-hand", "eye-to-hand"])]
    mount: String,
    /// URDF link the camera (eye-in-hand) or the board (eye-to-hand) is fixed to.
    #[arg(long)]
    link: String,
    /// Target: checkerboard:COLSxROWS:SQUARE_M, counting inner corners as OpenCV does.
    #[arg(long)]
    board: String,
    /// The robot's URDF (default: the episode's /robot_description).
    #[arg(long)]
    urdf: Option<PathBuf>,
    /// A frame is used only if no joint moved more than this within
    /// ±100 ms of it, degrees.
    #[arg(long, default_value_t = 0.2)]
    still_deg: f64,
    /// Most views used (evenly spread over the arm's pauses).
    #[arg(long, default_value_t = 40)]
    max_views: usize,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// The episode.
    episode: PathBuf,
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
        What::HandEye(a) => hand_eye(a),
        What::TimeOffset(a) => time_offset(a),
    }
}

fn hand_eye(args: &HandEyeArgs) -> anyhow::Result<ExitCode> {
    use reel_calib::episode::{camera_model, one_frame_per_pause, read};
    use reel_calib::hand_eye::{calibrate as solve, from_formats, Mount, Transform, View};
    use reel_formats::robot::RobotModel;

    let path = &args.episode;
    let board = Checkerboard::parse(&args.board)?;
    let mount = match args.mount.as_str() {
        "eye-in-hand" => Mount::EyeInHand,
        _ => Mount::EyeToHand,
    };
    let data = read(path, &args.camera, Some(&args.arm))?;
    let urdf = match &args.urdf {
        Some(file) => std::fs::read_to_string(file)
            .with_context(|| format!("{}: cannot read the URDF", file.display()))?,
        None => data.urdf.clone().with_context(|| {
            format!(
                "{}: no /robot_description in the episode; give the robot's URDF with --urdf FILE",
                path.display()
            )
        })?,
    };
    let robot = RobotModel::parse(&urdf).context("the URDF")?;
    if !robot.links.iter().any(|l| l.name == args.link) {
        bail!(
            "--link {}: no such link in the URDF; its links are {}",
            args.link,
            robot
                .links
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    // One frame per pause of the arm, spread over at most --max-views.
    let (still, moving) = one_frame_per_pause(&data, 100_000_000, args.still_deg.to_radians());
    let stride = still.len().div_ceil(args.max_views.max(1)).max(1);
    let chosen: Vec<_> = still.into_iter().step_by(stride).collect();
    let t0 = data.frames[0].stamp_ns;
    let images = chosen
        .iter()
        .map(|s| {
            let f = &data.frames[s.frame];
            reel_calib::images::decode_jpeg(path, (f.stamp_ns - t0) as f64 * 1e-9, &f.jpeg)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let found = detect_all(&images, &board);
    let mut views = Vec::new();
    for (s, obs) in chosen.iter().zip(&found) {
        let Some(obs) = obs else { continue };
        let poses =
            robot.link_poses(&|joint| s.joints.iter().find(|(n, _)| n == joint).map(|(_, q)| *q));
        let Some(gripper) = poses.get(&args.link) else {
            continue;
        };
        views.push(View {
            name: obs.name.clone(),
            base_from_gripper: from_formats(gripper),
            corners: obs.corners.clone(),
        });
    }
    if views.len() < reel_calib::hand_eye::MIN_VIEWS {
        bail!(
            "{}: the board was found in {} of {} frames taken while the arm stood still ({} of {} frames were taken while it moved or without joint states); hand-eye needs at least {} such views: pause the arm for half a second at each pose",
            path.display(),
            views.len(),
            chosen.len(),
            moving,
            data.frames.len(),
            reel_calib::hand_eye::MIN_VIEWS
        );
    }

    // Intrinsics: the episode's camera_info, else fitted to the same views.
    let (camera, intrinsics_from) = match data.camera_info.as_ref().and_then(camera_model) {
        Some(c) => (c, "the episode's camera_info".to_string()),
        None => {
            let (w, h) = (images[0].image.width as u32, images[0].image.height as u32);
            let observations: Vec<Observation> = found.iter().flatten().cloned().collect();
            let fit = calibrate(&board, w, h, &observations, Options::default())
                .with_context(|| path.display().to_string())?;
            let note = format!(
                "fitted to the same views (no camera_info in the episode; RMS {:.3} px)",
                fit.rms_px
            );
            (fit.camera, note)
        }
    };
    let result =
        solve(&camera, &board, &views, mount).with_context(|| path.display().to_string())?;
    let parent = match mount {
        Mount::EyeInHand => args.link.clone(),
        Mount::EyeToHand => robot.root.clone(),
    };
    let child = data.frames[0].frame_id.clone();
    let t = Transform::from(&result.camera);
    if args.json {
        let value = serde_json::json!({
            "camera": args.camera,
            "episode": path,
            "parent_frame": parent,
            "camera_frame": child,
            "intrinsics_from": intrinsics_from,
            "frames": data.frames.len(),
            "frames_while_moving": moving,
            "result": result,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    for v in &result.views {
        println!(
            "  {:<12} rms {:6.3} px{}",
            v.name,
            v.rms_px,
            if v.rejected { "  REJECTED" } else { "" }
        );
    }
    println!(
        "{child} in {parent} ({}), from {} views ({} of {} frames taken while the arm moved); intrinsics from {intrinsics_from}:",
        args.mount,
        result.views.iter().filter(|v| !v.rejected).count(),
        moving,
        data.frames.len()
    );
    println!(
        "  translation {:.5} {:.5} {:.5} m; quaternion xyzw {:.6} {:.6} {:.6} {:.6}; rpy {:.5} {:.5} {:.5} rad",
        t.translation[0],
        t.translation[1],
        t.translation[2],
        t.rotation_xyzw[0],
        t.rotation_xyzw[1],
        t.rotation_xyzw[2],
        t.rotation_xyzw[3],
        t.rpy[0],
        t.rpy[1],
        t.rpy[2]
    );
    println!(
        "  1-sigma {:.3} deg, {:.2} mm; reprojection RMS {:.3} px; largest turn between views {:.0} deg",
        result.sigma_deg_mm[0], result.sigma_deg_mm[1], result.rms_px, result.largest_turn_deg
    );
    println!(
        "  URDF: <joint name=\"{child}_mount\" type=\"fixed\"><parent link=\"{parent}\"/><child link=\"{child}\"/><origin xyz=\"{:.5} {:.5} {:.5}\" rpy=\"{:.5} {:.5} {:.5}\"/></joint>",
        t.translation[0], t.translation[1], t.translation[2], t.rpy[0], t.rpy[1], t.rpy[2]
    );
    for w in &result.warnings {
        eprintln!("reel: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
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
