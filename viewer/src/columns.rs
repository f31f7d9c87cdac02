//! Per-sample rows (joint plots, robot links) sent to rerun as columns.
//!
//! A joint sample moves every plot and every link of its arm: one `log`
//! call per entity per sample serialises a whole archetype per row (a
//! `Transform3D` clears its eight fields each time) and was most of the
//! conversion time of a 200 Hz rig. Rows are buffered here and sent with
//! `send_columns`, one chunk per `rows_per_chunk` samples.

use rerun::{EntityPath, RecordingStream, TimeColumn};

use crate::ViewError;

/// A timeline rows are placed on, and how its values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeline {
    /// Nanoseconds since the Unix epoch.
    Timestamp(&'static str),
    /// A frame counter.
    Sequence(&'static str),
    /// Nanoseconds since the start.
    Duration(&'static str),
}

impl Timeline {
    fn column(self, values: &[i64]) -> TimeColumn {
        let values = values.iter().copied();
        match self {
            Self::Timestamp(name) => TimeColumn::new_timestamp_nanos_since_epoch(name, values),
            Self::Sequence(name) => TimeColumn::new_sequence(name, values),
            Self::Duration(name) => TimeColumn::new_duration_nanos(name, values),
        }
    }
}

/// Rows per chunk in an `.rrd` file: about a second of a 200 Hz stream
/// (fewer, larger chunks; nobody watches the file being written).
pub const FILE_ROWS: usize = 256;

/// Rows per chunk for a viewer that draws data as it arrives (spawned,
/// connected or web): a third of a second at 100 Hz, so plots and the robot
/// keep up with the cameras while an episode loads.
pub const STREAM_ROWS: usize = 32;

/// What the rows of one entity carry.
#[derive(Debug, Clone)]
enum Payload {
    /// `Scalars`: a row's values (one plot line each).
    Scalars {
        values: Vec<f64>,
        lengths: Vec<usize>,
    },
    /// `Transform3D`: translation and rotation (xyzw) of each row.
    Transforms {
        translations: Vec<[f32; 3]>,
        rotations: Vec<[f32; 4]>,
    },
}

/// Buffered rows of one entity.
#[derive(Debug, Clone)]
pub struct Rows {
    path: EntityPath,
    timelines: Vec<Timeline>,
    /// One list of values per timeline.
    times: Vec<Vec<i64>>,
    payload: Payload,
    rows_per_chunk: usize,
}

impl Rows {
    fn new(
        path: EntityPath,
        timelines: &[Timeline],
        rows_per_chunk: usize,
        payload: Payload,
    ) -> Self {
        Self {
            path,
            timelines: timelines.to_vec(),
            times: vec![Vec::new(); timelines.len()],
            payload,
            rows_per_chunk: rows_per_chunk.max(1),
        }
    }

    /// Rows of `Scalars` at `path`.
    pub fn scalars(path: EntityPath, timelines: &[Timeline], rows_per_chunk: usize) -> Self {
        let payload = Payload::Scalars {
            values: Vec::new(),
            lengths: Vec::new(),
        };
        Self::new(path, timelines, rows_per_chunk, payload)
    }

    /// Rows of `Transform3D` (translation and rotation) at `path`.
    pub fn transforms(path: EntityPath, timelines: &[Timeline], rows_per_chunk: usize) -> Self {
        let payload = Payload::Transforms {
            translations: Vec::new(),
            rotations: Vec::new(),
        };
        Self::new(path, timelines, rows_per_chunk, payload)
    }

    /// The entity the rows go to.
    pub fn path(&self) -> &EntityPath {
        &self.path
    }

    fn len(&self) -> usize {
        self.times.first().map_or(0, Vec::len)
    }

    fn push_time(&mut self, time: &[i64]) {
        for (column, t) in self.times.iter_mut().zip(time) {
            column.push(*t);
        }
    }

    /// Adds a row of scalars at `time` (one value per timeline).
    pub fn push_scalars(
        &mut self,
        rec: &RecordingStream,
        time: &[i64],
        row: &[f64],
    ) -> Result<(), ViewError> {
        if let Payload::Scalars { values, lengths } = &mut self.payload {
            values.extend_from_slice(row);
            lengths.push(row.len());
            self.push_time(time);
        }
        self.flush_if_full(rec)
    }

    /// Adds a transform at `time`: `translation`, rotation as xyzw.
    pub fn push_transform(
        &mut self,
        rec: &RecordingStream,
        time: &[i64],
        translation: [f32; 3],
        rotation_xyzw: [f32; 4],
    ) -> Result<(), ViewError> {
        if let Payload::Transforms {
            translations,
            rotations,
        } = &mut self.payload
        {
            translations.push(translation);
            rotations.push(rotation_xyzw);
            self.push_time(time);
        }
        self.flush_if_full(rec)
    }

    fn flush_if_full(&mut self, rec: &RecordingStream) -> Result<(), ViewError> {
        if self.len() >= self.rows_per_chunk {
            self.flush(rec)?;
        }
        Ok(())
    }

    /// Sends the buffered rows as one chunk.
    pub fn flush(&mut self, rec: &RecordingStream) -> Result<(), ViewError> {
        if self.len() == 0 {
            return Ok(());
        }
        let indexes: Vec<TimeColumn> = self
            .timelines
            .iter()
            .zip(&self.times)
            .map(|(timeline, values)| timeline.column(values))
            .collect();
        let serialisation =
            |e: rerun::SerializationError| ViewError::Sink(format!("{}: {e}", self.path));
        match &mut self.payload {
            Payload::Scalars { values, lengths } => {
                let columns = rerun::Scalars::new(values.drain(..))
                    .columns(std::mem::take(lengths))
                    .map_err(serialisation)?;
                rec.send_columns(self.path.clone(), indexes, columns)?;
            }
            Payload::Transforms {
                translations,
                rotations,
            } => {
                let columns = rerun::Transform3D::update_fields()
                    .with_many_translation(translations.drain(..))
                    .with_many_quaternion(rotations.drain(..).map(rerun::Quaternion::from_xyzw))
                    .columns_of_unit_batches()
                    .map_err(serialisation)?;
                rec.send_columns(self.path.clone(), indexes, columns)?;
            }
        }
        for column in &mut self.times {
            column.clear();
        }
        Ok(())
    }
}
