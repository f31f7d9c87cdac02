//! reel-viewer
