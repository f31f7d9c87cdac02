//! The quality report as one self-contained HTML page (inline CSS and SVG,
//! no script, nothing fetched): scores, failed checks, duplicates, and per
//! episode its streams with plots of rate and latency over time, joint
//! ranges against their limits and camera brightness.

use std::fmt::Write;

use super::rules::CheckResult;
use super::scan::{EpisodeScan, StreamStats};
use super::Report;

/// Shading of a failed span.
const BAD: &str = "#d62728";

const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The whole page.
pub fn render(report: &Report) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let verdict = if report.passed { "PASSED" } else { "FAILED" };
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>reel check: {path}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}}
h1{{font-size:22px;margin:0 0 4px}} h2{{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}}
h3{{font-size:15px;margin:18px 0 6px}} .meta{{color:#555;font-size:13px}}
.verdict{{display:inline-block;padding:4px 12px;border-radius:4px;color:#fff;font-weight:600}}
.pass{{background:#2e7d32}} .fail{{background:#c62828}}
.cards{{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}}
.card{{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:150px}}
.card .n{{font-size:28px;font-weight:600}} .card.bad{{border-color:#c62828;background:#fdecea}}
.card.good{{border-color:#2e7d32;background:#edf7ed}}
table{{border-collapse:collapse;font-size:13px;margin:6px 0}}
td,th{{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}}
th{{background:#f4f4f4}} td.num{{text-align:right;font-variant-numeric:tabular-nums}}
tr.bad td{{background:#fdecea}} .plots{{display:flex;flex-wrap:wrap;gap:16px}}
svg{{background:#fff;border:1px solid #e4e4e4}} svg text{{font-size:11px;fill:#333}}
</style></head><body>
<h1>reel check — {path}</h1>
<div class="meta">{target}{n} · {version} · checked in {elapsed:.1} s</div>
<p><span class="verdict {cls}">{verdict}</span> {failed} of {total} checks failed</p>
"#,
        path = esc(&report.path),
        target = match report.target {
            super::Target::Episode => "one episode",
            super::Target::Episodes => "a folder of episodes",
            super::Target::ExportedDataset => "an exported dataset",
        },
        n = match report.target {
            super::Target::ExportedDataset => String::new(),
            _ => format!(" · {} episode(s)", report.episodes.len()),
        },
        version = esc(&report.software_version),
        elapsed = report.elapsed_s,
        cls = if report.passed { "pass" } else { "fail" },
        failed = report.failures().count(),
        total = report.checks.len(),
    );
    h.push_str(r#"<div class="cards">"#);
    for s in &report.scores {
        let _ = write!(
            h,
            r#"<div class="card {cls}"><div>{name}</div><div class="n">{score:.0}</div><div class="meta">{failed} of {checks} failed · min {min:.0}</div></div>"#,
            cls = if s.passed { "good" } else { "bad" },
            name = s.dimension.name(),
            score = s.score,
            failed = s.failed,
            checks = s.checks,
            min = s.min_score,
        );
    }
    h.push_str("</div>");

    let failures: Vec<&CheckResult> = report.failures().collect();
    if !failures.is_empty() {
        h.push_str("<h2>Failed checks</h2>");
        checks_table(&mut h, &failures);
    }
    if !report.duplicates.is_empty() {
        h.push_str("<h2>Duplicates</h2><table><tr><th>episode</th><th>duplicate of</th><th>kind</th><th>evidence</th></tr>");
        for c in report.duplicates.iter().flat_map(|g| &g.copies) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.file),
                esc(&c.of),
                c.kind.describe(),
                esc(&c.evidence)
            );
        }
        h.push_str("</table>");
    }
    if let Some(m) = &report.manifest {
        let _ = write!(
            h,
            "<h2>Manifest</h2><p>{} files match, {} changed, {} missing, {} added</p>",
            m.ok,
            m.changed.len(),
            m.missing.len(),
            m.added.len()
        );
    }
    if report.target == super::Target::ExportedDataset {
        // An export has no per-episode section: every check is listed, so
        // what passed is as visible as what failed.
        h.push_str("<h2>Every check</h2>");
        checks_table(&mut h, &report.checks.iter().collect::<Vec<_>>());
    }
    for e in &report.episodes {
        episode(&mut h, e, report);
    }
    h.push_str("</body></html>\n");
    h
}

fn checks_table(h: &mut String, checks: &[&CheckResult]) {
    h.push_str("<table><tr><th>dimension</th><th>check</th><th>episode / file</th><th>topic / item</th><th>at (s)</th><th>finding</th></tr>");
    for c in checks {
        let _ = write!(
            h,
            r#"<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            if c.passed { "" } else { "bad" },
            c.dimension.name(),
            esc(&c.check),
            esc(&c.subject),
            esc(c.item.as_deref().unwrap_or("")),
            c.at_s.map(|t| format!("{t:.2}")).unwrap_or_default(),
            esc(&c.message)
        );
    }
    h.push_str("</table>");
}

fn episode(h: &mut String, e: &EpisodeScan, report: &Report) {
    let _ = write!(
        h,
        r#"<h2>{name}</h2><div class="meta">{id} · {source} · task “{task}” · outcome {outcome} · {dur:.2} s · {state}</div>"#,
        name = esc(&e.file_name),
        id = esc(e.episode_id.as_deref().unwrap_or("no episode id")),
        source = esc(&e.source),
        task = esc(&e.task),
        outcome = esc(&e.outcome),
        dur = e.duration_s,
        state = esc(&e.file_state),
    );
    if let Some(err) = &e.read_error {
        let _ = write!(h, "<p><b>Read error:</b> {}</p>", esc(err));
    }
    h.push_str("<table><tr><th>topic</th><th>kind</th><th>messages</th><th>nominal Hz</th><th>rate %</th><th>gaps</th><th>longest interval s</th><th>latency p50 / p99 ms</th></tr>");
    for s in &e.streams {
        let bad = s.gaps.iter().len() > 0
            || s.rate_ratio
                .is_some_and(|r| r < report.thresholds.completeness.min_rate_ratio);
        let _ = write!(
            h,
            r#"<tr class="{}"><td>{}</td><td>{:?}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:.3}</td><td class="num">{}</td></tr>"#,
            if bad { "bad" } else { "" },
            esc(&s.topic),
            s.kind,
            s.count,
            s.nominal_hz
                .map(|hz| format!("{hz:.1}{}", if s.nominal_declared { "" } else { " (est.)" }))
                .unwrap_or_default(),
            s.rate_ratio
                .map(|r| format!("{:.2}", r * 100.0))
                .unwrap_or_default(),
            s.gaps.len(),
            s.max_interval_s,
            s.latency_ms
                .map(|q| format!("{:.1} / {:.1}", q.p50, q.p99))
                .unwrap_or_default()
        );
    }
    h.push_str("</table><div class=\"plots\">");
    h.push_str(&rate_plot(e));
    h.push_str(&latency_plot(e));
    if !e.joints.is_empty() {
        h.push_str(&joint_plot(e));
    }
    if !e.cameras.is_empty() {
        h.push_str(&luma_plot(
            e,
            report.thresholds.accuracy.black_luma,
            report.thresholds.accuracy.max_frozen_s,
        ));
    }
    h.push_str("</div>");
    let mine: Vec<&CheckResult> = report
        .checks
        .iter()
        .filter(|c| c.subject == e.file_name && !c.passed)
        .collect();
    if !mine.is_empty() {
        h.push_str("<h3>Failed checks of this episode</h3>");
        checks_table(h, &mine);
    }
}

/// Short legend name: the topic without its message-kind tail.
fn short(topic: &str) -> String {
    topic
        .trim_end_matches("/image/compressed")
        .trim_end_matches("/joint_states")
        .trim_end_matches("/joint_commands")
        .trim_end_matches("/points")
        .to_string()
        + match topic.rsplit('/').next() {
            Some("joint_commands") => " (cmd)",
            Some("packets") => "",
            _ => "",
        }
}

struct Series {
    name: String,
    points: Vec<(f64, f64)>,
}

struct Chart<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    x_max: f64,
    y_min: f64,
    y_max: f64,
    /// Shaded spans (x0, x1, colour), e.g. gaps.
    spans: Vec<(f64, f64, &'static str)>,
    /// A dashed horizontal line (e.g. the nominal rate or a limit).
    reference: Option<f64>,
}

const W: f64 = 640.0;
const H: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 180.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 36.0;

fn chart(c: &Chart<'_>, series: &[Series]) -> String {
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x_max = if c.x_max > 0.0 { c.x_max } else { 1.0 };
    let span = if c.y_max > c.y_min {
        c.y_max - c.y_min
    } else {
        1.0
    };
    let x = |v: f64| LEFT + v / x_max * pw;
    let y = |v: f64| TOP + ph - ((v - c.y_min) / span).clamp(-0.02, 1.02) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img"><text x="{LEFT}" y="16" style="font-size:13px;font-weight:600">{}</text>"#,
        esc(c.title)
    );
    for &(a, b, colour) in &c.spans {
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="{TOP}" width="{:.1}" height="{ph}" fill="{colour}" opacity="0.25"/>"##,
            x(a),
            (x(b) - x(a)).max(2.0)
        );
    }
    // Axes and ticks.
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#888"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{y0}" stroke="#888"/>"##,
        y0 = TOP + ph,
        x1 = LEFT + pw
    );
    for i in 0..=4 {
        let v = c.y_min + span * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{x1}" y2="{yy:.1}" stroke="#eee"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{}</text>"##,
            tick(v),
            yy = y(v),
            x1 = LEFT + pw,
            tx = LEFT - 4.0,
            ty = y(v) + 4.0
        );
        let xv = x_max * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x(xv),
            TOP + ph + 14.0,
            tick(xv)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text><text x="12" y="{:.1}" transform="rotate(-90 12 {:.1})" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        H - 6.0,
        esc(c.x_label),
        TOP + ph / 2.0,
        TOP + ph / 2.0,
        esc(c.y_label)
    );
    if let Some(r) = c.reference {
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{x1}" y2="{yy:.1}" stroke="#444" stroke-dasharray="4 3"/>"##,
            yy = y(r),
            x1 = LEFT + pw
        );
    }
    for (i, se) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let mut d = String::new();
        let mut pen_up = true;
        for &(px, py) in &se.points {
            if !py.is_finite() {
                pen_up = true;
                continue;
            }
            let _ = write!(
                d,
                "{}{:.1},{:.1} ",
                if pen_up { "M" } else { "L" },
                x(px),
                y(py)
            );
            pen_up = false;
        }
        let _ = write!(
            s,
            r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="1.5"/>"#
        );
        if se.points.len() == 1 {
            let (px, py) = se.points[0];
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"#,
                x(px),
                y(py)
            );
        }
        let ly = TOP + 10.0 + 14.0 * i as f64;
        if ly < H - BOTTOM {
            let _ = write!(
                s,
                r#"<rect x="{lx}" y="{:.1}" width="10" height="3" fill="{color}"/><text x="{tx}" y="{:.1}">{}</text>"#,
                ly - 4.0,
                ly,
                esc(&se.name),
                lx = W - RIGHT + 8.0,
                tx = W - RIGHT + 22.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn tick(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn rate_plot(e: &EpisodeScan) -> String {
    let series: Vec<Series> = e
        .streams
        .iter()
        .filter(|s| s.count > 0)
        .filter_map(|s| {
            let hz = s.nominal_hz?;
            Some(Series {
                name: short(&s.topic),
                points: inner_points(s)
                    .map(|(t, n)| (t + 0.5, f64::from(n) / hz * 100.0))
                    .collect(),
            })
        })
        .collect();
    let spans = e
        .streams
        .iter()
        .flat_map(|s| s.gaps.iter().map(|g| (g.at_s, g.at_s + g.length_s, BAD)))
        .collect();
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(120.0, f64::max)
        .min(300.0);
    chart(
        &Chart {
            title: "Rate per second (% of nominal); gaps shaded",
            x_label: "episode time (s)",
            y_label: "% of nominal rate",
            x_max: e.duration_s,
            y_min: 0.0,
            y_max,
            spans,
            reference: Some(100.0),
        },
        &series,
    )
}

/// (second, count) for the whole seconds inside the stream's span.
fn inner_points(s: &StreamStats) -> impl Iterator<Item = (f64, u32)> + '_ {
    let first = s.first_s.ceil() as usize;
    let last = s.last_s.floor() as usize;
    s.per_second
        .iter()
        .enumerate()
        .filter(move |(i, _)| *i >= first && *i < last)
        .map(|(i, &n)| (i as f64, n))
}

fn latency_plot(e: &EpisodeScan) -> String {
    let series: Vec<Series> = e
        .streams
        .iter()
        .filter(|s| s.latency_ms.is_some())
        .map(|s| Series {
            name: short(&s.topic),
            points: s
                .latency_per_second_ms
                .iter()
                .enumerate()
                .map(|(i, &l)| (i as f64 + 0.5, f64::from(l)))
                .collect(),
        })
        .collect();
    let y_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max);
    chart(
        &Chart {
            title: "Sensor-to-host latency (median per second)",
            x_label: "episode time (s)",
            y_label: "ms",
            x_max: e.duration_s,
            y_min: 0.0,
            y_max: y_max * 1.1,
            spans: Vec::new(),
            reference: None,
        },
        &series,
    )
}

/// Horizontal bars: each joint's range, its URDF limits as a grey band.
fn joint_plot(e: &EpisodeScan) -> String {
    let rows = e.joints.len();
    let height = TOP + 20.0 + 16.0 * rows as f64 + 30.0;
    let lo = e
        .joints
        .iter()
        .flat_map(|j| [j.min, j.limits.map_or(j.min, |l| l.0)])
        .filter(|v| v.is_finite())
        .fold(f64::MAX, f64::min);
    let hi = e
        .joints
        .iter()
        .flat_map(|j| [j.max, j.limits.map_or(j.max, |l| l.1)])
        .filter(|v| v.is_finite())
        .fold(f64::MIN, f64::max);
    let (lo, hi) = if lo < hi { (lo, hi) } else { (-1.0, 1.0) };
    let label_w = 250.0;
    let pw = W - label_w - 20.0;
    let x = |v: f64| label_w + (v - lo) / (hi - lo) * pw;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg width="{W}" height="{height}" viewBox="0 0 {W} {height}" role="img"><text x="8" y="16" style="font-size:13px;font-weight:600">Joint ranges (bar) within URDF limits (grey); red = outside</text>"#
    );
    for (i, j) in e.joints.iter().enumerate() {
        let yy = TOP + 10.0 + 16.0 * i as f64;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            yy + 10.0,
            esc(&format!("{} {}", short(&j.topic), j.name))
        );
        if let Some((a, b)) = j.limits {
            let _ = write!(
                s,
                r##"<rect x="{:.1}" y="{yy:.1}" width="{:.1}" height="12" fill="#ddd"/>"##,
                x(a),
                (x(b) - x(a)).max(1.0)
            );
        }
        if j.min.is_finite() && j.max.is_finite() && j.max >= j.min {
            let color = if j.outside > 0 { "#d62728" } else { "#1f77b4" };
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="6" fill="{color}"/>"#,
                x(j.min),
                yy + 3.0,
                (x(j.max) - x(j.min)).max(2.0)
            );
        }
    }
    let axis_y = TOP + 14.0 + 16.0 * rows as f64;
    for k in 0..=4 {
        let v = lo + (hi - lo) * f64::from(k) / 4.0;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x(v),
            axis_y + 12.0,
            tick(v)
        );
    }
    s.push_str("</svg>");
    s
}

fn luma_plot(e: &EpisodeScan, black: f64, max_frozen_s: f64) -> String {
    let series: Vec<Series> = e
        .cameras
        .iter()
        .map(|c| Series {
            name: short(&c.topic),
            points: c
                .sample_s
                .iter()
                .zip(&c.mean_luma)
                .map(|(&t, &l)| (f64::from(t), f64::from(l)))
                .collect(),
        })
        .collect();
    let spans = e
        .cameras
        .iter()
        .filter(|c| c.longest_identical_s > 0.0)
        .map(|c| {
            let colour = if c.longest_identical_s > max_frozen_s {
                BAD
            } else {
                "#999999"
            };
            (
                c.longest_identical_at_s,
                c.longest_identical_at_s + c.longest_identical_s,
                colour,
            )
        })
        .collect();
    chart(
        &Chart {
            title: "Camera brightness (sampled frames); longest still run shaded (red: frozen)",
            x_label: "episode time (s)",
            y_label: "mean luma (0–255)",
            x_max: e.duration_s,
            y_min: 0.0,
            y_max: 255.0,
            spans,
            reference: Some(black),
        },
        &series,
    )
}
