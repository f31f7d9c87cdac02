//! Every emulator a rig config names, started together: a servo bus per arm
//! (at its `port`), a VLP-16 per lidar (sending to its `address`), an MJPEG
//! camera per `emulated` camera (at its `source` URL). `reel emulate` runs
//! this in the foreground; `reel record --emulate` and the tests run it
//! in-process. Devices can be stopped and restarted one by one to rehearse
//! faults.

use std::path::{Path, PathBuf};

use super::camera::CameraEmulator;
use super::livox::{LivoxEmulator, LivoxEmulatorConfig};
use super::motion::JointMotion;
use super::ouster::{OusterEmulator, OusterEmulatorConfig};
use super::servo_bus::{EmulatedServo, ServoBusEmulator};
use super::velodyne::{VelodyneEmulator, VelodyneEmulatorConfig};
use crate::error::EmulatorError;
use crate::rig::{Arm, Camera, Lidar, LidarModel, LoadedRig, Rig};

/// Writes a copy of the rig config `config` into `dir` with every emulated
/// endpoint moved: serial links under `dir`, free loopback ports for the
/// emulated cameras and LiDARs, the URDF path made absolute. Tests and
/// benchmarks run side by side this way without clashing; the copy is
/// byte-for-byte the original otherwise. Returns the new file's path.
pub fn isolated_copy(config: &Path, dir: &Path) -> Result<PathBuf, EmulatorError> {
    let loaded = LoadedRig::load(config)?;
    let rig = &loaded.rig;
    let mut text = loaded.text.clone();
    let quoted = |s: &str| format!("{s:?}");
    for arm in &rig.arms {
        let name = arm.port.file_name().ok_or_else(|| EmulatorError::Device {
            device: format!("arm {}", arm.name),
            reason: "its port has no file name".into(),
        })?;
        let moved = dir.join(name).display().to_string();
        text = text.replace(&quoted(&arm.port.display().to_string()), &quoted(&moved));
    }
    let free = |udp: bool| -> Result<u16, EmulatorError> {
        let port = if udp {
            std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr())
        } else {
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|s| s.local_addr())
        };
        port.map(|a| a.port()).map_err(|e| EmulatorError::Device {
            device: "loopback".into(),
            reason: format!("no free port: {e}"),
        })
    };
    for camera in rig.cameras.iter().filter(|c| c.emulated) {
        if let Some(address) = camera.emulator_address() {
            let moved = format!("{}:{}", address.ip(), free(false)?);
            text = text.replace(&format!("//{address}/"), &format!("//{moved}/"));
        }
    }
    // The text names files relative to the original folder.
    let written = Rig::parse(&loaded.text).map_err(|e| EmulatorError::Device {
        device: "rig".into(),
        reason: e.0,
    })?;
    for (lidar, as_written) in rig.lidars.iter().zip(&written.lidars) {
        for address in std::iter::once(&lidar.address).chain(&lidar.imu_address) {
            let moved = format!("127.0.0.1:{}", free(true)?);
            text = text.replace(&quoted(address), &quoted(&moved));
        }
        if let (Some(absolute), Some(relative)) = (&lidar.metadata, &as_written.metadata) {
            text = text.replace(
                &quoted(&relative.display().to_string()),
                &quoted(&absolute.display().to_string()),
            );
        }
    }
    if let (Some(urdf), Some(path)) = (&rig.rig.urdf, loaded.urdf_path()) {
        let absolute = path.canonicalize().map_err(|source| EmulatorError::Io {
            path: path.clone(),
            source,
        })?;
        text = text.replace(
            &quoted(&urdf.display().to_string()),
            &quoted(&absolute.display().to_string()),
        );
    }
    let out = dir.join(config.file_name().unwrap_or_else(|| "rig.toml".as_ref()));
    std::fs::write(&out, text).map_err(|source| EmulatorError::Io {
        path: out.clone(),
        source,
    })?;
    Ok(out)
}

/// The running emulators of one rig.
#[derive(Debug)]
pub struct EmulatedRig {
    rig: Rig,
    buses: Vec<(String, Option<ServoBusEmulator>)>,
    lidars: Vec<(String, Option<LidarEmulator>)>,
    cameras: Vec<(String, Option<CameraEmulator>)>,
}

/// The servos of an arm as the emulator runs them.
pub fn emulated_servos(arm: &Arm, arm_index: usize) -> Vec<EmulatedServo> {
    arm.joints
        .iter()
        .zip(JointMotion::for_arm(arm, arm_index))
        .map(|(j, motion)| EmulatedServo {
            id: j.id,
            model: j.model,
            motion,
        })
        .collect()
}

fn start_bus(arm: &Arm, index: usize) -> Result<ServoBusEmulator, EmulatorError> {
    ServoBusEmulator::start(
        arm.protocol,
        &arm.port,
        arm.baud,
        &emulated_servos(arm, index),
    )
    .map_err(|e| EmulatorError::Device {
        device: format!("arm {}", arm.name),
        reason: format!("cannot emulate a bus at {}: {e}", arm.port.display()),
    })
}

/// A running emulated LiDAR of any family.
#[derive(Debug)]
pub enum LidarEmulator {
    /// A Velodyne.
    Velodyne(VelodyneEmulator),
    /// An Ouster (and its IMU).
    Ouster(OusterEmulator),
    /// A Livox (and its IMU).
    Livox(LivoxEmulator),
}

impl LidarEmulator {
    fn stop(self) {
        drop(self);
    }
}

fn start_lidar(lidar: &Lidar) -> Result<LidarEmulator, EmulatorError> {
    let device = || format!("lidar {}", lidar.name);
    let fail = |reason: String| EmulatorError::Device {
        device: device(),
        reason,
    };
    let parse = |address: &str| -> Result<std::net::SocketAddr, EmulatorError> {
        address
            .parse()
            .map_err(|_| fail(format!("bad address {address}; expected HOST:PORT")))
    };
    let target = parse(&lidar.address)?;
    match lidar.kind() {
        Some(LidarModel::Velodyne(model)) => {
            let config = VelodyneEmulatorConfig {
                model,
                ..VelodyneEmulatorConfig::new(target, lidar.rpm)
            };
            VelodyneEmulator::start(config)
                .map(LidarEmulator::Velodyne)
                .map_err(|e| fail(e.to_string()))
        }
        Some(LidarModel::Ouster(_)) => {
            let info = crate::drivers::lidar::ouster_metadata(lidar, Path::new("."))
                .map_err(|e| fail(e.to_string()))?;
            let config = OusterEmulatorConfig {
                target,
                imu_target: lidar.imu_address.as_deref().map(parse).transpose()?,
                info,
                clock_start_nanos: 3_600_000_000_000,
            };
            OusterEmulator::start(config)
                .map(LidarEmulator::Ouster)
                .map_err(|e| fail(e.to_string()))
        }
        Some(LidarModel::Livox(model)) => {
            let config = LivoxEmulatorConfig {
                model,
                target,
                imu_target: lidar.imu_address.as_deref().map(parse).transpose()?,
                clock_start_nanos: 3_600_000_000_000,
                source_ip: None,
            };
            LivoxEmulator::start(config)
                .map(LidarEmulator::Livox)
                .map_err(|e| fail(e.to_string()))
        }
        None => Err(fail(format!("no emulator for model {:?}", lidar.model))),
    }
}

fn start_camera(camera: &Camera) -> Result<CameraEmulator, EmulatorError> {
    let device = || format!("camera {}", camera.name);
    let address = camera
        .emulator_address()
        .ok_or_else(|| EmulatorError::Device {
            device: device(),
            reason: "emulated cameras need an http://HOST:PORT/ source".into(),
        })?;
    CameraEmulator::start(address, camera.width, camera.height, camera.fps).map_err(|e| {
        EmulatorError::Device {
            device: device(),
            reason: e.to_string(),
        }
    })
}

impl EmulatedRig {
    /// Starts the rig's emulators; on any failure the ones started are stopped.
    pub fn start(rig: &Rig) -> Result<Self, EmulatorError> {
        let mut this = Self {
            rig: rig.clone(),
            buses: Vec::new(),
            lidars: Vec::new(),
            cameras: Vec::new(),
        };
        for (i, arm) in rig.arms.iter().enumerate() {
            this.buses
                .push((arm.name.clone(), Some(start_bus(arm, i)?)));
        }
        for lidar in &rig.lidars {
            this.lidars
                .push((lidar.name.clone(), Some(start_lidar(lidar)?)));
        }
        for camera in rig.cameras.iter().filter(|c| c.emulated) {
            this.cameras
                .push((camera.name.clone(), Some(start_camera(camera)?)));
        }
        Ok(this)
    }

    /// One line per emulated device: what it is and where.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for a in &self.rig.arms {
            lines.push(format!(
                "arm {:<16} {:?} bus, {} servos, pty at {}",
                a.name,
                a.protocol,
                a.joints.len(),
                a.port.display()
            ));
        }
        for l in &self.rig.lidars {
            lines.push(format!(
                "lidar {:<14} {} at {} rpm, UDP to {}",
                l.name, l.model, l.rpm, l.address
            ));
        }
        for c in self.rig.cameras.iter().filter(|c| c.emulated) {
            lines.push(format!(
                "camera {:<13} {}x{} at {} fps, MJPEG at {}",
                c.name, c.width, c.height, c.fps, c.source
            ));
        }
        lines
    }

    /// The bus emulator of `arm`, while it runs.
    pub fn bus(&self, arm: &str) -> Option<&ServoBusEmulator> {
        self.buses
            .iter()
            .find(|b| b.0 == arm)
            .and_then(|b| b.1.as_ref())
    }

    /// The Velodyne emulator `name`, while it runs.
    pub fn lidar(&self, name: &str) -> Option<&VelodyneEmulator> {
        match self.lidars.iter().find(|l| l.0 == name)?.1.as_ref()? {
            LidarEmulator::Velodyne(v) => Some(v),
            LidarEmulator::Ouster(_) | LidarEmulator::Livox(_) => None,
        }
    }

    /// The camera emulator `name`, while it runs.
    pub fn camera(&self, name: &str) -> Option<&CameraEmulator> {
        self.cameras
            .iter()
            .find(|c| c.0 == name)
            .and_then(|c| c.1.as_ref())
    }

    /// Stops one device (`arm NAME`, `lidar NAME`, `camera NAME`), as if
    /// unplugged. Returns false if there is no such running device.
    pub fn stop_device(&mut self, device: &str) -> bool {
        let (kind, name) = device.split_once(' ').unwrap_or(("", device));
        let taken = match kind {
            "arm" => self
                .buses
                .iter_mut()
                .find(|b| b.0 == name)
                .and_then(|b| b.1.take())
                .map(|e| e.stop()),
            "lidar" => self
                .lidars
                .iter_mut()
                .find(|b| b.0 == name)
                .and_then(|b| b.1.take())
                .map(|e| e.stop()),
            "camera" => self
                .cameras
                .iter_mut()
                .find(|b| b.0 == name)
                .and_then(|b| b.1.take())
                .map(|e| e.stop()),
            _ => None,
        };
        taken.is_some()
    }

    /// Starts a stopped device again.
    pub fn restart_device(&mut self, device: &str) -> Result<(), EmulatorError> {
        let (kind, name) = device.split_once(' ').unwrap_or(("", device));
        let unknown = || EmulatorError::Unknown(device.to_string());
        match kind {
            "arm" => {
                let i = self
                    .rig
                    .arms
                    .iter()
                    .position(|a| a.name == name)
                    .ok_or_else(unknown)?;
                let emu = start_bus(&self.rig.arms[i], i)?;
                let slot = self
                    .buses
                    .iter_mut()
                    .find(|b| b.0 == name)
                    .ok_or_else(unknown)?;
                slot.1 = Some(emu);
            }
            "lidar" => {
                let l = self
                    .rig
                    .lidars
                    .iter()
                    .find(|l| l.name == name)
                    .ok_or_else(unknown)?;
                let emu = start_lidar(l)?;
                let slot = self
                    .lidars
                    .iter_mut()
                    .find(|b| b.0 == name)
                    .ok_or_else(unknown)?;
                slot.1 = Some(emu);
            }
            "camera" => {
                let c = self
                    .rig
                    .cameras
                    .iter()
                    .find(|c| c.name == name)
                    .ok_or_else(unknown)?;
                let emu = start_camera(c)?;
                let slot = self
                    .cameras
                    .iter_mut()
                    .find(|b| b.0 == name)
                    .ok_or_else(unknown)?;
                slot.1 = Some(emu);
            }
            _ => return Err(unknown()),
        }
        Ok(())
    }
}
