//! Human-readable reports (tables) for the terminal.

pub mod calib;

use std::io::{self, Write};

use reel_episode::time::format_utc;
use reel_episode::{EpisodeInfo, FileState, RecoveryReport};

/// `1234567` → `1.2 MB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn state_text(state: &FileState) -> &'static str {
    match state {
        FileState::Closed => "closed cleanly",
        FileState::ClosedWithoutSummary => "closed, no summary (read linearly)",
        FileState::FinishedButPartial => "NOT closed: finished but still .partial",
        FileState::Truncated => "NOT closed: writer did not finish",
        FileState::BadSummary { .. } => "closed, damaged summary",
    }
}

/// Writes the `reel info` table for one file.
pub fn write_info(out: &mut impl Write, info: &EpisodeInfo) -> io::Result<()> {
    writeln!(out, "{}", info.path)?;
    writeln!(
        out,
        "  {}  {}  profile {:?}  library {:?}",
        human_bytes(info.size_bytes),
        state_text(&info.file_state),
        info.profile,
        info.library
    )?;
    if let Some(ep) = &info.episode {
        writeln!(
            out,
            "  episode {}  source {}{}  robot {:?}  outcome {}",
            ep.episode_id,
            ep.source.as_str(),
            ep.seed.map(|s| format!(" (seed {s})")).unwrap_or_default(),
            ep.robot_type,
            ep.outcome.as_str(),
        )?;
        writeln!(
            out,
            "  task {:?}  written by {}",
            ep.task, ep.software_version
        )?;
        if let Some(op) = &ep.operator {
            writeln!(out, "  operator {op:?}")?;
        }
        if let Some(h) = &ep.rig_config_hash {
            writeln!(out, "  rig config sha256 {h}")?;
        }
    }
    match (info.start_nanos, info.end_nanos) {
        (Some(s), Some(e)) => writeln!(
            out,
            "  {} messages over {:.3} s ({} → {}), {} chunks{}",
            info.message_count,
            info.duration_secs,
            format_utc(s),
            format_utc(e),
            info.chunk_count,
            if info.compressions.is_empty() {
                String::new()
            } else {
                let names: Vec<&str> = info
                    .compressions
                    .iter()
                    .map(|c| {
                        if c.is_empty() {
                            "uncompressed"
                        } else {
                            c.as_str()
                        }
                    })
                    .collect();
                format!(" ({})", names.join(", "))
            }
        )?,
        _ => writeln!(out, "  no messages")?,
    }
    if !info.topics.is_empty() {
        let tw = info
            .topics
            .iter()
            .map(|t| t.topic.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let yw = info
            .topics
            .iter()
            .map(|t| t.type_name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        writeln!(
            out,
            "  {:tw$}  {:yw$}  {:>8}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}",
            "topic", "type", "count", "rate Hz", "worst gap", "first s", "last s", "bytes"
        )?;
        let start = info.start_nanos.unwrap_or(0);
        for t in &info.topics {
            let rel = |n: Option<u64>| {
                n.map_or("-".to_string(), |n| {
                    format!("{:.3}", (n.saturating_sub(start)) as f64 * 1e-9)
                })
            };
            writeln!(
                out,
                "  {:tw$}  {:yw$}  {:>8}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}",
                t.topic,
                if t.type_name.is_empty() {
                    "(no schema)"
                } else {
                    &t.type_name
                },
                t.message_count,
                t.mean_rate_hz.map_or("-".into(), |r| format!("{r:.2}")),
                t.worst_gap_secs.map_or("-".into(), |g| format!("{g:.3} s")),
                rel(t.first_nanos),
                rel(t.last_nanos),
                human_bytes(t.bytes),
            )?;
        }
    }
    for a in &info.attachments {
        writeln!(
            out,
            "  attachment {} ({}, {})",
            a.name,
            a.media_type,
            human_bytes(a.bytes)
        )?;
    }
    for (name, map) in &info.other_metadata {
        writeln!(out, "  metadata {name}: {} keys", map.len())?;
    }
    for (device, losses) in info.losses.losing() {
        writeln!(out, "  data lost: {device}: {}", losses.describe())?;
    }
    for p in &info.problems {
        writeln!(out, "  problem: {p}")?;
    }
    writeln!(out)
}

/// Writes the `reel recover` report.
pub fn write_recovery(out: &mut impl Write, r: &RecoveryReport) -> io::Result<()> {
    writeln!(
        out,
        "recovered {} → {}",
        r.input.display(),
        r.output.display()
    )?;
    writeln!(
        out,
        "  kept {} messages in {} chunks, {} metadata records, {} attachments ({} of {} input bytes)",
        r.messages_kept,
        r.chunks_kept,
        r.metadata_records,
        r.attachments,
        human_bytes(r.kept_bytes),
        human_bytes(r.input_bytes),
    )?;
    if let (Some(f), Some(l)) = (r.first_nanos, r.last_nanos) {
        writeln!(
            out,
            "  time kept: {} → {} ({:.3} s)",
            format_utc(f),
            format_utc(l),
            (l - f) as f64 * 1e-9
        )?;
    }
    for (topic, n) in &r.messages_per_topic {
        writeln!(out, "    {topic}: {n}")?;
    }
    match &r.tail {
        Some(tail) if r.lost_tail_bytes > 0 => writeln!(
            out,
            "  lost: {} at the end ({tail}): the messages of the last open chunk, at most ~1 s",
            human_bytes(r.lost_tail_bytes)
        )?,
        Some(tail) => writeln!(
            out,
            "  the writer did not finish ({tail}); every byte on disk was kept"
        )?,
        None => {}
    }
    if r.chunks_dropped > 0 {
        writeln!(out, "  lost: {} damaged chunks skipped", r.chunks_dropped)?;
    }
    if r.orphan_messages > 0 {
        writeln!(
            out,
            "  lost: {} messages without a channel definition",
            r.orphan_messages
        )?;
    }
    if !r.lost_anything() {
        writeln!(out, "  nothing lost")?;
    }
    writeln!(
        out,
        "  the input was left unchanged; delete it once you have checked the result"
    )
}

/// The recorder status as a table (for `reel ctl status`).
pub fn status_table(s: &reel_capture::recorder::RecorderStatus) -> String {
    let mut out = String::new();
    let state = match &s.episode {
        Some(p) => format!(
            "recording {} ({:.1} s, {} messages)",
            p.display(),
            s.elapsed_s,
            s.messages
        ),
        None => "idle".to_string(),
    };
    out.push_str(&format!(
        "rig {}: {state}; {} episodes closed; queue {}\n",
        s.rig, s.episodes_closed, s.queue
    ));
    if let Some(e) = &s.last_error {
        out.push_str(&format!("last error: {e}\n"));
    }
    out.push_str(&format!(
        "{:<22} {:>5} {:>9} {:>9} {:>8} {:>8} {:>8}  {}\n",
        "device", "up", "rate Hz", "of Hz", "dropped", "errors", "wire", "last error"
    ));
    for d in &s.devices {
        out.push_str(&format!(
            "{:<22} {:>5} {:>9.1} {:>9.1} {:>8} {:>8} {:>8}  {}\n",
            d.name,
            if d.connected { "yes" } else { "NO" },
            d.rate_hz,
            d.expected_hz,
            d.dropped,
            d.errors,
            d.wire_faults,
            d.last_error
        ));
    }
    out.trim_end().to_string()
}

/// One status line (for the interactive recorder).
pub fn status_line(s: &reel_capture::recorder::RecorderStatus) -> String {
    let head = if s.recording {
        format!("● REC {:>6.1}s {:>7} msgs", s.elapsed_s, s.messages)
    } else {
        "○ idle".to_string()
    };
    let devices: Vec<String> = s
        .devices
        .iter()
        .map(|d| {
            let short = d.name.split_once(' ').map_or(d.name.as_str(), |x| x.1);
            let mut t = format!("{short} {:.0}/{:.0}", d.rate_hz, d.expected_hz);
            if !d.connected {
                t.push_str(" LOST");
            }
            if d.dropped > 0 {
                t.push_str(&format!(" drop {}", d.dropped));
            }
            t
        })
        .collect();
    format!("{head} | {}", devices.join(" | "))
}

/// Writes the `reel check` report: scores, failed checks, duplicates.
pub fn write_quality(out: &mut impl Write, r: &reel_quality::Report) -> io::Result<()> {
    let failed: Vec<_> = r.failures().collect();
    let what = if r.manifest.is_some() {
        "an export".to_string()
    } else {
        format!("{} episode(s)", r.episodes.len())
    };
    writeln!(
        out,
        "{}: {what}, {} checks, {} failed ({:.1} s)",
        r.path,
        r.checks.len(),
        failed.len(),
        r.elapsed_s
    )?;
    if let Some(m) = &r.manifest {
        for p in &m.changed {
            writeln!(out, "changed  {p}")?;
        }
        for p in &m.missing {
            writeln!(out, "missing  {p}")?;
        }
        for p in &m.added {
            writeln!(out, "added    {p}")?;
        }
        writeln!(
            out,
            "  manifest: {} file(s) match, {} changed, {} missing, {} added{}",
            m.ok,
            m.changed.len(),
            m.missing.len(),
            m.added.len(),
            if m.incomplete_append {
                "; an append did not finish"
            } else {
                ""
            }
        )?;
    }
    writeln!(
        out,
        "  {:<14} {:>6} {:>14} {:>5}",
        "dimension", "score", "failed/checks", "min"
    )?;
    for s in &r.scores {
        writeln!(
            out,
            "  {:<14} {:>6.1} {:>14} {:>5.0}  {}",
            s.dimension.name(),
            s.score,
            format!("{}/{}", s.failed, s.checks),
            s.min_score,
            if s.passed { "ok" } else { "FAIL" }
        )?;
    }
    const SHOWN: usize = 40;
    for c in failed.iter().take(SHOWN) {
        writeln!(
            out,
            "  FAIL {:<12} {:<15} {}{}{}: {}",
            c.dimension.name(),
            c.check,
            c.subject,
            c.item.as_ref().map(|i| format!(" {i}")).unwrap_or_default(),
            c.at_s.map(|t| format!(" at {t:.2} s")).unwrap_or_default(),
            c.message
        )?;
    }
    if failed.len() > SHOWN {
        writeln!(
            out,
            "  … and {} more failed checks (--json or --html for all)",
            failed.len() - SHOWN
        )?;
    }
    for c in r.duplicates.iter().flat_map(|g| &g.copies) {
        writeln!(
            out,
            "  duplicate: {} repeats {} ({}: {})",
            c.file,
            c.of,
            c.kind.describe(),
            c.evidence
        )?;
    }
    writeln!(out, "{}", if r.passed { "PASSED" } else { "FAILED" })
}
