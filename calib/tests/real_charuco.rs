//! ChArUco detection on real recordings of a real board (caliscope's
//! prerecorded intrinsic sessions: a 4 × 5-square inverted board of
//! DICT_4X4_1000 markers filmed by two different cameras, 48 frames each,
//! `tests/data/calib/caliscope_charuco`, BSD-2-Clause), against OpenCV's
//! `CharucoDetector` on the very same pixels (`scripts/charuco_reference.py`).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::Path;

use reel_calib::charuco::{find_charuco, CharucoBoard};
use reel_calib::images::read_folder;
use reel_calib::intrinsics::{calibrate, Observation, Options};
use reel_testkit::skip::{venv_python, workspace};

const BOARD: &str = "charuco:4x5:0.054:0.0405:DICT_4X4_1000:inverted";

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// How near OpenCV's calibrateCamera a fit must come.
#[derive(Clone, Copy, PartialEq)]
enum Limit {
    /// Every parameter within this share of OpenCV's.
    Relative(f64),
    /// Every parameter within this many of OpenCV's standard deviations.
    Sigmas(f64),
    /// Printed only.
    Shown,
}

/// reel's corners beside OpenCV's `CharucoDetector` on the same pixels.
struct Comparison {
    reference: serde_json::Value,
    /// Holds the frames the images were read from.
    dir: tempfile::TempDir,
    images: Vec<reel_calib::images::NamedImage>,
    /// reel's corners per image, by id.
    ours: BTreeMap<String, Vec<(usize, [f64; 2])>>,
    /// Corners reel finds and OpenCV does not, as `image#id`.
    extra: Vec<String>,
}

/// Runs `scripts/charuco_reference.py` on `source` (a video or a folder of
/// photos) and reel's detector on the frames it wrote; asserts detection
/// at least OpenCV's (at most 1 % more) and corners within the issue's
/// 0.1 px (p95) of OpenCV's own start and window refined to convergence.
fn compare(name: &str, source: &Path, board: &str, min_corners: usize) -> Option<Comparison> {
    let python = venv_python("OpenCV ChArUco comparison")?;
    let spec: Vec<&str> = board.split(':').collect();
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(python);
    command
        .arg(workspace().join("scripts/charuco_reference.py"))
        .arg(source)
        .args(&spec[1..5])
        .arg(dir.path());
    if spec.contains(&"inverted") {
        command.arg("--inverted");
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("reference.json")).unwrap())
            .unwrap();
    let parsed = CharucoBoard::parse(board).unwrap();
    let images = read_folder(&dir.path().join("images")).unwrap();
    let (mut distances, mut missed, mut extra, mut theirs) =
        (Vec::new(), Vec::new(), Vec::new(), 0);
    let mut ours: BTreeMap<String, Vec<(usize, [f64; 2])>> = BTreeMap::new();
    for img in &images {
        let found = find_charuco(&img.image, &parsed);
        let r = &reference["frames"][&img.name];
        let ids: Vec<usize> = r["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        theirs += ids.len();
        for (k, id) in ids.iter().enumerate() {
            let p = &r["converged"][k];
            let p = [p[0].as_f64().unwrap(), p[1].as_f64().unwrap()];
            match found.iter().find(|c| c.0 == *id) {
                Some((_, q)) => {
                    distances.push(((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2)).sqrt())
                }
                None => missed.push(format!("{}#{id}", img.name)),
            }
        }
        extra.extend(
            found
                .iter()
                .filter(|c| !ids.contains(&c.0))
                .map(|c| format!("{}#{}", img.name, c.0)),
        );
        ours.insert(img.name.clone(), found);
    }
    let far = distances.iter().filter(|d| **d > 1.0).count();
    let (median, p95, max) = (
        quantile(&mut distances, 0.5),
        quantile(&mut distances, 0.95),
        quantile(&mut distances, 1.0),
    );
    println!(
        "{name}: {} images; OpenCV {theirs} corners, reel {}; missed {missed:?}, only reel {extra:?}; vs OpenCV's corners refined to convergence: median {median:.4} px, p95 {p95:.3} px, max {max:.2} px, {far} beyond 1 px",
        images.len(),
        ours.values().map(Vec::len).sum::<usize>()
    );
    assert!(
        theirs >= min_corners,
        "{name}: the pictures show the board: {theirs} corners"
    );
    assert!(
        missed.is_empty(),
        "{name}: OpenCV finds corners reel does not: {missed:?}"
    );
    assert!(
        extra.len() * 100 <= theirs,
        "{name}: reel finds corners OpenCV does not: {extra:?}"
    );
    // Against OpenCV's own start and window refined to convergence (the
    // detector itself stops at 0.1 px), the 0.1 px.
    assert!(median <= 0.01, "{name}: median {median}");
    assert!(p95 <= 0.1, "{name}: p95 {p95}");
    // The reference's start and window are OpenCV's: cornerSubPix from
    // there, stopped as the detector stops (0.1 px), lands on the
    // detector's own corners (what is left is float rounding of the
    // start, carried along by the early stop).
    let reproduced = &reference["reproduced"];
    assert!(
        reproduced["p95"].as_f64().unwrap() <= 0.05 && reproduced["max"].as_f64().unwrap() <= 0.25,
        "{name}: the reference's start and window are not OpenCV's: {reproduced}"
    );
    Some(Comparison {
        reference,
        dir,
        images,
        ours,
        extra,
    })
}

fn check(camera: &str) {
    let video = workspace()
        .join("tests/data/calib/caliscope_charuco")
        .join(format!("{camera}.mp4"));
    let Some(Comparison {
        reference,
        dir,
        images,
        ours,
        extra,
    }) = compare(&format!("caliscope {camera}"), &video, BOARD, 250)
    else {
        return;
    };
    let board = CharucoBoard::parse(BOARD).unwrap();
    // Intrinsics against OpenCV's calibrateCamera over the views with at
    // least 6 corners, every view kept as OpenCV keeps them: from OpenCV's
    // own corners (the fit alone) and from reel's corners that OpenCV
    // finds too (detector and fit) within 0.5 %; from all of reel's
    // corners within three of OpenCV's standard deviations (a 12-corner
    // board leaves fx uncertain by over 1 %), where reel finds no corner
    // OpenCV does not.
    let cal = &reference["calibration"];
    let opencv: BTreeMap<String, Vec<(usize, [f64; 2])>> = reference["frames"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, r)| {
            let ids = r["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize);
            let corners = r["converged"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| [p[0].as_f64().unwrap(), p[1].as_f64().unwrap()]);
            (name.clone(), ids.zip(corners).collect())
        })
        .collect();
    let (w, h) = (images[0].image.width as u32, images[0].image.height as u32);
    // The workflow `reel calib intrinsics --board charuco:…` runs: every
    // view with 6 corners counts, partial or not.
    let report = reel_calib::workflow::intrinsics::run(
        &reel_calib::workflow::intrinsics::IntrinsicsOptions {
            camera: camera.into(),
            pictures: reel_calib::workflow::intrinsics::Pictures::Folder(dir.path().join("images")),
            board: reel_calib::target::Board::parse(BOARD).unwrap(),
            fit: Options::default(),
        },
    )
    .unwrap();
    let usable = ours.values().filter(|c| c.len() >= 6).count();
    assert_eq!(report.result.views.len(), usable);
    assert!(
        ours.values()
            .any(|c| (6..board.corners()).contains(&c.len())),
        "partial views count"
    );
    let common: BTreeMap<String, Vec<(usize, [f64; 2])>> = ours
        .iter()
        .map(|(name, c)| {
            let theirs: Vec<usize> = opencv[name].iter().map(|x| x.0).collect();
            let kept = c.iter().filter(|x| theirs.contains(&x.0)).copied();
            (name.clone(), kept.collect())
        })
        .collect();
    let all_limit = if extra.is_empty() {
        Limit::Sigmas(3.0)
    } else {
        Limit::Shown
    };
    for (whose, corners, limit) in [
        ("OpenCV's", &opencv, Limit::Relative(0.005)),
        (
            "reel's that OpenCV finds too",
            &common,
            Limit::Relative(0.005),
        ),
        ("all reel's", &ours, all_limit),
    ] {
        let observations: Vec<Observation> = corners
            .iter()
            .filter(|(_, c)| c.len() >= 6)
            .map(|(name, c)| Observation {
                name: name.clone(),
                corners: c.iter().map(|x| x.1).collect(),
                ids: Some(c.iter().map(|x| x.0).collect()),
            })
            .collect();
        let options = Options {
            reject_outliers: false,
            ..Options::default()
        };
        let fit = calibrate(&board, w, h, &observations, options).unwrap();
        let c = &fit.camera;
        let f = |k: &str| cal[k].as_f64().unwrap();
        let mut lines = Vec::new();
        let mut wrong = Vec::new();
        for (name, ours, theirs, sd) in [
            ("fx", c.fx, f("fx"), cal["std"]["fx"].as_f64().unwrap()),
            ("fy", c.fy, f("fy"), cal["std"]["fy"].as_f64().unwrap()),
            ("cx", c.cx, f("cx"), cal["std"]["cx"].as_f64().unwrap()),
            ("cy", c.cy, f("cy"), cal["std"]["cy"].as_f64().unwrap()),
        ] {
            let rel = (ours - theirs).abs() / theirs;
            lines.push(format!(
                "{name} {ours:.2} vs {theirs:.2} ± {sd:.2} ({:.3} %)",
                rel * 100.0
            ));
            let within = match limit {
                Limit::Relative(r) => rel <= r,
                Limit::Sigmas(k) => (ours - theirs).abs() <= k * sd,
                Limit::Shown => true,
            };
            if !within {
                wrong.push(name.to_string());
            }
        }
        let dist: Vec<f64> = cal["distortion"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let std: Vec<f64> = cal["std"]["distortion"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        for (k, ((ours, theirs), sd)) in c.distortion.iter().zip(&dist).zip(&std).enumerate() {
            lines.push(format!("d{k} {ours:.5} vs {theirs:.5} ± {sd:.5}"));
            if limit != Limit::Shown && (ours - theirs).abs() > 3.0 * sd {
                wrong.push(format!("d{k}"));
            }
        }
        println!(
            "caliscope {camera}, {whose} corners: {} views, rms {:.3} px vs {:.3}; {}",
            observations.len(),
            fit.rms_px,
            f("rms"),
            lines.join(", ")
        );
        assert!(
            wrong.is_empty(),
            "{camera}, {whose} corners: {wrong:?} differ from OpenCV's"
        );
    }
}

#[test]
fn caliscope_camera_0() {
    check("cam_0");
}

#[test]
fn caliscope_camera_2() {
    // Frames 40-45 are motion-blurred. In frame 45 reel reads marker 2,
    // which OpenCV's decoder misses by one bit; OpenCV's own corner stage,
    // handed reel's outline of it, puts the two corners it adds where reel
    // does, 1.5 and 3.9 px off the board's projection (blur: where
    // cornerSubPix converges there depends on its window). A 12-corner
    // board cannot absorb them: all of reel's corners give fx 7 % off.
    check("cam_2");
}

/// Real photos of a printed board on a desk, one whole and one half
/// hidden under a mouse (OpenCV's ChArUco tutorial, a 5 × 7 board of
/// DICT_6X6_250): a partly visible board counts, corner by corner.
#[test]
fn opencv_tutorial_photos() {
    let Some(c) = compare(
        "OpenCV tutorial photos",
        &workspace().join("tests/data/calib/opencv_charuco"),
        "charuco:5x7:0.04:0.02:DICT_6X6_250",
        40,
    ) else {
        return;
    };
    assert!(c.extra.is_empty(), "{:?}", c.extra);
    assert_eq!(c.ours["choriginal.png"].len(), 24, "the whole board");
    assert_eq!(
        c.ours["chocclusion_original.png"].len(),
        16,
        "what the mouse leaves"
    );
}

#[test]
fn board_specs_are_checked() {
    let b = CharucoBoard::parse("charuco:5x7:0.04:0.03:DICT_4X4_50").unwrap();
    assert_eq!((b.cols(), b.rows(), b.corners()), (4, 6, 24));
    assert_eq!(b.marker_squares().len(), 17);
    for bad in [
        "charuco:5x7:0.04:0.05:DICT_4X4_50",
        "charuco:5x7:0.04:0.03:DICT_9X9_50",
        "charuco:5x7:0.04:0.03",
        "charuco:40x40:0.04:0.03:DICT_4X4_50",
        "charuco:5x7:0.04:0.03:DICT_4X4_50:mirrored",
    ] {
        let err = CharucoBoard::parse(bad).unwrap_err().to_string();
        assert!(err.contains(bad), "{err}");
    }
}

#[test]
fn noise_and_blank_images_give_no_corners() {
    let board = CharucoBoard::parse("charuco:5x7:0.04:0.03:DICT_4X4_50").unwrap();
    let mut state = 12345u64;
    let noise: Vec<u8> = (0..640 * 480)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect();
    for pixels in [noise, vec![128u8; 640 * 480], vec![0u8; 640 * 480]] {
        let img = reel_calib::detect::Gray::from_u8(640, 480, &pixels);
        assert!(find_charuco(&img, &board).is_empty());
    }
    let tiny = reel_calib::detect::Gray::from_u8(3, 2, &[0, 255, 0, 255, 0, 255]);
    assert!(find_charuco(&tiny, &board).is_empty());
}
