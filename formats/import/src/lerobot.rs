//! LeRobot datasets (a local folder, `codebase_version` v3.0 or v2.1): each
//! episode becomes a reel episode. Vector features (state, action, ...)
//! become JointState topics with the feature's names; each video's frames
//! of the episode are decoded (libav) and stored as JPEG on the camera's
//! topic. LeRobot keeps no clock, so time is the dataset's fps grid
//! (`frame_index / fps` from 0), and the metadata says so. The dataset's
//! `info.json`, card and stats travel as attachments.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use reel_dataset::lerobot::read::{read_batches, LeRobotDataset};
use reel_episode::ros2::sensor_msgs::{CompressedImage, JointState};
use reel_episode::ros2::std_msgs::Header;
use reel_episode::ros2::RosMessage;
use reel_episode::{topics, EpisodeWriter};
use serde_json::Value;

use crate::mapping::{Mapping, TopicRule, Unlisted};
use crate::source::Loss;
use crate::{output, Format, ImportError, ImportOptions, ImportReport, Outcome, TopicReport};

/// One episode of the dataset and where its rows and frames are.
#[derive(Debug, Clone)]
struct Episode {
    index: i64,
    tasks: Vec<String>,
    length: i64,
    data: PathBuf,
    /// (video key, file, from s, to s).
    videos: Vec<(String, PathBuf, f64, f64)>,
}

/// A dataset opened for import.
#[derive(Debug, Clone)]
pub struct Dataset {
    root: PathBuf,
    version: String,
    info: Value,
    fps: f64,
    episodes: Vec<Episode>,
}

fn corrupt(path: &Path, reason: impl Into<String>) -> ImportError {
    ImportError::corrupt(path, "LeRobot dataset", reason)
}

impl Dataset {
    /// Reads `root`'s metadata and episode index (v3.0 or v2.1).
    pub fn open(root: &Path) -> Result<Self, ImportError> {
        let info_path = root.join("meta/info.json");
        let text = std::fs::read(&info_path).map_err(ImportError::io(&info_path))?;
        let info: Value = serde_json::from_slice(&text)
            .map_err(|e| corrupt(&info_path, format!("info.json is not JSON: {e}")))?;
        let version = info["codebase_version"].as_str().unwrap_or("").to_string();
        let fps = info["fps"]
            .as_f64()
            .filter(|f| *f > 0.0 && f.is_finite())
            .ok_or_else(|| corrupt(&info_path, "no fps"))?;
        let episodes = if version.starts_with("v3") {
            let ds = LeRobotDataset::open(root).map_err(|e| corrupt(root, e.to_string()))?;
            ds.episodes
                .iter()
                .map(|row| Episode {
                    index: row.episode_index,
                    tasks: row.tasks.clone(),
                    length: row.length,
                    data: root.join(ds.data_file(row)),
                    videos: row
                        .videos
                        .iter()
                        .map(|(key, loc)| {
                            (
                                key.clone(),
                                root.join(ds.video_file(key, loc)),
                                loc.from_timestamp,
                                loc.to_timestamp,
                            )
                        })
                        .collect(),
                })
                .collect()
        } else if version == "v2.1" || version == "v2.0" {
            episodes_v2(root, &info, fps)?
        } else {
            return Err(ImportError::Unrecognized {
                path: root.to_path_buf(),
                reason: format!(
                    "a LeRobot dataset of codebase_version {version:?}; reel imports v3.0 and v2.1"
                ),
            });
        };
        Ok(Self {
            root: root.to_path_buf(),
            version,
            info,
            fps,
            episodes,
        })
    }

    /// `lerobot-v3.0` or `lerobot-v2.1`.
    fn format_name(&self) -> String {
        format!("{}-{}", Format::LeRobot.as_str(), self.version)
    }

    /// The one-dimensional float features (state, action, ...) with their
    /// element names, in `info.json` order.
    fn vector_features(&self) -> Vec<(String, Vec<String>)> {
        reel_dataset::lerobot::read::vector_features(&self.info)
    }

    /// The video feature keys.
    fn video_keys(&self) -> Vec<String> {
        self.info["features"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(_, f)| f["dtype"] == "video")
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The mapping reel proposes: `observation.state` → the arm's joint
    /// states, `action` → its joint commands, `observation.images.<cam>`
    /// → the camera's images, other vectors under `/lerobot/<key>`.
    pub fn proposed_mapping(&self) -> Mapping {
        let mut rules = Vec::new();
        for (key, _) in self.vector_features() {
            let to = match key.as_str() {
                "observation.state" => topics::joint_states("arm"),
                "action" => topics::joint_commands("arm"),
                other => format!("/lerobot/{}", other.replace('.', "/")),
            };
            rules.push(TopicRule {
                from: key.clone(),
                type_name: Some(JointState::TYPE_NAME.into()),
                to: Some(to),
                ..Default::default()
            });
        }
        for key in self.video_keys() {
            let camera = key
                .strip_prefix("observation.images.")
                .unwrap_or(&key)
                .replace('.', "_");
            rules.push(TopicRule {
                from: key.clone(),
                type_name: Some(CompressedImage::TYPE_NAME.into()),
                to: Some(topics::camera_image(&camera)),
                ..Default::default()
            });
        }
        Mapping {
            unlisted: Unlisted::Keep,
            topics: rules,
        }
    }
}

/// v2.1: `meta/episodes.jsonl`, one Parquet and one MP4 per episode and camera.
fn episodes_v2(root: &Path, info: &Value, fps: f64) -> Result<Vec<Episode>, ImportError> {
    let path = root.join("meta/episodes.jsonl");
    let text = std::fs::read_to_string(&path).map_err(ImportError::io(&path))?;
    let chunks_size = info["chunks_size"]
        .as_i64()
        .filter(|c| *c > 0)
        .unwrap_or(1000);
    let data_path = info["data_path"]
        .as_str()
        .unwrap_or("data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet");
    let video_path = info["video_path"]
        .as_str()
        .unwrap_or("videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4");
    let keys: Vec<String> = info["features"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, f)| f["dtype"] == "video")
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    let fill = |template: &str, index: i64, key: &str| {
        template
            .replace(
                "{episode_chunk:03d}",
                &format!("{:03}", index / chunks_size),
            )
            .replace("{episode_index:06d}", &format!("{index:06}"))
            .replace("{video_key}", key)
    };
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line)
            .map_err(|e| corrupt(&path, format!("line {}: {e}", n + 1)))?;
        let index = v["episode_index"]
            .as_i64()
            .ok_or_else(|| corrupt(&path, format!("line {}: no episode_index", n + 1)))?;
        let length = v["length"].as_i64().unwrap_or(0);
        out.push(Episode {
            index,
            tasks: v["tasks"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            length,
            data: root.join(fill(data_path, index, "")),
            videos: keys
                .iter()
                .map(|k| {
                    (
                        k.clone(),
                        root.join(fill(video_path, index, k)),
                        0.0,
                        length as f64 / fps,
                    )
                })
                .collect(),
        });
    }
    Ok(out)
}

/// Every value of row `r` of a list column (FixedSizeList or List of f32/f64).
fn row_values(column: &dyn Array, r: usize) -> Option<Vec<f64>> {
    let inner = match column.data_type() {
        DataType::FixedSizeList(..) => column.as_fixed_size_list().value(r),
        DataType::List(_) => column.as_list::<i32>().value(r),
        DataType::LargeList(_) => column.as_list::<i64>().value(r),
        _ => return None,
    };
    match inner.data_type() {
        DataType::Float32 => Some(
            inner
                .as_primitive::<Float32Type>()
                .values()
                .iter()
                .map(|&v| f64::from(v))
                .collect(),
        ),
        DataType::Float64 => Some(inner.as_primitive::<Float64Type>().values().to_vec()),
        _ => None,
    }
}

/// sha256 of files, remembered across the episodes of one run (many
/// episodes share a v3.0 data or video file).
#[derive(Default)]
struct Digests(HashMap<PathBuf, String>);

impl Digests {
    fn of(&mut self, path: &Path) -> Result<String, ImportError> {
        if let Some(d) = self.0.get(path) {
            return Ok(d.clone());
        }
        let d = crate::source_sha256(&[path.to_path_buf()])?;
        self.0.insert(path.to_path_buf(), d.clone());
        Ok(d)
    }
}

/// What one episode's import needs besides the episode.
struct Context<'a> {
    ds: &'a Dataset,
    options: &'a ImportOptions<'a>,
    mapping: Mapping,
    mapping_text: String,
}

impl Context<'_> {
    fn rule(&self, key: &str) -> TopicRule {
        match self.mapping.rule(key) {
            Some(r) => r.clone(),
            None => TopicRule {
                from: key.to_string(),
                drop: self.mapping.unlisted == Unlisted::Drop,
                ..Default::default()
            },
        }
    }

    /// Time of frame `i` on the fps grid.
    fn nanos(&self, frame: i64) -> u64 {
        output::grid_nanos(frame.max(0) as u64, self.ds.fps)
    }
}

/// Imports every episode of the dataset at `root`.
pub(crate) fn import_dataset(
    root: &Path,
    options: &ImportOptions<'_>,
) -> Result<Vec<ImportReport>, ImportError> {
    let ds = Dataset::open(root)?;
    let mapping = match &options.mapping {
        Some(m) => m.mapping.clone(),
        None => ds.proposed_mapping(),
    };
    if let Some(m) = &options.mapping {
        for rule in &m.mapping.topics {
            if rule.frame_id.is_some() {
                return Err(ImportError::Mapping {
                    path: m.path.clone().unwrap_or_default(),
                    reason: format!("{}: LeRobot features have no frame id", rule.from),
                });
            }
        }
    }
    let mapping_text = mapping.to_text(&root.display().to_string(), &|_| String::new());
    let context = Context {
        ds: &ds,
        options,
        mapping,
        mapping_text,
    };
    let mut digests = Digests::default();
    let imported = output::Imported::scan(&options.out)?;
    let mut reports = Vec::new();
    for ep in &ds.episodes {
        reports.push(import_episode(&context, ep, &mut digests, &imported)?);
    }
    Ok(reports)
}

fn import_episode(
    cx: &Context<'_>,
    ep: &Episode,
    digests: &mut Digests,
    imported: &output::Imported,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let ds = cx.ds;
    let options = cx.options;
    // The episode's identity: its index and the files it lives in.
    let mut files = vec![ds.root.join("meta/info.json"), ep.data.clone()];
    files.extend(ep.videos.iter().map(|v| v.1.clone()));
    let mut identity = format!("reel-lerobot-episode\0{}\0{}", ds.version, ep.index);
    let mut bytes = 0;
    for f in &files {
        identity.push('\0');
        identity.push_str(&digests.of(f)?);
        bytes += std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
    }
    let sha256 = reel_episode::sha256_hex(identity.as_bytes());
    let root_name = output::episode_name(&ds.root);
    let name = format!("{root_name}_ep{:06}", ep.index);
    let format = Format::LeRobot;
    let target = match crate::episode::place_or_skip(
        options,
        imported,
        &name,
        &ds.root,
        format,
        (&sha256, bytes),
        started,
    )? {
        Ok(target) => target,
        Err(skipped) => return Ok(skipped),
    };
    let rel: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(&ds.root).unwrap_or(f).display().to_string())
        .collect();
    let task = options
        .task
        .clone()
        .or_else(|| ep.tasks.first().cloned())
        .unwrap_or_default();
    let robot = options
        .robot_type
        .clone()
        .or_else(|| {
            ds.info["robot_type"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(String::from)
        })
        .unwrap_or_else(|| "unknown".into());
    let mut meta = output::lineage_meta(&task, &robot, &ds.format_name(), &ds.root, &rel, &sha256);
    meta.source_params
        .insert("episode_index".into(), ep.index.to_string());
    meta.source_params.insert(
        "time".into(),
        "LeRobot keeps no clock: every message is on the dataset's fps grid (frame_index / fps from 0), as log time and publish time".into(),
    );
    meta.source_params
        .insert("mapping".into(), cx.mapping_text.clone());
    let mut writer = EpisodeWriter::create(&target.write_path, meta, options.writer.clone())?;
    let partial = writer.partial_path().to_path_buf();
    match write_episode(cx, ep, &mut writer) {
        Ok((topics, losses, messages, last)) => {
            output::write_losses(&mut writer, &losses, last)?;
            let episode = target.finish(writer)?;
            Ok(ImportReport {
                source: ds.root.clone(),
                format,
                outcome: Outcome::Imported { episode },
                sha256,
                bytes,
                messages,
                topics,
                losses,
                unmatched_rules: Vec::new(),
                mapping_text: cx.mapping_text.clone(),
                seconds: started.elapsed().as_secs_f64(),
            })
        }
        Err(e) => {
            drop(writer);
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

type Written = (Vec<TopicReport>, Vec<Loss>, u64, u64);

/// Writes one episode's rows and frames; returns the topics, the losses,
/// the messages written and the last time.
fn write_episode(
    cx: &Context<'_>,
    ep: &Episode,
    writer: &mut EpisodeWriter,
) -> Result<Written, ImportError> {
    let ds = cx.ds;
    let mut reports = Vec::new();
    let mut losses = Vec::new();
    let mut messages = 0u64;
    let mut last = 0u64;
    for (name, path) in [
        ("info.json", ds.root.join("meta/info.json")),
        ("README.md", ds.root.join("README.md")),
        ("stats.json", ds.root.join("meta/stats.json")),
    ] {
        if let Ok(data) = std::fs::read(&path) {
            let media = if name.ends_with(".md") {
                "text/markdown"
            } else {
                "application/json"
            };
            writer.attach(&format!("source/{name}"), media, &data, 0)?;
        }
    }
    writer.attach(
        "import_mapping.toml",
        "application/toml",
        cx.mapping_text.as_bytes(),
        0,
    )?;

    // Joint-like features, row by row.
    let vectors = ds.vector_features();
    let mut joint_topics = Vec::new();
    for (key, names) in &vectors {
        let rule = cx.rule(key);
        let report = reports.len();
        reports.push(TopicReport {
            from: key.clone(),
            to: (!rule.drop).then(|| {
                rule.to
                    .clone()
                    .unwrap_or_else(|| format!("/lerobot/{}", key.replace('.', "/")))
            }),
            type_name: JointState::TYPE_NAME.into(),
            messages: 0,
            known_type: true,
            rewritten: rule.rewrites(),
        });
        let Some(to) = reports[report].to.clone() else {
            continue;
        };
        if let Some(n) = &rule.joint_names {
            if n.len() != names.len() {
                return Err(ImportError::Mapping {
                    path: cx
                        .options
                        .mapping
                        .as_ref()
                        .and_then(|m| m.path.clone())
                        .unwrap_or_default(),
                    reason: format!(
                        "{key}: joint_names lists {} joints, the feature has {} ({names:?})",
                        n.len(),
                        names.len()
                    ),
                });
            }
        }
        writer
            .meta_mut()
            .nominal_rates_hz
            .insert(to.clone(), ds.fps);
        let topic = writer.add_topic::<JointState>(&to)?;
        joint_topics.push((
            key.clone(),
            rule.joint_names.clone().unwrap_or_else(|| names.clone()),
            rule,
            topic,
            report,
        ));
    }
    let batches: Vec<RecordBatch> =
        read_batches(&ep.data, Some(ep.index)).map_err(|e| corrupt(&ep.data, e.to_string()))?;
    let mut rows = 0i64;
    for b in &batches {
        let int = |name: &str| {
            b.column_by_name(name)
                .and_then(|c| c.as_primitive_opt::<Int64Type>().cloned())
        };
        let (Some(episode), Some(frame)) = (int("episode_index"), int("frame_index")) else {
            return Err(corrupt(&ep.data, "no episode_index or frame_index column"));
        };
        for r in 0..b.num_rows() {
            if episode.value(r) != ep.index {
                continue;
            }
            rows += 1;
            let t = cx.nanos(frame.value(r));
            last = last.max(t);
            for (key, names, rule, topic, report) in &joint_topics {
                let Some(column) = b.column_by_name(key) else {
                    return Err(corrupt(&ep.data, format!("no column {key}")));
                };
                let Some(mut values) = row_values(column.as_ref(), r) else {
                    return Err(corrupt(&ep.data, format!("{key} is not a list of floats")));
                };
                if let Some(k) = rule.position_scale {
                    values.iter_mut().for_each(|v| *v *= k);
                }
                let msg = JointState {
                    header: Header::new(t, ""),
                    name: names.clone(),
                    position: values,
                    ..Default::default()
                };
                writer.write(*topic, &msg, t, t)?;
                reports[*report].messages += 1;
                messages += 1;
            }
        }
    }
    if rows < ep.length {
        losses.push(Loss {
            file: ep.data.clone(),
            reason: "missing_rows",
            detail: format!(
                "episode {}: meta/episodes says {} frames, the data holds {rows}",
                ep.index, ep.length
            ),
            messages: Some((ep.length - rows) as u64),
        });
    }

    // `image` features (PNG inside the Parquet rows) are not imported yet:
    // listed as left out, never dropped without a word.
    for (key, f) in ds.info["features"].as_object().into_iter().flatten() {
        if f["dtype"] == "image" {
            tracing::warn!(
                "{}: feature {key} (images inside Parquet) is not imported",
                ds.root.display()
            );
            reports.push(TopicReport {
                from: key.clone(),
                to: None,
                type_name: "image (PNG in Parquet; not imported)".into(),
                messages: 0,
                known_type: false,
                rewritten: false,
            });
        }
    }

    // Each camera's frames of the episode, decoded and stored as JPEG.
    for (key, file, from, to) in &ep.videos {
        let rule = cx.rule(key);
        let camera = key
            .strip_prefix("observation.images.")
            .unwrap_or(key)
            .replace('.', "_");
        let report = reports.len();
        reports.push(TopicReport {
            from: key.clone(),
            to: (!rule.drop).then(|| {
                rule.to
                    .clone()
                    .unwrap_or_else(|| topics::camera_image(&camera))
            }),
            type_name: CompressedImage::TYPE_NAME.into(),
            messages: 0,
            known_type: true,
            rewritten: false,
        });
        let Some(to_topic) = reports[report].to.clone() else {
            continue;
        };
        writer
            .meta_mut()
            .nominal_rates_hz
            .insert(to_topic.clone(), ds.fps);
        let topic = writer.add_topic::<CompressedImage>(&to_topic)?;
        let mut encoder: Option<(reel_media::Converter, reel_media::camera::Encoder)> = None;
        let fps = ds.fps;
        let mut frames = 0u64;
        let mut failed: Option<ImportError> = None;
        let decoded =
            reel_media::mp4_frames::decode_span(file, *from, *to, fps, &mut |(t, frame)| {
                let (convert, enc) = match &mut encoder {
                    Some(e) => e,
                    None => encoder.insert((
                        reel_media::Converter::new(
                            reel_media::camera::Encoder::pixel_format(
                                reel_media::camera::Codec::Jpeg,
                            ),
                            frame.width(),
                            frame.height(),
                        ),
                        reel_media::camera::Encoder::new(
                            reel_media::camera::Codec::Jpeg,
                            frame.width(),
                            frame.height(),
                            fps.round().max(1.0) as u32,
                        )?,
                    )),
                };
                let mut yuv = convert.run(&frame)?;
                let jpeg = enc.encode(&mut yuv)?.into_iter().next().unwrap_or_default();
                let index = ((t - from) * fps).round() as i64;
                let stamp = cx.nanos(index);
                let msg = CompressedImage {
                    header: Header::new(stamp, camera.clone()),
                    format: "jpeg".into(),
                    data: jpeg,
                };
                if let Err(e) = writer.write(topic, &msg, stamp, stamp) {
                    failed.get_or_insert(e.into());
                    return Err(reel_media::MediaError::Stream(
                        "the episode could not be written",
                    ));
                }
                frames += 1;
                Ok(())
            });
        if let Some(e) = failed {
            return Err(e);
        }
        decoded.map_err(|e| corrupt(file, e.to_string()))?;
        reports[report].messages = frames;
        messages += frames;
        last = last.max(cx.nanos(frames as i64 - 1));
        if (frames as i64) < ep.length {
            losses.push(Loss {
                file: file.clone(),
                reason: "missing_frames",
                detail: format!(
                    "{key}: {frames} of the episode's {} frames decoded",
                    ep.length
                ),
                messages: Some((ep.length - frames as i64) as u64),
            });
        }
    }
    Ok((reports, losses, messages, last))
}
