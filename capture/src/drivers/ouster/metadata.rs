//! An Ouster sensor's metadata JSON, as its HTTP API gives it
//! (`GET /api/v1/sensor/metadata`) and ouster-sdk saves it: the beam
//! angles and origins, the packet layout (profile, columns, pixels) and
//! who the sensor is. Both shapes are read: the flat one of firmware 2.x
//! (`beam_altitude_angles`, `data_format`, ... at the top) and the nested
//! one of later firmware and the SDK (`beam_intrinsics`,
//! `lidar_data_format`, `config_params`, `sensor_info`).

use serde_json::Value;

/// What a packet's pixels hold (`udp_profile_lidar`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Firmware 1.x/2.x: no packet header; 20-bit range, 12 B a pixel.
    Legacy,
    /// `RNG19_RFL8_SIG16_NIR16`: one return, 12 B a pixel.
    Single,
    /// `RNG19_RFL8_SIG16_NIR16_DUAL`: two returns, 16 B a pixel.
    Dual,
}

impl Profile {
    /// From the metadata's name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "LEGACY" => Some(Self::Legacy),
            "RNG19_RFL8_SIG16_NIR16" => Some(Self::Single),
            "RNG19_RFL8_SIG16_NIR16_DUAL" => Some(Self::Dual),
            _ => None,
        }
    }

    /// The metadata's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Legacy => "LEGACY",
            Self::Single => "RNG19_RFL8_SIG16_NIR16",
            Self::Dual => "RNG19_RFL8_SIG16_NIR16_DUAL",
        }
    }
}

/// A row-major 4×4 homogeneous transform, millimetres.
pub type Transform = [[f64; 4]; 4];

/// The identity transform.
pub const IDENTITY: Transform = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
    [0.0, 0.0, 0.0, 1.0],
];

/// What reel needs of an Ouster sensor's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorInfo {
    /// `OS-1-64`, `OS-0-32-U1`, ...
    pub prod_line: String,
    /// Serial number.
    pub prod_sn: u64,
    /// Changes at every sensor start; 0 where the firmware has none.
    pub init_id: u32,
    /// Columns per frame (512, 1024, 2048).
    pub columns_per_frame: u16,
    /// Frames per second (10 or 20).
    pub frames_per_second: u16,
    /// Columns per packet (16).
    pub columns_per_packet: u16,
    /// Beams.
    pub pixels_per_column: u16,
    /// First and last column sent (`column_window`).
    pub column_window: (u16, u16),
    /// Pixel layout.
    pub profile: Profile,
    /// Elevation of each beam, degrees, top beam first.
    pub beam_altitude_deg: Vec<f64>,
    /// Azimuth offset of each beam, degrees.
    pub beam_azimuth_deg: Vec<f64>,
    /// Beam origin relative to the lidar frame (mm in the last column).
    pub beam_to_lidar: Transform,
    /// Lidar frame to sensor frame (mm in the last column).
    pub lidar_to_sensor: Transform,
    /// IMU frame to sensor frame (mm in the last column).
    pub imu_to_sensor: Transform,
    /// IMU packets are `LEGACY` (48 B); other IMU profiles are not read.
    pub legacy_imu: bool,
}

/// Why metadata cannot be used: one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MetadataError(pub String);

/// The first of `paths` (each a `/`-separated key path) present in `v`.
fn find<'a>(v: &'a Value, paths: &[&str]) -> Option<&'a Value> {
    paths.iter().find_map(|path| {
        path.split('/')
            .try_fold(v, |node, key| node.get(key))
            .filter(|x| !x.is_null())
    })
}

fn number(v: &Value, paths: &[&str], what: &str) -> Result<f64, MetadataError> {
    let x = find(v, paths).ok_or_else(|| MetadataError(format!("no {what}")))?;
    x.as_f64()
        .or_else(|| x.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| MetadataError(format!("{what} is not a number")))
}

fn angles(v: &Value, paths: &[&str], what: &str, beams: usize) -> Result<Vec<f64>, MetadataError> {
    let list = find(v, paths)
        .and_then(Value::as_array)
        .ok_or_else(|| MetadataError(format!("no {what}")))?;
    let out: Option<Vec<f64>> = list.iter().map(Value::as_f64).collect();
    match out {
        Some(a) if a.len() == beams && a.iter().all(|x| x.is_finite()) => Ok(a),
        _ => Err(MetadataError(format!(
            "{what} must be {beams} finite numbers (pixels_per_column)"
        ))),
    }
}

fn transform(v: &Value, paths: &[&str]) -> Result<Option<Transform>, MetadataError> {
    let Some(list) = find(v, paths) else {
        return Ok(None);
    };
    let values: Option<Vec<f64>> = list
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_f64).collect());
    match values {
        Some(m) if m.len() == 16 && m.iter().all(|x| x.is_finite()) => {
            let mut t = IDENTITY;
            for (i, x) in m.into_iter().enumerate() {
                t[i / 4][i % 4] = x;
            }
            Ok(Some(t))
        }
        _ => Err(MetadataError(format!(
            "{} must be 16 finite numbers (a row-major 4x4 matrix)",
            paths[0]
        ))),
    }
}

impl SensorInfo {
    /// Parses the metadata JSON text.
    pub fn parse(text: &str) -> Result<Self, MetadataError> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| MetadataError(format!("not JSON: {e}")))?;
        let format = |key: &str| {
            [
                format!("lidar_data_format/{key}"),
                format!("data_format/{key}"),
            ]
        };
        let fmt_paths = |key: &str| format(key);
        let get = |key: &str, what: &str| -> Result<f64, MetadataError> {
            let p = fmt_paths(key);
            number(&v, &[&p[0], &p[1]], what)
        };
        let small = |x: f64, what: &str, max: f64| -> Result<u16, MetadataError> {
            if x >= 1.0 && x <= max && x.fract() == 0.0 {
                Ok(x as u16)
            } else {
                Err(MetadataError(format!(
                    "{what} {x} is out of range 1..{max}"
                )))
            }
        };
        let pixels_per_column = small(
            get("pixels_per_column", "pixels_per_column")?,
            "pixels_per_column",
            512.0,
        )?;
        let columns_per_packet = small(
            get("columns_per_packet", "columns_per_packet")?,
            "columns_per_packet",
            64.0,
        )?;
        let mode = find(&v, &["config_params/lidar_mode", "lidar_mode"])
            .and_then(Value::as_str)
            .ok_or_else(|| MetadataError("no lidar_mode".into()))?;
        let (columns, fps) = mode
            .split_once('x')
            .and_then(|(c, f)| Some((c.parse::<u16>().ok()?, f.parse::<u16>().ok()?)))
            .filter(|(c, f)| [512, 1024, 2048, 4096].contains(c) && [5, 10, 20].contains(f))
            .ok_or_else(|| MetadataError(format!("lidar_mode {mode:?} is not COLUMNSxHZ")))?;
        let columns_per_frame = match get("columns_per_frame", "columns_per_frame") {
            Ok(c) => small(c, "columns_per_frame", 4096.0)?,
            Err(_) => columns,
        };
        if columns_per_frame != columns || columns_per_frame % columns_per_packet != 0 {
            return Err(MetadataError(format!(
                "columns_per_frame {columns_per_frame} does not fit lidar_mode {mode} and {columns_per_packet} columns per packet"
            )));
        }
        let window = fmt_paths("column_window");
        let column_window = match find(&v, &[&window[0], &window[1]]).and_then(Value::as_array) {
            Some(w) if w.len() == 2 => {
                let at = |i: usize| w[i].as_u64().filter(|&c| c < u64::from(columns_per_frame));
                match (at(0), at(1)) {
                    (Some(a), Some(b)) => (a as u16, b as u16),
                    _ => return Err(MetadataError("column_window is out of the frame".into())),
                }
            }
            _ => (0, columns_per_frame - 1),
        };
        let profile_paths = fmt_paths("udp_profile_lidar");
        let profile = match find(&v, &[&profile_paths[0], &profile_paths[1]]).and_then(Value::as_str) {
            None => Profile::Legacy,
            Some(name) => Profile::parse(name).ok_or_else(|| {
                MetadataError(format!(
                    "udp_profile_lidar {name} is not one reel reads (LEGACY, RNG19_RFL8_SIG16_NIR16, RNG19_RFL8_SIG16_NIR16_DUAL)"
                ))
            })?,
        };
        let imu_paths = fmt_paths("udp_profile_imu");
        let legacy_imu = find(&v, &[&imu_paths[0], &imu_paths[1]])
            .and_then(Value::as_str)
            .is_none_or(|p| p == "LEGACY");
        let beams = usize::from(pixels_per_column);
        let beam_altitude_deg = angles(
            &v,
            &[
                "beam_intrinsics/beam_altitude_angles",
                "beam_altitude_angles",
            ],
            "beam_altitude_angles",
            beams,
        )?;
        let beam_azimuth_deg = angles(
            &v,
            &["beam_intrinsics/beam_azimuth_angles", "beam_azimuth_angles"],
            "beam_azimuth_angles",
            beams,
        )?;
        let beam_to_lidar = match transform(&v, &["beam_intrinsics/beam_to_lidar_transform"])? {
            Some(t) => t,
            None => {
                let mut t = IDENTITY;
                t[0][3] = number(
                    &v,
                    &[
                        "beam_intrinsics/lidar_origin_to_beam_origin_mm",
                        "lidar_origin_to_beam_origin_mm",
                    ],
                    "lidar_origin_to_beam_origin_mm",
                )?;
                t
            }
        };
        // Ouster's default for sensors whose metadata predates the field.
        let default_lidar_to_sensor: Transform = [
            [-1.0, 0.0, 0.0, 0.0],
            [0.0, -1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 36.18],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let lidar_to_sensor = transform(
            &v,
            &[
                "lidar_intrinsics/lidar_to_sensor_transform",
                "lidar_to_sensor_transform",
            ],
        )?
        .unwrap_or(default_lidar_to_sensor);
        let imu_to_sensor = transform(
            &v,
            &[
                "imu_intrinsics/imu_to_sensor_transform",
                "imu_to_sensor_transform",
            ],
        )?
        .unwrap_or(IDENTITY);
        let prod_line = find(&v, &["sensor_info/prod_line", "prod_line"])
            .and_then(Value::as_str)
            .ok_or_else(|| MetadataError("no prod_line".into()))?
            .to_string();
        let prod_sn = find(&v, &["sensor_info/prod_sn", "prod_sn"])
            .and_then(|x| x.as_u64().or_else(|| x.as_str()?.trim().parse().ok()))
            .unwrap_or(0);
        let init_id = find(&v, &["sensor_info/initialization_id", "initialization_id"])
            .and_then(Value::as_u64)
            .unwrap_or(0) as u32;
        Ok(Self {
            prod_line,
            prod_sn,
            init_id,
            columns_per_frame,
            frames_per_second: fps,
            columns_per_packet,
            pixels_per_column,
            column_window,
            profile,
            beam_altitude_deg,
            beam_azimuth_deg,
            beam_to_lidar,
            lidar_to_sensor,
            imu_to_sensor,
            legacy_imu,
        })
    }

    /// Product line and beams, as `(line, beams)` (`OS-1-64` → (1, 64));
    /// None for product lines reel does not know.
    pub fn line_and_beams(&self) -> Option<(u8, u16)> {
        let rest = self.prod_line.strip_prefix("OS-")?;
        let line: u8 = rest.get(..1)?.parse().ok()?;
        Some((line, self.pixels_per_column))
    }
}
