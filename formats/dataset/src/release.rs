//! Releases of a dataset: semantic versions, the changelog, and where a
//! derived release came from. The manifest records them; the card shows them.

use serde::{Deserialize, Serialize};

/// One release of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Semantic version (`1.2.0`).
    pub version: String,
    /// When (UTC).
    pub created: String,
    /// What changed.
    pub note: String,
}

/// `MAJOR.MINOR.PATCH` as numbers; None when `v` is not one.
pub fn parse_semver(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(a)), Some(Some(b)), Some(Some(c)), None) => Some((a, b, c)),
        _ => None,
    }
}

/// Why a release version cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// The requested version is not semver.
    #[error("version {given:?} is not MAJOR.MINOR.PATCH")]
    NotSemver {
        /// What was asked for.
        given: String,
    },
    /// The dataset's own version is not semver.
    #[error("the dataset's version {found:?} is not MAJOR.MINOR.PATCH")]
    DatasetNotSemver {
        /// What the manifest says.
        found: String,
    },
    /// The requested version is not newer than the dataset's.
    #[error("version {given} is not newer than the dataset's {current}; releases are immutable, give a higher one")]
    NotNewer {
        /// What was asked for.
        given: String,
        /// The dataset's version.
        current: String,
    },
}

/// The version of a new release after `previous` (None: a first release):
/// `requested` when given (it must be semver and newer), else 1.0.0 for a
/// first release and the next minor version otherwise (episodes added).
pub fn next_version(
    previous: Option<&str>,
    requested: Option<&str>,
) -> Result<String, VersionError> {
    let prev = match previous {
        Some(p) => Some(
            parse_semver(p).ok_or_else(|| VersionError::DatasetNotSemver {
                found: p.to_string(),
            })?,
        ),
        None => None,
    };
    match (requested, prev) {
        (Some(r), prev) => {
            let v = parse_semver(r).ok_or_else(|| VersionError::NotSemver {
                given: r.to_string(),
            })?;
            match prev {
                Some(p) if v <= p => Err(VersionError::NotNewer {
                    given: r.to_string(),
                    current: format!("{}.{}.{}", p.0, p.1, p.2),
                }),
                _ => Ok(r.to_string()),
            }
        }
        (None, None) => Ok("1.0.0".into()),
        (None, Some((a, b, _))) => Ok(format!("{a}.{}.0", b + 1)),
    }
}

/// Where a derived dataset came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derivation {
    /// The source dataset's directory, as given.
    pub path: String,
    /// Its version.
    pub version: Option<String>,
    /// sha256 of its manifest, which pins every file it had.
    pub manifest_sha256: String,
    /// What was done (`filter`, `split`) and how.
    pub operation: String,
}
