//! What the recorder's `/episode/events` say about data that never made it
//! into the episode: messages dropped on a full writer queue (`dropped`),
//! packets the sensor sent that never arrived (`packets_lost`), packets
//! received but refused, by reason (`packets_rejected`), and a sensor
//! refused as the wrong model (`device_refused`), and what `reel import`
//! could not read from a damaged source (`import_loss`, counted under the
//! device `import`). `reel info` prints the tally and `reel check` flags it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One device's losses over an episode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceLosses {
    /// Messages dropped because the writer queue was full.
    pub dropped: u64,
    /// Packets the sensor sent that never arrived.
    pub packets_lost: u64,
    /// Packets refused, by reason code: (packets, what the last looked like).
    pub packets_rejected: BTreeMap<String, (u64, String)>,
    /// Packets received, when the recorder counted them (its stop event).
    pub packets_received: Option<u64>,
    /// Why the sensor was refused, if it was.
    pub refused: Option<String>,
    /// What `reel import` could not read from the source, by reason:
    /// (messages known lost, what and where).
    #[serde(default)]
    pub source_losses: BTreeMap<String, (u64, String)>,
}

impl DeviceLosses {
    /// Packets refused, all reasons.
    pub fn rejected(&self) -> u64 {
        self.packets_rejected.values().map(|r| r.0).sum()
    }

    /// True when nothing was lost.
    pub fn is_empty(&self) -> bool {
        self.dropped == 0
            && self.packets_lost == 0
            && self.rejected() == 0
            && self.refused.is_none()
            && self.source_losses.is_empty()
    }

    /// Lost packets as a share of those sent (received + lost), if known.
    pub fn loss_ratio(&self) -> Option<f64> {
        let received = self.packets_received?;
        let sent = received + self.packets_lost + self.rejected();
        (sent > 0).then(|| self.packets_lost as f64 / sent as f64)
    }

    /// One line: `300 packets lost of 679; 2 refused (bad_azimuth: …)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(why) = &self.refused {
            parts.push(format!("refused: {why}"));
        }
        if self.packets_lost > 0 {
            parts.push(match self.packets_received {
                Some(r) => format!(
                    "{} packets lost of {} sent",
                    self.packets_lost,
                    r + self.packets_lost + self.rejected()
                ),
                None => format!("{} packets lost", self.packets_lost),
            });
        }
        for (reason, (n, detail)) in &self.packets_rejected {
            parts.push(format!("{n} packets refused ({reason}: {detail})"));
        }
        for (reason, (n, detail)) in &self.source_losses {
            parts.push(match n {
                0 => format!("source {reason}: {detail}"),
                n => format!("source {reason}: {n} messages lost: {detail}"),
            });
        }
        if self.dropped > 0 {
            parts.push(format!(
                "{} messages dropped (writer queue full)",
                self.dropped
            ));
        }
        parts.join("; ")
    }
}

/// Every device's losses, from the events of one episode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecorderLosses {
    /// By device name (`lidar top`).
    pub devices: BTreeMap<String, DeviceLosses>,
}

impl RecorderLosses {
    /// Takes one event (JSON text); others are ignored.
    pub fn note(&mut self, json: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
            return;
        };
        let text = |key: &str| {
            v.get(key)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let count = v
            .get("count")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        let name = text("device");
        match v.get("event").and_then(|e| e.as_str()) {
            Some("dropped") if count > 0 => self.devices.entry(name).or_default().dropped += count,
            Some("packets_lost") => self.devices.entry(name).or_default().packets_lost += count,
            Some("packets_rejected") => {
                let (reason, detail) = (text("reason"), text("detail"));
                let device = self.devices.entry(name).or_default();
                let entry = device.packets_rejected.entry(reason).or_default();
                entry.0 += count;
                entry.1 = detail;
            }
            Some("import_loss") => {
                let (reason, detail) = (text("reason"), text("detail"));
                let entry = self
                    .devices
                    .entry("import".into())
                    .or_default()
                    .source_losses
                    .entry(reason)
                    .or_default();
                entry.0 += count;
                if !entry.1.is_empty() {
                    entry.1.push_str("; ");
                }
                entry.1.push_str(&detail);
            }
            Some("device_refused") => {
                self.devices.entry(name).or_default().refused = Some(text("reason"));
            }
            // The stop event's totals repeat the periodic events; only the
            // received counts are new.
            Some("stop") => {
                for r in v
                    .get("packets_received")
                    .and_then(|r| r.as_array())
                    .into_iter()
                    .flatten()
                {
                    let name = r.get("device").and_then(|d| d.as_str()).unwrap_or_default();
                    let n = r
                        .get("count")
                        .and_then(serde_json::Value::as_u64)
                        .unwrap_or(0);
                    self.devices
                        .entry(name.to_string())
                        .or_default()
                        .packets_received = Some(n);
                }
            }
            _ => {}
        }
    }

    /// The devices that lost something.
    pub fn losing(&self) -> impl Iterator<Item = (&String, &DeviceLosses)> {
        self.devices.iter().filter(|(_, d)| !d.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_add_up_per_device() {
        let mut l = RecorderLosses::default();
        for e in [
            r#"{"event":"packets_lost","device":"lidar top","reason":"lost","count":75}"#,
            r#"{"event":"packets_lost","device":"lidar top","reason":"lost","count":225}"#,
            r#"{"event":"packets_rejected","device":"lidar top","reason":"bad_azimuth","count":2,"detail":"block 3 has azimuth 40000"}"#,
            r#"{"event":"dropped","device":"camera wrist","count":0}"#,
            r#"{"event":"import_loss","reason":"truncated","count":0,"detail":"bag.mcap ends inside a chunk at byte 900"}"#,
            r#"{"event":"stop","dropped":[{"device":"lidar top","count":0}],"packets_received":[{"device":"lidar top","count":700}]}"#,
            "not json",
        ] {
            l.note(e);
        }
        let top = &l.devices["lidar top"];
        assert_eq!(top.packets_lost, 300);
        assert_eq!(top.rejected(), 2);
        assert_eq!(top.packets_received, Some(700));
        assert!((top.loss_ratio().unwrap() - 300.0 / 1002.0).abs() < 1e-12);
        assert_eq!(l.losing().count(), 2);
        assert!(l.devices["import"]
            .describe()
            .starts_with("source truncated: bag.mcap ends inside a chunk"));
        assert!(
            top.describe().contains("300 packets lost of 1002 sent"),
            "{}",
            top.describe()
        );
    }
}
