//! `reel record --view`: the recording as it is written, streamed to a
//! viewer. The recorder's writer offers every written message on a bounded
//! tap (never blocking the recording); this thread turns them into one rerun
//! recording per episode with the same layout `reel view` uses.

use std::collections::BTreeMap;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use reel_capture::recorder::sink::{Payload, Tapped};
use reel_capture::rig::{LoadedRig, Role};
use reel_episode::ros2::RosMessage;
use reel_episode::topics;
use reel_viewer::layout::Layout;
use reel_viewer::{EpisodeLogger, Output, RobotSource, StreamKind, Target};

/// Messages the tap holds before it drops (about 2 s of the bimanual rig).
const TAP_CAPACITY: usize = 4096;

/// The layout of a rig's episodes, from its config.
fn rig_layout(rig: &LoadedRig) -> Layout {
    let mut layout = Layout {
        timeline: Some(reel_viewer::SENSOR_TIME.to_string()),
        has_robot: rig.rig.rig.urdf.is_some(),
        ..Layout::default()
    };
    for arm in &rig.rig.arms {
        let topic = match arm.role {
            Role::Leader => topics::joint_commands(&arm.name),
            Role::Follower => topics::joint_states(&arm.name),
        };
        layout.add(&StreamKind::of(&topic, "sensor_msgs/msg/JointState"));
    }
    for cam in &rig.rig.cameras {
        layout.add(&StreamKind::Image(cam.name.clone()));
    }
    for lidar in &rig.rig.lidars {
        layout.add(&StreamKind::Points(lidar.name.clone()));
    }
    layout
}

fn cdr(payload: &Payload) -> (&'static str, Vec<u8>) {
    match payload {
        Payload::Joints(m) => (
            reel_episode::ros2::sensor_msgs::JointState::TYPE_NAME,
            m.to_cdr(),
        ),
        Payload::Image(m) => (
            reel_episode::ros2::sensor_msgs::CompressedImage::TYPE_NAME,
            m.to_cdr(),
        ),
        Payload::Video(m) => (
            reel_episode::ros2::foxglove_msgs::CompressedVideo::TYPE_NAME,
            m.to_cdr(),
        ),
        Payload::Cloud(m) => (
            reel_episode::ros2::sensor_msgs::PointCloud2::TYPE_NAME,
            m.to_cdr(),
        ),
        Payload::Tf(m) => (
            reel_episode::ros2::tf2_msgs::TFMessage::TYPE_NAME,
            m.to_cdr(),
        ),
        Payload::Scan(m) => (
            reel_episode::ros2::velodyne_msgs::VelodyneScan::TYPE_NAME,
            m.to_cdr(),
        ),
        Payload::Imu(m) => (reel_episode::ros2::sensor_msgs::Imu::TYPE_NAME, m.to_cdr()),
        Payload::Event(s) => (
            reel_episode::ros2::std_msgs::StringMsg::TYPE_NAME,
            reel_episode::ros2::std_msgs::StringMsg { data: s.clone() }.to_cdr(),
        ),
    }
}

/// A running live view.
pub struct LiveView {
    /// Give this to the recorder.
    pub tap: Sender<Tapped>,
    thread: JoinHandle<()>,
}

impl LiveView {
    /// Opens the viewer and starts the thread.
    pub fn start(target: Target, rig: &LoadedRig) -> anyhow::Result<Self> {
        let output = Output::open(&target)?;
        eprintln!("reel record: live view on {}", output.location);
        let (tap, rx) = crossbeam_channel::bounded(TAP_CAPACITY);
        let layout = rig_layout(rig);
        let mesh_dirs = super::view::mesh_dirs(&rig.path, &[]);
        let thread = std::thread::Builder::new()
            .name("live-view".into())
            .spawn(move || {
                run(&output, &rx, &layout, mesh_dirs);
                if let Err(e) = output.close() {
                    eprintln!("reel record: live view: {e}");
                }
            })?;
        Ok(Self { tap, thread })
    }

    /// Waits for the last episode to be sent (after the recorder shut down).
    pub fn finish(self) {
        drop(self.tap);
        let _ = self.thread.join();
    }
}

fn run(
    output: &Output,
    rx: &Receiver<Tapped>,
    layout: &Layout,
    mesh_dirs: Vec<std::path::PathBuf>,
) {
    let mut logger: Option<EpisodeLogger> = None;
    let mut failed = false;
    for t in rx {
        let r = (|| -> Result<(), reel_viewer::ViewError> {
            match t {
                Tapped::Started { path, urdf } => {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default();
                    let rec = output.recording(&name, &path.display().to_string())?;
                    let robot = RobotSource {
                        urdf: None,
                        mesh_dirs: mesh_dirs.clone(),
                    };
                    // Joint samples leave ten at a time (50 ms at 200 Hz), so
                    // plots and the robot keep up with the cameras.
                    let mut l = EpisodeLogger::new(rec, urdf.map(|u| (u, None)), robot)
                        .with_rows_per_chunk(10);
                    // No /tf yet: the cameras are drawn in 2D.
                    let cameras = l.camera_paths(&layout.cameras, &BTreeMap::new());
                    layout.send(
                        l.recording(),
                        &cameras,
                        &reel_viewer::episode::JOINT_QUANTITIES,
                    )?;
                    l.log_world()?;
                    logger = Some(l);
                }
                Tapped::Message {
                    topic,
                    log_nanos,
                    payload,
                } => {
                    if let Some(l) = logger.as_mut() {
                        let (schema, bytes) = cdr(&payload);
                        l.log_message(&topic, schema, log_nanos, &bytes)?;
                    }
                }
                Tapped::Stopped => {
                    if let Some(mut l) = logger.take() {
                        l.finish()?;
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = r {
            if !failed {
                eprintln!("reel record: live view: {e} (recording goes on)");
                failed = true;
            }
        }
    }
    if let Some(mut l) = logger.take() {
        let _ = l.finish();
    }
    let _ = output.flush();
}
