//! A benchmark's targets: each measured figure is printed beside its target
//! with the ratio, and the benchmark exits non-zero when any is missed, so
//! a figure in the README cannot quietly fall below what it claims.

/// The targets of one benchmark run.
#[derive(Debug, Default)]
pub struct Targets {
    met: Vec<String>,
    missed: Vec<String>,
}

impl Targets {
    pub fn new() -> Self {
        Self::default()
    }

    /// `value` must be at least `target`.
    pub fn at_least(&mut self, what: &str, value: f64, target: f64) {
        self.record(what, value, ">=", target, value >= target);
    }

    /// `value` must be at most `target`.
    pub fn at_most(&mut self, what: &str, value: f64, target: f64) {
        self.record(what, value, "<=", target, value <= target);
    }

    /// A target whose reference could not be run here (a tool is missing):
    /// counted as missed, since nothing shows it is met.
    pub fn unmeasured(&mut self, what: &str, why: &str) {
        let line = format!("{what}: not measured ({why})");
        println!("TARGET MISSED {line}");
        self.missed.push(line);
    }

    fn record(&mut self, what: &str, value: f64, op: &str, target: f64, ok: bool) {
        // A target of 0 (nothing dropped) has no ratio.
        let ratio = if target != 0.0 {
            format!("; ratio {:.3}", value / target)
        } else {
            String::new()
        };
        let line = format!("{what}: {value:.4} (target {op} {target}{ratio})");
        println!("TARGET {} {line}", if ok { "met   " } else { "MISSED" });
        if ok {
            self.met.push(line);
        } else {
            self.missed.push(line);
        }
    }

    /// Prints the tally; exits with status 1 when a target was missed.
    pub fn finish(self) {
        println!(
            "targets: {} met, {} missed",
            self.met.len(),
            self.missed.len()
        );
        if !self.missed.is_empty() {
            for m in &self.missed {
                eprintln!("missed: {m}");
            }
            std::process::exit(1);
        }
    }
}
