//! What an exporter needs from one source episode, read in one pass:
//! metadata, attachments, the joint streams in full (they are small) and
//! the time stamps of every camera frame (frames themselves are streamed
//! later, one camera at a time, so memory stays flat in episode length).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ExportError;
use reel_episode::ros2::foxglove_msgs::CompressedVideo;
use reel_episode::ros2::sensor_msgs::{CompressedImage, Imu, JointState};
use reel_episode::{EpisodeMeta, EpisodeReader};
use reel_media::StoredCodec;

/// A joint stream (`sensor_msgs/JointState`), sorted by sample time. An
/// IMU (`sensor_msgs/Imu`) is read as one too: six "joints"
/// (`angular_velocity.x` … `linear_acceleration.z`, rad/s and m/s²) in
/// `position`, so a mapping file can export it like any vector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JointSeries {
    /// Joint names (from the first message).
    pub names: Vec<String>,
    /// Sample times (`header.stamp`, ns).
    pub stamps: Vec<i64>,
    /// Positions per sample.
    pub position: Vec<Vec<f64>>,
    /// Velocities per sample (empty rows when not reported).
    pub velocity: Vec<Vec<f64>>,
    /// Efforts per sample (empty rows when not reported).
    pub effort: Vec<Vec<f64>>,
}

/// The names of an IMU's six values, as exported.
pub const IMU_COMPONENTS: [&str; 6] = [
    "angular_velocity.x",
    "angular_velocity.y",
    "angular_velocity.z",
    "linear_acceleration.x",
    "linear_acceleration.y",
    "linear_acceleration.z",
];

/// A camera stream: when each frame was acquired.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraSeries {
    /// JPEG or H.264.
    pub codec: StoredCodec,
    /// Acquisition times (ns), in message order.
    pub stamps: Vec<i64>,
    /// Frame size from the first frame.
    pub width: u32,
    /// Frame size from the first frame.
    pub height: u32,
}

/// One source episode.
#[derive(Debug, Clone)]
pub struct SourceEpisode {
    /// The file.
    pub path: PathBuf,
    /// `reel.episode` metadata.
    pub meta: EpisodeMeta,
    /// The rig config attached at capture (`rig.toml`), if any.
    pub rig_toml: Option<String>,
    /// sha256 of the file (hex).
    pub sha256: String,
    /// File size in bytes.
    pub size: u64,
    /// Topic → schema name, every topic in the file.
    pub topics: BTreeMap<String, String>,
    /// Joint streams by topic.
    pub joints: BTreeMap<String, JointSeries>,
    /// Camera streams by topic.
    pub cameras: BTreeMap<String, CameraSeries>,
    /// Its `reel annotate` sidecar, if any (the instruction and outcome are
    /// already applied to `meta`; the segments become per-frame subtasks).
    pub annotations: Option<reel_episode::annotations::Annotations>,
}

fn stamp_nanos(t: reel_episode::ros2::builtin_interfaces::Time) -> i64 {
    t.to_nanos() as i64
}

impl SourceEpisode {
    /// Reads `path`. Damaged or unfinished files are refused with the fix.
    pub fn read(path: &Path) -> Result<Self, ExportError> {
        let reader = open_finished(path)?;
        let mut meta = reader.episode_meta()?.ok_or_else(|| {
            ExportError::input(path, "no `reel.episode` metadata; not a reel episode")
        })?;
        // An annotated instruction (`reel annotate`) is the episode's task.
        let annotations = match reel_episode::annotations::read(path, &meta.episode_id) {
            Ok(a) => a,
            Err(e) => return Err(ExportError::input(path, e.to_string())),
        };
        if let Some(a) = &annotations {
            if let Some(i) = &a.instruction {
                meta.task = i.clone();
            }
            if let Some(ok) = a.success {
                meta.outcome = if ok {
                    reel_episode::Outcome::Success
                } else {
                    reel_episode::Outcome::Failure
                };
            }
        }
        let rig_toml = reader
            .attachments()?
            .into_iter()
            .find(|a| a.name == "rig.toml")
            .and_then(|a| String::from_utf8(a.data).ok());
        let sha256 = reel_episode::sha256_hex(reader.bytes());
        let size = reader.bytes().len() as u64;
        let mut topics = BTreeMap::new();
        let mut joints: BTreeMap<String, JointSeries> = BTreeMap::new();
        let mut cameras: BTreeMap<String, CameraSeries> = BTreeMap::new();
        for (index, message) in reader.messages().enumerate() {
            let message = message?;
            let topic = &message.channel.topic;
            let schema = reel_episode::schema_name(&message.channel);
            if !topics.contains_key(topic) {
                topics.insert(topic.clone(), schema.to_string());
            }
            match schema {
                "sensor_msgs/msg/JointState" => {
                    let js: JointState = reader.decode(&message, index as u64)?;
                    let series = joints.entry(topic.clone()).or_default();
                    if series.names.is_empty() {
                        series.names = js.name.clone();
                    }
                    series.stamps.push(stamp_nanos(js.header.stamp));
                    series.position.push(js.position);
                    series.velocity.push(js.velocity);
                    series.effort.push(js.effort);
                }
                "sensor_msgs/msg/Imu" => {
                    let imu: Imu = reader.decode(&message, index as u64)?;
                    let series = joints.entry(topic.clone()).or_default();
                    if series.names.is_empty() {
                        series.names = IMU_COMPONENTS.iter().map(|c| c.to_string()).collect();
                    }
                    let (w, a) = (imu.angular_velocity, imu.linear_acceleration);
                    series.stamps.push(stamp_nanos(imu.header.stamp));
                    series.position.push(vec![w.x, w.y, w.z, a.x, a.y, a.z]);
                    series.velocity.push(Vec::new());
                    series.effort.push(Vec::new());
                }
                "sensor_msgs/msg/CompressedImage" => {
                    let img: CompressedImage = reader.decode(&message, index as u64)?;
                    let t = stamp_nanos(img.header.stamp);
                    push_frame(&mut cameras, path, topic, StoredCodec::Jpeg, t, &img.data)?;
                }
                "foxglove_msgs/msg/CompressedVideo" => {
                    let v: CompressedVideo = reader.decode(&message, index as u64)?;
                    let t = stamp_nanos(v.timestamp);
                    push_frame(&mut cameras, path, topic, StoredCodec::H264, t, &v.data)?;
                }
                _ => {}
            }
        }
        for (topic, series) in &mut joints {
            sort_joint_series(series);
            if let Some(bad) = series
                .position
                .iter()
                .find(|p| p.len() != series.names.len())
            {
                return Err(ExportError::input(
                    path,
                    format!(
                        "{topic}: a message has {} positions for {} joint names",
                        bad.len(),
                        series.names.len()
                    ),
                ));
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            meta,
            rig_toml,
            sha256,
            size,
            topics,
            joints,
            cameras,
            annotations,
        })
    }

    /// Time of the first and last sample over `topics` (ns).
    pub fn span_of(&self, topics: &[&str]) -> Option<(i64, i64, i64, i64)> {
        let mut first_max = i64::MIN;
        let mut last_min = i64::MAX;
        let mut first_min = i64::MAX;
        let mut last_max = i64::MIN;
        for t in topics {
            let stamps = self
                .joints
                .get(*t)
                .map(|j| &j.stamps)
                .or_else(|| self.cameras.get(*t).map(|c| &c.stamps))?;
            let (&f, &l) = (stamps.first()?, stamps.iter().max()?);
            first_max = first_max.max(f);
            last_min = last_min.min(l);
            first_min = first_min.min(f);
            last_max = last_max.max(l);
        }
        Some((first_max, last_min, first_min, last_max))
    }
}

fn push_frame(
    cameras: &mut BTreeMap<String, CameraSeries>,
    path: &Path,
    topic: &str,
    codec: StoredCodec,
    t: i64,
    data: &[u8],
) -> Result<(), ExportError> {
    if let Some(c) = cameras.get_mut(topic) {
        c.stamps.push(t);
        return Ok(());
    }
    // The first frame gives the size. An H.264 stream may need several
    // access units before a frame comes out; keep feeding until it does.
    let (width, height) = match codec {
        StoredCodec::Jpeg => {
            let f = reel_media::decode_jpeg(data).map_err(|e| {
                ExportError::input(path, format!("{topic}: first frame does not decode: {e}"))
            })?;
            (f.width(), f.height())
        }
        StoredCodec::H264 => h264_size(data).ok_or_else(|| {
            ExportError::input(
                path,
                format!("{topic}: the first H.264 frame does not decode"),
            )
        })?,
    };
    cameras.insert(
        topic.to_string(),
        CameraSeries {
            codec,
            stamps: vec![t],
            width,
            height,
        },
    );
    Ok(())
}

fn h264_size(data: &[u8]) -> Option<(u32, u32)> {
    let mut dec = reel_media::StreamDecoder::new(StoredCodec::H264).ok()?;
    let mut frames = dec.decode(data).ok()?;
    frames.extend(dec.finish().ok()?);
    frames.first().map(|f| (f.width(), f.height()))
}

/// Sorts samples by time (drivers stamp in order, other writers may not).
fn sort_joint_series(s: &mut JointSeries) {
    if s.stamps.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    let mut order: Vec<usize> = (0..s.stamps.len()).collect();
    order.sort_by_key(|&i| s.stamps[i]);
    let pick = |v: &Vec<Vec<f64>>| order.iter().map(|&i| v[i].clone()).collect::<Vec<_>>();
    s.position = pick(&s.position);
    s.velocity = pick(&s.velocity);
    s.effort = pick(&s.effort);
    s.stamps = order.iter().map(|&i| s.stamps[i]).collect();
}

/// Opens an episode to export from: only cleanly finished files, since a
/// crashed one has no index and may end mid-chunk.
pub fn open_finished(path: &Path) -> Result<EpisodeReader, ExportError> {
    let reader = EpisodeReader::open(path)?;
    if !reader.state().is_clean() {
        return Err(ExportError::input(
            path,
            "the episode was not closed cleanly; run `reel recover` on it first",
        ));
    }
    Ok(reader)
}
