//! Reading an exported LeRobot dataset back in the CLI tests: its parquet
//! tables, its videos frame by frame, and the light third-party check
//! (`scripts/check_lerobot.py`: pyarrow and PyAV, as LeRobot reads).

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::RecordBatch;
use ffmpeg_next as ffmpeg;

use super::{run, stderr, venv_python, workspace};

/// Every record batch of a parquet file.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// Every decoded frame of the video at `path`, in order, through `each`.
pub fn for_each_frame(path: &Path, mut each: impl FnMut(&ffmpeg::frame::Video)) {
    reel_media::init();
    let mut input = ffmpeg::format::input(path).unwrap();
    let stream = input.streams().best(ffmpeg::media::Type::Video).unwrap();
    let index = stream.index();
    let mut dec = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .unwrap()
        .decoder()
        .video()
        .unwrap();
    let mut read = |dec: &mut ffmpeg::decoder::Video| {
        let mut f = ffmpeg::frame::Video::empty();
        while dec.receive_frame(&mut f).is_ok() {
            each(&f);
        }
    };
    for (s, p) in input.packets() {
        if s.index() == index {
            dec.send_packet(&p).unwrap();
            read(&mut dec);
        }
    }
    dec.send_eof().unwrap();
    read(&mut dec);
}

/// The venv's Python for the dataset checks (skip recorded without it).
pub fn python() -> Option<PathBuf> {
    venv_python("pyarrow/PyAV/laspy checks")
}

/// `scripts/check_lerobot.py DIR`, which must pass; its output ("" when
/// the venv is absent and the skip was recorded).
pub fn python_light_check(dir: &Path) -> String {
    let Some(py) = python() else {
        return String::new();
    };
    let o = run(Command::new(py)
        .arg(workspace().join("scripts/check_lerobot.py"))
        .arg(dir));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "check_lerobot.py: {out}{}", stderr(&o));
    out
}
