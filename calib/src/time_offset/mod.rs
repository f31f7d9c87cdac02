//! Time offset between two streams from correlated motion: each stream is
//! turned into an activity signal (joint speed; image motion between
//! successive frames), both are resampled on one 1 kHz grid, and the lag
//! that maximises their rank correlation (Spearman's: image motion grows
//! with speed but saturates, so their values are not proportional while
//! their orders agree; plain correlation put the peak 3-13 ms late), refined
//! by a parabola through the peak, is the offset.
//!
//! For a fixed camera whose arm's links are on `/tf`, [`refine`] then
//! searches near that lag with a model of the camera's image motion instead
//! of an activity: each frame pair's motion fit to the motion of each link
//! over the same interval ([`fit_curve`]). The activities are sampled
//! differently (a camera's motion covers 33 ms, a joint stream's 10 ms) and
//! weigh links as their few points do, not as the camera sees them; on 48
//! sim episodes they put the fixed camera 1.2 ms late on average (2.6 ms at
//! worst), the fit 0.5 ms early (1.3 ms at worst).

pub mod activity;
pub mod fit;
pub mod lag;

pub use activity::{activity, frame_motion, Activity, Changes};
pub use fit::{fit_curve, refine};
pub use lag::{estimate, lag_curve, pool, LagCurve, Offset};
