//! The robot in the 3D view: every URDF link is an entity nested under its
//! parent (`world/robot/<arm>/<root>/<child>/…`), visuals are logged once
//! (meshes as `Asset3D`, primitives as shapes), and each joint sample moves
//! the links by logging their joint transforms (as columns, see
//! [`crate::columns`]). Only fixed joints are static: rerun's static data
//! shadows temporal data of the same component, so a static zero pose on a
//! moving joint would freeze the arm.

use std::collections::HashMap;
use std::path::PathBuf;

use reel_episode::geometry::Iso;
use reel_episode::robot::{JointKind, RobotModel, Shape};

use crate::columns::{Rows, Timeline};
use crate::ViewError;

/// Colour for visuals whose URDF gives none.
const DEFAULT_RGBA: [u8; 4] = [200, 200, 205, 255];

/// One arm drawn from a URDF.
pub struct RobotAnimator {
    model: RobotModel,
    link_paths: HashMap<String, String>,
    /// Arm base in the world.
    base: Iso,
    base_path: String,
    /// Buffered transforms of each moving joint's child link, indexed as
    /// the model's joints (None for fixed joints).
    joint_rows: Vec<Option<Rows>>,
    /// Every moving joint has been placed once (later samples move only
    /// the joints they give).
    placed: bool,
    /// The source joint names last seen, and the URDF joint each drives
    /// (matched once, not per sample).
    mapping: (Vec<String>, Vec<Option<usize>>),
    /// Some joints matched nothing (reported once).
    warned_unmatched: bool,
}

/// `world/robot/<arm>`.
pub fn arm_path(arm: &str) -> String {
    format!("world/robot/{}", crate::entity_part(arm))
}

/// Maps a source joint name (`shoulder_pan`, `shoulder_pan.pos`,
/// `follower_shoulder_pan.pos`) to the URDF joint it drives, if any.
fn urdf_joint_for<'m>(model: &'m RobotModel, name: &str) -> Option<&'m str> {
    let bare = name.strip_suffix(".pos").unwrap_or(name);
    model
        .joints
        .iter()
        .find(|j| j.name == bare)
        .or_else(|| {
            model
                .joints
                .iter()
                .filter(|j| bare.ends_with(&format!("_{}", j.name)))
                .max_by_key(|j| j.name.len())
        })
        .map(|j| j.name.as_str())
}

/// True for joints that samples move.
fn moves(kind: JointKind) -> bool {
    matches!(
        kind,
        JointKind::Revolute | JointKind::Continuous | JointKind::Prismatic
    )
}

impl RobotAnimator {
    /// An arm at `base` under `world/robot/<arm>`, its samples placed on
    /// `timelines` and sent `rows_per_chunk` at a time.
    pub fn new(
        model: RobotModel,
        arm: &str,
        base: Iso,
        timelines: &[Timeline],
        rows_per_chunk: usize,
    ) -> Self {
        let base_path = arm_path(arm);
        let mut link_paths = HashMap::new();
        link_paths.insert(
            model.root.clone(),
            format!("{base_path}/{}", crate::entity_part(&model.root)),
        );
        for j in &model.joints {
            let parent = link_paths
                .get(&j.parent)
                .cloned()
                .unwrap_or_else(|| base_path.clone());
            link_paths.insert(
                j.child.clone(),
                format!("{parent}/{}", crate::entity_part(&j.child)),
            );
        }
        let joint_rows = model
            .joints
            .iter()
            .map(|j| {
                let path = link_paths.get(&j.child)?;
                moves(j.kind)
                    .then(|| Rows::transforms(path.as_str().into(), timelines, rows_per_chunk))
            })
            .collect();
        Self {
            model,
            link_paths,
            base,
            base_path,
            joint_rows,
            placed: false,
            mapping: (Vec::new(), Vec::new()),
            warned_unmatched: false,
        }
    }

    /// The URDF.
    pub fn model(&self) -> &RobotModel {
        &self.model
    }

    /// Logs the static parts: base pose, visuals and fixed joints. Returns
    /// warnings (meshes not found).
    pub fn log_static(
        &self,
        rec: &rerun::RecordingStream,
        mesh_dirs: &[PathBuf],
    ) -> Result<Vec<String>, ViewError> {
        let mut warnings = Vec::new();
        rec.log_static(self.base_path.as_str(), &transform(&self.base, None))?;
        let mut mesh_cache: HashMap<PathBuf, Vec<u8>> = HashMap::new();
        let mut missing = Vec::new();
        for link in &self.model.links {
            let Some(path) = self.link_paths.get(&link.name) else {
                continue;
            };
            for (i, v) in link.visuals.iter().enumerate() {
                let vpath = format!("{path}/visual_{i}");
                let rgba = v
                    .rgba
                    .map(|c| c.map(|x| (x.clamp(0.0, 1.0) * 255.0).round() as u8))
                    .unwrap_or(DEFAULT_RGBA);
                let colour =
                    rerun::Color::from_unmultiplied_rgba(rgba[0], rgba[1], rgba[2], rgba[3]);
                match &v.shape {
                    Shape::Mesh { filename, scale } => {
                        let Some(file) = RobotModel::resolve_mesh(filename, mesh_dirs) else {
                            missing.push(filename.clone());
                            continue;
                        };
                        let bytes = match mesh_cache.get(&file) {
                            Some(b) => b.clone(),
                            None => {
                                let b = std::fs::read(&file).map_err(|e| ViewError::Input {
                                    path: file.clone(),
                                    reason: format!("cannot read mesh: {e}"),
                                })?;
                                mesh_cache.insert(file.clone(), b.clone());
                                b
                            }
                        };
                        let media = media_type_for(&file);
                        rec.log_static(vpath.as_str(), &transform(&v.origin, Some(*scale)))?;
                        rec.log_static(
                            vpath.as_str(),
                            &rerun::Asset3D::from_file_contents(bytes, media)
                                .with_albedo_factor(colour.0),
                        )?;
                    }
                    Shape::Box(size) => {
                        rec.log_static(vpath.as_str(), &transform(&v.origin, None))?;
                        rec.log_static(
                            vpath.as_str(),
                            &rerun::Boxes3D::from_sizes([size.map(|x| x as f32)])
                                .with_colors([colour])
                                .with_fill_mode(rerun::FillMode::Solid),
                        )?;
                    }
                    Shape::Sphere(r) => {
                        rec.log_static(vpath.as_str(), &transform(&v.origin, None))?;
                        rec.log_static(
                            vpath.as_str(),
                            &rerun::Ellipsoids3D::from_radii([*r as f32])
                                .with_colors([colour])
                                .with_fill_mode(rerun::FillMode::Solid),
                        )?;
                    }
                    Shape::Cylinder { radius, length } | Shape::Capsule { radius, length } => {
                        rec.log_static(vpath.as_str(), &transform(&v.origin, None))?;
                        rec.log_static(
                            vpath.as_str(),
                            &rerun::Cylinders3D::from_lengths_and_radii(
                                [*length as f32],
                                [*radius as f32],
                            )
                            .with_colors([colour])
                            .with_fill_mode(rerun::FillMode::Solid),
                        )?;
                    }
                }
            }
        }
        if !missing.is_empty() {
            missing.sort();
            missing.dedup();
            warnings.push(format!(
                "robot {}: {} mesh file(s) not found (e.g. {}); give the folder that holds them",
                self.model.name,
                missing.len(),
                missing[0]
            ));
        }
        for j in self.model.joints.iter().filter(|j| !moves(j.kind)) {
            if let Some(path) = self.link_paths.get(&j.child) {
                rec.log_static(path.as_str(), &transform(&j.transform(0.0), None))?;
            }
        }
        Ok(warnings)
    }

    /// Moves the links to the joint positions of one sample at `time` (one
    /// value per timeline). Returns a warning the first time some joints
    /// match nothing in the URDF.
    pub fn log_positions(
        &mut self,
        rec: &rerun::RecordingStream,
        time: &[i64],
        names: &[String],
        positions: &[f64],
    ) -> Result<Option<String>, ViewError> {
        let mut warning = None;
        if self.mapping.0 != names {
            let targets: Vec<Option<usize>> = names
                .iter()
                .map(|n| urdf_joint_for(&self.model, n).and_then(|j| self.model.joint_index(j)))
                .collect();
            let unmatched: Vec<&str> = names
                .iter()
                .zip(&targets)
                .filter(|(_, t)| t.is_none())
                .map(|(n, _)| n.as_str())
                .collect();
            if !unmatched.is_empty() && !self.warned_unmatched {
                self.warned_unmatched = true;
                warning = Some(format!(
                    "robot {}: joint(s) {} are not in the URDF and do not move it",
                    self.model.name,
                    unmatched.join(", ")
                ));
            }
            self.mapping = (names.to_vec(), targets);
        }
        let mut given = vec![None; self.model.joints.len()];
        for (target, q) in self.mapping.1.iter().zip(positions) {
            if let Some(i) = target {
                given[*i] = Some(*q);
            }
        }
        let q = self.model.joint_values(&given);
        // The first sample places every moving joint (those it does not
        // give at their default), later ones only the joints they move.
        let all = !self.placed;
        self.placed = true;
        for ((j, rows), (q, given)) in self
            .model
            .joints
            .iter()
            .zip(&mut self.joint_rows)
            .zip(q.iter().zip(&given))
        {
            let Some(rows) = rows else { continue };
            if all || given.is_some() || j.mimic.is_some() {
                let (translation, rotation_xyzw) = rerun_parts(&j.transform(*q));
                rows.push_transform(rec, time, translation, rotation_xyzw)?;
            }
        }
        Ok(warning)
    }

    /// Sends the buffered link transforms.
    pub fn flush(&mut self, rec: &rerun::RecordingStream) -> Result<(), ViewError> {
        for rows in self.joint_rows.iter_mut().flatten() {
            rows.flush(rec)?;
        }
        Ok(())
    }
}

fn media_type_for(file: &std::path::Path) -> Option<rerun::MediaType> {
    let ext = file.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "stl" => rerun::MediaType::stl(),
        "obj" => rerun::MediaType::obj(),
        "glb" => rerun::MediaType::glb(),
        "gltf" => rerun::MediaType::gltf(),
        _ => return None,
    })
}

/// An [`Iso`] as rerun takes it: translation, and rotation as xyzw.
fn rerun_parts(iso: &Iso) -> ([f32; 3], [f32; 4]) {
    let [w, x, y, z] = iso.q;
    (
        iso.t.map(|v| v as f32),
        [x as f32, y as f32, z as f32, w as f32],
    )
}

/// A rerun transform from an [`Iso`], with an optional scale (applied first).
pub fn transform(iso: &Iso, scale: Option<[f64; 3]>) -> rerun::Transform3D {
    let (translation, rotation_xyzw) = rerun_parts(iso);
    let t = rerun::Transform3D::from_translation_rotation(
        translation,
        rerun::Quaternion::from_xyzw(rotation_xyzw),
    );
    match scale {
        Some(s) => t.with_scale(s.map(|v| v as f32)),
        None => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joint_names_match_with_suffix_and_prefix() {
        let m = RobotModel::parse(
            r#"<robot name="r"><link name="a"/><link name="b"/>
            <joint name="shoulder_pan" type="revolute"><parent link="a"/><child link="b"/><axis xyz="0 0 1"/>
            <limit lower="-1" upper="1" effort="1" velocity="1"/></joint></robot>"#,
        )
        .expect("urdf");
        assert_eq!(urdf_joint_for(&m, "shoulder_pan"), Some("shoulder_pan"));
        assert_eq!(urdf_joint_for(&m, "shoulder_pan.pos"), Some("shoulder_pan"));
        assert_eq!(
            urdf_joint_for(&m, "follower_shoulder_pan.pos"),
            Some("shoulder_pan")
        );
        assert_eq!(urdf_joint_for(&m, "elbow"), None);
    }
}
