//! `sensor_msgs` messages.

use super::builtin_interfaces::TIME_DEP;
use super::geometry_msgs::{Quaternion, Vector3, QUATERNION_DEP, VECTOR3_DEP};
use super::std_msgs::{Header, HEADER_DEP};
use super::{CdrReader, CdrWriter, RosMessage};
use crate::error::CdrError;

/// `sensor_msgs/msg/JointState`: per joint position (rad or m), velocity
/// (rad/s or m/s) and effort (N·m or N). Arrays may be empty when not measured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JointState {
    /// Acquisition time and frame.
    pub header: Header,
    /// Joint names.
    pub name: Vec<String>,
    /// Positions, SI units.
    pub position: Vec<f64>,
    /// Velocities, SI units.
    pub velocity: Vec<f64>,
    /// Efforts, SI units.
    pub effort: Vec<f64>,
}

impl RosMessage for JointState {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/JointState";
    const DEFINITION: &'static str = "std_msgs/Header header\n\
string[] name\nfloat64[] position\nfloat64[] velocity\nfloat64[] effort\n";
    const DEPENDENCIES: &'static [(&'static str, &'static str)] = &[HEADER_DEP, TIME_DEP];

    fn write_fields(&self, w: &mut CdrWriter<'_>) {
        self.header.write(w);
        w.strings(&self.name);
        w.f64s(&self.position);
        w.f64s(&self.velocity);
        w.f64s(&self.effort);
    }
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self {
            header: Header::read(r)?,
            name: r.strings()?,
            position: r.f64s()?,
            velocity: r.f64s()?,
            effort: r.f64s()?,
        })
    }
}

/// `sensor_msgs/msg/Image`: an uncompressed image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Image {
    /// Acquisition time and camera optical frame.
    pub header: Header,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// Pixel encoding (`rgb8`, `bgr8`, `mono8`, `16UC1`, ...).
    pub encoding: String,
    /// 1 if multi-byte pixels are big endian.
    pub is_bigendian: u8,
    /// Row length in bytes.
    pub step: u32,
    /// `step * height` bytes.
    pub data: Vec<u8>,
}

impl RosMessage for Image {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/Image";
    const DEFINITION: &'static str = "std_msgs/Header header\nuint32 height\nuint32 width\n\
string encoding\nuint8 is_bigendian\nuint32 step\nuint8[] data\n";
    const DEPENDENCIES: &'static [(&'static str, &'static str)] = &[HEADER_DEP, TIME_DEP];

    fn write_fields(&self, w: &mut CdrWriter<'_>) {
        self.header.write(w);
        w.u32(self.height);
        w.u32(self.width);
        w.string(&self.encoding);
        w.u8(self.is_bigendian);
        w.u32(self.step);
        w.bytes(&self.data);
    }
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self {
            header: Header::read(r)?,
            height: r.u32()?,
            width: r.u32()?,
            encoding: r.string()?,
            is_bigendian: r.u8()?,
            step: r.u32()?,
            data: r.bytes()?,
        })
    }
}

/// `sensor_msgs/msg/CompressedImage`: one JPEG/PNG frame (or an H.264 access unit).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompressedImage {
    /// Acquisition time and camera optical frame.
    pub header: Header,
    /// `jpeg`, `png`, or `h264`.
    pub format: String,
    /// The encoded frame.
    pub data: Vec<u8>,
}

impl RosMessage for CompressedImage {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/CompressedImage";
    const DEFINITION: &'static str = "std_msgs/Header header\nstring format\nuint8[] data\n";
    const DEPENDENCIES: &'static [(&'static str, &'static str)] = &[HEADER_DEP, TIME_DEP];

    fn write_fields(&self, w: &mut CdrWriter<'_>) {
        self.header.write(w);
        w.string(&self.format);
        w.bytes(&self.data);
    }
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self {
            header: Header::read(r)?,
            format: r.string()?,
            data: r.bytes()?,
        })
    }
}

/// `sensor_msgs/msg/RegionOfInterest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegionOfInterest {
    /// Leftmost pixel.
    pub x_offset: u32,
    /// Topmost pixel.
    pub y_offset: u32,
    /// Rows (0 = full image).
    pub height: u32,
    /// Columns (0 = full image).
    pub width: u32,
    /// Whether to rectify the region.
    pub do_rectify: bool,
}

const ROI_DEF: &str =
    "uint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 width\nbool do_rectify\n";

impl RegionOfInterest {
    fn write(&self, w: &mut CdrWriter<'_>) {
        w.u32(self.x_offset);
        w.u32(self.y_offset);
        w.u32(self.height);
        w.u32(self.width);
        w.bool(self.do_rectify);
    }
    fn read(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self {
            x_offset: r.u32()?,
            y_offset: r.u32()?,
            height: r.u32()?,
            width: r.u32()?,
            do_rectify: r.bool()?,
        })
    }
}

/// `sensor_msgs/msg/CameraInfo`: intrinsics and distortion. `k`, `r`, `p` are row-major.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CameraInfo {
    /// Time and camera optical frame.
    pub header: Header,
    /// Image rows.
    pub height: u32,
    /// Image columns.
    pub width: u32,
    /// `plumb_bob`, `rational_polynomial` or `equidistant`.
    pub distortion_model: String,
    /// Distortion coefficients.
    pub d: Vec<f64>,
    /// 3×3 camera matrix.
    pub k: [f64; 9],
    /// 3×3 rectification rotation.
    pub r: [f64; 9],
    /// 3×4 projection matrix.
    pub p: [f64; 12],
    /// Horizontal binning.
    pub binning_x: u32,
    /// Vertical binning.
    pub binning_y: u32,
    /// Region of interest.
    pub roi: RegionOfInterest,
}

impl RosMessage for CameraInfo {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/CameraInfo";
    const DEFINITION: &'static str = "std_msgs/Header header\nuint32 height\nuint32 width\n\
string distortion_model\nfloat64[] d\nfloat64[9] k\nfloat64[9] r\nfloat64[12] p\n\
uint32 binning_x\nuint32 binning_y\nRegionOfInterest roi\n";
    const DEPENDENCIES: &'static [(&'static str, &'static str)] = &[
        HEADER_DEP,
        TIME_DEP,
        ("sensor_msgs/RegionOfInterest", ROI_DEF),
    ];

    fn write_fields(&self, w: &mut CdrWriter<'_>) {
        self.header.write(w);
        w.u32(self.height);
        w.u32(self.width);
        w.string(&self.distortion_model);
        w.f64s(&self.d);
        w.f64_array(&self.k);
        w.f64_array(&self.r);
        w.f64_array(&self.p);
        w.u32(self.binning_x);
        w.u32(self.binning_y);
        self.roi.write(w);
    }
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self {
            header: Header::read(r)?,
            height: r.u32()?,
            width: r.u32()?,
            distortion_model: r.string()?,
            d: r.f64s()?,
            k: r.f64_fixed()?,
            r: r.f64_fixed()?,
            p: r.f64_fixed()?,
            binning_x: r.u32()?,
            binning_y: r.u32()?,
            roi: RegionOfInterest::read(r)?,
        })
    }
}

/// `sensor_msgs/msg/PointField`: one field of a [`PointCloud2`] point.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PointField {
    /// Field name (`x`, `intensity`, `ring`, `time`, ...).
    pub name: String,
    /// Byte offset within the point.
    pub offset: u32,
    /// One of the `PointField::*` datatype codes.
    pub datatype: u8,
    /// Elements in the field (usually 1).
    pub count: u32,
}

impl PointField {
    /// `int8`
    pub const INT8: u8 = 1;
    /// `uint8`
    pub const UINT8: u8 = 2;
    /// `int16`
    pub const INT16: u8 = 3;
    /// `uint16`
    pub const UINT16: u8 = 4;
    /// `int32`
    pub const INT32: u8 = 5;
    /// `uint32`
    pub const UINT32: u8 = 6;
    /// `float32`
    pub const FLOAT32: u8 = 7;
    /// `float64`
    pub const FLOAT64: u8 = 8;

    /// A single-element field.
    pub fn new(name: &str, offset: u32, datatype: u8) -> Self {
        Self {
            name: name.to_string(),
            offset,
            datatype,
            count: 1,
        }
    }

    fn write(&self, w: &mut CdrWriter<'_>) {
        w.string(&self.name);
        w.u32(self.offset);
        w.u8(self.datatype);
        w.u32(self.count);
    }
    fn read(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Self {
            name: r.string()?,
            offset: r.u32()?,
            datatype: r.u8()?,
            count: r.u32()?,
        })
    }
}

const POINT_FIELD_DEF: &str = "uint8 INT8=1\nuint8 UINT8=2\nuint8 INT16=3\nuint8 UINT16=4\n\
uint8 INT32=5\nuint8 UINT32=6\nuint8 FLOAT32=7\nuint8 FLOAT64=8\n\
string name\nuint32 offset\nuint8 datatype\nuint32 count\n";

/// `sensor_msgs/msg/PointCloud2`: points as packed records described by `fields`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PointCloud2 {
    /// Acquisition time (start of the revolution) and sensor frame.
    pub header: Header,
    /// 1 for unorganized clouds.
    pub height: u32,
    /// Points per row.
    pub width: u32,
    /// Layout of one point.
    pub fields: Vec<PointField>,
    /// Byte order of `data`.
    pub is_bigendian: bool,
    /// Bytes per point.
    pub point_step: u32,
    /// Bytes per row.
    pub row_step: u32,
    /// `row_step * height` bytes.
    pub data: Vec<u8>,
    /// True if no point is invalid (NaN).
    pub is_dense: bool,
}

impl PointCloud2 {
    /// Bytes per point of reel's LiDAR clouds.
    pub const LIDAR_POINT_STEP: u32 = 24;

    /// The point layout of reel's LiDAR clouds (design.md): x, y, z and
    /// intensity as f32 at 0/4/8/12, ring as u16 at 16, the return type as
    /// u8 at 18 (as ROS drivers name it: Velodyne 1 strongest, 2 last,
    /// 3 both; Ouster 1 first, 2 second; 0 not reported), and the point's
    /// time after `header.stamp` as f32 seconds at 20.
    pub fn lidar_fields() -> Vec<PointField> {
        vec![
            PointField::new("x", 0, PointField::FLOAT32),
            PointField::new("y", 4, PointField::FLOAT32),
            PointField::new("z", 8, PointField::FLOAT32),
            PointField::new("intensity", 12, PointField::FLOAT32),
            PointField::new("ring", 16, PointField::UINT16),
            PointField::new("return_type", 18, PointField::UINT8),
            PointField::new("time", 20, PointField::FLOAT32),
        ]
    }
}

impl PointCloud2 {
    /// Appends one point in reel's LiDAR layout ([`Self::lidar_fields`]) to `data`.
    pub fn push_lidar_point(
        data: &mut Vec<u8>,
        xyz: [f32; 3],
        intensity: f32,
        ring: u16,
        return_type: u8,
        time_s: f32,
    ) {
        for v in [xyz[0], xyz[1], xyz[2], intensity] {
            data.extend_from_slice(&v.to_le_bytes());
        }
        data.extend_from_slice(&ring.to_le_bytes());
        data.extend_from_slice(&[return_type, 0]);
        data.extend_from_slice(&time_s.to_le_bytes());
    }

    /// An unorganized, dense cloud of `data` laid out by [`Self::push_lidar_point`].
    pub fn lidar(header: Header, data: Vec<u8>) -> Self {
        let n = data.len() / Self::LIDAR_POINT_STEP as usize;
        Self {
            header,
            height: 1,
            width: n as u32,
            fields: Self::lidar_fields(),
            is_bigendian: false,
            point_step: Self::LIDAR_POINT_STEP,
            row_step: data.len() as u32,
            data,
            is_dense: true,
        }
    }
}

impl RosMessage for PointCloud2 {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/PointCloud2";
    const DEFINITION: &'static str = "std_msgs/Header header\nuint32 height\nuint32 width\n\
PointField[] fields\nbool is_bigendian\nuint32 point_step\nuint32 row_step\nuint8[] data\nbool is_dense\n";
    const DEPENDENCIES: &'static [(&'static str, &'static str)] = &[
        HEADER_DEP,
        TIME_DEP,
        ("sensor_msgs/PointField", POINT_FIELD_DEF),
    ];

    fn write_fields(&self, w: &mut CdrWriter<'_>) {
        self.header.write(w);
        w.u32(self.height);
        w.u32(self.width);
        w.len(self.fields.len());
        for f in &self.fields {
            f.write(w);
        }
        w.bool(self.is_bigendian);
        w.u32(self.point_step);
        w.u32(self.row_step);
        w.bytes(&self.data);
        w.bool(self.is_dense);
    }
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        let header = Header::read(r)?;
        let height = r.u32()?;
        let width = r.u32()?;
        // A field takes at least 4 (name) + 4 + 1 + 4 bytes.
        let n = r.len(13)?;
        let fields = (0..n)
            .map(|_| PointField::read(r))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            header,
            height,
            width,
            fields,
            is_bigendian: r.bool()?,
            point_step: r.u32()?,
            row_step: r.u32()?,
            data: r.bytes()?,
            is_dense: r.bool()?,
        })
    }
}

/// `sensor_msgs/msg/Imu`: one inertial sample. A covariance whose first
/// element is −1 says the quantity is not reported (REP 145): a LiDAR's
/// IMU reports no orientation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Imu {
    /// When it was sampled, and the IMU's frame.
    pub header: Header,
    /// Orientation (unknown: identity with covariance −1).
    pub orientation: Quaternion,
    /// Row-major 3×3, rad².
    pub orientation_covariance: [f64; 9],
    /// rad/s.
    pub angular_velocity: Vector3,
    /// Row-major 3×3, (rad/s)²; all 0 = unknown.
    pub angular_velocity_covariance: [f64; 9],
    /// m/s², gravity included.
    pub linear_acceleration: Vector3,
    /// Row-major 3×3, (m/s²)²; all 0 = unknown.
    pub linear_acceleration_covariance: [f64; 9],
}

impl Imu {
    /// A sample with no orientation and unknown covariances.
    pub fn new(header: Header, angular_velocity: Vector3, linear_acceleration: Vector3) -> Self {
        let mut no_orientation = [0.0; 9];
        no_orientation[0] = -1.0;
        Self {
            header,
            orientation: Quaternion::IDENTITY,
            orientation_covariance: no_orientation,
            angular_velocity,
            angular_velocity_covariance: [0.0; 9],
            linear_acceleration,
            linear_acceleration_covariance: [0.0; 9],
        }
    }
}

impl RosMessage for Imu {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/Imu";
    const DEFINITION: &'static str = "std_msgs/Header header\n\
geometry_msgs/Quaternion orientation\nfloat64[9] orientation_covariance\n\
geometry_msgs/Vector3 angular_velocity\nfloat64[9] angular_velocity_covariance\n\
geometry_msgs/Vector3 linear_acceleration\nfloat64[9] linear_acceleration_covariance\n";
    const DEPENDENCIES: &'static [(&'static str, &'static str)] =
        &[HEADER_DEP, TIME_DEP, QUATERNION_DEP, VECTOR3_DEP];

    fn write_fields(&self, w: &mut CdrWriter<'_>) {
        self.header.write(w);
        let q = self.orientation;
        for v in [q.x, q.y, q.z, q.w] {
            w.f64(v);
        }
        w.f64_array(&self.orientation_covariance);
        for (v, cov) in [
            (self.angular_velocity, &self.angular_velocity_covariance),
            (
                self.linear_acceleration,
                &self.linear_acceleration_covariance,
            ),
        ] {
            for x in [v.x, v.y, v.z] {
                w.f64(x);
            }
            w.f64_array(cov);
        }
    }
    fn read_fields(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        let header = Header::read(r)?;
        let orientation = Quaternion {
            x: r.f64()?,
            y: r.f64()?,
            z: r.f64()?,
            w: r.f64()?,
        };
        let orientation_covariance = r.f64_fixed()?;
        let vector = |r: &mut CdrReader<'_>| -> Result<(Vector3, [f64; 9]), CdrError> {
            Ok((
                Vector3 {
                    x: r.f64()?,
                    y: r.f64()?,
                    z: r.f64()?,
                },
                r.f64_fixed()?,
            ))
        };
        let (angular_velocity, angular_velocity_covariance) = vector(r)?;
        let (linear_acceleration, linear_acceleration_covariance) = vector(r)?;
        Ok(Self {
            header,
            orientation,
            orientation_covariance,
            angular_velocity,
            angular_velocity_covariance,
            linear_acceleration,
            linear_acceleration_covariance,
        })
    }
}
