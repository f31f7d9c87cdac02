//! reel-sim
