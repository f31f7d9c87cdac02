//! Runs the ChArUco detector on every image of a folder and prints, per
//! image, the corner ids found and, with OUT_DIR, writes them (a
//! development aid).
//!
//!     cargo run -p reel-calib --example detect_charuco -- DIR charuco:... [OUT_DIR]

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(spec)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: detect_charuco DIR BOARD [OUT_DIR]");
        std::process::exit(2);
    };
    let board = match reel_calib::charuco::CharucoBoard::parse(spec) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let images = match reel_calib::images::read_folder(std::path::Path::new(dir)) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    for img in &images {
        let t = std::time::Instant::now();
        let markers =
            reel_calib::aruco::detect_markers(&img.image, &board.dictionary, board.inverted);
        let corners = reel_calib::charuco::find_charuco(&img.image, &board);
        println!(
            "{} markers {:?} corners {:?} {:.0} ms",
            img.name,
            markers.iter().map(|m| m.id).collect::<Vec<_>>(),
            corners.iter().map(|c| c.0).collect::<Vec<_>>(),
            t.elapsed().as_secs_f64() * 1e3
        );
        if let Some(out) = args.get(3) {
            let text: String = corners
                .iter()
                .map(|(id, p)| format!("{id} {} {}\n", p[0], p[1]))
                .collect();
            let _ = std::fs::write(
                std::path::Path::new(out).join(format!("{}.txt", img.name)),
                text,
            );
        }
    }
}
