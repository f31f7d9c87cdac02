//! One source → one reel episode: channels routed by the mapping, messages
//! copied (or rewritten), source time kept, losses written down, lineage in
//! `reel.episode`. The episode is written as `NAME.mcap.partial` and renamed
//! only when complete; a failed import leaves nothing behind.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use reel_episode::ros2::cdr::header_stamp;
use reel_episode::{EpisodeWriter, EpisodeWriterOptions, RawChannel, RawChannelSpec};

use crate::mapping::{self, LoadedMapping, Mapping, TopicRule, Unlisted};
use crate::source::{Loss, SourceChannel, SourceEvent};
use crate::{output, rewrite, Format, ImportError, Source};

/// How to import.
pub struct ImportOptions<'a> {
    /// Folder for the episodes.
    pub out: PathBuf,
    /// The user's mapping; None: reel's proposal.
    pub mapping: Option<LoadedMapping>,
    /// Task text for the episode (default: the source's, else empty).
    pub task: Option<String>,
    /// Robot type for the episode (default: the source's, else `unknown`).
    pub robot_type: Option<String>,
    /// Import again even when an episode of the same source sha256 exists
    /// (it is replaced).
    pub force: bool,
    /// Episode writer tuning.
    pub writer: EpisodeWriterOptions,
    /// Called with the message bytes read so far.
    pub progress: Option<&'a dyn Fn(u64)>,
    /// Sample rate of sources without a clock (HDF5); None: the layout's own
    /// (ALOHA 50 Hz, robomimic 20 Hz).
    pub fps: Option<f64>,
    /// Makes the LiDAR decoder for raw packets (pcaps); None: pcaps are refused.
    pub lidar_decoder: Option<crate::lidar::DecoderFactory<'a>>,
}

/// What happened to one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new episode.
    Imported {
        /// Its file.
        episode: PathBuf,
    },
    /// The same source (by sha256) was imported before; nothing written.
    Skipped {
        /// The earlier episode.
        existing: PathBuf,
    },
}

/// One source topic in the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopicReport {
    /// Source topic.
    pub from: String,
    /// Episode topic; None when dropped.
    pub to: Option<String>,
    /// Message type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Messages read.
    pub messages: u64,
    /// True when reel decodes the type; false: copied byte for byte.
    pub known_type: bool,
    /// True when the mapping rewrote its messages.
    pub rewritten: bool,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The source as given.
    pub source: PathBuf,
    /// Its format.
    pub format: Format,
    /// Imported or skipped.
    pub outcome: Outcome,
    /// sha256 of the source's data files.
    pub sha256: String,
    /// Bytes of the source's data files.
    pub bytes: u64,
    /// Messages written.
    pub messages: u64,
    /// Per source topic.
    pub topics: Vec<TopicReport>,
    /// What could not be read.
    pub losses: Vec<Loss>,
    /// Mapping rules that matched no topic of the source.
    pub unmatched_rules: Vec<String>,
    /// The mapping applied, as TOML (stored in the episode).
    pub mapping_text: String,
    /// Wall time.
    pub seconds: f64,
}

/// Where a source's episode goes, or the report of its skip (an episode of
/// the same bytes is already in `options.out`).
pub(crate) fn place_or_skip(
    options: &ImportOptions<'_>,
    imported: &output::Imported,
    name: &str,
    source: &Path,
    format: Format,
    (sha256, bytes): (&str, u64),
    started: Instant,
) -> Result<Result<output::Target, ImportReport>, ImportError> {
    Ok(
        match output::place(imported, &options.out, name, sha256, options.force)? {
            output::Placement::Write(target) => Ok(target),
            output::Placement::Skip(existing) => Err(ImportReport::skipped(
                source.to_path_buf(),
                format,
                sha256.to_string(),
                bytes,
                existing,
                started,
            )),
        },
    )
}

impl ImportReport {
    /// `source` was not imported: `existing` holds the same bytes.
    pub(crate) fn skipped(
        source: impl Into<PathBuf>,
        format: Format,
        sha256: String,
        bytes: u64,
        existing: PathBuf,
        started: Instant,
    ) -> Self {
        Self {
            source: source.into(),
            format,
            outcome: Outcome::Skipped { existing },
            sha256,
            bytes,
            messages: 0,
            topics: Vec::new(),
            losses: Vec::new(),
            unmatched_rules: Vec::new(),
            mapping_text: String::new(),
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    /// Messages known lost (those the source counted), and whether anything
    /// at all was lost.
    pub fn lost(&self) -> bool {
        !self.losses.is_empty()
    }
}

/// True when messages of `c` start with a `std_msgs/Header` (their stamp is
/// the acquisition time), read from the schema's first field.
fn is_stamped(c: &SourceChannel) -> bool {
    if c.message_encoding != "cdr" || c.schema_encoding != "ros2msg" {
        return false;
    }
    let text = String::from_utf8_lossy(&c.schema);
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| !l.is_empty())
        .and_then(|l| l.split_whitespace().next())
        .is_some_and(|t| matches!(t, "std_msgs/Header" | "Header" | "std_msgs/msg/Header"))
}

enum Route {
    Drop,
    Copy(RawChannel),
    Rewrite(RawChannel, TopicRule),
}

struct Plan {
    route: Route,
    stamped: bool,
    type_name: String,
    report: usize,
}

/// Routes channels and writes messages into one episode.
struct Importer<'a> {
    writer: EpisodeWriter,
    mapping: Option<&'a LoadedMapping>,
    applied: Mapping,
    plans: HashMap<u32, Plan>,
    targets: BTreeMap<String, String>,
    topics: Vec<TopicReport>,
    losses: Vec<Loss>,
    buf: Vec<u8>,
    messages: u64,
    bytes: u64,
    last_time: u64,
    progress: Option<&'a dyn Fn(u64)>,
    lidar: Option<crate::lidar::DecoderFactory<'a>>,
    /// VelodyneScan channels decoded into points, by channel id.
    packet_topics: HashMap<u32, crate::packets::PacketTopic>,
}

impl Importer<'_> {
    fn mapping_error(&self, reason: String) -> ImportError {
        ImportError::Mapping {
            path: self
                .mapping
                .and_then(|m| m.path.clone())
                .unwrap_or_else(|| PathBuf::from("proposed mapping")),
            reason,
        }
    }

    fn add_channel(&mut self, id: u32, c: &SourceChannel) -> Result<(), ImportError> {
        let rule = match self.mapping {
            Some(m) => match m.mapping.rule(&c.topic) {
                Some(r) => r.clone(),
                None => TopicRule {
                    from: c.topic.clone(),
                    drop: m.mapping.unlisted == Unlisted::Drop,
                    ..Default::default()
                },
            },
            None => {
                let mut rule = mapping::propose([(c.topic.as_str(), c.type_name.as_str())])
                    .topics
                    .remove(0);
                // The proposal never merges two topics into one.
                if rule
                    .to
                    .as_ref()
                    .is_some_and(|t| self.targets.contains_key(t))
                {
                    rule.to = None;
                }
                rule
            }
        };
        if let Some(want) = &rule.type_name {
            if !c.type_name.is_empty() && *want != c.type_name {
                return Err(self.mapping_error(format!(
                    "topic {} is {} in the source, the mapping says {want}",
                    c.topic, c.type_name
                )));
            }
        }
        if rule.rewrites() {
            rewrite::check(&rule, &c.type_name).map_err(|r| self.mapping_error(r))?;
        }
        let report = self.topics.len();
        let known = reel_episode::ros2::known_schema_text(&c.type_name).is_some();
        let (route, target) = if rule.drop {
            (Route::Drop, None)
        } else {
            let mut to = rule.to.clone().unwrap_or_else(|| c.topic.clone());
            if let Some(other) = self.targets.get(&to) {
                if self.mapping.is_some() {
                    return Err(self.mapping_error(format!(
                        "{} and {other} both become {to}; give one of them another `to`",
                        c.topic
                    )));
                }
                // Without a mapping: a second source channel of the same
                // topic name (another type) gets a suffix, never merged.
                to = format!("{to}_{id}");
            }
            self.targets.insert(to.clone(), c.topic.clone());
            let converted = rewrite::output_type(&rule, &c.type_name);
            let known_schema;
            let schema: &[u8] = if !converted.is_empty() {
                known_schema = reel_episode::ros2::known_schema_text(converted).unwrap_or_default();
                known_schema.as_bytes()
            } else if c.schema.is_empty() && rule.rewrites() {
                known_schema =
                    reel_episode::ros2::known_schema_text(&c.type_name).unwrap_or_default();
                known_schema.as_bytes()
            } else {
                &c.schema
            };
            let schema_encoding =
                if !converted.is_empty() || (c.schema_encoding.is_empty() && !schema.is_empty()) {
                    "ros2msg"
                } else {
                    &c.schema_encoding
                };
            let raw = self.writer.add_raw_channel(&RawChannelSpec {
                topic: &to,
                schema_name: if converted.is_empty() {
                    &c.type_name
                } else {
                    converted
                },
                schema_encoding,
                schema_data: schema,
                message_encoding: &c.message_encoding,
                metadata: &c.metadata,
            })?;
            let route = if rule.rewrites() {
                Route::Rewrite(raw, rule.clone())
            } else {
                Route::Copy(raw)
            };
            (route, Some(to))
        };
        self.topics.push(TopicReport {
            from: c.topic.clone(),
            to: target,
            type_name: c.type_name.clone(),
            messages: 0,
            known_type: known,
            rewritten: matches!(route, Route::Rewrite(..)),
        });
        let mut applied = rule;
        if applied.type_name.is_none() && !c.type_name.is_empty() {
            applied.type_name = Some(c.type_name.clone());
        }
        if !self.applied.topics.iter().any(|r| r.from == applied.from) {
            self.applied.topics.push(applied);
        }
        if let (Some(_), true, false) = (
            self.lidar,
            c.type_name == <reel_episode::ros2::velodyne_msgs::VelodyneScan as reel_episode::ros2::RosMessage>::TYPE_NAME
                && c.message_encoding == "cdr",
            matches!(route, Route::Drop),
        ) {
            let packets_topic = self.topics[report].to.clone().unwrap_or_default();
            let mut points = crate::packets::points_topic_for(&packets_topic);
            if self.targets.contains_key(&points) {
                points.push_str("_decoded");
            }
            self.targets.insert(points.clone(), c.topic.clone());
            let topic = self.writer.add_topic(&points)?;
            self.packet_topics
                .insert(id, crate::packets::PacketTopic::new(&c.topic, &points, topic));
        }
        self.plans.insert(
            id,
            Plan {
                route,
                stamped: is_stamped(c),
                type_name: c.type_name.clone(),
                report,
            },
        );
        Ok(())
    }

    fn message(
        &mut self,
        channel: u32,
        log_time: u64,
        publish_time: u64,
        data: &[u8],
    ) -> Result<(), ImportError> {
        self.bytes += data.len() as u64;
        if let Some(p) = self.progress {
            p(self.bytes);
        }
        let Some(plan) = self.plans.get(&channel) else {
            return Ok(());
        };
        self.topics[plan.report].messages += 1;
        self.last_time = self.last_time.max(log_time);
        let publish = match (plan.stamped, header_stamp(data)) {
            (true, Some(stamp)) if stamp > 0 => stamp,
            _ if publish_time > 0 => publish_time,
            _ => log_time,
        };
        match &plan.route {
            Route::Drop => return Ok(()),
            Route::Copy(raw) => self.writer.write_raw(*raw, data, log_time, publish)?,
            Route::Rewrite(raw, rule) => {
                let mut buf = std::mem::take(&mut self.buf);
                match rewrite::apply(rule, &plan.type_name, data, &mut buf) {
                    Ok(()) => self.writer.write_raw(*raw, &buf, log_time, publish)?,
                    Err(reason) => self.losses.push(Loss {
                        file: PathBuf::new(),
                        reason: "undecodable",
                        detail: format!("{}: a message at {log_time} ns {reason}", rule.from),
                        messages: Some(1),
                    }),
                }
                self.buf = buf;
            }
        }
        self.messages += 1;
        if let (Some(factory), Some(packets)) = (self.lidar, self.packet_topics.get_mut(&channel)) {
            packets.message(&mut self.writer, factory, data, log_time)?;
        }
        Ok(())
    }
}

/// Imports the bag at `path` into one episode in `options.out`.
pub(crate) fn import_bag(
    path: &Path,
    options: &ImportOptions<'_>,
) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let (format, source) = Source::open(path)?;
    let sha256 = crate::source_sha256(source.files())?;
    let bytes = source
        .files()
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let target = match crate::episode::place_or_skip(
        options,
        &output::Imported::scan(&options.out)?,
        &output::episode_name(path),
        path,
        format,
        (&sha256, bytes),
        started,
    )? {
        Ok(target) => target,
        Err(skipped) => return Ok(skipped),
    };
    let files: Vec<String> = source
        .files()
        .iter()
        .map(|f| {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let mut meta = output::lineage_meta(
        options.task.as_deref().unwrap_or(""),
        options.robot_type.as_deref().unwrap_or("unknown"),
        format.as_str(),
        path,
        &files,
        &sha256,
    );
    let params = &mut meta.source_params;
    params.insert(
        "time".into(),
        "log_time = the source's receive time; publish_time = header.stamp for stamped types, else the source's publish time".into(),
    );
    let writer = EpisodeWriter::create(&target.write_path, meta, options.writer.clone())?;
    let partial = writer.partial_path().to_path_buf();
    let mut importer = Importer {
        writer,
        mapping: options.mapping.as_ref(),
        applied: Mapping {
            unlisted: options
                .mapping
                .as_ref()
                .map_or(Unlisted::Keep, |m| m.mapping.unlisted),
            topics: Vec::new(),
        },
        plans: HashMap::new(),
        targets: BTreeMap::new(),
        topics: Vec::new(),
        losses: Vec::new(),
        buf: Vec::new(),
        messages: 0,
        bytes: 0,
        last_time: 0,
        progress: options.progress,
        lidar: options.lidar_decoder,
        packet_topics: HashMap::new(),
    };
    let result = (|| -> Result<Vec<Loss>, ImportError> {
        let mut losses = source.read(&mut |event| match event {
            SourceEvent::Channel { id, channel } => importer.add_channel(id, channel),
            SourceEvent::Message {
                channel,
                log_time,
                publish_time,
                data,
            } => importer.message(channel, log_time, publish_time, data),
            SourceEvent::Attachment {
                name,
                media_type,
                data,
            } => {
                let t = importer.last_time;
                importer
                    .writer
                    .attach(&format!("source/{name}"), media_type, data, t)
                    .map_err(ImportError::from)
            }
        })?;
        losses.append(&mut importer.losses);
        let last = importer.last_time;
        let mut decoded = Vec::new();
        for packets in importer.packet_topics.values_mut() {
            losses.extend(packets.finish(&mut importer.writer, last)?);
            decoded.push(TopicReport {
                from: format!("{} (decoded)", packets.source),
                to: Some(packets.points_name.clone()),
                type_name: "sensor_msgs/msg/PointCloud2".into(),
                messages: packets.revolutions,
                known_type: true,
                rewritten: false,
            });
        }
        importer.topics.extend(decoded);
        Ok(losses)
    })();
    let losses = match result {
        Ok(l) => l,
        Err(e) => {
            drop(importer);
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let mapping_text = importer
        .applied
        .to_text(&path.display().to_string(), &|_| String::new());
    let written = (|| -> Result<(), ImportError> {
        output::write_losses(&mut importer.writer, &losses, importer.last_time)?;
        let t = importer.last_time;
        importer.writer.attach(
            "import_mapping.toml",
            "application/toml",
            mapping_text.as_bytes(),
            t,
        )?;
        for (name, data) in source.companion_files() {
            importer
                .writer
                .attach(&name, "application/yaml", &data, t)?;
        }
        importer
            .writer
            .meta_mut()
            .source_params
            .insert("mapping".into(), mapping_text.clone());
        Ok(())
    })();
    let Importer {
        writer,
        topics,
        messages,
        ..
    } = importer;
    if let Err(e) = written {
        drop(writer);
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let episode = target.finish(writer)?;
    let unmatched_rules = options
        .mapping
        .as_ref()
        .map(|m| {
            m.mapping
                .topics
                .iter()
                .filter(|r| !topics.iter().any(|t| t.from == r.from))
                .map(|r| r.from.clone())
                .collect()
        })
        .unwrap_or_default();
    Ok(ImportReport {
        source: path.to_path_buf(),
        format,
        outcome: Outcome::Imported { episode },
        sha256,
        bytes,
        messages,
        topics,
        losses,
        unmatched_rules,
        mapping_text,
        seconds: started.elapsed().as_secs_f64(),
    })
}
