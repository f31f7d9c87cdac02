//! LiDAR revolutions → LAS 1.4 (or LAZ) through the `las` crate: one file
//! per revolution in the sensor frame, or every revolution of a LiDAR
//! merged into one fixed frame through `/tf` and `/tf_static`.
//!
//! Point record format 6: x, y, z at 1 mm scale; intensity as the sensor
//! reports it (VLP-16: 0–255); `user_data` = laser ring; `gps_time` = the
//! point's acquisition time on the episode's host clock, in seconds since
//! the Unix epoch (a VLR named `reel`/1 says so in the file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::manifest::{Manifest, SourceEntry};
use super::source::open_finished;
use super::{ExportError, Staging};
use reel_episode::cloud::{read_field, CloudError, CloudLayout};
use reel_episode::ros2::sensor_msgs::{PointCloud2, PointField};
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::tf::{Iso, TfBuffer};

/// Options of `reel export las`.
#[derive(Debug, Clone, Default)]
pub struct LasOptions {
    /// Merge each LiDAR's revolutions into one file in `frame`.
    pub merge: bool,
    /// The fixed frame to merge into (with `merge`).
    pub frame: String,
    /// Write LAZ instead of LAS.
    pub laz: bool,
}

/// One file written.
#[derive(Debug, Clone, Serialize)]
pub struct LasFile {
    /// Relative path.
    pub path: String,
    /// Points in it.
    pub points: u64,
    /// First and last point time (Unix s).
    pub time_range: (f64, f64),
}

/// What an LAS export did.
#[derive(Debug, Clone, Serialize)]
pub struct LasSummary {
    /// Output directory.
    pub out: PathBuf,
    /// Files written.
    pub files: Vec<LasFile>,
    /// Revolutions read.
    pub clouds: u64,
    /// Points written.
    pub points: u64,
}

/// Where the fields of a cloud are, checked against its data.
struct Layout {
    x: PointField,
    y: PointField,
    z: PointField,
    intensity: Option<PointField>,
    ring: Option<PointField>,
    time: Option<PointField>,
    points: CloudLayout,
}

fn layout(cloud: &PointCloud2) -> Result<Layout, CloudError> {
    let points = CloudLayout::of(cloud)?;
    let xyz = |n: &str| {
        cloud
            .field(n)
            .filter(|f| f.datatype == PointField::FLOAT32 || f.datatype == PointField::FLOAT64)
            .cloned()
            .ok_or_else(|| CloudError::MissingField(format!("float {n}")))
    };
    Ok(Layout {
        x: xyz("x")?,
        y: xyz("y")?,
        z: xyz("z")?,
        intensity: cloud.field("intensity").cloned(),
        ring: cloud.field("ring").cloned(),
        time: cloud.field("time").or_else(|| cloud.field("t")).cloned(),
        points,
    })
}

/// A point ready for LAS.
struct LasPoint {
    p: [f64; 3],
    intensity: u16,
    ring: u8,
    time_s: f64,
}

fn cloud_points(cloud: &PointCloud2, l: &Layout, iso: &Iso) -> Vec<LasPoint> {
    let stamp = cloud.header.stamp.to_nanos() as f64 / 1e9;
    // Bounded by the data: the layout was checked against it.
    let mut out = Vec::with_capacity(l.points.len());
    for point in l.points.points(cloud) {
        let value = |f: &PointField| read_field(point, f, cloud.is_bigendian).unwrap_or(0.0);
        let p = [value(&l.x), value(&l.y), value(&l.z)];
        if !(p[0].is_finite() && p[1].is_finite() && p[2].is_finite()) {
            continue;
        }
        out.push(LasPoint {
            p: iso.apply(p),
            intensity: l
                .intensity
                .as_ref()
                .map_or(0, |f| value(f).clamp(0.0, 65535.0) as u16),
            ring: l
                .ring
                .as_ref()
                .map_or(0, |f| value(f).clamp(0.0, 255.0) as u8),
            time_s: stamp + l.time.as_ref().map_or(0.0, value),
        });
    }
    out
}

struct LasOut {
    writer: las::Writer<std::io::BufWriter<std::fs::File>>,
    rel: String,
    points: u64,
    t_min: f64,
    t_max: f64,
}

fn open_las(root: &Path, rel: &str, origin: [f64; 3], frame: &str) -> Result<LasOut, ExportError> {
    let path = root.join(rel);
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| ExportError::io(d, e))?;
    }
    let bad = |e: las::Error| ExportError::output(&path, format!("LAS: {e}"));
    let mut b = las::Builder::from((1, 4));
    b.point_format = las::point::Format::new(6).map_err(bad)?;
    b.point_format.is_compressed = rel.ends_with(".laz");
    let t = |o: f64| las::Transform {
        scale: 0.001,
        offset: o.round(),
    };
    b.transforms = las::Vector {
        x: t(origin[0]),
        y: t(origin[1]),
        z: t(origin[2]),
    };
    b.generating_software = reel_episode::software_version();
    b.system_identifier = "reel export las".into();
    b.vlrs.push(las::Vlr {
        user_id: "reel".into(),
        record_id: 1,
        description: "reel point conventions".into(),
        data: format!(
            "frame={frame}; gps_time=host-clock UTC seconds since 1970-01-01 (not GPS week time); user_data=laser ring; intensity=sensor value"
        )
        .into_bytes(),
    });
    let header = b.into_header().map_err(bad)?;
    let writer = las::Writer::from_path(&path, header).map_err(bad)?;
    Ok(LasOut {
        writer,
        rel: rel.to_string(),
        points: 0,
        t_min: f64::INFINITY,
        t_max: f64::NEG_INFINITY,
    })
}

impl LasOut {
    fn write(&mut self, root: &Path, pts: &[LasPoint]) -> Result<(), ExportError> {
        for p in pts {
            let point = las::Point {
                x: p.p[0],
                y: p.p[1],
                z: p.p[2],
                intensity: p.intensity,
                user_data: p.ring,
                return_number: 1,
                number_of_returns: 1,
                gps_time: Some(p.time_s),
                ..Default::default()
            };
            self.writer
                .write_point(point)
                .map_err(|e| ExportError::output(root.join(&self.rel), format!("LAS: {e}")))?;
            self.points += 1;
            self.t_min = self.t_min.min(p.time_s);
            self.t_max = self.t_max.max(p.time_s);
        }
        Ok(())
    }

    fn close(mut self, root: &Path) -> Result<LasFile, ExportError> {
        self.writer
            .close()
            .map_err(|e| ExportError::output(root.join(&self.rel), format!("LAS: {e}")))?;
        Ok(LasFile {
            path: self.rel,
            points: self.points,
            time_range: (self.t_min, self.t_max),
        })
    }
}

/// Exports the LiDAR clouds of `episode` to `out` (a new directory).
pub fn export(episode: &Path, out: &Path, opts: &LasOptions) -> Result<LasSummary, ExportError> {
    let reader = open_finished(episode)?;
    let meta = reader.episode_meta()?;
    // Pass 1: transforms (small), and which topics hold clouds.
    let mut tf = TfBuffer::default();
    let mut lidar_topics: Vec<String> = Vec::new();
    for (i, m) in reader.messages().enumerate() {
        let m = m?;
        let schema = reel_episode::schema_name(&m.channel);
        match schema {
            "tf2_msgs/msg/TFMessage" => {
                let is_static = m.channel.topic == "/tf_static";
                let msg: TFMessage = reader.decode(&m, i as u64)?;
                for t in &msg.transforms {
                    tf.add(t, is_static);
                }
            }
            "sensor_msgs/msg/PointCloud2" if !lidar_topics.contains(&m.channel.topic) => {
                lidar_topics.push(m.channel.topic.clone());
            }
            _ => {}
        }
    }
    tf.finish();
    if lidar_topics.is_empty() {
        return Err(ExportError::input(
            episode,
            "no sensor_msgs/msg/PointCloud2 topic; nothing to export as LAS",
        ));
    }
    let staging = Staging::new(out)?;
    let root = staging.path().to_path_buf();
    let ext = if opts.laz { "laz" } else { "las" };
    let name_of = |topic: &str| -> String {
        topic
            .strip_prefix("/lidar/")
            .and_then(|t| t.split('/').next())
            .unwrap_or(topic.trim_start_matches('/'))
            .replace('/', "_")
    };
    let mut merged: BTreeMap<String, LasOut> = BTreeMap::new();
    let mut files = Vec::new();
    let mut seq: BTreeMap<String, u64> = BTreeMap::new();
    let mut clouds = 0u64;
    let mut points = 0u64;
    // Pass 2: the clouds, one at a time.
    for (i, m) in reader.messages().enumerate() {
        let m = m?;
        if !lidar_topics.contains(&m.channel.topic) {
            continue;
        }
        let cloud: PointCloud2 = reader.decode(&m, i as u64)?;
        let l = layout(&cloud).map_err(|e| {
            ExportError::input(
                episode,
                format!(
                    "{} message {i}: {e}; the cloud cannot be exported",
                    m.channel.topic
                ),
            )
        })?;
        let lidar = name_of(&m.channel.topic);
        let stamp = cloud.header.stamp.to_nanos() as i64;
        let iso = if opts.merge {
            tf.lookup(&opts.frame, &cloud.header.frame_id, stamp)
                .ok_or_else(|| {
                    ExportError::input(
                        episode,
                        format!(
                            "no /tf path from {:?} to {:?}; merge into a frame the transforms reach",
                            cloud.header.frame_id, opts.frame
                        ),
                    )
                })?
        } else {
            Iso::IDENTITY
        };
        let pts = cloud_points(&cloud, &l, &iso);
        clouds += 1;
        points += pts.len() as u64;
        if opts.merge {
            let out = match merged.entry(lidar.clone()) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    let rel = format!("{lidar}_{}.{ext}", opts.frame.replace('/', "_"));
                    // Offsets at the sensor's first position keep coordinates small.
                    v.insert(open_las(&root, &rel, iso.t, &opts.frame)?)
                }
            };
            out.write(&root, &pts)?;
        } else {
            let n = seq.entry(lidar.clone()).or_insert(0);
            let rel = format!("{lidar}/{:06}.{ext}", *n);
            *n += 1;
            let mut f = open_las(&root, &rel, [0.0; 3], &cloud.header.frame_id)?;
            f.write(&root, &pts)?;
            files.push(f.close(&root)?);
        }
    }
    for (_, f) in merged {
        files.push(f.close(&root)?);
    }
    let source = SourceEntry::describe(
        episode,
        reel_episode::sha256_hex(reader.bytes()),
        reader.bytes().len() as u64,
        meta.as_ref(),
    );
    Manifest::write(
        &root,
        if opts.laz { "laz" } else { "las" },
        vec![source],
        &[],
        super::manifest::ManifestExtras::default(),
    )?;
    staging.commit()?;
    Ok(LasSummary {
        out: out.to_path_buf(),
        files,
        clouds,
        points,
    })
}
