//! The LiDAR decoder an import uses for raw packets (pcaps, VelodyneScan
//! topics): reel's drivers implement it and the binary passes one in, so
//! the formats layer never links the capture layer.

use reel_episode::ros2::sensor_msgs::PointCloud2;

/// One revolution a decoder finished.
#[derive(Debug, Clone)]
pub struct Revolution {
    /// Its time (ns, the first point's, on the capture's clock).
    pub stamp_nanos: u64,
    /// The points (frame id set by the importer).
    pub cloud: PointCloud2,
    /// The packets it was decoded from: (arrival ns, payload).
    pub packets: Vec<(u64, Vec<u8>)>,
}

/// A LiDAR packet decoder: reel's drivers implement it (the CLI passes one),
/// so this crate decodes without depending on the capture layer.
pub trait ScanDecoder {
    /// The sensor model decoded (for the metadata).
    fn model(&self) -> String;
    /// Takes one data packet that arrived at `arrival_nanos`; returns the
    /// revolutions it completed, or why the packet was refused
    /// (`reason`, `detail`).
    fn push(
        &mut self,
        payload: &[u8],
        arrival_nanos: u64,
    ) -> Result<Vec<Revolution>, (String, String)>;
    /// The revolution still open at the end.
    fn finish(&mut self) -> Vec<Revolution>;
}

/// Makes a decoder from the first data packets of a capture (it names the
/// model from them), or says why it cannot.
pub type DecoderFactory<'a> = &'a dyn Fn(&[(u64, Vec<u8>)]) -> Result<Box<dyn ScanDecoder>, String>;
