//! Episode annotations: the language instruction, success or failure, and
//! labelled time segments (subtasks), each either proposed automatically
//! (reel-quality's pre-labels) or set by a person, and confirmed or not.
//!
//! They live beside the episode in `<episode>.annotations.json` rather than
//! inside it: the recording stays byte-for-byte what was captured (its
//! sha256 in manifests and lineage does not change when a label does), and
//! a label edit costs a small write instead of rewriting a large file. The
//! sidecar names the episode id it belongs to, so a sidecar copied next to
//! another episode is refused.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The sidecar's name: the episode's file name plus this.
pub const SIDECAR_SUFFIX: &str = ".annotations.json";
/// Format tag written into every sidecar.
pub const FORMAT: &str = "reel.annotations/1";

/// Why annotations could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    /// The sidecar could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The sidecar.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The sidecar is not valid annotations.
    #[error("{path}: not reel annotations ({reason}); fix or delete the file")]
    Format {
        /// The sidecar.
        path: PathBuf,
        /// The parser's message.
        reason: String,
    },
    /// The sidecar belongs to another episode.
    #[error(
        "{path}: belongs to episode {found}, not {expected}; it was copied next to the wrong file"
    )]
    WrongEpisode {
        /// The sidecar.
        path: PathBuf,
        /// The id it names.
        found: String,
        /// The episode's id.
        expected: String,
    },
    /// The episode itself could not be read.
    #[error(transparent)]
    Episode(#[from] crate::Error),
    /// A segment given on the command line is not valid.
    #[error("segment {given:?}: {reason}")]
    Segment {
        /// What was given.
        given: String,
        /// What is wrong.
        reason: String,
    },
}

/// Who made a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Proposed by the automatic pre-labels (reel-quality); replaced when pre-labels are run again.
    Auto,
    /// Set by a person.
    Person,
}

/// A labelled time range of the episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Start, s from the episode's first sample.
    pub start_s: f64,
    /// End, s from the episode's first sample.
    pub end_s: f64,
    /// What happens (`grasp`, `release`, `idle`, `motion`, or any text).
    pub label: String,
    /// Who made it.
    pub origin: Origin,
    /// A person has looked at it and agrees.
    pub confirmed: bool,
}

impl Segment {
    /// `   3.410 –    4.210 s  grasp  (auto, to confirm)`.
    pub fn describe(&self) -> String {
        format!(
            "{:8.3} – {:8.3} s  {:<14} ({}, {})",
            self.start_s,
            self.end_s,
            self.label,
            match self.origin {
                Origin::Auto => "auto",
                Origin::Person => "person",
            },
            if self.confirmed {
                "confirmed"
            } else {
                "to confirm"
            }
        )
    }
}

/// Everything annotated about one episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotations {
    /// [`FORMAT`].
    pub format: String,
    /// The episode's `reel.episode` id.
    pub episode_id: String,
    /// The episode's first sensor stamp (ns, host clock): segment times
    /// count from it (reel-quality's `prelabel::first_sample_nanos`).
    #[serde(rename = "start_ns")]
    pub start_nanos: u64,
    /// The language instruction (exported as the episode's task); the
    /// recorded task text when unset.
    pub instruction: Option<String>,
    /// Did the episode achieve its task.
    pub success: Option<bool>,
    /// Segments, sorted by start.
    pub segments: Vec<Segment>,
}

impl Annotations {
    /// Empty annotations of `episode_id`, times from `start_nanos`.
    pub fn new(episode_id: &str, start_nanos: u64) -> Self {
        Self {
            format: FORMAT.into(),
            episode_id: episode_id.into(),
            start_nanos,
            instruction: None,
            success: None,
            segments: Vec::new(),
        }
    }

    /// Replaces the automatic segments with `auto`, keeping the person's.
    pub fn replace_auto(&mut self, auto: Vec<Segment>) {
        self.segments.retain(|s| s.origin == Origin::Person);
        self.segments.extend(auto);
        self.sort();
    }

    /// Sorts segments by start, then label.
    pub fn sort(&mut self) {
        self.segments.sort_by(|a, b| {
            a.start_s
                .total_cmp(&b.start_s)
                .then_with(|| a.label.cmp(&b.label))
        });
    }

    /// The label of the segment covering `t` (s), the shortest one when
    /// several do; subtask labels of exported frames. Between segments of
    /// equal length, a task phase (`grasp`, `release`, a person's label)
    /// wins over the raw gripper event it coincides with.
    pub fn label_at(&self, t: f64) -> Option<&str> {
        self.segments
            .iter()
            .filter(|s| s.start_s <= t && t < s.end_s)
            .min_by(|a, b| {
                (a.end_s - a.start_s)
                    .total_cmp(&(b.end_s - b.start_s))
                    .then_with(|| {
                        a.label
                            .starts_with("gripper ")
                            .cmp(&b.label.starts_with("gripper "))
                    })
            })
            .map(|s| s.label.as_str())
    }
}

/// The sidecar of `episode`.
pub fn sidecar_path(episode: &Path) -> PathBuf {
    let mut name = episode.as_os_str().to_owned();
    name.push(SIDECAR_SUFFIX);
    PathBuf::from(name)
}

/// Reads the annotations of `episode` (id `episode_id`); None when it has
/// no sidecar.
pub fn read(episode: &Path, episode_id: &str) -> Result<Option<Annotations>, AnnotationError> {
    let path = sidecar_path(episode);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(AnnotationError::Io { path, source }),
    };
    let a: Annotations = serde_json::from_slice(&text).map_err(|e| AnnotationError::Format {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if a.format != FORMAT {
        return Err(AnnotationError::Format {
            path,
            reason: format!("format {:?}, expected {FORMAT:?}", a.format),
        });
    }
    if a.episode_id != episode_id {
        return Err(AnnotationError::WrongEpisode {
            path,
            found: a.episode_id,
            expected: episode_id.into(),
        });
    }
    Ok(Some(a))
}

/// Writes the sidecar of `episode` (through a temporary file, so a crash
/// leaves the old one or the new one, never half of either).
pub fn write(episode: &Path, a: &Annotations) -> Result<PathBuf, AnnotationError> {
    let path = sidecar_path(episode);
    let io = |source| AnnotationError::Io {
        path: path.clone(),
        source,
    };
    let text = serde_json::to_vec_pretty(a).map_err(|e| io(std::io::Error::other(e)))?;
    crate::fs::write_atomically(&path, &text).map_err(io)?;
    Ok(path)
}

/// Parses `START:END:LABEL` (seconds from the episode's start).
pub fn parse_segment(given: &str) -> Result<Segment, AnnotationError> {
    let bad = |reason: &str| AnnotationError::Segment {
        given: given.into(),
        reason: reason.into(),
    };
    let mut parts = given.splitn(3, ':');
    let (Some(a), Some(b), Some(label)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected START:END:LABEL, times in seconds"));
    };
    let start: f64 = a.trim().parse().map_err(|_| bad("START is not a number"))?;
    let end: f64 = b.trim().parse().map_err(|_| bad("END is not a number"))?;
    if !(start.is_finite() && end.is_finite() && start >= 0.0 && end > start) {
        return Err(bad("needs 0 <= START < END"));
    }
    if label.trim().is_empty() {
        return Err(bad("LABEL is empty"));
    }
    Ok(Segment {
        start_s: start,
        end_s: end,
        label: label.trim().into(),
        origin: Origin::Person,
        confirmed: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_parse_and_the_shortest_covering_label_wins() {
        assert!(parse_segment("1:2").is_err());
        assert!(parse_segment("2:1:x").is_err());
        assert!(parse_segment("a:1:x").is_err());
        let mut a = Annotations::new("id", 0);
        a.segments
            .push(parse_segment("0:10:pick and place").unwrap());
        a.segments.push(parse_segment("3.5: 4.2 :grasp").unwrap());
        a.sort();
        assert_eq!(a.label_at(4.0), Some("grasp"));
        assert_eq!(a.label_at(5.0), Some("pick and place"));
        assert_eq!(a.label_at(10.0), None);
    }

    #[test]
    fn sidecars_round_trip_and_refuse_another_episode() {
        let dir = tempfile::tempdir().unwrap();
        let ep = dir.path().join("e.mcap");
        assert!(read(&ep, "id").unwrap().is_none());
        let mut a = Annotations::new("id", 5);
        a.instruction = Some("stack the cubes".into());
        a.success = Some(true);
        write(&ep, &a).unwrap();
        assert_eq!(read(&ep, "id").unwrap(), Some(a));
        let e = read(&ep, "other").unwrap_err().to_string();
        assert!(
            e.contains("e.mcap.annotations.json") && e.contains("wrong file"),
            "{e}"
        );
        std::fs::write(sidecar_path(&ep), "{").unwrap();
        assert!(read(&ep, "id")
            .unwrap_err()
            .to_string()
            .contains("fix or delete"));
    }
}
