//! `reel annotate`: applies an edit (instruction, success, segments added
//! or removed, automatic pre-labels) to an episode's annotation sidecar.

use std::path::Path;

use reel_episode::annotations::{read, write, AnnotationError, Annotations, Segment};

use crate::prelabel;

/// Changes to make to an episode's annotations.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    /// New language instruction.
    pub instruction: Option<String>,
    /// New success label.
    pub success: Option<bool>,
    /// Run the pre-labels (replacing earlier automatic segments).
    pub auto: bool,
    /// Segments a person adds.
    pub add: Vec<Segment>,
    /// Labels whose segments are removed.
    pub remove: Vec<String>,
    /// Mark every segment as confirmed by a person.
    pub confirm: bool,
}

impl Edit {
    /// True when it changes nothing (a read).
    pub fn is_empty(&self) -> bool {
        self.instruction.is_none()
            && self.success.is_none()
            && !self.auto
            && self.add.is_empty()
            && self.remove.is_empty()
            && !self.confirm
    }
}

/// Applies `edit` to the annotations of `episode` and writes them back
/// (unless the edit is empty); returns them. The episode must be a reel
/// episode (its id ties the sidecar to it).
pub fn annotate(episode: &Path, edit: &Edit) -> Result<Annotations, AnnotationError> {
    let reader = reel_episode::EpisodeReader::open(episode)?;
    let id = reader
        .episode_meta()?
        .map(|m| m.episode_id)
        .ok_or_else(|| {
            AnnotationError::Episode(reel_episode::Error::Io {
                path: episode.to_path_buf(),
                source: std::io::Error::other(
                    "has no reel.episode metadata, so annotations cannot be tied to it",
                ),
            })
        })?;
    let mut a = match read(episode, &id)? {
        Some(a) => a,
        None => Annotations::new(&id, prelabel::first_sample_nanos(&reader)?),
    };
    drop(reader);
    if edit.is_empty() {
        return Ok(a);
    }
    if let Some(i) = &edit.instruction {
        a.instruction = Some(i.clone());
    }
    if let Some(s) = edit.success {
        a.success = Some(s);
    }
    if edit.auto {
        a.replace_auto(prelabel::prelabel(episode, a.start_nanos)?);
    }
    a.segments.retain(|s| !edit.remove.contains(&s.label));
    a.segments.extend(edit.add.iter().cloned());
    if edit.confirm {
        a.segments.iter_mut().for_each(|s| s.confirmed = true);
    }
    a.sort();
    write(episode, &a)?;
    Ok(a)
}
