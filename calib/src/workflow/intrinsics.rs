//! Camera intrinsics and distortion from pictures of a checkerboard, in
//! an episode or a folder.

use std::path::PathBuf;

use serde::Serialize;

use super::{detect_all, RigUpdate};
use crate::error::CalibError;
use crate::images::{read_episode, read_folder};
use crate::intrinsics::{calibrate, Intrinsics, Observation, Options, MIN_VIEWS};
use crate::target::Board;
use crate::LensModel;

/// Where the pictures are.
#[derive(Debug, Clone)]
pub enum Pictures {
    /// The camera's JPEG frames in an episode, at most this many (evenly spread).
    Episode {
        /// The episode.
        path: PathBuf,
        /// Most frames taken.
        max_frames: usize,
    },
    /// PNG/JPEG files in a folder.
    Folder(PathBuf),
}

/// What to calibrate.
#[derive(Debug, Clone)]
pub struct IntrinsicsOptions {
    /// Camera name (its topics in an episode; the name in the files written).
    pub camera: String,
    /// The pictures.
    pub pictures: Pictures,
    /// The board: a checkerboard, or a ChArUco board seen in part.
    pub board: Board,
    /// Lens model and fixed terms.
    pub fit: Options,
}

/// The result, as `reel calib intrinsics --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct IntrinsicsReport {
    /// Camera name.
    pub camera: String,
    /// The episode or folder.
    pub source: PathBuf,
    /// Pictures read.
    pub images: usize,
    /// Pictures where the board was not found.
    pub without_board: Vec<String>,
    /// The fit.
    pub result: Intrinsics,
}

impl IntrinsicsReport {
    /// The rig change that stores the result.
    pub fn rig_update(&self) -> RigUpdate {
        RigUpdate::Intrinsics {
            camera: self.camera.clone(),
            intrinsics: self.result.camera.clone(),
        }
    }

    /// The lens model fitted.
    pub fn lens(&self) -> LensModel {
        self.result.camera.lens
    }
}

/// Detects the board in every picture and fits the camera.
pub fn run(options: &IntrinsicsOptions) -> Result<IntrinsicsReport, CalibError> {
    let (source, images) = match &options.pictures {
        Pictures::Episode { path, max_frames } => (
            path.clone(),
            read_episode(path, &options.camera, *max_frames)?,
        ),
        Pictures::Folder(dir) => (dir.clone(), read_folder(dir)?),
    };
    let (w, h) = (images[0].image.width, images[0].image.height);
    if let Some(odd) = images
        .iter()
        .find(|i| (i.image.width, i.image.height) != (w, h))
    {
        return Err(CalibError::input(
            &source,
            format!(
                "{} is {}x{} but the first image is {w}x{h}; calibrate one camera resolution at a time",
                odd.name, odd.image.width, odd.image.height
            ),
        ));
    }
    let board = &options.board;
    let found = detect_all(&images, board);
    let observations: Vec<Observation> = found.iter().flatten().cloned().collect();
    let without_board: Vec<String> = images
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(i, _)| i.name.clone())
        .collect();
    if observations.len() < MIN_VIEWS {
        return Err(CalibError::input(
            &source,
            format!(
                "the {} was found in {} of {} images; at least {MIN_VIEWS} views at different angles are needed ({})",
                board.describe(),
                observations.len(),
                images.len(),
                match board {
                    Board::Checkerboard(_) => "check that the board's inner corners are counted, and that the whole board is in view",
                    Board::Charuco(_) => "check the square count, dictionary and whether the print is inverted; a view needs 6 corners off one line",
                },
            ),
        ));
    }
    let result = calibrate(
        board.target(),
        w as u32,
        h as u32,
        &observations,
        options.fit,
    )
    .map_err(|e| CalibError::input(&source, e.to_string()))?;
    Ok(IntrinsicsReport {
        camera: options.camera.clone(),
        source,
        images: images.len(),
        without_board,
        result,
    })
}
