//! `reel calib intrinsics | hand-eye | camera-lidar | time-offset`: parses,
//! runs the workflow of `reel_calib::workflow`, prints its report, and
//! stores the result in a rig config when asked.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use reel_calib::files::{opencv_yaml, ros_camera_info_yaml};
use reel_calib::hand_eye::Setup;
use reel_calib::intrinsics::Options;
use reel_calib::target::Board;
use reel_calib::workflow::camera_lidar::CameraLidarOptions;
use reel_calib::workflow::hand_eye::HandEyeOptions;
use reel_calib::workflow::intrinsics::{IntrinsicsOptions, Pictures};
use reel_calib::workflow::time_offset::{JointMotion, TimeOffsetOptions};
use reel_calib::workflow::{self, RigUpdate};
use reel_calib::{Checkerboard, LensModel};
use reel_episode::fs::write_atomically;

use super::store_in_rig;
use crate::progress::Progress;
use crate::report::calib::{
    print_camera_lidar, print_hand_eye, print_intrinsics, print_time_offset,
};

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

/// The calibration target.
#[derive(Debug, clap::Args)]
struct BoardArg {
    /// Target: checkerboard:COLSxROWS:SQUARE_M, counting inner corners as OpenCV does.
    #[arg(long, value_parser = parse_board)]
    board: Checkerboard,
}

fn parse_target(spec: &str) -> Result<Board, String> {
    Board::parse(spec).map_err(|e| e.to_string())
}

fn parse_board(spec: &str) -> Result<Checkerboard, String> {
    Checkerboard::parse(spec).map_err(|e| e.to_string())
}

/// What every calibration can do with its result.
#[derive(Debug, clap::Args)]
struct ResultArgs {
    /// Also store the result in this rig config (a dated backup of the
    /// previous file is kept); episodes recorded with it then carry it.
    #[arg(long)]
    rig: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `reel calib camera-lidar`.
#[derive(Debug, clap::Args)]
struct CameraLidarArgs {
    /// Camera name (its frames are /camera/NAME/image/compressed).
    #[arg(long)]
    camera: String,
    /// LiDAR name (its clouds are /lidar/NAME/points).
    #[arg(long)]
    lidar: String,
    #[command(flatten)]
    board: BoardArg,
    /// The physical board's width x height in metres (default: the checker
    /// area, one square beyond the outer corners).
    #[arg(long, value_parser = parse_board_size)]
    board_size: Option<BoardSize>,
    /// Returns farther than this are ignored, metres.
    #[arg(long, default_value_t = 6.0)]
    max_range: f64,
    /// Most views used (evenly spread over the episode).
    #[arg(long, default_value_t = 40)]
    max_views: usize,
    #[command(flatten)]
    result: ResultArgs,
    /// The episode.
    episode: PathBuf,
}

/// WIDTHxHEIGHT in metres.
#[derive(Debug, Clone, Copy)]
struct BoardSize([f64; 2]);

fn parse_board_size(text: &str) -> Result<BoardSize, String> {
    let parsed: Option<Vec<f64>> = text.split('x').map(|v| v.parse().ok()).collect();
    match parsed.as_deref() {
        Some([w, h]) if *w > 0.0 && *h > 0.0 => Ok(BoardSize([*w, *h])),
        _ => Err(format!(
            "{text}: expected WIDTHxHEIGHT in metres, e.g. 0.8x0.6"
        )),
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Mount {
    /// Camera on the arm, board fixed in the workspace.
    EyeInHand,
    /// Camera fixed, board held by the arm.
    EyeToHand,
}

/// Arguments of `reel calib hand-eye`.
#[derive(Debug, clap::Args)]
struct HandEyeArgs {
    /// Camera name (its frames are /camera/NAME/image/compressed).
    #[arg(long)]
    camera: String,
    /// Arm whose joint states place the gripper (/robot/ARM/joint_states).
    #[arg(long)]
    arm: String,
    /// Where the camera is.
    #[arg(long, value_enum)]
    mount: Mount,
    /// URDF link the camera (eye-in-hand) or the board (eye-to-hand) is fixed to.
    #[arg(long)]
    link: String,
    #[command(flatten)]
    board: BoardArg,
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
    #[command(flatten)]
    result: ResultArgs,
    /// The episode.
    episode: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Motion {
    /// The links on /tf seen through B's camera_info and /tf_static (joint
    /// speed where the episode lacks them).
    Projected,
    /// The joints' speed.
    JointSpeed,
}

/// Arguments of `reel calib time-offset`.
#[derive(Debug, clap::Args)]
struct TimeOffsetArgs {
    /// Reference stream (JointState or CompressedImage topic).
    #[arg(long)]
    a: String,
    /// Stream whose offset to A is estimated.
    #[arg(long)]
    b: String,
    /// Largest offset searched, milliseconds (either sign).
    #[arg(long, default_value_t = 500.0)]
    max_lag_ms: f64,
    /// What stands for a joint stream's motion when the other is a camera.
    #[arg(long, value_enum, default_value_t = Motion::Projected)]
    motion: Motion,
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

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Model {
    /// k1 k2 p1 p2 k3 (OpenCV's default model; ROS plumb_bob).
    #[value(name = "pinhole-radtan", alias = "plumb_bob")]
    PinholeRadtan,
    /// k1..k4 (OpenCV's fisheye model; ROS equidistant).
    #[value(alias = "equidistant")]
    Fisheye,
}

/// Arguments of `reel calib intrinsics`.
#[derive(Debug, clap::Args)]
struct IntrinsicsArgs {
    /// Camera name (its topics are /camera/NAME/...; also the name in the YAML).
    #[arg(long)]
    camera: String,
    /// An episode holding the camera's JPEG frames of the target.
    #[arg(long, conflicts_with = "images", required_unless_present = "images")]
    episode: Option<PathBuf>,
    /// A folder of PNG/JPEG pictures of the target.
    #[arg(long)]
    images: Option<PathBuf>,
    /// Target: checkerboard:COLSxROWS:SQUARE_M (inner corners, as OpenCV
    /// counts them), or
    /// charuco:SQUARES_XxSQUARES_Y:SQUARE_M:MARKER_M:DICTIONARY[:legacy][:inverted]
    /// (squares, OpenCV's layout and dictionary names, e.g.
    /// charuco:5x7:0.04:0.03:DICT_4X4_50), which counts views that show
    /// only part of it.
    #[arg(long, value_parser = parse_target)]
    board: Board,
    /// Lens model.
    #[arg(long, value_enum, default_value_t = Model::PinholeRadtan)]
    model: Model,
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
    #[command(flatten)]
    result: ResultArgs,
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

fn intrinsics(args: &IntrinsicsArgs) -> anyhow::Result<ExitCode> {
    let pictures = match (&args.episode, &args.images) {
        (Some(path), _) => Pictures::Episode {
            path: path.clone(),
            max_frames: args.max_frames,
        },
        (None, Some(dir)) => Pictures::Folder(dir.clone()),
        (None, None) => anyhow::bail!("give --episode or --images"),
    };
    let options = IntrinsicsOptions {
        camera: args.camera.clone(),
        pictures,
        board: args.board,
        fit: Options {
            lens: match args.model {
                Model::PinholeRadtan => LensModel::PinholeRadtan,
                Model::Fisheye => LensModel::Fisheye,
            },
            fix_k3: args.fix_k3,
            ..Options::default()
        },
    };
    let report = workflow::intrinsics::run(&options)?;
    if let Some(path) = &args.out {
        write_atomically(
            path,
            ros_camera_info_yaml(&args.camera, &report.result.camera).as_bytes(),
        )
        .with_context(|| path.display().to_string())?;
    }
    if let Some(path) = &args.opencv {
        write_atomically(path, opencv_yaml(&report.result).as_bytes())
            .with_context(|| path.display().to_string())?;
    }
    if let Some(rig) = &args.result.rig {
        store_in_rig(rig, &report.rig_update())?;
    }
    if args.result.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_intrinsics(&report);
    Ok(ExitCode::SUCCESS)
}

fn hand_eye(args: &HandEyeArgs) -> anyhow::Result<ExitCode> {
    let urdf = match &args.urdf {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("{}: cannot read the URDF", file.display()))?,
        ),
        None => None,
    };
    let options = HandEyeOptions {
        episode: args.episode.clone(),
        camera: args.camera.clone(),
        arm: args.arm.clone(),
        setup: match args.mount {
            Mount::EyeInHand => Setup::EyeInHand,
            Mount::EyeToHand => Setup::EyeToHand,
        },
        link: args.link.clone(),
        board: args.board.board,
        urdf,
        still_rad: args.still_deg.to_radians(),
        max_views: args.max_views,
    };
    let report = workflow::hand_eye::run(&options)?;
    if let Some(rig) = &args.result.rig {
        store_in_rig(rig, &report.rig_update())?;
    }
    if args.result.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_hand_eye(&report);
    Ok(ExitCode::SUCCESS)
}

fn camera_lidar(args: &CameraLidarArgs) -> anyhow::Result<ExitCode> {
    let options = CameraLidarOptions {
        episode: args.episode.clone(),
        camera: args.camera.clone(),
        lidar: args.lidar.clone(),
        board: args.board.board,
        board_size_m: args.board_size.map(|s| s.0),
        max_range_m: args.max_range,
        max_views: args.max_views,
    };
    let report = workflow::camera_lidar::run(&options)?;
    if let Some(rig) = &args.result.rig {
        store_in_rig(rig, &report.rig_update())?;
    }
    if args.result.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_camera_lidar(&report);
    Ok(ExitCode::SUCCESS)
}

fn time_offset(args: &TimeOffsetArgs) -> anyhow::Result<ExitCode> {
    let options = TimeOffsetOptions {
        a: args.a.clone(),
        b: args.b.clone(),
        max_lag_s: args.max_lag_ms / 1000.0,
        motion: match args.motion {
            Motion::Projected => JointMotion::Projected,
            Motion::JointSpeed => JointMotion::JointSpeed,
        },
        episodes: args.episodes.clone(),
    };
    let bar = Progress::bar(args.episodes.len() as u64, "episodes read");
    let report = workflow::time_offset::run(&options, &|done| bar.set(done as u64))?;
    bar.finish();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_time_offset(&report);
    }
    for note in &report.notes {
        eprintln!("reel: note: {note}");
    }
    for w in &report.warnings {
        eprintln!("reel: warning: {w}");
    }
    if let Some(rig) = &args.rig {
        let update = report
            .rig_update()
            .map_err(|e| anyhow::anyhow!("{}: {e}", rig.display()))?;
        store_in_rig(rig, &update)?;
        if let RigUpdate::LatencyShiftMs { camera, ms } = &update {
            eprintln!(
                "reel: camera {camera}: latency_ms raised by {ms:.2} ms in {}",
                rig.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
