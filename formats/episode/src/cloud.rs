//! Reading `sensor_msgs/PointCloud2` data from outside: the header's
//! width, height, steps and field offsets are claims about the bytes that
//! follow, so every one is checked against them ([`CloudLayout::of`])
//! before a point is read or anything is allocated for the points.

use crate::ros2::sensor_msgs::{PointCloud2, PointField};

/// Why a cloud's layout does not fit its data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloudError {
    /// A field the reader needs is absent.
    #[error("no {0} field")]
    MissingField(String),
    /// A field of a datatype code ROS does not define.
    #[error("field {field} has unknown datatype {datatype}")]
    UnknownDatatype {
        /// The field.
        field: String,
        /// Its datatype code.
        datatype: u8,
    },
    /// A field that reaches past the end of its point.
    #[error("field {field} ({offset} + {size} bytes) reaches past the {point_step}-byte point")]
    FieldOutsidePoint {
        /// The field.
        field: String,
        /// Its offset.
        offset: u64,
        /// Its size in bytes (element size × count).
        size: u64,
        /// `point_step`.
        point_step: u32,
    },
    /// Points of zero bytes.
    #[error("point_step is 0")]
    ZeroPointStep,
    /// A row shorter than its points.
    #[error("row_step {row_step} is shorter than {width} points of {point_step} bytes")]
    RowTooShort {
        /// `row_step`.
        row_step: u32,
        /// `width`.
        width: u32,
        /// `point_step`.
        point_step: u32,
    },
    /// Fewer bytes than width × height points need.
    #[error("{len} bytes hold fewer than {} points of {point_step} bytes (the header claims {height} rows of {width}, row_step {row_step})", u64::from(*width) * u64::from((*height).max(1)))]
    DataTooShort {
        /// Bytes present.
        len: usize,
        /// `width`.
        width: u32,
        /// `height`.
        height: u32,
        /// `row_step`.
        row_step: u32,
        /// `point_step`.
        point_step: u32,
    },
}

/// A layout checked against the cloud's data: every point index below
/// [`Self::len`] lies inside the data, and so does every field of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloudLayout {
    width: usize,
    rows: usize,
    point_step: usize,
    row_step: usize,
}

/// Bytes of one element of a datatype, `None` for codes ROS does not define.
pub fn datatype_size(datatype: u8) -> Option<u64> {
    Some(match datatype {
        PointField::INT8 | PointField::UINT8 => 1,
        PointField::INT16 | PointField::UINT16 => 2,
        PointField::INT32 | PointField::UINT32 | PointField::FLOAT32 => 4,
        PointField::FLOAT64 => 8,
        _ => return None,
    })
}

impl CloudLayout {
    /// Checks `cloud`'s header against its data. A cloud of height 0 is
    /// read as one row (some writers leave it unset).
    pub fn of(cloud: &PointCloud2) -> Result<Self, CloudError> {
        let rows = cloud.height.max(1);
        for f in &cloud.fields {
            let size = datatype_size(f.datatype).ok_or_else(|| CloudError::UnknownDatatype {
                field: f.name.clone(),
                datatype: f.datatype,
            })? * u64::from(f.count.max(1));
            if u64::from(f.offset) + size > u64::from(cloud.point_step) {
                return Err(CloudError::FieldOutsidePoint {
                    field: f.name.clone(),
                    offset: u64::from(f.offset),
                    size,
                    point_step: cloud.point_step,
                });
            }
        }
        if cloud.width == 0 {
            return Ok(Self {
                width: 0,
                rows: 0,
                point_step: cloud.point_step as usize,
                row_step: cloud.row_step as usize,
            });
        }
        if cloud.point_step == 0 {
            return Err(CloudError::ZeroPointStep);
        }
        let row_bytes = u64::from(cloud.width) * u64::from(cloud.point_step);
        // A single row may leave row_step at 0 or short; rows after the
        // first must be row_step apart.
        let row_step = if rows == 1 {
            u64::from(cloud.row_step).max(row_bytes)
        } else if u64::from(cloud.row_step) < row_bytes {
            return Err(CloudError::RowTooShort {
                row_step: cloud.row_step,
                width: cloud.width,
                point_step: cloud.point_step,
            });
        } else {
            u64::from(cloud.row_step)
        };
        let needed = u64::from(rows - 1) * row_step + row_bytes;
        if needed > cloud.data.len() as u64 {
            return Err(CloudError::DataTooShort {
                len: cloud.data.len(),
                width: cloud.width,
                height: cloud.height,
                row_step: cloud.row_step,
                point_step: cloud.point_step,
            });
        }
        // Everything below fits in the data's length, hence in usize.
        Ok(Self {
            width: cloud.width as usize,
            rows: rows as usize,
            point_step: cloud.point_step as usize,
            row_step: row_step as usize,
        })
    }

    /// Points in the cloud (width × height).
    pub fn len(&self) -> usize {
        self.width * self.rows
    }

    /// True for a cloud of no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes per point.
    pub fn point_step(&self) -> usize {
        self.point_step
    }

    /// The bytes of point `index` (< [`Self::len`]).
    pub fn point<'a>(&self, cloud: &'a PointCloud2, index: usize) -> &'a [u8] {
        let at = (index / self.width) * self.row_step + (index % self.width) * self.point_step;
        &cloud.data[at..at + self.point_step]
    }

    /// Every point's bytes, in order.
    pub fn points<'a>(&self, cloud: &'a PointCloud2) -> impl Iterator<Item = &'a [u8]> + 'a {
        let layout = *self;
        (0..self.len()).map(move |i| layout.point(cloud, i))
    }
}

/// Field `field` of one point's bytes as f64 (the first element), for any
/// datatype and byte order; `None` for an unknown datatype or a field past
/// the point (neither happens after [`CloudLayout::of`]).
pub fn read_field(point: &[u8], field: &PointField, big_endian: bool) -> Option<f64> {
    let at = field.offset as usize;
    macro_rules! num {
        ($t:ty, $n:expr) => {{
            let b: [u8; $n] = point.get(at..at + $n)?.try_into().ok()?;
            (if big_endian {
                <$t>::from_be_bytes(b)
            } else {
                <$t>::from_le_bytes(b)
            }) as f64
        }};
    }
    Some(match field.datatype {
        PointField::INT8 => num!(i8, 1),
        PointField::UINT8 => num!(u8, 1),
        PointField::INT16 => num!(i16, 2),
        PointField::UINT16 => num!(u16, 2),
        PointField::INT32 => num!(i32, 4),
        PointField::UINT32 => num!(u32, 4),
        PointField::FLOAT32 => num!(f32, 4),
        PointField::FLOAT64 => num!(f64, 8),
        _ => return None,
    })
}

impl PointCloud2 {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&PointField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field called `name`, or why the cloud lacks it.
    pub fn require_field(&self, name: &str) -> Result<&PointField, CloudError> {
        self.field(name)
            .ok_or_else(|| CloudError::MissingField(name.to_string()))
    }

    /// Every finite point's x, y, z (NaN marks "no return" in organised
    /// clouds), or why the cloud cannot be read.
    pub fn xyz(&self) -> Result<Vec<[f64; 3]>, CloudError> {
        let layout = CloudLayout::of(self)?;
        let (x, y, z) = (
            self.require_field("x")?,
            self.require_field("y")?,
            self.require_field("z")?,
        );
        let mut out = Vec::with_capacity(layout.len());
        for p in layout.points(self) {
            let read = |f| read_field(p, f, self.is_bigendian).unwrap_or(f64::NAN);
            let (px, py, pz) = (read(x), read(y), read(z));
            if px.is_finite() && py.is_finite() && pz.is_finite() {
                out.push([px, py, pz]);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ros2::std_msgs::Header;

    fn cloud(points: usize) -> PointCloud2 {
        let mut data = Vec::new();
        for i in 0..points {
            PointCloud2::push_lidar_point(&mut data, [i as f32, 1.0, 2.0], 5.0, 3, 1, 0.0);
        }
        PointCloud2::lidar(Header::new(0, "l"), data)
    }

    #[test]
    fn layouts_are_checked_against_the_data() {
        let ok = cloud(10);
        assert_eq!(CloudLayout::of(&ok).unwrap().len(), 10);
        assert_eq!(ok.xyz().unwrap()[9], [9.0, 1.0, 2.0]);
        // A header claiming billions of points over 240 bytes.
        let mut huge = ok.clone();
        huge.width = u32::MAX;
        huge.height = u32::MAX;
        assert!(matches!(
            CloudLayout::of(&huge),
            Err(CloudError::RowTooShort { .. })
        ));
        let mut tall = ok.clone();
        tall.height = u32::MAX;
        assert!(matches!(
            CloudLayout::of(&tall),
            Err(CloudError::DataTooShort { .. })
        ));
        let mut outside = ok.clone();
        outside.fields[6].offset = 22; // time, 4 bytes at 22 of 24
        assert!(matches!(
            CloudLayout::of(&outside),
            Err(CloudError::FieldOutsidePoint { .. })
        ));
        let mut zero = ok.clone();
        zero.point_step = 0;
        assert!(CloudLayout::of(&zero).is_err());
        let mut unknown = ok;
        unknown.fields[0].datatype = 42;
        assert!(matches!(
            unknown.xyz(),
            Err(CloudError::UnknownDatatype { .. })
        ));
    }

    #[test]
    fn padded_rows_are_read_at_row_step() {
        let mut c = cloud(4);
        // Two rows of two points, 8 bytes of padding after each row.
        let step = PointCloud2::LIDAR_POINT_STEP as usize;
        let mut data = Vec::new();
        for row in c.data.chunks(2 * step) {
            data.extend_from_slice(row);
            data.extend_from_slice(&[0xAA; 8]);
        }
        c.data = data;
        c.width = 2;
        c.height = 2;
        c.row_step = (2 * step + 8) as u32;
        let xs: Vec<f64> = c.xyz().unwrap().iter().map(|p| p[0]).collect();
        assert_eq!(xs, [0.0, 1.0, 2.0, 3.0]);
    }
}
