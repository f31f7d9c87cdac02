#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
//! `reel view` never runs a `rerun` found relative to the current folder:
//! a `.venv/bin/rerun` planted where reel is started is not the viewer.
//! (One test in its own binary: it changes the process's folder.)

use reel_viewer::output::viewer_executable_from;

#[test]
fn a_rerun_planted_in_the_current_folder_is_never_the_viewer() {
    let dir = tempfile::tempdir().unwrap();
    let planted = dir.path().join(".venv/bin/rerun");
    std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
    std::fs::write(&planted, "#!/bin/sh\necho planted\n").unwrap();
    std::env::set_current_dir(dir.path()).unwrap();
    let path = format!(".:{}", std::env::var("PATH").unwrap_or_default());
    let found = viewer_executable_from(None, Some(path.into()));
    println!("viewer: {found:?}");
    if let Some(p) = &found {
        assert!(p.is_absolute(), "{p:?}");
        assert_ne!(
            std::fs::canonicalize(p).unwrap(),
            std::fs::canonicalize(&planted).unwrap()
        );
    }
    // $REEL_RERUN given relative is made absolute now.
    let given = viewer_executable_from(Some("bin/rerun".into()), None).unwrap();
    assert!(given.is_absolute(), "{given:?}");
    assert!(
        given.starts_with(std::fs::canonicalize(dir.path()).unwrap())
            || given.starts_with(dir.path()),
        "{given:?}"
    );
}
