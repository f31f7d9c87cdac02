//! One module per subcommand.

pub mod annotate;
pub mod calib;
pub mod check;
pub mod ctl;
pub mod curate;
pub mod daemon;
pub mod diff;
pub mod emulate;
pub mod export;
pub mod import;
pub mod import_lidar;
pub mod info;
pub mod live_view;
pub mod merge;
pub mod record;
pub mod recover;
pub mod sim;
pub mod view;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag set by Ctrl-C / SIGTERM (installed once per process).
pub fn interrupted() -> anyhow::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    ctrlc::set_handler(move || f.store(true, Ordering::Relaxed))
        .map_err(|e| anyhow::anyhow!("cannot install the Ctrl-C handler: {e}"))?;
    Ok(flag)
}

/// Loads a rig config, or explains what is wrong with it in one line.
pub fn load_rig(path: &std::path::Path) -> anyhow::Result<reel_capture::rig::LoadedRig> {
    reel_capture::rig::LoadedRig::load(path).map_err(|e| match e {
        reel_capture::RigError::Read { path, source } => {
            anyhow::anyhow!("{}: {source}; check the --rig path", path.display())
        }
        e => e.into(),
    })
}

/// Stores a calibration in a rig config and says where the old one went.
pub fn store_in_rig(
    rig: &std::path::Path,
    update: &reel_calib::workflow::RigUpdate,
) -> anyhow::Result<()> {
    let (sensor, calibration) = match update {
        reel_calib::workflow::RigUpdate::Intrinsics { camera, intrinsics } => (
            reel_capture::rig_edit::Sensor::Camera(camera),
            reel_capture::rig_edit::Calibration::Intrinsics(intrinsics),
        ),
        reel_calib::workflow::RigUpdate::Mount { sensor, mount } => (
            match sensor {
                reel_calib::workflow::RigSensor::Camera(name) => {
                    reel_capture::rig_edit::Sensor::Camera(name)
                }
                reel_calib::workflow::RigSensor::Lidar(name) => {
                    reel_capture::rig_edit::Sensor::Lidar(name)
                }
            },
            reel_capture::rig_edit::Calibration::Mount(mount),
        ),
        reel_calib::workflow::RigUpdate::LatencyShiftMs { camera, ms } => (
            reel_capture::rig_edit::Sensor::Camera(camera),
            reel_capture::rig_edit::Calibration::LatencyShiftMs(*ms),
        ),
    };
    let backup = reel_capture::rig_edit::store(rig, sensor, calibration)?;
    eprintln!(
        "reel: {} updated; the previous version is {}",
        rig.display(),
        backup.display()
    );
    Ok(())
}

/// What `reel record` and `reel daemon` both take.
#[derive(Debug, clap::Args)]
pub struct RecorderArgs {
    /// Rig config.
    #[arg(long)]
    pub rig: std::path::PathBuf,
    /// Folder for the episodes.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Task text stored in each episode (default: the rig's).
    #[arg(long, default_value = "")]
    pub task: String,
    /// Start the rig's emulators in this process first.
    #[arg(long)]
    pub emulate: bool,
    /// Record even when a device of the rig does not answer at start (it
    /// is retried every second; its gap is recorded). Without it, an absent
    /// device stops the command with its name.
    #[arg(long)]
    pub allow_missing: bool,
}

impl RecorderArgs {
    /// Starts the emulators (with `--emulate`) and the recorder. Keep the
    /// emulators alive as long as the recorder.
    pub fn start(
        &self,
        operator: Option<String>,
        tap: Option<crossbeam_channel::Sender<reel_capture::recorder::sink::Tapped>>,
    ) -> anyhow::Result<(
        Option<reel_capture::emulators::rig::EmulatedRig>,
        reel_capture::recorder::Recorder,
    )> {
        let rig = load_rig(&self.rig)?;
        let emulators = if self.emulate {
            Some(reel_capture::emulators::rig::EmulatedRig::start(&rig.rig)?)
        } else {
            None
        };
        let mut options = reel_capture::recorder::RecorderOptions::new(&self.out);
        options.task.clone_from(&self.task);
        options.operator = operator;
        options.tap = tap;
        let recorder = reel_capture::recorder::Recorder::start(rig, options)?;
        if !self.allow_missing {
            if let Err(e) = recorder.wait_for_devices(std::time::Duration::from_secs(5)) {
                recorder.shutdown();
                anyhow::bail!(
                    "{}: {e} (or record without it: --allow-missing)",
                    self.rig.display()
                );
            }
        }
        Ok((emulators, recorder))
    }
}
