//! Calibrations written into a rig config in place: the sensor's
//! `intrinsics` or `mount` table is replaced, everything else (comments,
//! order, formatting) is kept, the previous file is kept as a dated backup,
//! and the new text must parse as a valid rig before it replaces the old.

use std::path::{Path, PathBuf};

use reel_episode::calibration::{CameraModel, Mount};
use toml_edit::{value, Array, DocumentMut, Item, Table};

use crate::error::RigError;
use crate::rig::Rig;

/// Which sensor of the rig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensor<'a> {
    /// A `[[camera]]` by name.
    Camera(&'a str),
    /// A `[[lidar]]` by name.
    Lidar(&'a str),
}

/// What to store.
#[derive(Debug, Clone, Copy)]
pub enum Calibration<'a> {
    /// A camera's intrinsics.
    Intrinsics(&'a CameraModel),
    /// A sensor's mount.
    Mount(&'a Mount),
    /// A camera's frames were found this many ms late against the other
    /// streams (a time offset): added to its `latency_ms`, which every
    /// frame stamp subtracts.
    LatencyShiftMs(f64),
}

/// Stores `calibration` for `sensor` in the rig config at `path`; returns
/// the backup of the previous file.
pub fn store(
    path: &Path,
    sensor: Sensor<'_>,
    calibration: Calibration<'_>,
) -> Result<PathBuf, RigError> {
    let invalid = |reason: String| RigError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let io = |source: std::io::Error| RigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| invalid(e.message().to_string()))?;
    let (key, name) = match sensor {
        Sensor::Camera(n) => ("camera", n),
        Sensor::Lidar(n) => ("lidar", n),
    };
    let entry = doc
        .get_mut(key)
        .and_then(Item::as_array_of_tables_mut)
        .and_then(|list| {
            list.iter_mut()
                .find(|t| t.get("name").and_then(Item::as_str) == Some(name))
        })
        .ok_or_else(|| {
            invalid(format!(
                "no [[{key}]] named {name:?}; check the name against the rig config"
            ))
        })?;
    match calibration {
        Calibration::Intrinsics(k) => {
            if key != "camera" {
                return Err(invalid("only cameras have intrinsics".into()));
            }
            let mut t = Table::new();
            t["model"] = value(k.lens.ros_name());
            for (field, v) in [("fx", k.fx), ("fy", k.fy), ("cx", k.cx), ("cy", k.cy)] {
                t[field] = value(v);
            }
            t["distortion"] = value(k.distortion.iter().copied().collect::<Array>());
            entry.insert("intrinsics", Item::Table(t));
        }
        Calibration::Mount(m) => {
            let mut t = Table::new();
            t["parent"] = value(m.parent.clone());
            t["xyz"] = value(m.xyz.iter().copied().collect::<Array>());
            t["rpy"] = value(m.rpy.iter().copied().collect::<Array>());
            entry.insert("mount", Item::Table(t));
        }
        Calibration::LatencyShiftMs(shift) => {
            if key != "camera" {
                return Err(invalid("only cameras have a latency_ms".into()));
            }
            let old = match entry.get("latency_ms") {
                None => 0.0,
                Some(item) => item
                    .as_float()
                    .or_else(|| item.as_integer().map(|i| i as f64))
                    .ok_or_else(|| {
                        invalid(format!("camera {name:?}: latency_ms is not a number"))
                    })?,
            };
            // Hundredths of a millisecond: finer is below what the offset resolves.
            let new = ((old + shift) * 100.0).round() / 100.0;
            if new < 0.0 {
                return Err(invalid(format!(
                    "camera {name:?}: its frames come {:.2} ms early with latency_ms = {old}, and latency_ms cannot go below 0; check the host's and the camera's clocks",
                    -shift
                )));
            }
            entry.insert("latency_ms", value(new));
        }
    }
    let updated = doc.to_string();
    Rig::parse(&updated)
        .map_err(|e| invalid(format!("the updated config would not load ({e})")))?;
    let stamp = reel_episode::time::format_utc(reel_episode::time::host_now_nanos())
        .replace([':', '-'], "");
    let stamp = stamp.split('.').next().unwrap_or(&stamp).to_string();
    let backup = reel_episode::fs::backup_copy(path, &stamp).map_err(io)?;
    reel_episode::fs::write_atomically(path, updated.as_bytes()).map_err(io)?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_intrinsics_and_mounts_keeping_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rig.toml");
        let original = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/rigs/bimanual-emulated.toml"),
        )
        .unwrap();
        std::fs::write(&path, &original).unwrap();
        let first = Rig::parse(&original).unwrap().cameras[0].clone();
        let camera = first.name.clone();
        let k = CameraModel {
            lens: reel_episode::calibration::LensModel::PinholeRadtan,
            width: first.width,
            height: first.height,
            fx: 601.25,
            fy: 600.5,
            cx: 319.0,
            cy: 241.0,
            distortion: vec![-0.1, 0.01, 0.0, 0.0, 0.0],
        };
        let backup = store(&path, Sensor::Camera(&camera), Calibration::Intrinsics(&k)).unwrap();
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), original);
        let lidar = Rig::parse(&original).unwrap().lidars[0].name.clone();
        let mount = Mount {
            parent: "base_link".into(),
            xyz: [0.1, 0.0, 0.5],
            rpy: [0.0, 0.0, 1.5],
        };
        store(&path, Sensor::Lidar(&lidar), Calibration::Mount(&mount)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let rig = Rig::parse(&text).unwrap();
        assert_eq!(rig.cameras[0].intrinsics.as_ref(), Some(&k));
        assert_eq!(rig.lidars[0].mount.as_ref(), Some(&mount));
        // Every comment line of the original is still there.
        for line in original.lines().filter(|l| l.trim_start().starts_with('#')) {
            assert!(text.contains(line), "lost {line:?}");
        }
        let err = store(&path, Sensor::Camera("nope"), Calibration::Intrinsics(&k)).unwrap_err();
        assert!(
            err.to_string().contains("no [[camera]] named \"nope\""),
            "{err}"
        );
        // A time offset moves latency_ms by the lag; a negative total is refused.
        store(
            &path,
            Sensor::Camera(&camera),
            Calibration::LatencyShiftMs(12.344),
        )
        .unwrap();
        store(
            &path,
            Sensor::Camera(&camera),
            Calibration::LatencyShiftMs(-2.3),
        )
        .unwrap();
        let after = Rig::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let before = Rig::parse(&original).unwrap().cameras[0].latency_ms;
        assert!((after.cameras[0].latency_ms - (before + 10.04)).abs() < 1e-9);
        let err = store(
            &path,
            Sensor::Camera(&camera),
            Calibration::LatencyShiftMs(-500.0),
        )
        .unwrap_err();
        assert!(err.to_string().contains("cannot go below 0"), "{err}");
        let err = store(
            &path,
            Sensor::Lidar(&lidar),
            Calibration::LatencyShiftMs(1.0),
        )
        .unwrap_err();
        assert!(err.to_string().contains("only cameras"), "{err}");
        store(
            &path,
            Sensor::Camera(&camera),
            Calibration::LatencyShiftMs(-10.04),
        )
        .unwrap();
        let bad = CameraModel { fx: -1.0, ..k };
        let err = store(
            &path,
            Sensor::Camera(&camera),
            Calibration::Intrinsics(&bad),
        )
        .unwrap_err();
        assert!(err.to_string().contains("would not load"), "{err}");
        assert_eq!(
            Rig::parse(&std::fs::read_to_string(&path).unwrap()).unwrap(),
            rig
        );
    }
}
