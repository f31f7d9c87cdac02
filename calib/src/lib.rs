//! reel-calib
