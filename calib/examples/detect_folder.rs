//! Runs the checkerboard detector on every image of a folder and prints,
//! per image, whether the board was found (a development aid).
//!
//!     cargo run -p reel-calib --example detect_folder -- DIR COLSxROWS

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(size)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: detect_folder DIR COLSxROWS");
        std::process::exit(2);
    };
    let board = match reel_calib::board::Checkerboard::parse(&format!("checkerboard:{size}:0.03")) {
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
    let mut found = 0;
    for img in &images {
        let t = std::time::Instant::now();
        let corners = reel_calib::detect::find_checkerboard(&img.image, &board);
        let ok = corners.is_some();
        found += usize::from(ok);
        println!(
            "{} {} {:.0} ms",
            img.name,
            ok,
            t.elapsed().as_secs_f64() * 1e3
        );
        if let (Some(c), Some(out)) = (corners, args.get(3)) {
            let text: String = c.iter().map(|p| format!("{} {}\n", p[0], p[1])).collect();
            let _ = std::fs::write(
                std::path::Path::new(out).join(format!("{}.txt", img.name)),
                text,
            );
        }
    }
    println!("found {found} of {}", images.len());
}
