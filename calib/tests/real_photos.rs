//! Checkerboard detection and intrinsics on real photographs, against
//! OpenCV run on the same images (`scripts/calib_reference.py`, the set-up's
//! venv): the board is found in at least every image OpenCV finds it in,
//! sub-pixel corners agree with `cornerSubPix`, no board is mis-ordered,
//! partial boards are refused, and the intrinsics agree with
//! `calibrateCameraExtended` (a fisheye: `fisheye.calibrate`) within 0.5 %
//! and OpenCV's own uncertainty.
//!
//! Photo sets (real cameras, real boards; nothing rendered):
//! - `shared/testdata/calib`: BoofCV-Data Sony DSC-HX5V and Bumblebee2
//!   (CC-BY-4.0), BoofCV fisheye, Udacity CarND (MIT);
//! - `tests/data/calib`: BoofCV-Data's trinocular rig (a 10 × 14 ECoCheck
//!   board: dots inside the white squares, a thin margin; CC-BY-4.0),
//!   BoofCV's chessboard on a desk (steep perspective), and caliscope's
//!   frames of a board held by hand in a gym, beside a plaid shirt, some
//!   blurred (BSD-2-Clause);
//! - the Sony set again with a lighting gradient, blur, 45-60° of
//!   perspective, clutter and a second smaller board beside it, and cut
//!   through its last row of corners (which must be refused).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reel_calib::board::Checkerboard;
use reel_calib::detect::find_checkerboard;
use reel_calib::images::read_folder;
use reel_calib::intrinsics::{calibrate, Observation, Options};
use reel_calib::model::LensModel;
use reel_testkit::skip::{skip, testdata, venv_python, workspace};

/// One photo set.
struct Set {
    name: &'static str,
    dir: PathBuf,
    cols: usize,
    rows: usize,
    fisheye: bool,
    prefix: &'static str,
    variant: Option<&'static str>,
    /// All photos from one camera: intrinsics are compared too.
    one_camera: bool,
}

/// OpenCV's results on the set's images.
struct Reference {
    images_dir: PathBuf,
    _dir: tempfile::TempDir,
    found: BTreeMap<String, Option<Vec<[f64; 2]>>>,
    calibration: Option<serde_json::Value>,
}

/// `exclude`: images whose views OpenCV's calibration leaves out.
fn reference(set: &Set, exclude: &[String]) -> Option<Reference> {
    if !set.dir.is_dir() {
        skip(set.name, &format!("{} not found", set.dir.display()));
        return None;
    }
    let python = venv_python("OpenCV checkerboard comparison")?;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(python);
    cmd.arg(workspace().join("scripts/calib_reference.py"))
        .arg(&set.dir)
        .arg(format!("{}x{}", set.cols, set.rows))
        .arg(if set.fisheye { "fisheye" } else { "pinhole" })
        .arg(dir.path())
        .args(["--prefix", set.prefix]);
    if let Some(v) = set.variant {
        cmd.args(["--variant", v]);
    }
    if !exclude.is_empty() {
        cmd.arg("--exclude").args(exclude);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("reference.json")).unwrap())
            .unwrap();
    let found = json["images"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, e)| {
            let corners = e["corners_subpix"].as_array().map(|c| {
                c.iter()
                    .map(|p| [p[0].as_f64().unwrap(), p[1].as_f64().unwrap()])
                    .collect()
            });
            (name.clone(), corners)
        })
        .collect();
    Some(Reference {
        images_dir: dir.path().join("images"),
        found,
        calibration: json.get("calibration").filter(|c| !c.is_null()).cloned(),
        _dir: dir,
    })
}

/// How reel's corners of one image compare with OpenCV's: the largest
/// distance under the better of the two orders a board can be read in
/// (OpenCV starts from either end), and every distance.
fn compare(ours: &[[f64; 2]], theirs: &[[f64; 2]]) -> (f64, Vec<f64>) {
    let dist = |a: [f64; 2], b: [f64; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
    let forward: Vec<f64> = ours.iter().zip(theirs).map(|(a, b)| dist(*a, *b)).collect();
    let backward: Vec<f64> = ours
        .iter()
        .rev()
        .zip(theirs)
        .map(|(a, b)| dist(*a, *b))
        .collect();
    let worst = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    if worst(&forward) <= worst(&backward) {
        (worst(&forward), forward)
    } else {
        (worst(&backward), backward)
    }
}

/// An independent check of who is right where reel and OpenCV disagree:
/// whether a circle around `p` (after a 1-pixel blur) crosses exactly two
/// straight edges, dark–light–dark–light, as around a checkerboard corner.
fn reads_as_corner(img: &reel_calib::detect::Gray, p: [f64; 2], radius: f64) -> bool {
    let (w, h) = (img.width as i64, img.height as i64);
    let px =
        |x: i64, y: i64| f64::from(img.data[(y.clamp(0, h - 1) * w + x.clamp(0, w - 1)) as usize]);
    // A 3 × 3 box blur, sampled bilinearly.
    let blurred = |x: i64, y: i64| {
        let mut s = 0.0;
        for dy in -1..=1 {
            for dx in -1..=1 {
                s += px(x + dx, y + dy);
            }
        }
        s / 9.0
    };
    let sample = |x: f64, y: f64| {
        let (x0, y0) = (x.floor() as i64, y.floor() as i64);
        let (fx, fy) = (x - x0 as f64, y - y0 as f64);
        (blurred(x0, y0) * (1.0 - fx) + blurred(x0 + 1, y0) * fx) * (1.0 - fy)
            + (blurred(x0, y0 + 1) * (1.0 - fx) + blurred(x0 + 1, y0 + 1) * fx) * fy
    };
    let values: Vec<f64> = (0..48)
        .map(|k| {
            let a = f64::from(k) / 48.0 * std::f64::consts::TAU;
            sample(p[0] + radius * a.cos(), p[1] + radius * a.sin())
        })
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    if hi - lo < 15.0 {
        return false;
    }
    let mid = (lo + hi) / 2.0;
    (0..48)
        .filter(|&k| (values[k] > mid) != (values[(k + 1) % 48] > mid))
        .count()
        == 4
}

/// A second arbiter: an X-corner is point-symmetric, the image at `p + d`
/// equals the image at `p - d`. The mean absolute difference over a disk
/// of `radius` pixels (lower is more corner-like).
fn asymmetry(img: &reel_calib::detect::Gray, p: [f64; 2], radius: f64) -> f64 {
    let (w, h) = (img.width as i64, img.height as i64);
    let px = |x: f64, y: f64| {
        let (x, y) = (x.round() as i64, y.round() as i64);
        f64::from(img.data[(y.clamp(0, h - 1) * w + x.clamp(0, w - 1)) as usize])
    };
    let r = radius.ceil() as i64;
    let (mut sum, mut n) = (0.0, 0.0);
    for dy in -r..=r {
        for dx in -r..=r {
            let (dx, dy) = (dx as f64, dy as f64);
            if dx * dx + dy * dy <= radius * radius {
                sum += (px(p[0] + dx, p[1] + dy) - px(p[0] - dx, p[1] - dy)).abs();
                n += 1.0;
            }
        }
    }
    sum / n
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Runs one set: detection against OpenCV's, corners, and (pinhole sets
/// with enough views) the intrinsics.
fn check(set: &Set) {
    let Some(reference) = reference(set, &[]) else {
        return;
    };
    let board = Checkerboard {
        cols: set.cols,
        rows: set.rows,
        square: 0.03,
    };
    let images = read_folder(&reference.images_dir).unwrap();
    let mut ours: BTreeMap<String, Vec<[f64; 2]>> = BTreeMap::new();
    for img in &images {
        if let Some(c) = find_checkerboard(&img.image, &board) {
            ours.insert(img.name.clone(), c);
        }
    }
    let theirs: Vec<&String> = reference
        .found
        .iter()
        .filter(|(_, c)| c.is_some())
        .map(|(n, _)| n)
        .collect();
    let missed: Vec<&&String> = theirs.iter().filter(|n| !ours.contains_key(**n)).collect();
    let extra: Vec<&String> = ours
        .keys()
        .filter(|n| reference.found.get(*n).is_some_and(Option::is_none))
        .collect();
    let mut distances = Vec::new();
    let mut misordered = Vec::new();
    // Corners where OpenCV's cornerSubPix left the corner (its 11-pixel
    // window spans several corners of a small board, or its coarse corner
    // was too far off): reel's reads as a corner there, OpenCV's does not.
    let mut opencv_off = Vec::new();
    let by_name: BTreeMap<&String, &reel_calib::detect::Gray> =
        images.iter().map(|i| (&i.name, &i.image)).collect();
    for name in &theirs {
        let (Some(o), Some(Some(t))) = (ours.get(*name), reference.found.get(*name)) else {
            continue;
        };
        let (_, d) = compare(o, t);
        let reversed = compare(o, t).1
            != ours[*name]
                .iter()
                .zip(t)
                .map(|(a, b)| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt())
                .collect::<Vec<_>>();
        let spacing = {
            let mut s: Vec<f64> = t
                .windows(2)
                .map(|w| ((w[0][0] - w[1][0]).powi(2) + (w[0][1] - w[1][1]).powi(2)).sqrt())
                .collect();
            quantile(&mut s, 0.5)
        };
        let img = by_name[*name];
        for (k, dk) in d.iter().enumerate() {
            if *dk <= 1.0 {
                distances.push(*dk);
                continue;
            }
            let mine = if reversed { o[o.len() - 1 - k] } else { o[k] };
            let radius = 0.3 * spacing;
            let reads_better =
                reads_as_corner(img, mine, radius) && !reads_as_corner(img, t[k], radius);
            let symmetry = (0.15 * spacing).max(3.0);
            let more_symmetric =
                asymmetry(img, mine, symmetry) < 0.6 * asymmetry(img, t[k], symmetry);
            if reads_better || more_symmetric {
                opencv_off.push(format!("{name}#{k}"));
            } else {
                misordered.push(format!("{name}#{k} ({dk:.1} px)"));
            }
        }
    }
    let (median, p95, max) = if distances.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (
            quantile(&mut distances, 0.5),
            quantile(&mut distances, 0.95),
            quantile(&mut distances, 1.0),
        )
    };
    println!(
        "{}: reel found {} of {}, OpenCV {}; missed {missed:?}, only reel {extra:?}; corners vs cornerSubPix: median {median:.3} px, p95 {p95:.3} px, max {max:.3} px; {} corners where OpenCV's are off the corner and reel's on it: {:?}",
        set.name,
        ours.len(),
        images.len(),
        theirs.len(),
        opencv_off.len(),
        opencv_off.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        misordered.is_empty(),
        "{}: mis-ordered or misplaced boards: {misordered:?}",
        set.name
    );
    assert!(
        missed.is_empty(),
        "{}: OpenCV finds the board in {missed:?}, reel does not",
        set.name
    );
    if set.variant == Some("crop") {
        assert!(
            ours.is_empty(),
            "{}: a partial board was accepted: {:?}",
            set.name,
            ours.keys()
        );
    }
    if distances.is_empty() {
        return;
    }
    assert!(
        median <= 0.1,
        "{}: median corner distance {median:.3} px",
        set.name
    );
    assert!(
        p95 <= 0.25,
        "{}: 95th percentile corner distance {p95:.3} px",
        set.name
    );
    // A perspective-warped photo is no pinhole camera's; OpenCV's fit of
    // it has nothing to compare with. Views where OpenCV's own corners are
    // off the corner are left out of both fits.
    if !set.one_camera || set.variant == Some("perspective") {
        return;
    }
    let mut off_views: Vec<String> = opencv_off
        .iter()
        .filter_map(|c| c.split_once('#').map(|(name, _)| name.to_string()))
        .collect();
    off_views.dedup();
    let refit;
    let calibration = if off_views.is_empty() {
        reference.calibration.as_ref()
    } else {
        refit = crate::reference(set, &off_views);
        refit.as_ref().and_then(|r| r.calibration.as_ref())
    };
    if let Some(cal) = calibration {
        // A fisheye fit drops views on its own (see calib_reference.py):
        // the views it kept are the ones compared.
        let kept_by_opencv = |name: &String| {
            cal["used"]
                .as_array()
                .is_none_or(|used| used.iter().any(|u| u.as_str() == Some(name.as_str())))
        };
        let used: BTreeMap<String, Vec<[f64; 2]>> = ours
            .iter()
            .filter(|(name, _)| {
                theirs.contains(name) && !off_views.contains(name) && kept_by_opencv(name)
            })
            .map(|(name, c)| (name.clone(), c.clone()))
            .collect();
        check_intrinsics(set, &board, &images, &used, cal, &off_views);
    }
}

/// reel's intrinsics from its own corners of the views OpenCV used
/// (`left_out` excepted): within 0.5 % of OpenCV's focal lengths and
/// principal point, each distortion coefficient within three of OpenCV's
/// standard deviations.
fn check_intrinsics(
    set: &Set,
    board: &Checkerboard,
    images: &[reel_calib::images::NamedImage],
    ours: &BTreeMap<String, Vec<[f64; 2]>>,
    cal: &serde_json::Value,
    left_out: &[String],
) {
    assert_eq!(
        ours.len() as u64,
        cal["views"].as_u64().unwrap(),
        "{}: the same views on both sides",
        set.name
    );
    let observations: Vec<Observation> = ours
        .iter()
        .map(|(name, corners)| Observation {
            name: name.clone(),
            corners: corners.clone(),
            ids: None,
        })
        .collect();
    let (w, h) = (images[0].image.width as u32, images[0].image.height as u32);
    // Every view kept, as calibrateCamera keeps them.
    let options = Options {
        lens: if set.fisheye {
            LensModel::Fisheye
        } else {
            LensModel::PinholeRadtan
        },
        reject_outliers: false,
        ..Options::default()
    };
    let fit = calibrate(board, w, h, &observations, options).unwrap();
    let c = &fit.camera;
    // Each corner against the board as the fit projects it: a misplaced
    // corner stands out from its view however well the intrinsics agree.
    let object = board.object_points();
    let (worst_corner, worst_at) = fit
        .views
        .iter()
        .zip(&observations)
        .flat_map(|(view, o)| {
            o.corners
                .iter()
                .zip(&object)
                .enumerate()
                .map(move |(k, (seen, p))| {
                    let q = c
                        .project(view.pose.apply(p).into())
                        .unwrap_or([f64::INFINITY; 2]);
                    let off = ((q[0] - seen[0]).powi(2) + (q[1] - seen[1]).powi(2)).sqrt();
                    (off, format!("{}#{k}", o.name))
                })
        })
        .fold((0.0, String::new()), |a, b| if b.0 > a.0 { b } else { a });
    let f = |k: &str| cal[k].as_f64().unwrap();
    let mut lines = Vec::new();
    let mut wrong = Vec::new();
    for (name, ours, theirs) in [
        ("fx", c.fx, f("fx")),
        ("fy", c.fy, f("fy")),
        ("cx", c.cx, f("cx")),
        ("cy", c.cy, f("cy")),
    ] {
        let rel = (ours - theirs).abs() / theirs;
        lines.push(format!(
            "{name} {ours:.2} vs {theirs:.2} ({:.3} %)",
            rel * 100.0
        ));
        if rel > 0.005 {
            wrong.push(format!("{name} {ours} vs OpenCV {theirs}"));
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
        if (ours - theirs).abs() > 3.0 * sd {
            wrong.push(format!("distortion {k}: {ours} vs OpenCV {theirs} ± {sd}"));
        }
    }
    println!(
        "{}: {} views (left out: {left_out:?}), rms {:.3} px vs {:.3}, worst corner {worst_corner:.2} px ({worst_at}); {}",
        set.name,
        ours.len(),
        fit.rms_px,
        f("rms"),
        lines.join(", ")
    );
    assert!(wrong.is_empty(), "{}: {wrong:?}", set.name);
}

fn shared(rel: &str, test: &str) -> Option<PathBuf> {
    testdata(test).map(|d| d.join("calib").join(rel))
}

fn local(rel: &str) -> PathBuf {
    workspace().join("tests/data/calib").join(rel)
}

fn set(name: &'static str, dir: PathBuf, cols: usize, rows: usize) -> Set {
    Set {
        name,
        dir,
        cols,
        rows,
        fisheye: false,
        prefix: "",
        variant: None,
        one_camera: true,
    }
}

#[test]
fn sony_bumblebee_udacity_and_fisheye_sets() {
    let Some(sony) = shared("boofcv/sony_dsc_hx5v_chess", "real calibration photos") else {
        return;
    };
    check(&set("Sony DSC-HX5V", sony, 4, 6));
    let base = sony_dir_parent(&shared("boofcv", "real calibration photos").unwrap());
    check(&Set {
        prefix: "left",
        ..set("Bumblebee2 left", base.join("bumblebee2_chess"), 4, 6)
    });
    check(&set(
        "Udacity CarND",
        shared("udacity_carnd_camera_cal", "real calibration photos").unwrap(),
        9,
        6,
    ));
    check(&Set {
        fisheye: true,
        ..set("BoofCV fisheye", base.join("fisheye_chess"), 4, 6)
    });
}

fn sony_dir_parent(p: &Path) -> PathBuf {
    p.to_path_buf()
}

#[test]
fn harder_real_sets() {
    check(&set(
        "BoofCV trinocular ECoCheck",
        local("boofcv_trinocular_left"),
        9,
        13,
    ));
    check(&set(
        "BoofCV chessboard on a desk",
        local("boofcv_fiducial_chessboard"),
        4,
        6,
    ));
    // OpenCV's own stereo samples: a board with a thin white margin held
    // in an office, a monitor showing checkerboards, a striped shirt, a
    // keyboard; each camera of the pair is one set.
    check(&set(
        "OpenCV samples left",
        local("opencv_samples_left"),
        9,
        6,
    ));
    check(&set(
        "OpenCV samples right",
        local("opencv_samples_right"),
        9,
        6,
    ));
    // Four cameras of one rig: corners only.
    check(&Set {
        one_camera: false,
        ..set(
            "caliscope board in a gym",
            local("caliscope_chessboard"),
            9,
            6,
        )
    });
}

#[test]
fn real_photos_made_harder() {
    let Some(sony) = shared("boofcv/sony_dsc_hx5v_chess", "real calibration photos") else {
        return;
    };
    for variant in ["gradient", "blur", "perspective", "clutter", "crop"] {
        let name = Box::leak(format!("Sony {variant}").into_boxed_str());
        check(&Set {
            variant: Some(variant),
            ..set(name, sony.clone(), 4, 6)
        });
    }
}
