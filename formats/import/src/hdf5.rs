//! HDF5 episodes as ALOHA and robomimic write them, read through the HDF5
//! C library (hdf5-metno; Debian's libhdf5):
//!
//! - **ALOHA** (one file per episode): `/observations/qpos`, `qvel`,
//!   `effort` (T×14), `/observations/images/<cam>` (T×H×W×3 uint8), `/action`
//!   (T×14), attribute `sim`. The 14 joints get ALOHA's names.
//! - **robomimic** (one file, many demos): `/data/demo_N/obs/<key>`,
//!   `actions`, `states`; each demo is an episode, in demo-number order.
//!
//! Neither stores a clock: samples are on the grid of `--fps` (ALOHA's 50 Hz
//! and robomimic's 20 Hz by default), and the metadata says so. Images are
//! stored as JPEG (quality 95) frame by frame; no episode is read whole.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hdf5_metno as h5;
use reel_episode::ros2::sensor_msgs::{CompressedImage, JointState};
use reel_episode::ros2::std_msgs::Header;
use reel_episode::ros2::RosMessage;
use reel_episode::{topics, EpisodeWriter, Topic};

use crate::mapping::{Mapping, TopicRule, Unlisted};
use crate::source::Loss;
use crate::{output, Format, ImportError, ImportOptions, ImportReport, Outcome, TopicReport};

/// ALOHA's joint order per arm (act/constants.py), left arm then right.
const ALOHA_JOINTS: [&str; 7] = [
    "waist",
    "shoulder",
    "elbow",
    "forearm_roll",
    "wrist_angle",
    "wrist_rotate",
    "gripper",
];

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> ImportError {
    ImportError::corrupt(path, "HDF5", reason.to_string())
}

/// Which layout a file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// ALOHA / ACT.
    Aloha,
    /// robomimic.
    Robomimic,
    /// Any other file: every (T×D) numeric dataset and (T×H×W×3) uint8
    /// dataset, one episode, named by the mapping or by their paths.
    Generic,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Self::Aloha => "hdf5-aloha",
            Self::Robomimic => "hdf5-robomimic",
            Self::Generic => "hdf5",
        }
    }

    /// Control rate when the user gives none (a file of no known layout
    /// has none).
    pub fn default_fps(self) -> Option<f64> {
        match self {
            Self::Aloha => Some(50.0),
            Self::Robomimic => Some(20.0),
            Self::Generic => None,
        }
    }
}

/// One stream of an episode: a (T×D) float dataset or a (T×H×W×3) image one.
#[derive(Debug, Clone)]
struct Stream {
    /// Dataset path in the file (the mapping's `from`).
    key: String,
    /// What it becomes by default.
    to: String,
    /// Element names.
    names: Vec<String>,
    /// Image stream.
    image: bool,
    /// Images already JPEG, one zero-padded row per frame (ACT's
    /// `compress` option), passed through as they are.
    jpeg_rows: bool,
    /// For joint streams: the dataset of velocities and efforts to put beside the positions.
    velocity: Option<String>,
    effort: Option<String>,
}

fn layout_of(file: &h5::File) -> Layout {
    if file.link_exists("observations/qpos") {
        Layout::Aloha
    } else if file.link_exists("data") && file.group("data").is_ok() {
        Layout::Robomimic
    } else {
        Layout::Generic
    }
}

/// Every dataset path under `group` (depth-first, at most 8 levels).
fn dataset_paths(group: &h5::Group, prefix: &str, depth: usize, out: &mut Vec<String>) {
    if depth > 8 {
        return;
    }
    for name in group.member_names().unwrap_or_default() {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        if let Ok(g) = group.group(&name) {
            dataset_paths(&g, &path, depth + 1, out);
        } else if group.dataset(&name).is_ok() {
            out.push(path);
        }
    }
}

fn shape(file: &h5::Group, key: &str) -> Option<Vec<usize>> {
    file.dataset(key).ok().map(|d| d.shape())
}

/// The streams of an episode rooted at `root` (the file for ALOHA, a demo group for robomimic).
fn streams(layout: Layout, group: &h5::Group) -> Vec<Stream> {
    let mut out = Vec::new();
    let vector = |key: &str| shape(group, key).filter(|s| s.len() == 2);
    let names_for = |key: &str, d: usize| -> Vec<String> {
        if layout == Layout::Aloha && d == 14 {
            ["left", "right"]
                .iter()
                .flat_map(|side| ALOHA_JOINTS.iter().map(move |j| format!("{side}_{j}")))
                .collect()
        } else {
            let short = key.rsplit('/').next().unwrap_or(key);
            (0..d).map(|i| format!("{short}_{i}")).collect()
        }
    };
    match layout {
        Layout::Aloha => {
            if let Some(s) = vector("observations/qpos") {
                out.push(Stream {
                    key: "observations/qpos".into(),
                    to: topics::joint_states("arm"),
                    names: names_for("qpos", s[1]),
                    image: false,
                    jpeg_rows: false,
                    velocity: vector("observations/qvel")
                        .filter(|v| v[1] == s[1])
                        .map(|_| "observations/qvel".into()),
                    effort: vector("observations/effort")
                        .filter(|v| v[1] == s[1])
                        .map(|_| "observations/effort".into()),
                });
            }
            if let Some(s) = vector("action") {
                out.push(Stream {
                    key: "action".into(),
                    to: topics::joint_commands("arm"),
                    names: names_for("action", s[1]),
                    image: false,
                    jpeg_rows: false,
                    velocity: None,
                    effort: None,
                });
            }
            if let Ok(images) = group.group("observations/images") {
                for cam in images.member_names().unwrap_or_default() {
                    let key = format!("observations/images/{cam}");
                    let jpeg_rows = group.dataset(&key).is_ok_and(|d| {
                        d.shape().len() == 2 && d.dtype().is_ok_and(|t| t.size() == 1)
                    });
                    if jpeg_rows {
                        out.push(Stream {
                            key,
                            to: topics::camera_image(&cam),
                            names: Vec::new(),
                            image: true,
                            jpeg_rows: true,
                            velocity: None,
                            effort: None,
                        });
                    } else if shape(group, &key).is_some_and(|s| s.len() == 4 && s[3] == 3) {
                        out.push(Stream {
                            key,
                            to: topics::camera_image(&cam),
                            names: Vec::new(),
                            image: true,
                            jpeg_rows: false,
                            velocity: None,
                            effort: None,
                        });
                    }
                }
            }
        }
        Layout::Robomimic => {
            let obs: Vec<String> = group
                .group("obs")
                .and_then(|g| g.member_names())
                .unwrap_or_default();
            for key in obs {
                let path = format!("obs/{key}");
                let Some(s) = shape(group, &path) else {
                    continue;
                };
                if s.len() == 4 && s[3] == 3 {
                    let cam = key.strip_suffix("_image").unwrap_or(&key);
                    out.push(Stream {
                        key: path,
                        to: topics::camera_image(cam),
                        names: Vec::new(),
                        image: true,
                        jpeg_rows: false,
                        velocity: None,
                        effort: None,
                    });
                } else if s.len() == 2 {
                    let to = if let Some(robot) = key.strip_suffix("_joint_pos") {
                        topics::joint_states(robot)
                    } else if let Some(robot) = key.strip_suffix("_gripper_qpos") {
                        topics::joint_states(&format!("{robot}_gripper"))
                    } else {
                        format!("/hdf5/obs/{key}")
                    };
                    let vel = key
                        .strip_suffix("_joint_pos")
                        .map(|r| format!("obs/{r}_joint_vel"))
                        .filter(|v| vector(v).is_some_and(|v| v[1] == s[1]));
                    out.push(Stream {
                        key: path,
                        to,
                        names: names_for(&key, s[1]),
                        image: false,
                        jpeg_rows: false,
                        velocity: vel,
                        effort: None,
                    });
                }
            }
            if let Some(s) = vector("actions") {
                out.push(Stream {
                    key: "actions".into(),
                    to: topics::joint_commands("arm"),
                    names: names_for("action", s[1]),
                    image: false,
                    jpeg_rows: false,
                    velocity: None,
                    effort: None,
                });
            }
            if let Some(s) = vector("states") {
                out.push(Stream {
                    key: "states".into(),
                    to: "/hdf5/states".into(),
                    names: names_for("state", s[1]),
                    image: false,
                    jpeg_rows: false,
                    velocity: None,
                    effort: None,
                });
            }
        }
        Layout::Generic => {
            let mut paths = Vec::new();
            dataset_paths(group, "", 0, &mut paths);
            for key in paths {
                let Ok(ds) = group.dataset(&key) else {
                    continue;
                };
                let s = ds.shape();
                let byte = ds.dtype().map(|t| t.size() == 1).unwrap_or(false);
                if s.len() == 4 && s[3] == 3 && byte {
                    let cam = key
                        .rsplit('/')
                        .next()
                        .unwrap_or(&key)
                        .trim_end_matches("_image")
                        .to_string();
                    out.push(Stream {
                        key,
                        to: topics::camera_image(&cam),
                        names: Vec::new(),
                        image: true,
                        jpeg_rows: false,
                        velocity: None,
                        effort: None,
                    });
                } else if s.len() == 2 && s[0] > 0 && s[1] > 0 && s[1] <= 4096 {
                    let to = format!("/hdf5/{key}");
                    out.push(Stream {
                        names: names_for(&key, s[1]),
                        key,
                        to,
                        image: false,
                        jpeg_rows: false,
                        velocity: None,
                        effort: None,
                    });
                }
            }
        }
    }
    out
}

/// The episodes of a file: (group path, name suffix), in order.
fn episodes(layout: Layout, file: &h5::File) -> Vec<String> {
    match layout {
        Layout::Aloha | Layout::Generic => vec!["/".into()],
        Layout::Robomimic => {
            let mut demos: Vec<String> = file
                .group("data")
                .and_then(|g| g.member_names())
                .unwrap_or_default();
            demos.retain(|d| d.starts_with("demo"));
            demos.sort_by_key(|d| {
                (
                    d.trim_start_matches(|c: char| !c.is_ascii_digit())
                        .parse::<u64>()
                        .unwrap_or(u64::MAX),
                    d.clone(),
                )
            });
            demos.into_iter().map(|d| format!("data/{d}")).collect()
        }
    }
}

fn open(path: &Path) -> Result<(h5::File, Layout), ImportError> {
    let file = h5::File::open(path).map_err(|e| {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        corrupt(
            path,
            format!("{e} ({len} bytes); a file cut short is refused whole by the HDF5 library"),
        )
    })?;
    let layout = layout_of(&file);
    Ok((file, layout))
}

/// The mapping reel proposes for the HDF5 file at `path` (its first episode).
pub fn proposed_mapping(path: &Path) -> Result<Mapping, ImportError> {
    let (file, layout) = open(path)?;
    let first = episodes(layout, &file)
        .into_iter()
        .next()
        .unwrap_or_else(|| "/".into());
    let group = file.group(&first).map_err(|e| corrupt(path, e))?;
    let rules = streams(layout, &group)
        .into_iter()
        .map(|s| TopicRule {
            from: s.key,
            type_name: Some(
                if s.image {
                    CompressedImage::TYPE_NAME
                } else {
                    JointState::TYPE_NAME
                }
                .into(),
            ),
            to: Some(s.to),
            joint_names: (!s.image).then_some(s.names),
            ..Default::default()
        })
        .collect();
    Ok(Mapping {
        unlisted: Unlisted::Keep,
        topics: rules,
    })
}

/// Imports every episode of the HDF5 file at `path`.
pub(crate) fn import_file(
    path: &Path,
    options: &ImportOptions<'_>,
) -> Result<Vec<ImportReport>, ImportError> {
    let (file, layout) = open(path)?;
    let fps = options.fps.or(layout.default_fps()).ok_or_else(|| ImportError::Mapping {
        path: path.to_path_buf(),
        reason: "an HDF5 file of no layout reel knows (neither ALOHA's /observations/qpos nor robomimic's /data) stores no rate: give --fps, and see --print-mapping for the datasets it found".into(),
    })?;
    let mapping = match &options.mapping {
        Some(m) => m.mapping.clone(),
        None => proposed_mapping(path)?,
    };
    let mapping_text = mapping.to_text(&path.display().to_string(), &|_| String::new());
    let file_sha = crate::source_sha256(&[path.to_path_buf()])?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut reports = Vec::new();
    let imported = output::Imported::scan(&options.out)?;
    for group_path in episodes(layout, &file) {
        let started = Instant::now();
        let sha256 = if layout == Layout::Aloha {
            file_sha.clone()
        } else {
            reel_episode::sha256_hex(format!("{file_sha}\0{group_path}").as_bytes())
        };
        let suffix = group_path
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .map(|s| format!("_{s}"))
            .unwrap_or_default();
        let name = format!("{}{suffix}", output::episode_name(path));
        let target = match crate::episode::place_or_skip(
            options,
            &imported,
            &name,
            path,
            Format::Hdf5,
            (&sha256, bytes),
            started,
        )? {
            Ok(target) => target,
            Err(skipped) => {
                reports.push(skipped);
                continue;
            }
        };
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut meta = output::lineage_meta(
            options.task.as_deref().unwrap_or(""),
            options.robot_type.as_deref().unwrap_or(match layout {
                Layout::Aloha => "aloha",
                Layout::Robomimic | Layout::Generic => "unknown",
            }),
            layout.name(),
            path,
            &[file_name],
            &sha256,
        );
        meta.source_params
            .insert("group".into(), group_path.clone());
        meta.source_params.insert("time".into(), format!("HDF5 keeps no clock: sample i is at i / {fps} s (fps grid), as log time and publish time"));
        meta.source_params
            .insert("mapping".into(), mapping_text.clone());
        if let Ok(sim) = file.attr("sim").and_then(|a| a.read_scalar::<bool>()) {
            meta.source_params.insert("sim".into(), sim.to_string());
        }
        let group = file.group(&group_path).map_err(|e| corrupt(path, e))?;
        let mut writer = EpisodeWriter::create(&target.write_path, meta, options.writer.clone())?;
        let partial = writer.partial_path().to_path_buf();
        match write_episode(path, layout, &group, &mapping, fps, &mut writer) {
            Ok((topics, losses, messages, last)) => {
                writer.attach(
                    "import_mapping.toml",
                    "application/toml",
                    mapping_text.as_bytes(),
                    0,
                )?;
                output::write_losses(&mut writer, &losses, last)?;
                let episode = target.finish(writer)?;
                reports.push(ImportReport {
                    source: path.to_path_buf(),
                    format: Format::Hdf5,
                    outcome: Outcome::Imported { episode },
                    sha256,
                    bytes,
                    messages,
                    topics,
                    losses,
                    unmatched_rules: Vec::new(),
                    mapping_text: mapping_text.clone(),
                    seconds: started.elapsed().as_secs_f64(),
                });
            }
            Err(e) => {
                drop(writer);
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        }
    }
    Ok(reports)
}

type Written = (Vec<TopicReport>, Vec<Loss>, u64, u64);

fn write_episode(
    path: &Path,
    layout: Layout,
    group: &h5::Group,
    mapping: &Mapping,
    fps: f64,
    writer: &mut EpisodeWriter,
) -> Result<Written, ImportError> {
    let bad = |e: h5::Error| corrupt(path, e);
    let mut reports = Vec::new();
    let mut losses = Vec::new();
    let (mut messages, mut last) = (0u64, 0u64);
    for stream in streams(layout, group) {
        let rule = mapping
            .rule(&stream.key)
            .cloned()
            .unwrap_or_else(|| TopicRule {
                from: stream.key.clone(),
                drop: mapping.unlisted == Unlisted::Drop,
                ..Default::default()
            });
        let to = (!rule.drop).then(|| rule.to.clone().unwrap_or_else(|| stream.to.clone()));
        let report = reports.len();
        reports.push(TopicReport {
            from: stream.key.clone(),
            to: to.clone(),
            type_name: if stream.image {
                CompressedImage::TYPE_NAME
            } else {
                JointState::TYPE_NAME
            }
            .into(),
            messages: 0,
            known_type: true,
            rewritten: rule.rewrites(),
        });
        let Some(to) = to else { continue };
        writer.meta_mut().nominal_rates_hz.insert(to.clone(), fps);
        let ds = group.dataset(&stream.key).map_err(bad)?;
        let shape = ds.shape();
        let frames = shape.first().copied().unwrap_or(0);
        if stream.jpeg_rows {
            let topic: Topic<CompressedImage> = writer.add_topic(&to)?;
            let camera = to
                .trim_start_matches("/camera/")
                .split('/')
                .next()
                .unwrap_or("camera")
                .to_string();
            let mut unreadable = 0u64;
            for i in 0..frames {
                let row: ndarray::Array1<u8> = ds.read_slice_1d(ndarray::s![i, ..]).map_err(bad)?;
                let row = row.to_vec();
                // The JPEG ends at its last end-of-image marker; zeros pad the row.
                let end = row.windows(2).rposition(|w| w == [0xff, 0xd9]);
                let (Some(end), true) = (end, row.starts_with(&[0xff, 0xd8])) else {
                    unreadable += 1;
                    continue;
                };
                let t = output::grid_nanos(i as u64, fps);
                writer.write(
                    topic,
                    &CompressedImage {
                        header: Header::new(t, camera.clone()),
                        format: "jpeg".into(),
                        data: row[..end + 2].to_vec(),
                    },
                    t,
                    t,
                )?;
                last = last.max(t);
                reports[report].messages += 1;
                messages += 1;
            }
            if unreadable > 0 {
                losses.push(Loss {
                    file: PathBuf::from(path),
                    reason: "undecodable",
                    detail: format!("{}: {unreadable} rows hold no JPEG", stream.key),
                    messages: Some(unreadable),
                });
            }
        } else if stream.image {
            let topic: Topic<CompressedImage> = writer.add_topic(&to)?;
            let (h, w) = (shape[1], shape[2]);
            let camera = to
                .trim_start_matches("/camera/")
                .split('/')
                .next()
                .unwrap_or("camera")
                .to_string();
            for i in 0..frames {
                let frame: ndarray::Array3<u8> =
                    ds.read_slice(ndarray::s![i, .., .., ..]).map_err(bad)?;
                let rgb: Vec<u8> = frame.iter().copied().collect();
                let jpeg =
                    crate::rewrite::encode_jpeg(&rgb, w, h, jpeg_encoder::ColorType::Rgb, 95)
                        .map_err(|e| corrupt(path, format!("{}: frame {i}: {e}", stream.key)))?;
                let t = output::grid_nanos(i as u64, fps);
                writer.write(
                    topic,
                    &CompressedImage {
                        header: Header::new(t, camera.clone()),
                        format: "jpeg".into(),
                        data: jpeg,
                    },
                    t,
                    t,
                )?;
                last = last.max(t);
                reports[report].messages += 1;
                messages += 1;
            }
        } else {
            let topic: Topic<JointState> = writer.add_topic(&to)?;
            let names = rule
                .joint_names
                .clone()
                .unwrap_or_else(|| stream.names.clone());
            if names.len() != shape[1] {
                return Err(ImportError::Mapping {
                    path: path.to_path_buf(),
                    reason: format!(
                        "{}: {} joint names for {} values",
                        stream.key,
                        names.len(),
                        shape[1]
                    ),
                });
            }
            let open = |key: &Option<String>| -> Result<Option<h5::Dataset>, ImportError> {
                key.as_ref()
                    .map(|k| group.dataset(k).map_err(bad))
                    .transpose()
            };
            let (vel, eff) = (open(&stream.velocity)?, open(&stream.effort)?);
            let rows_of = |d: &Option<h5::Dataset>| d.as_ref().map_or(0, |d| d.shape()[0]);
            // Row i of a (T×D) dataset; empty past its end.
            let row_of = |d: &Option<h5::Dataset>, i: usize| -> Result<Vec<f64>, ImportError> {
                match d {
                    Some(d) if i < d.shape()[0] => Ok(d
                        .read_slice_1d::<f64, _>(ndarray::s![i, ..])
                        .map_err(bad)?
                        .to_vec()),
                    _ => Ok(Vec::new()),
                }
            };
            let scaled = |v: Vec<f64>, k: Option<f64>| {
                v.into_iter()
                    .map(|x| x * k.unwrap_or(1.0))
                    .collect::<Vec<_>>()
            };
            // One row at a time: a long episode is never read whole.
            let positions = Some(ds.clone());
            for i in 0..frames {
                let t = output::grid_nanos(i as u64, fps);
                let msg = JointState {
                    header: Header::new(t, ""),
                    name: names.clone(),
                    position: scaled(row_of(&positions, i)?, rule.position_scale),
                    velocity: scaled(row_of(&vel, i)?, rule.velocity_scale),
                    effort: scaled(row_of(&eff, i)?, rule.effort_scale),
                };
                writer.write(topic, &msg, t, t)?;
                last = last.max(t);
                reports[report].messages += 1;
                messages += 1;
            }
            for (what, d) in [("qvel", &vel), ("effort", &eff)] {
                let n = rows_of(d);
                if d.is_some() && n < frames {
                    losses.push(Loss {
                        file: PathBuf::from(path),
                        reason: "missing_rows",
                        detail: format!(
                            "{}: {what} has {n} rows for {frames} positions",
                            stream.key
                        ),
                        messages: Some((frames - n) as u64),
                    });
                }
            }
        }
    }
    Ok((reports, losses, messages, last))
}
