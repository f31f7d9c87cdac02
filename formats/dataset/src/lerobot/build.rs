//! Writing an export's files, step by step: the release, the videos
//! (encoded per episode and camera, then joined), the data tables and the
//! episode index, the statistics, and the metadata, card and manifest.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};

use super::dataset_card::make_card;
use super::existing::Existing;
use super::files::{parallel, write_json, Cursor, DataFiles, VideoFiles};
use super::mapping::{FeatureSource, Mapping};
use super::plan::EpisodePlan;
use super::subtasks;
use super::tables::{self, DataRows, EpisodeRow, VideoLocation};
use super::video::{encode_camera, EncodedCamera};
use super::{
    ExportProgress, ExportSummary, ExportedEpisode, LeRobotOptions, CHUNKS_SIZE,
    DATA_FILES_SIZE_IN_MB, DATA_PATH, VIDEO_FILES_SIZE_IN_MB, VIDEO_PATH,
};
use crate::card::Card;
use crate::manifest::{FileEntry, Manifest, ManifestExtras, SourceEntry, APPEND_MARKER};
use crate::release::{next_version, Release};
use crate::source::SourceEpisode;
use crate::stats::FeatureStats;
use crate::{deid, write_atomically, ExportError};
use reel_media::VideoSettings;

/// One export: what it writes and where.
pub(crate) struct Build<'a> {
    /// Where the new files go: the new dataset's staging folder, or an
    /// append's hidden folder inside the dataset.
    pub stage: &'a Path,
    /// The dataset's final place.
    pub out: &'a Path,
    pub opts: &'a LeRobotOptions,
    pub mapping: &'a Mapping,
    pub sources: &'a [SourceEpisode],
    pub plans: &'a [EpisodePlan],
    pub features: &'a Value,
    pub settings: VideoSettings,
    /// The dataset appended to.
    pub existing: Option<&'a Existing>,
    pub progress: &'a (dyn Fn(ExportProgress) + Sync),
}

/// What the video step produced.
struct Videos {
    /// (feature key, topic) of each camera.
    cameras: Vec<(String, String)>,
    /// Per (episode, camera), row-major by episode.
    encoded: Vec<EncodedCamera>,
    /// Per episode: each camera's span of the joined files.
    locations: Vec<Vec<(String, VideoLocation)>>,
    encode_s: f64,
}

impl Videos {
    fn of(&self, episode: usize, camera: usize) -> &EncodedCamera {
        &self.encoded[episode * self.cameras.len() + camera]
    }
}

impl Build<'_> {
    fn appending(&self) -> bool {
        self.existing.is_some()
    }

    /// Where the finished dataset lives while this runs: file counters
    /// continue from it, and the metadata is written there.
    fn root(&self) -> &Path {
        if self.appending() {
            self.out
        } else {
            self.stage
        }
    }

    fn episode_base(&self) -> u64 {
        self.existing.map_or(0, |e| e.total_episodes)
    }

    fn frame_base(&self) -> u64 {
        self.existing.map_or(0, |e| e.total_frames)
    }

    /// Writes everything; `read_s` is what reading the sources took.
    pub(crate) fn run(&self, read_s: f64, t0: Instant) -> Result<ExportSummary, ExportError> {
        // Decided first, so a version that is not newer fails before any work.
        let changelog = self.release()?;
        let videos = self.videos()?;
        let (tasks, task_of) = self.tasks();
        let mut subtask_labels = if self.appending() {
            subtasks::read_table(self.out)?
        } else {
            Vec::new()
        };
        let rows = self.write_data(&task_of, &videos, &mut subtask_labels)?;
        self.write_episode_index(&rows)?;
        let stats = self.aggregate_stats(&rows);
        let info = self.info(&tasks, &videos.cameras);
        let (manifest_sources, exported) = self.sources_listed();
        let card = make_card(
            self.opts,
            info["robot_type"].as_str().unwrap_or_default(),
            self.mapping,
            &info,
            &tasks,
            self.appending(),
            self.sources,
            &manifest_sources,
            self.settings,
            &changelog,
            &subtask_labels,
        );
        if self.appending() {
            self.place_appended()?;
        }
        self.write_meta(&tasks, &stats, &subtask_labels, &videos, &card, &info)?;
        self.write_manifest(manifest_sources, changelog, card)?;
        (self.progress)(ExportProgress::Written);
        Ok(ExportSummary {
            out: self.out.to_path_buf(),
            appended: self.appending(),
            episodes: exported,
            total_episodes: info["total_episodes"].as_u64().unwrap_or(0),
            total_frames: info["total_frames"].as_u64().unwrap_or(0),
            read_s,
            encode_s: videos.encode_s,
            write_s: t0.elapsed().as_secs_f64() - read_s - videos.encode_s,
        })
    }

    /// The changelog with this release added.
    fn release(&self) -> Result<Vec<Release>, ExportError> {
        let existing = self.existing;
        let mut changelog: Vec<Release> = existing
            .map(|e| e.manifest.changelog.clone())
            .unwrap_or_default();
        let version = next_version(
            existing.and_then(|e| e.manifest.version.as_deref()),
            self.opts.version.as_deref(),
        )
        .map_err(|e| ExportError::input(self.out, e.to_string()))?;
        changelog.push(Release {
            version,
            created: reel_episode::time::format_utc(reel_episode::time::host_now_nanos()),
            note: self.opts.changelog.clone().unwrap_or_else(|| {
                format!(
                    "{} {} episode(s)",
                    if self.appending() {
                        "added"
                    } else {
                        "first release:"
                    },
                    self.sources.len()
                )
            }),
        });
        Ok(changelog)
    }

    /// Encodes every (episode, camera) pair as one job, then joins each
    /// camera's episodes into its rolling MP4 files by stream copy.
    fn videos(&self) -> Result<Videos, ExportError> {
        let cameras: Vec<(String, String)> = self
            .mapping
            .features
            .iter()
            .filter_map(|f| match &f.source {
                FeatureSource::Camera { topic } => Some((f.name.clone(), topic.clone())),
                FeatureSource::Joints { .. } => None,
            })
            .collect();
        let tmp_dir = self.stage.join("tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(|e| ExportError::io(&tmp_dir, e))?;
        let tmp = |e: usize, c: usize| tmp_dir.join(format!("ep{e:06}-cam{c:02}.mp4"));
        let t_enc = Instant::now();
        let n_cam = cameras.len();
        let jobs = self.sources.len() * n_cam;
        let done = std::sync::atomic::AtomicUsize::new(0);
        let encoded: Vec<EncodedCamera> = parallel(jobs, self.opts.jobs, |job| {
            let (e, c) = (job / n_cam, job % n_cam);
            let topic = &cameras[c].1;
            let series = &self.sources[e].cameras[topic];
            let masks: Vec<&deid::Mask> = self
                .opts
                .masks
                .iter()
                .filter(|m| m.applies_to(topic))
                .collect();
            let r = encode_camera(
                &self.sources[e].path,
                topic,
                series.codec,
                &self.plans[e].cameras[c].1,
                (series.width, series.height),
                self.settings,
                &masks,
                &tmp(e, c),
            );
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            (self.progress)(ExportProgress::Encoded {
                done: n,
                total: jobs,
            });
            r
        })?;
        let encode_s = t_enc.elapsed().as_secs_f64();
        tracing::info!(videos = jobs, encode_s, "videos encoded");
        let mut locations: Vec<Vec<(String, VideoLocation)>> = vec![Vec::new(); self.sources.len()];
        for (c, (key, _)) in cameras.iter().enumerate() {
            let mut files = VideoFiles::new(self.stage, self.root(), key, self.opts.fps);
            for (e, plan) in self.plans.iter().enumerate() {
                let episode = tmp(e, c);
                if encoded[e * n_cam + c].frames != plan.frames as u64 {
                    return Err(ExportError::output(
                        &episode,
                        format!(
                            "episode {e} was encoded with {} frames for {} rows; this is a bug in reel",
                            encoded[e * n_cam + c].frames,
                            plan.frames
                        ),
                    ));
                }
                let location = files.append(&episode, plan.frames as u64)?;
                locations[e].push((key.clone(), location));
                std::fs::remove_file(&episode).map_err(|err| ExportError::io(&episode, err))?;
            }
            files.finish()?;
        }
        let _ = std::fs::remove_dir(&tmp_dir);
        Ok(Videos {
            cameras,
            encoded,
            locations,
            encode_s,
        })
    }

    /// The dataset's tasks (the existing ones first) and each new episode's.
    fn tasks(&self) -> (Vec<String>, Vec<i64>) {
        let mut tasks: Vec<String> = self.existing.map(|e| e.tasks.clone()).unwrap_or_default();
        let mut task_of = Vec::new();
        for ep in self.sources {
            let t = ep.meta.task.clone();
            let i = tasks.iter().position(|x| *x == t).unwrap_or_else(|| {
                tasks.push(t);
                tasks.len() - 1
            });
            task_of.push(i as i64);
        }
        (tasks, task_of)
    }

    /// The data tables, one row group per episode, rolling over by size;
    /// returns each episode's row of `meta/episodes`.
    fn write_data(
        &self,
        task_of: &[i64],
        videos: &Videos,
        subtask_labels: &mut Vec<String>,
    ) -> Result<Vec<EpisodeRow>, ExportError> {
        let vector_dims: Vec<(String, usize)> = self.plans[0]
            .joints
            .iter()
            .map(|(n, d, _)| (n.clone(), *d))
            .collect();
        let with_subtasks = self.features.get(subtasks::FEATURE).is_some();
        let schema = tables::data_schema(&vector_dims, with_subtasks);
        let mut data_files = DataFiles::new(
            self.stage,
            Cursor::after_existing(&self.root().join("data")),
        );
        let mut rows_out = Vec::new();
        let mut next_index = self.frame_base() as i64;
        for (e, plan) in self.plans.iter().enumerate() {
            let rows = DataRows {
                vectors: plan.joints.clone(),
                frames: plan.frames,
                episode_index: (self.episode_base() + e as u64) as i64,
                first_index: next_index,
                task_index: task_of[e],
                subtasks: with_subtasks.then(|| {
                    self.opts.subtasks.per_frame(
                        &self.sources[e],
                        &plan.frame_nanos,
                        subtask_labels,
                    )
                }),
                fps: self.opts.fps,
            };
            let batch = rows
                .to_batch(&schema)
                .map_err(ExportError::table(self.stage))?;
            let data_cursor = data_files.write(&batch)?;
            let mut stats = self.feature_stats(e, plan, videos)?;
            stats.extend(rows.subtask_stats());
            stats.extend(rows.default_feature_stats());
            rows_out.push(EpisodeRow {
                episode_index: rows.episode_index,
                tasks: vec![self.sources[e].meta.task.clone()],
                length: plan.frames as i64,
                data_chunk: data_cursor.chunk,
                data_file: data_cursor.file,
                from_index: next_index,
                to_index: next_index + plan.frames as i64,
                videos: videos.locations[e].clone(),
                stats,
            });
            next_index += plan.frames as i64;
        }
        data_files.close()?;
        Ok(rows_out)
    }

    /// Episode `e`'s statistics of every mapped feature, in mapping order.
    fn feature_stats(
        &self,
        e: usize,
        plan: &EpisodePlan,
        videos: &Videos,
    ) -> Result<Vec<(String, FeatureStats)>, ExportError> {
        let mut stats = Vec::new();
        let mut joint_iter = plan.joints.iter();
        let mut cam_i = 0;
        for feat in &self.mapping.features {
            match feat.source {
                FeatureSource::Joints { .. } => {
                    let (name, dim, values) = joint_iter
                        .next()
                        .ok_or_else(|| ExportError::output(self.stage, "feature mismatch"))?;
                    let rows: Vec<Vec<f64>> = values
                        .chunks_exact(*dim)
                        .map(|r| r.iter().map(|x| f64::from(*x)).collect())
                        .collect();
                    let s = FeatureStats::of_rows(&rows, *dim)
                        .ok_or_else(|| ExportError::output(self.stage, "empty episode"))?;
                    stats.push((name.clone(), s));
                }
                FeatureSource::Camera { .. } => {
                    stats.push((feat.name.clone(), videos.of(e, cam_i).stats.clone()));
                    cam_i += 1;
                }
            }
        }
        Ok(stats)
    }

    /// `meta/episodes`: one new file per run.
    fn write_episode_index(&self, rows: &[EpisodeRow]) -> Result<(), ExportError> {
        let cursor = Cursor::after_existing(&self.root().join("meta/episodes"));
        let batch = tables::episodes_batch(rows, cursor.chunk, cursor.file)
            .map_err(|e| ExportError::output(self.stage, format!("episodes table: {e}")))?;
        tables::write_table(
            &self.stage.join(cursor.path("meta/episodes", "parquet")),
            &batch,
        )
    }

    /// `meta/stats.json`: the old dataset's aggregate with the new episodes'.
    fn aggregate_stats(&self, rows: &[EpisodeRow]) -> serde_json::Map<String, Value> {
        let mut by_feature: BTreeMap<String, Vec<&FeatureStats>> = BTreeMap::new();
        if let Some(ex) = self.existing {
            for (k, s) in &ex.stats {
                by_feature.entry(k.clone()).or_default().push(s);
            }
        }
        for r in rows {
            for (k, s) in &r.stats {
                by_feature.entry(k.clone()).or_default().push(s);
            }
        }
        let mut stats_json = serde_json::Map::new();
        for (k, parts) in &by_feature {
            if let Some(s) = FeatureStats::aggregate(parts) {
                stats_json.insert(k.clone(), s.to_json());
            }
        }
        stats_json
    }

    /// `meta/info.json` after this run.
    fn info(&self, tasks: &[String], cameras: &[(String, String)]) -> Value {
        let existing = self.existing;
        let total_episodes = self.episode_base() + self.sources.len() as u64;
        let total_frames =
            self.frame_base() + self.plans.iter().map(|p| p.frames as u64).sum::<u64>();
        let robot_type = self
            .opts
            .robot_type
            .clone()
            .or_else(|| existing.and_then(|e| e.info["robot_type"].as_str().map(str::to_string)))
            .unwrap_or_else(|| self.sources[0].meta.robot_type.clone());
        // An append keeps the video info LeRobot (or reel) wrote first.
        let features =
            existing.map_or_else(|| self.features.clone(), |e| e.info["features"].clone());
        json!({
            "codebase_version": "v3.0",
            "robot_type": robot_type,
            "total_episodes": total_episodes,
            "total_frames": total_frames,
            "total_tasks": tasks.len(),
            "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": DATA_FILES_SIZE_IN_MB,
            "video_files_size_in_mb": VIDEO_FILES_SIZE_IN_MB,
            "fps": self.opts.fps,
            "splits": {"train": format!("0:{total_episodes}")},
            "data_path": DATA_PATH,
            "video_path": if cameras.is_empty() { Value::Null } else { Value::from(VIDEO_PATH) },
            "features": features,
        })
    }

    /// Every source episode for the manifest and card (the existing ones
    /// first), and this run's episodes for the summary.
    fn sources_listed(&self) -> (Vec<SourceEntry>, Vec<ExportedEpisode>) {
        let mut manifest_sources: Vec<SourceEntry> = self
            .existing
            .map(|e| e.manifest.sources.clone())
            .unwrap_or_default();
        let mut exported = Vec::new();
        for (e, (ep, plan)) in self.sources.iter().zip(self.plans).enumerate() {
            let index = self.episode_base() + e as u64;
            let pseudonym = |field: &str, value: &Option<String>| {
                self.opts
                    .pseudonym_key
                    .as_ref()
                    .zip(value.as_deref())
                    .map(|(k, v)| k.pseudonym(field, v))
            };
            manifest_sources.push(SourceEntry {
                operator: pseudonym("operator", &ep.meta.operator),
                site: pseudonym("site", &ep.meta.site),
                episode_index: Some(index),
                frames: Some(plan.frames as u64),
                dropped_frames: Some(plan.report.dropped.len() as u64),
                ..SourceEntry::describe(&ep.path, ep.sha256.clone(), ep.size, Some(&ep.meta))
            });
            exported.push(ExportedEpisode {
                source: ep.path.clone(),
                episode_id: ep.meta.episode_id.clone(),
                episode_index: index,
                frames: plan.frames as u64,
                alignment: plan.report.clone(),
            });
        }
        (manifest_sources, exported)
    }

    /// Moves an append's new files into the dataset. The marker makes an
    /// interrupted append visible to `reel check` and to the next export.
    fn place_appended(&self) -> Result<(), ExportError> {
        let out = self.out;
        std::fs::write(out.join(APPEND_MARKER), b"").map_err(|e| ExportError::io(out, e))?;
        for rel in crate::manifest::list_files(self.stage)? {
            let dst = out.join(&rel);
            if dst.exists() {
                return Err(ExportError::output(
                    &dst,
                    "already exists; the dataset changed during the export",
                ));
            }
            if let Some(d) = dst.parent() {
                std::fs::create_dir_all(d).map_err(|e| ExportError::io(d, e))?;
            }
            std::fs::rename(self.stage.join(&rel), &dst).map_err(|e| ExportError::io(&dst, e))?;
        }
        Ok(())
    }

    /// The metadata, each file replaced atomically; info.json last, since
    /// it is what makes the new episodes count.
    fn write_meta(
        &self,
        tasks: &[String],
        stats: &serde_json::Map<String, Value>,
        subtask_labels: &[String],
        videos: &Videos,
        card: &Card,
        info: &Value,
    ) -> Result<(), ExportError> {
        let root = self.root();
        std::fs::create_dir_all(root.join("meta")).map_err(|e| ExportError::io(root, e))?;
        let tasks_path = root.join("meta/tasks.parquet");
        let batch = tables::tasks_batch(tasks).map_err(ExportError::table(&tasks_path))?;
        tables::replace_table(&tasks_path, &batch)?;
        write_json(&root.join("meta/stats.json"), &Value::Object(stats.clone()))?;
        if self.features.get(subtasks::FEATURE).is_some() {
            subtasks::write_table(root, subtask_labels)?;
        }
        self.write_deidentification(videos)?;
        write_atomically(&root.join("README.md"), card.render().as_bytes())?;
        write_json(&root.join("meta/info.json"), info)?;
        if self.appending() {
            // Hashes cover the finished files; the append's folder is not part of it.
            let _ = std::fs::remove_dir_all(self.stage);
        }
        Ok(())
    }

    /// What de-identification removed, this export's entries after the
    /// earlier ones.
    fn write_deidentification(&self, videos: &Videos) -> Result<(), ExportError> {
        let root = self.root();
        let mut report = deid::Report::read_or_default(root)?;
        for (e, ep) in self.sources.iter().enumerate() {
            for (c, (_, topic)) in videos.cameras.iter().enumerate() {
                for m in self.opts.masks.iter().filter(|m| m.applies_to(topic)) {
                    report.masks.push(deid::AppliedMask {
                        mask: m.clone(),
                        episode_index: self.episode_base() + e as u64,
                        frames: videos.of(e, c).masked,
                    });
                }
            }
            let id = &ep.meta.episode_id;
            if ep.meta.operator.is_some() {
                report.operator_removed_from.push(id.clone());
            }
            if ep.meta.site.is_some() {
                report.site_removed_from.push(id.clone());
            }
            if self.opts.pseudonym_key.is_some()
                && (ep.meta.operator.is_some() || ep.meta.site.is_some())
            {
                report.pseudonymised_in.push(id.clone());
                report.pseudonym_method = Some(deid::PSEUDONYM_METHOD.into());
            }
        }
        let path = root.join(deid::REPORT);
        if report.masks.is_empty()
            && report.operator_removed_from.is_empty()
            && report.site_removed_from.is_empty()
            && !path.exists()
        {
            return Ok(());
        }
        report.never_exported = deid::Report::never_exported_fields();
        let value =
            serde_json::to_value(&report).map_err(|e| ExportError::output(&path, e.to_string()))?;
        write_json(&path, &value)
    }

    /// The manifest. The metadata above is rewritten on every run;
    /// everything else an earlier export wrote is untouched.
    fn write_manifest(
        &self,
        sources: Vec<SourceEntry>,
        changelog: Vec<Release>,
        card: Card,
    ) -> Result<(), ExportError> {
        let rewritten = [
            "meta/info.json",
            "meta/stats.json",
            "meta/tasks.parquet",
            "README.md",
            deid::REPORT,
            subtasks::TABLE,
        ];
        let unchanged: Vec<FileEntry> = self
            .existing
            .map(|e| {
                e.manifest
                    .files
                    .iter()
                    .filter(|f| !rewritten.contains(&f.path.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Manifest::write(
            self.root(),
            "lerobot-v3.0",
            sources,
            &unchanged,
            ManifestExtras {
                changelog,
                derived_from: self.existing.and_then(|e| e.manifest.derived_from.clone()),
                merged_from: self
                    .existing
                    .map(|e| e.manifest.merged_from.clone())
                    .unwrap_or_default(),
                card: Some(card),
            },
        )?;
        if self.appending() {
            std::fs::remove_file(self.out.join(APPEND_MARKER))
                .map_err(|e| ExportError::io(self.out, e))?;
        }
        Ok(())
    }
}
