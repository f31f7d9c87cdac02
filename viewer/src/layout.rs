//! The blueprint: what a reviewer needs on one screen without arranging
//! anything. Left: the 3D scene (robot, LiDAR, camera frusta, `/tf` frames)
//! above a grid of the cameras. Right: one tab group of plots per arm
//! (position / velocity / effort, joint names in the legend) above the log of
//! events, annotations and quality flags.

use std::collections::BTreeMap;

use rerun::blueprint::{
    Blueprint, ContainerLike, Grid, Horizontal, Spatial2DView, Spatial3DView, Tabs, TextLogView,
    TimePanel, TimeSeriesView, Vertical,
};

use crate::entity_part;
use crate::streams::StreamKind;

/// The streams an episode or dataset offers.
#[derive(Debug, Default, Clone)]
pub struct Layout {
    /// Camera names.
    pub cameras: Vec<String>,
    /// Joint groups: entity base (`joints/<arm>` or `joints/<arm>_commands`) and a title.
    pub joint_groups: BTreeMap<String, String>,
    /// LiDAR names.
    pub lidars: Vec<String>,
    /// IMU names.
    pub imus: Vec<String>,
    /// `/tf` or `/tf_static` present.
    pub has_tf: bool,
    /// A robot can be drawn (URDF available).
    pub has_robot: bool,
    /// Timeline shown first.
    pub timeline: Option<String>,
}

/// The IMU quantities plotted per IMU (entity names under `imu/<name>`).
pub const IMU_QUANTITIES: [&str; 2] = ["angular_velocity", "linear_acceleration"];

impl Layout {
    /// Adds a stream.
    pub fn add(&mut self, kind: &StreamKind) {
        match kind {
            StreamKind::Joints { arm, commands } => {
                let (base, title) = if *commands {
                    (
                        format!("joints/{}_commands", entity_part(arm)),
                        format!("{arm} commands"),
                    )
                } else {
                    (format!("joints/{}", entity_part(arm)), arm.clone())
                };
                self.joint_groups.insert(base, title);
            }
            StreamKind::Image(c) | StreamKind::Video(c) => {
                if !self.cameras.contains(c) {
                    self.cameras.push(c.clone());
                    self.cameras.sort();
                }
            }
            StreamKind::Points(l) => {
                if !self.lidars.contains(l) {
                    self.lidars.push(l.clone());
                }
            }
            StreamKind::Imu(i) => {
                if !self.imus.contains(i) {
                    self.imus.push(i.clone());
                }
            }
            StreamKind::Tf { .. } => self.has_tf = true,
            // Whether a robot can be drawn depends on the URDF's content,
            // not on the topic: the caller decides.
            StreamKind::RobotDescription
            | StreamKind::CameraInfo(_)
            | StreamKind::Events
            | StreamKind::Other => {}
        }
    }

    /// True when the 3D view has something to show.
    pub fn has_3d(&self) -> bool {
        self.has_robot || self.has_tf || !self.lidars.is_empty()
    }

    /// Sends [`Self::blueprint`] to `rec`, made active and default.
    pub fn send(
        &self,
        rec: &rerun::RecordingStream,
        camera_paths: &BTreeMap<String, String>,
        quantities: &[&str],
    ) -> Result<(), crate::ViewError> {
        rec.send_blueprint_opts(&rerun::blueprint::BlueprintOpts {
            blueprint: self.blueprint(camera_paths, quantities),
            activation: rerun::blueprint::BlueprintActivation::default(),
        })?;
        Ok(())
    }

    /// The blueprint. `camera_paths` maps camera names to their entities;
    /// `quantities` are the plot kinds under each joint group.
    pub fn blueprint(
        &self,
        camera_paths: &BTreeMap<String, String>,
        quantities: &[&str],
    ) -> Blueprint {
        let cameras: Vec<ContainerLike> = self
            .cameras
            .iter()
            .map(|c| {
                let origin = camera_paths
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| format!("cameras/{}", entity_part(c)));
                Spatial2DView::new(c.as_str())
                    .with_origin(origin.as_str())
                    .into()
            })
            .collect();
        let mut left: Vec<ContainerLike> = Vec::new();
        // The robot gets its own view so it fills it; the scene view (LiDAR,
        // camera frusta, /tf frames) is framed by the room the LiDAR sees.
        match (self.has_robot, self.has_3d()) {
            (true, true) if self.has_tf || !self.lidars.is_empty() => left.push(
                Tabs::new([
                    Spatial3DView::new("robot")
                        .with_origin("world/robot")
                        .into(),
                    Spatial3DView::new("scene").with_origin("world").into(),
                ])
                .with_name("3D")
                .into(),
            ),
            (true, _) => left.push(
                Spatial3DView::new("robot")
                    .with_origin("world/robot")
                    .into(),
            ),
            (false, true) => left.push(Spatial3DView::new("scene").with_origin("world").into()),
            (false, false) => {}
        }
        if !cameras.is_empty() {
            let columns = if cameras.len() > 2 {
                2
            } else {
                cameras.len() as u32
            };
            left.push(
                Grid::new(cameras)
                    .with_grid_columns(columns)
                    .with_name("cameras")
                    .into(),
            );
        }
        let mut right: Vec<ContainerLike> = Vec::new();
        for (base, title) in &self.joint_groups {
            let plots: Vec<ContainerLike> = quantities
                .iter()
                .map(|q| {
                    TimeSeriesView::new(format!("{title} {q}"))
                        .with_origin(format!("{base}/{q}").as_str())
                        .into()
                })
                .collect();
            right.push(Tabs::new(plots).with_name(title.as_str()).into());
        }
        for imu in &self.imus {
            let plots: Vec<ContainerLike> = IMU_QUANTITIES
                .iter()
                .map(|q| {
                    TimeSeriesView::new(format!("{imu} {}", q.replace('_', " ")))
                        .with_origin(format!("imu/{}/{q}", entity_part(imu)).as_str())
                        .into()
                })
                .collect();
            right.push(
                Tabs::new(plots)
                    .with_name(format!("IMU {imu}").as_str())
                    .into(),
            );
        }
        right.push(
            TextLogView::new("events, annotations and quality")
                .with_origin("/")
                .with_contents(["+ events/**", "+ annotations/**", "+ quality/**"])
                .into(),
        );
        let root: ContainerLike = match (left.is_empty(), right.is_empty()) {
            (true, _) => Vertical::new(right).into(),
            (false, _) => {
                Horizontal::new([Vertical::new(left).into(), Vertical::new(right).into()])
                    .with_column_shares([0.55, 0.45])
                    .into()
            }
        };
        let mut bp = Blueprint::new(root).with_auto_views(false);
        if let Some(t) = &self.timeline {
            bp = bp.with_time_panel(TimePanel::new().with_timeline(t.as_str()));
        }
        bp
    }
}
