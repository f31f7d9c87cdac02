//! reel-capture
