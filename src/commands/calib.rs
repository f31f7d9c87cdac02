//! `reel calib intrinsics | hand-eye | time-offset`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use reel_calib::detect::find_checkerboard;
use reel_calib::files::{opencv_yaml, ros_camera_info_yaml, write_atomically};
use reel_calib::images::{read_episode, read_folder, NamedImage};
use reel_calib::intrinsics::{calibrate, Observation, Options};
use reel_calib::{Checkerboard, LensModel};
use reel_capture::rig_edit::{Calibration, Sensor};

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
    /// Where a LiDAR is relative to a camera, from an episode of a board
    /// both see, held still at varied tilts.
    CameraLidar(CameraLidarArgs),
    /// Time offset between two streams of an episode from correlated motion.
    TimeOffset(TimeOffsetArgs),
}

/// Arguments of `reel calib camera-lidar`.
#[derive(Debug, clap::Args)]
pub struct CameraLidarArgs {
    /// Camera name (its frames are /camera/NAME/image/compressed).
    #[arg(long)]
    camera: String,
    /// LiDAR name (its clouds are /lidar/NAME/points).
    #[arg(long)]
    lidar: String,
    /// Target: checkerboard:COLSxROWS:SQUARE_M, counting inner corners as OpenCV does.
    #[arg(long)]
    board: String,
    /// The physical board's width x height in metres (default: the checker
    /// area, one square beyond the outer corners).
    #[arg(long)]
    board_size: Option<String>,
    /// Returns farther than this are ignored, metres.
    #[arg(long, default_value_t = 6.0)]
    max_range: f64,
    /// Most views used (evenly spread over the episode).
    #[arg(long, default_value_t = 40)]
    max_views: usize,
    /// Also store the result in this rig config (a dated backup of the
    /// previous file is kept); episodes recorded with it then carry it.
    #[arg(long)]
    rig: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// The episode.
    episode: PathBuf,
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
    /// Also store the result in this rig config (a dated backup of the
    /// previous file is kept); episodes recorded with it then carry it.
    #[arg(long)]
    rig: Option<PathBuf>,
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
    /// What stands for a joint stream's motion when B is a camera:
    /// `projected` (the links on /tf seen through B's camera_info and
    /// /tf_static; joint speed where the episode lacks them) or
    /// `joint-speed`.
    #[arg(long, default_value = "projected", value_parser = ["projected", "joint-speed"])]
    motion: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Also store the result in this rig config as the camera's
    /// `latency_ms` (the camera of B, or of A when only A is one; a dated
    /// backup of the previous file is kept): episodes recorded with it
    /// then carry frame stamps without the offset.
    #[arg(long)]
    rig: Option<PathBuf>,
    /// The episodes (of one rig: one offset is estimated from all of them).
    #[arg(required = true, num_args = 1.., value_name = "EPISODE")]
    episodes: Vec<PathBuf>,
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
    /// Also store the result in this rig config (a dated backup of the
    /// previous file is kept); episodes recorded with it then carry it.
    #[arg(long)]
    rig: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a calibration subcommand.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.what {
        What::Intrinsics(a) => intrinsics(a),
        What::HandEye(a) => hand_eye(a),
        What::CameraLidar(a) => camera_lidar(a),
        What::TimeOffset(a) => time_offset(a),
    }
}

fn camera_lidar(args: &CameraLidarArgs) -> anyhow::Result<ExitCode> {
    use reel_calib::camera_lidar::{calibrate as solve, find_board, LidarView};
    use reel_calib::episode::{read, read_clouds, Also};
    use reel_calib::pose::board_pose;
    use reel_calib::pose::Transform;

    let path = &args.episode;
    let board = Checkerboard::parse(&args.board)?;
    let size = match &args.board_size {
        None => [
            (board.cols + 1) as f64 * board.square,
            (board.rows + 1) as f64 * board.square,
        ],
        Some(text) => {
            let parsed: Option<Vec<f64>> = text.split('x').map(|v| v.parse().ok()).collect();
            match parsed.as_deref() {
                Some([w, h]) if *w > 0.0 && *h > 0.0 => [*w, *h],
                _ => bail!("--board-size {text}: expected WIDTHxHEIGHT in metres, e.g. 0.8x0.6"),
            }
        }
    };
    let data = read(
        path,
        &args.camera,
        Also {
            arm: None,
            lidar: Some(&args.lidar),
        },
    )?;
    // A cloud counts when the board stood still through its revolution: the
    // camera sees it at the same pose just before and just after.
    let stamps = &data.cloud_stamps;
    let mut gaps: Vec<i64> = stamps.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    let period = gaps
        .get(gaps.len() / 2)
        .copied()
        .unwrap_or(100_000_000)
        .max(1);
    let stride = stamps.len().div_ceil(3 * args.max_views.max(1)).max(1);
    let t0 = data.frames[0].stamp_ns;
    let mut candidates = Vec::new(); // (cloud stamp, frame before, frame after)
    for &s in stamps.iter().step_by(stride) {
        let before = data.frames.iter().rposition(|f| f.stamp_ns <= s);
        let after = data.frames.iter().position(|f| f.stamp_ns >= s + period);
        if let (Some(b), Some(a)) = (before, after) {
            if data.frames[a].stamp_ns - data.frames[b].stamp_ns <= 3 * period {
                candidates.push((s, b, a));
            }
        }
    }
    let images = candidates
        .iter()
        .flat_map(|&(_, b, a)| [b, a])
        .map(|i| {
            let f = &data.frames[i];
            reel_calib::images::decode_jpeg(path, (f.stamp_ns - t0) as f64 * 1e-9, &f.jpeg)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let found = detect_all(&images, &board);
    let observations: Vec<Observation> = found.iter().flatten().cloned().collect();
    if observations.is_empty() {
        bail!(
            "{}: the {}x{} board was not found in any of {} frames next to a LiDAR revolution; check --board (inner corners) and --camera",
            path.display(),
            board.cols,
            board.rows,
            images.len()
        );
    }
    let image_size = (images[0].image.width as u32, images[0].image.height as u32);
    let (camera, intrinsics_from) =
        episode_intrinsics(path, &data, &board, image_size, &observations)?;
    let object = board.object_points();
    let mut still = Vec::new(); // (cloud stamp, name, camera ← board)
    let mut moving = 0;
    for (k, &(s, _, _)) in candidates.iter().enumerate() {
        let (Some(b), Some(a)) = (&found[2 * k], &found[2 * k + 1]) else {
            continue;
        };
        let (Some(pb), Some(pa)) = (
            board_pose(&camera, &object, &b.corners),
            board_pose(&camera, &object, &a.corners),
        ) else {
            continue;
        };
        let change = pb.inverse() * pa;
        if change.translation.vector.norm() > 0.003 || change.rotation.angle() > 0.3f64.to_radians()
        {
            moving += 1;
            continue;
        }
        still.push((s, b.name.clone(), pb));
    }
    // One view per pause: a still board at the same pose as the last view
    // adds nothing but weight.
    let mut views_at: Vec<(i64, String, nalgebra::Isometry3<f64>)> = Vec::new();
    for v in still {
        let same = views_at.last().is_some_and(|last| {
            let change = last.2.inverse() * v.2;
            change.translation.vector.norm() < 0.01 && change.rotation.angle() < 1f64.to_radians()
        });
        if !same {
            views_at.push(v);
        }
    }
    let wanted: std::collections::BTreeSet<i64> = views_at.iter().map(|v| v.0).collect();
    let clouds = read_clouds(path, &args.lidar, &wanted)?;
    let mut views = Vec::new();
    let mut no_board = Vec::new();
    for (s, name, camera_from_board) in views_at.into_iter().take(args.max_views.max(1)) {
        let points: Vec<nalgebra::Vector3<f64>> = clouds
            .get(&s)
            .map(|c| c.iter().map(|p| nalgebra::Vector3::from(*p)).collect())
            .unwrap_or_default();
        match find_board(&points, size, args.max_range) {
            Some(points) => views.push(LidarView {
                name,
                camera_from_board,
                points,
            }),
            None => no_board.push(name),
        }
    }
    if views.len() < reel_calib::camera_lidar::MIN_VIEWS {
        bail!(
            "{}: the board was seen still by both sensors in {} pose(s) ({} revolutions with the board moving, {} still poses without a {:.2}x{:.2} m plane in the scan); at least {} are needed: hold the board still for a second at each of 10-20 tilts, within {:.0} m, and check --board-size",
            path.display(),
            views.len(),
            moving,
            no_board.len(),
            size[0],
            size[1],
            reel_calib::camera_lidar::MIN_VIEWS,
            args.max_range
        );
    }
    let result = solve(&views).with_context(|| path.display().to_string())?;
    let parent = data.frames[0].frame_id.clone();
    let child = data.lidar_frame.clone();
    let t = Transform::from(&result.camera_from_lidar);
    if let Some(rig) = &args.rig {
        let mount = t.mount(&parent);
        store_in_rig(rig, Sensor::Lidar(&args.lidar), Calibration::Mount(&mount))?;
    }
    if args.json {
        let value = serde_json::json!({
            "camera": args.camera,
            "lidar": args.lidar,
            "episode": path,
            "camera_frame": parent,
            "lidar_frame": child,
            "intrinsics_from": intrinsics_from,
            "revolutions": stamps.len(),
            "revolutions_while_moving": moving,
            "still_poses_without_board": no_board,
            "result": result,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    for v in &result.views {
        println!(
            "  {:<12} {:6} returns  rms {:5.1} mm{}",
            v.name,
            v.points,
            v.rms_m * 1e3,
            if v.rejected { "  REJECTED" } else { "" }
        );
    }
    for name in &no_board {
        println!("  {name:<12} board not found in the scan");
    }
    println!(
        "{child} in {parent}, from {} views; intrinsics from {intrinsics_from}:",
        result.views.iter().filter(|v| !v.rejected).count()
    );
    print_transform(&t);
    println!(
        "  1-sigma {:.3} deg, {:.2} mm; point-to-plane RMS {:.1} mm",
        result.sigma_deg_mm[0],
        result.sigma_deg_mm[1],
        result.rms_m * 1e3
    );
    print_urdf_joint(&t, &parent, &child);
    for w in &result.warnings {
        eprintln!("reel: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

fn hand_eye(args: &HandEyeArgs) -> anyhow::Result<ExitCode> {
    use reel_calib::episode::{one_frame_per_pause, read, Also};
    use reel_calib::hand_eye::{calibrate as solve, Setup, View};
    use reel_calib::pose::{from_formats, Transform};
    use reel_episode::robot::RobotModel;

    let path = &args.episode;
    let board = Checkerboard::parse(&args.board)?;
    let mount = match args.mount.as_str() {
        "eye-in-hand" => Setup::EyeInHand,
        _ => Setup::EyeToHand,
    };
    let data = read(
        path,
        &args.camera,
        Also {
            arm: Some(&args.arm),
            lidar: None,
        },
    )?;
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

    let observations: Vec<Observation> = found.iter().flatten().cloned().collect();
    let size = (images[0].image.width as u32, images[0].image.height as u32);
    let (camera, intrinsics_from) = episode_intrinsics(path, &data, &board, size, &observations)?;
    let result =
        solve(&camera, &board, &views, mount).with_context(|| path.display().to_string())?;
    let parent = match mount {
        Setup::EyeInHand => args.link.clone(),
        Setup::EyeToHand => robot.root.clone(),
    };
    let child = data.frames[0].frame_id.clone();
    let t = Transform::from(&result.camera);
    if let Some(rig) = &args.rig {
        let mount = t.mount(&parent);
        store_in_rig(
            rig,
            Sensor::Camera(&args.camera),
            Calibration::Mount(&mount),
        )?;
    }
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
    print_transform(&t);
    println!(
        "  1-sigma {:.3} deg, {:.2} mm; reprojection RMS {:.3} px; largest turn between views {:.0} deg",
        result.sigma_deg_mm[0], result.sigma_deg_mm[1], result.rms_px, result.largest_turn_deg
    );
    print_urdf_joint(&t, &parent, &child);
    for w in &result.warnings {
        eprintln!("reel: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// What one episode gives `reel calib time-offset`: the two activities,
/// what stood for the joints' motion, and, for a fixed camera whose links
/// are on /tf, its frame pairs and the links' pixels, which the
/// link-by-link fit refines the lag with.
struct OffsetEvidence {
    a: reel_calib::time_offset::Activity,
    b: reel_calib::time_offset::Activity,
    motion: &'static str,
    fit: Option<(
        reel_calib::time_offset::Changes,
        reel_calib::projected_motion::Tracks,
    )>,
    /// The camera rides on the arm's links (a wrist camera).
    camera_rides: bool,
}

/// Which side of `reel calib time-offset` is a camera: the joint stream's
/// topic, the camera's topic and name, and whether the camera is stream A
/// (B's camera is taken first).
#[derive(Clone, Copy)]
struct CameraSide<'a> {
    joints: &'a str,
    camera: &'a str,
    name: &'a str,
    camera_is_a: bool,
}

/// An episode's evidence with the joints' motion as the camera sees it:
/// the links on /tf projected into it. `None` when the episode lacks what
/// the projection needs.
fn projected_evidence(
    episode: &std::path::Path,
    side: CameraSide<'_>,
) -> anyhow::Result<Option<OffsetEvidence>> {
    use reel_calib::projected_motion::projected_tracks;
    use reel_calib::time_offset::frame_motion;
    let Some(tracks) = projected_tracks(episode, side.joints, side.camera)? else {
        return Ok(None);
    };
    let joint_motion = tracks.speed();
    if joint_motion.t.len() < 8 {
        return Ok(None);
    }
    // The frames are decoded once, for the activity and for the fit.
    let frames = frame_motion(episode, side.camera)?;
    let camera_motion = frames.per_second();
    let (a, b) = if side.camera_is_a {
        (camera_motion, joint_motion)
    } else {
        (joint_motion, camera_motion)
    };
    let camera_rides = tracks.rides;
    Ok(Some(OffsetEvidence {
        a,
        b,
        motion: "links projected into the camera",
        fit: (!camera_rides).then_some((frames, tracks)),
        camera_rides,
    }))
}

fn time_offset(args: &TimeOffsetArgs) -> anyhow::Result<ExitCode> {
    use reel_calib::time_offset::{activity, lag_curve, pool, refine};
    use reel_episode::topics::camera_of;
    let max_lag_s = args.max_lag_ms / 1000.0;
    let side = match (camera_of(&args.b), camera_of(&args.a)) {
        (Some(name), _) => Some(CameraSide {
            joints: &args.a,
            camera: &args.b,
            name,
            camera_is_a: false,
        }),
        (None, Some(name)) => Some(CameraSide {
            joints: &args.b,
            camera: &args.a,
            name,
            camera_is_a: true,
        }),
        (None, None) => None,
    };
    // B's lag behind A from the camera's lag behind the joints, and back.
    let camera_sign = if side.is_some_and(|s| s.camera_is_a) {
        -1.0
    } else {
        1.0
    };
    // A joint stream's motion as the camera on the other side sees it; the
    // streams themselves are read only when that is not available.
    let evidence = |episode: &PathBuf| -> anyhow::Result<OffsetEvidence> {
        if let Some(side) = side.filter(|_| args.motion == "projected") {
            if let Some(e) = projected_evidence(episode, side)? {
                return Ok(e);
            }
        }
        Ok(OffsetEvidence {
            a: activity(episode, &args.a)?,
            b: activity(episode, &args.b)?,
            motion: "joint speed",
            fit: None,
            camera_rides: false,
        })
    };
    let mut curves = Vec::new();
    let mut each = Vec::new();
    let mut fits = Vec::new();
    let mut camera_rides = false;
    for episode in &args.episodes {
        let e = evidence(episode)?;
        let curve =
            lag_curve(&e.a, &e.b, max_lag_s).with_context(|| episode.display().to_string())?;
        each.push((episode, curve.offset(), e.motion));
        curves.push(curve);
        fits.push(e.fit);
        camera_rides |= e.camera_rides;
    }
    let mut r = pool(&curves)?;
    // A fixed camera: the lag is refined, near the activities' estimate,
    // by fitting the image motion to each link's predicted motion. The
    // correlation and distinctness stay those of the whole search.
    let fits: Option<Vec<_>> = fits
        .iter()
        .map(|f| f.as_ref().map(|(frames, tracks)| (frames, tracks)))
        .collect();
    if let Some(recordings) = fits {
        match refine(camera_sign * r.b_lags_a_s, &recordings) {
            Ok(Some((pooled, own))) => {
                r.b_lags_a_s = camera_sign * pooled;
                for ((_, offset, motion), lag) in each.iter_mut().zip(own) {
                    offset.b_lags_a_s = camera_sign * lag;
                    *motion = "links projected into the camera, fitted link by link";
                }
            }
            Ok(None) => eprintln!(
                "reel: warning: fitting the camera's motion link by link found no peak near {:.2} ms; the activities' estimate stands",
                r.b_lags_a_s * 1000.0
            ),
            Err(e) => eprintln!(
                "reel: warning: the camera's motion could not be fitted link by link ({e}); the activities' estimate stands"
            ),
        }
    }
    let mut motions: Vec<&str> = each.iter().map(|(_, _, m)| *m).collect();
    motions.dedup();
    let joint_motion = motions.join(", ");
    // How far the episodes' own estimates scatter around the pooled one.
    let spread_ms = (each
        .iter()
        .map(|(_, e, _)| (e.b_lags_a_s - r.b_lags_a_s).powi(2))
        .sum::<f64>()
        / each.len() as f64)
        .sqrt()
        * 1000.0;
    if args.json {
        let mut value = serde_json::to_value(&r)?;
        value["joint_motion"] = joint_motion.into();
        value["episodes"] = each
            .iter()
            .map(|(path, e, _)| {
                serde_json::json!({
                    "path": path.display().to_string(),
                    "b_lags_a_s": e.b_lags_a_s,
                    "correlation": e.correlation,
                })
            })
            .collect();
        if each.len() > 1 {
            value["episode_spread_s"] = (spread_ms / 1000.0).into();
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_time_offset(args, &r, &each, spread_ms, &joint_motion);
    }
    // A camera on the arm sees the scene move, which /tf describes only as
    // a ground plane: one episode's estimate was within 2 ms on 43 of 48
    // sim episodes, four pooled on every group of four.
    if camera_rides && args.episodes.len() < 4 {
        eprintln!(
            "reel: note: the camera rides on the arm; one episode's estimate can be a few ms off: give 4 or more episodes of the rig to pool"
        );
    }
    let weak = r.correlation < 0.3 || r.distinctness < 0.05;
    if weak {
        eprintln!(
            "reel: warning: weak evidence (correlation {:.2}, distinctness {:.2}): record varied, non-periodic motion that both streams see",
            r.correlation, r.distinctness
        );
    }
    if let Some(rig) = &args.rig {
        if weak {
            bail!(
                "{}: not updated: the evidence is too weak to store an offset",
                rig.display()
            );
        }
        // A camera whose frames come late had more delay than its
        // latency_ms says.
        let (name, late_ms) = match side {
            Some(side) => (side.name, camera_sign * r.b_lags_a_s * 1000.0),
            None => bail!(
                "{}: not updated: neither --a nor --b is a camera topic (/camera/NAME/...), and only cameras have a latency_ms",
                rig.display()
            ),
        };
        store_in_rig(
            rig,
            Sensor::Camera(name),
            Calibration::LatencyShiftMs(late_ms),
        )?;
        eprintln!(
            "reel: camera {name}: latency_ms raised by {late_ms:.2} ms in {}",
            rig.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The text report of `reel calib time-offset`.
fn print_time_offset(
    args: &TimeOffsetArgs,
    r: &reel_calib::time_offset::Offset,
    each: &[(&PathBuf, reel_calib::time_offset::Offset, &str)],
    spread_ms: f64,
    joint_motion: &str,
) {
    if each.len() > 1 {
        for (path, e, _) in each {
            println!(
                "  {}: {:.2} ms (correlation {:.2})",
                path.display(),
                e.b_lags_a_s * 1000.0,
                e.correlation
            );
        }
    }
    println!(
        "{} lags {} by {:.2} ms (correlation {:.2}, distinctness {:.2}, {:.1} s of overlap{}, joint motion from {joint_motion}); subtract it from {}'s stamps to align them",
        args.b,
        args.a,
        r.b_lags_a_s * 1000.0,
        r.correlation,
        r.distinctness,
        r.overlap_s,
        if each.len() > 1 {
            format!(" in {} episodes, which scatter {spread_ms:.2} ms RMS about it", each.len())
        } else {
            String::new()
        },
        args.b
    );
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
    if let Some(rig) = &args.rig {
        store_in_rig(
            rig,
            Sensor::Camera(&args.camera),
            Calibration::Intrinsics(&result.camera.intrinsics()),
        )?;
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

/// The transform in ROS's and URDF's terms.
fn print_transform(t: &reel_calib::pose::Transform) {
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
}

/// A fixed URDF joint placing `child` under `parent`, to paste.
fn print_urdf_joint(t: &reel_calib::pose::Transform, parent: &str, child: &str) {
    println!(
        "  URDF: <joint name=\"{child}_mount\" type=\"fixed\"><parent link=\"{parent}\"/><child link=\"{child}\"/><origin xyz=\"{:.5} {:.5} {:.5}\" rpy=\"{:.5} {:.5} {:.5}\"/></joint>",
        t.translation[0], t.translation[1], t.translation[2], t.rpy[0], t.rpy[1], t.rpy[2]
    );
}

/// Stores a calibration in a rig config and says where the old one went.
fn store_in_rig(
    rig: &std::path::Path,
    sensor: Sensor<'_>,
    calibration: Calibration<'_>,
) -> anyhow::Result<()> {
    let backup = reel_capture::rig_edit::store(rig, sensor, calibration)?;
    eprintln!(
        "reel: {} updated; the previous version is {}",
        rig.display(),
        backup.display()
    );
    Ok(())
}

/// The episode's `camera_info`, else intrinsics fitted to the same views
/// (`size` is the frames' width and height); and a phrase saying which.
fn episode_intrinsics(
    path: &std::path::Path,
    data: &reel_calib::episode::CameraData,
    board: &Checkerboard,
    size: (u32, u32),
    observations: &[Observation],
) -> anyhow::Result<(reel_calib::CameraModel, String)> {
    if let Some(c) = data
        .camera_info
        .as_ref()
        .and_then(reel_calib::episode::camera_model)
    {
        return Ok((c, "the episode's camera_info".into()));
    }
    let fit = calibrate(board, size.0, size.1, observations, Options::default())
        .with_context(|| path.display().to_string())?;
    let note = format!(
        "fitted to the same views (no camera_info in the episode; RMS {:.3} px)",
        fit.rms_px
    );
    Ok((fit.camera, note))
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
