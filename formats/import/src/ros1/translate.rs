//! ROS 1 messages of the types reel uses, read from their ROS 1 encoding
//! (little endian, unaligned, `u32`-prefixed strings and arrays, `time` as
//! two `u32`) into reel's ROS 2 types, so they are stored as CDR with ROS 2
//! schemas. ROS 1 `Header.seq` has no ROS 2 field and is dropped.
//!
//! Written by hand: the Rust ROS 1 message crates generate types from a ROS
//! workspace at build time; these nine layouts are fixed and small, and every
//! length is checked against the bytes left before anything is allocated.

use reel_episode::ros2::builtin_interfaces::Time;
use reel_episode::ros2::geometry_msgs::{Quaternion, Transform, TransformStamped, Vector3};
use reel_episode::ros2::sensor_msgs::{
    CameraInfo, CompressedImage, Image, Imu, JointState, PointCloud2, PointField, RegionOfInterest,
};
use reel_episode::ros2::std_msgs::{Header, StringMsg};
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::ros2::velodyne_msgs::{VelodynePacket, VelodyneScan};
use reel_episode::ros2::RosMessage;

/// A cursor over one ROS 1 message (also [`super::generic`]'s).
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

type R<T> = Result<T, String>;

impl<'a> Reader<'a> {
    /// Reads `buf` from its start.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    /// Bytes not read yet.
    pub(crate) fn left(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub(crate) fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| {
                format!(
                    "message ends at byte {} where {n} more bytes were expected",
                    self.buf.len()
                )
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> R<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    fn f64(&mut self) -> R<f64> {
        Ok(f64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
    /// A count of elements of at least `min_size` bytes, checked against
    /// what is left.
    fn count(&mut self, min_size: usize) -> R<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_size.max(1)) > self.buf.len() - self.pos {
            return Err(format!(
                "an array of {n} elements in {} bytes",
                self.buf.len() - self.pos
            ));
        }
        Ok(n)
    }
    fn string(&mut self) -> R<String> {
        let n = self.count(1)?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "a string that is not UTF-8".into())
    }
    fn bytes(&mut self) -> R<Vec<u8>> {
        let n = self.count(1)?;
        Ok(self.take(n)?.to_vec())
    }
    fn f64s(&mut self) -> R<Vec<f64>> {
        let n = self.count(8)?;
        (0..n).map(|_| self.f64()).collect()
    }
    fn f64_fixed<const N: usize>(&mut self) -> R<[f64; N]> {
        let mut out = [0.0; N];
        for v in &mut out {
            *v = self.f64()?;
        }
        Ok(out)
    }
    fn time(&mut self) -> R<Time> {
        let sec = self.u32()?;
        let nanosec = self.u32()?;
        Ok(Time {
            sec: i32::try_from(sec).map_err(|_| format!("time {sec} s is past 2038"))?,
            nanosec,
        })
    }
    fn header(&mut self) -> R<Header> {
        let _seq = self.u32()?;
        Ok(Header {
            stamp: self.time()?,
            frame_id: self.string()?,
        })
    }
    fn vector3(&mut self) -> R<Vector3> {
        Ok(Vector3 {
            x: self.f64()?,
            y: self.f64()?,
            z: self.f64()?,
        })
    }
    fn quaternion(&mut self) -> R<Quaternion> {
        Ok(Quaternion {
            x: self.f64()?,
            y: self.f64()?,
            z: self.f64()?,
            w: self.f64()?,
        })
    }
    fn strings(&mut self) -> R<Vec<String>> {
        let n = self.count(4)?;
        (0..n).map(|_| self.string()).collect()
    }
    fn transform_stamped(&mut self) -> R<TransformStamped> {
        Ok(TransformStamped {
            header: self.header()?,
            child_frame_id: self.string()?,
            transform: Transform {
                translation: self.vector3()?,
                rotation: self.quaternion()?,
            },
        })
    }
}

/// The ROS 2 type a ROS 1 type becomes, when reel translates it.
pub fn ros2_type(ros1_type: &str) -> Option<&'static str> {
    Some(match ros1_type {
        "sensor_msgs/JointState" => JointState::TYPE_NAME,
        "sensor_msgs/Image" => Image::TYPE_NAME,
        "sensor_msgs/CompressedImage" => CompressedImage::TYPE_NAME,
        "sensor_msgs/CameraInfo" => CameraInfo::TYPE_NAME,
        "sensor_msgs/PointCloud2" => PointCloud2::TYPE_NAME,
        "sensor_msgs/Imu" => Imu::TYPE_NAME,
        "tf2_msgs/TFMessage" | "tf/tfMessage" => TFMessage::TYPE_NAME,
        "geometry_msgs/TransformStamped" => TransformStamped::TYPE_NAME,
        "std_msgs/String" => StringMsg::TYPE_NAME,
        "velodyne_msgs/VelodyneScan" => VelodyneScan::TYPE_NAME,
        _ => return None,
    })
}

/// The message's whole bytes were read, or it is not the type it claims.
fn whole<T>(r: &Reader<'_>, v: T) -> R<T> {
    if r.pos == r.buf.len() {
        Ok(v)
    } else {
        Err(format!(
            "{} bytes left over: not this type",
            r.buf.len() - r.pos
        ))
    }
}

/// `data` (ROS 1 encoding of `ros1_type`) as CDR into `out`.
pub fn to_cdr(ros1_type: &str, data: &[u8], out: &mut Vec<u8>) -> R<()> {
    let mut r = Reader::new(data);
    match ros1_type {
        "sensor_msgs/JointState" => {
            let m = JointState {
                header: r.header()?,
                name: r.strings()?,
                position: r.f64s()?,
                velocity: r.f64s()?,
                effort: r.f64s()?,
            };
            whole(&r, m)?.encode_into(out);
        }
        "sensor_msgs/Image" => {
            let m = Image {
                header: r.header()?,
                height: r.u32()?,
                width: r.u32()?,
                encoding: r.string()?,
                is_bigendian: r.u8()?,
                step: r.u32()?,
                data: r.bytes()?,
            };
            whole(&r, m)?.encode_into(out);
        }
        "sensor_msgs/CompressedImage" => {
            let m = CompressedImage {
                header: r.header()?,
                format: r.string()?,
                data: r.bytes()?,
            };
            whole(&r, m)?.encode_into(out);
        }
        "sensor_msgs/CameraInfo" => {
            let m = CameraInfo {
                header: r.header()?,
                height: r.u32()?,
                width: r.u32()?,
                distortion_model: r.string()?,
                d: r.f64s()?,
                k: r.f64_fixed()?,
                r: r.f64_fixed()?,
                p: r.f64_fixed()?,
                binning_x: r.u32()?,
                binning_y: r.u32()?,
                roi: RegionOfInterest {
                    x_offset: r.u32()?,
                    y_offset: r.u32()?,
                    height: r.u32()?,
                    width: r.u32()?,
                    do_rectify: r.u8()? != 0,
                },
            };
            whole(&r, m)?.encode_into(out);
        }
        "sensor_msgs/PointCloud2" => {
            let header = r.header()?;
            let (height, width) = (r.u32()?, r.u32()?);
            let n = r.count(13)?;
            let mut fields = Vec::with_capacity(n);
            for _ in 0..n {
                fields.push(PointField {
                    name: r.string()?,
                    offset: r.u32()?,
                    datatype: r.u8()?,
                    count: r.u32()?,
                });
            }
            let m = PointCloud2 {
                header,
                height,
                width,
                fields,
                is_bigendian: r.u8()? != 0,
                point_step: r.u32()?,
                row_step: r.u32()?,
                data: r.bytes()?,
                is_dense: r.u8()? != 0,
            };
            whole(&r, m)?.encode_into(out);
        }
        "sensor_msgs/Imu" => {
            let m = Imu {
                header: r.header()?,
                orientation: r.quaternion()?,
                orientation_covariance: r.f64_fixed()?,
                angular_velocity: r.vector3()?,
                angular_velocity_covariance: r.f64_fixed()?,
                linear_acceleration: r.vector3()?,
                linear_acceleration_covariance: r.f64_fixed()?,
            };
            whole(&r, m)?.encode_into(out);
        }
        "tf2_msgs/TFMessage" | "tf/tfMessage" => {
            let n = r.count(68)?;
            let transforms = (0..n)
                .map(|_| r.transform_stamped())
                .collect::<R<Vec<_>>>()?;
            whole(&r, TFMessage { transforms })?.encode_into(out);
        }
        "geometry_msgs/TransformStamped" => {
            let m = r.transform_stamped()?;
            whole(&r, m)?.encode_into(out);
        }
        "std_msgs/String" => {
            let m = StringMsg { data: r.string()? };
            whole(&r, m)?.encode_into(out);
        }
        "velodyne_msgs/VelodyneScan" => {
            let header = r.header()?;
            let n = r.count(8 + 1206)?;
            let mut packets = Vec::with_capacity(n);
            for _ in 0..n {
                packets.push(VelodynePacket {
                    stamp: r.time()?,
                    data: r.take(1206)?.to_vec(),
                });
            }
            whole(&r, VelodyneScan { header, packets })?.encode_into(out);
        }
        other => return Err(format!("reel does not translate {other}")),
    }
    Ok(())
}
