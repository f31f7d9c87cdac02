//! Property tests of the CDR codec: encode/decode are exact inverses for every
//! message type (NaNs and empty arrays included), and no byte string, random,
//! truncated or bit-flipped, makes a decoder panic.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use proptest::prelude::*;
use reel_episode::ros2::builtin_interfaces::Time;
use reel_episode::ros2::foxglove_msgs::CompressedVideo;
use reel_episode::ros2::geometry_msgs::{Quaternion, Transform, TransformStamped, Vector3};
use reel_episode::ros2::sensor_msgs::{
    CameraInfo, CompressedImage, Image, JointState, PointCloud2, PointField, RegionOfInterest,
};
use reel_episode::ros2::std_msgs::{Header, StringMsg};
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::ros2::RosMessage;

fn text() -> impl Strategy<Value = String> {
    ".{0,12}"
}
fn floats() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(any::<f64>(), 0..6)
}
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}
fn time() -> impl Strategy<Value = Time> {
    (any::<i32>(), any::<u32>()).prop_map(|(sec, nanosec)| Time { sec, nanosec })
}
fn header() -> impl Strategy<Value = Header> {
    (time(), text()).prop_map(|(stamp, frame_id)| Header { stamp, frame_id })
}
fn joint_state() -> impl Strategy<Value = JointState> {
    (
        header(),
        prop::collection::vec(text(), 0..6),
        floats(),
        floats(),
        floats(),
    )
        .prop_map(|(header, name, position, velocity, effort)| JointState {
            header,
            name,
            position,
            velocity,
            effort,
        })
}
fn image() -> impl Strategy<Value = Image> {
    (
        header(),
        any::<u32>(),
        any::<u32>(),
        text(),
        any::<u8>(),
        any::<u32>(),
        bytes(),
    )
        .prop_map(
            |(header, height, width, encoding, is_bigendian, step, data)| Image {
                header,
                height,
                width,
                encoding,
                is_bigendian,
                step,
                data,
            },
        )
}
fn compressed_image() -> impl Strategy<Value = CompressedImage> {
    (header(), text(), bytes()).prop_map(|(header, format, data)| CompressedImage {
        header,
        format,
        data,
    })
}
fn camera_info() -> impl Strategy<Value = CameraInfo> {
    (
        header(),
        (any::<u32>(), any::<u32>(), text(), floats()),
        prop::array::uniform9(any::<f64>()),
        prop::array::uniform9(any::<f64>()),
        prop::collection::vec(any::<f64>(), 12),
        (any::<u32>(), any::<u32>()),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(header, (height, width, distortion_model, d), k, r, p, (bx, by), roi)| CameraInfo {
                header,
                height,
                width,
                distortion_model,
                d,
                k,
                r,
                p: p.try_into().unwrap_or([0.0; 12]),
                binning_x: bx,
                binning_y: by,
                roi: RegionOfInterest {
                    x_offset: roi.0,
                    y_offset: roi.1,
                    height: roi.2,
                    width: roi.3,
                    do_rectify: roi.4,
                },
            },
        )
}
fn point_cloud() -> impl Strategy<Value = PointCloud2> {
    let field = (text(), any::<u32>(), any::<u8>(), any::<u32>()).prop_map(
        |(name, offset, datatype, count)| PointField {
            name,
            offset,
            datatype,
            count,
        },
    );
    (
        header(),
        (any::<u32>(), any::<u32>()),
        prop::collection::vec(field, 0..5),
        (any::<bool>(), any::<u32>(), any::<u32>()),
        bytes(),
        any::<bool>(),
    )
        .prop_map(
            |(
                header,
                (height, width),
                fields,
                (is_bigendian, point_step, row_step),
                data,
                is_dense,
            )| {
                PointCloud2 {
                    header,
                    height,
                    width,
                    fields,
                    is_bigendian,
                    point_step,
                    row_step,
                    data,
                    is_dense,
                }
            },
        )
}
fn transform_stamped() -> impl Strategy<Value = TransformStamped> {
    (header(), text(), prop::array::uniform7(any::<f64>())).prop_map(|(header, child, v)| {
        TransformStamped {
            header,
            child_frame_id: child,
            transform: Transform {
                translation: Vector3 {
                    x: v[0],
                    y: v[1],
                    z: v[2],
                },
                rotation: Quaternion {
                    x: v[3],
                    y: v[4],
                    z: v[5],
                    w: v[6],
                },
            },
        }
    })
}
fn tf_message() -> impl Strategy<Value = TFMessage> {
    prop::collection::vec(transform_stamped(), 0..4).prop_map(|transforms| TFMessage { transforms })
}
fn compressed_video() -> impl Strategy<Value = CompressedVideo> {
    (time(), text(), bytes(), text()).prop_map(|(timestamp, frame_id, data, format)| {
        CompressedVideo {
            timestamp,
            frame_id,
            data,
            format,
        }
    })
}

/// Bit-exact round trip: the bytes re-encode identically and every field
/// (NaN payloads included, via Debug for NaN-aware comparison) matches.
fn assert_round_trip<M: RosMessage + std::fmt::Debug>(msg: &M) -> Result<(), TestCaseError> {
    let bytes = msg.to_cdr();
    let back = M::from_cdr(&bytes).map_err(|e| TestCaseError::fail(format!("{e}: {msg:?}")))?;
    prop_assert_eq!(back.to_cdr(), bytes);
    prop_assert_eq!(format!("{back:?}"), format!("{msg:?}"));
    Ok(())
}

/// Every strict prefix must be an error, and bit flips must not panic.
fn assert_hostile_safe<M: RosMessage>(
    msg: &M,
    flip_at: usize,
    flip: u8,
) -> Result<(), TestCaseError> {
    let bytes = msg.to_cdr();
    for cut in 0..bytes.len() {
        prop_assert!(
            M::from_cdr(&bytes[..cut]).is_err(),
            "prefix of {} bytes decoded",
            cut
        );
    }
    let mut mutated = bytes.clone();
    let i = flip_at % mutated.len();
    mutated[i] ^= flip | 1;
    let _ = M::from_cdr(&mutated);
    Ok(())
}

macro_rules! codec_props {
    ($($name:ident: $ty:ty = $strategy:expr;)*) => {
        $(
            mod $name {
                use super::*;
                proptest! {
                    #![proptest_config(ProptestConfig::with_cases(200))]
                    #[test]
                    fn round_trip(msg in $strategy) {
                        assert_round_trip::<$ty>(&msg)?;
                    }
                    #[test]
                    fn hostile_bytes(msg in $strategy, at in any::<usize>(), flip in any::<u8>()) {
                        assert_hostile_safe::<$ty>(&msg, at, flip)?;
                    }
                    #[test]
                    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..256)) {
                        let _ = <$ty>::from_cdr(&data);
                        let mut with_header = vec![0, 1, 0, 0];
                        with_header.extend_from_slice(&data);
                        let _ = <$ty>::from_cdr(&with_header);
                    }
                }
            }
        )*
    };
}

codec_props! {
    time_msg: Time = time();
    header_msg: Header = header();
    string_msg: StringMsg = text().prop_map(|data| StringMsg { data });
    joint_state_msg: JointState = joint_state();
    image_msg: Image = image();
    compressed_image_msg: CompressedImage = compressed_image();
    camera_info_msg: CameraInfo = camera_info();
    point_cloud_msg: PointCloud2 = point_cloud();
    transform_stamped_msg: TransformStamped = transform_stamped();
    tf_message_msg: TFMessage = tf_message();
    compressed_video_msg: CompressedVideo = compressed_video();
}

/// The JointState example of `shared/spec/mcap_ros2.md` §4, byte for byte
/// (checked there against mcap_ros2's encoder).
#[test]
fn joint_state_matches_the_reference_encoding() {
    let msg = JointState {
        header: Header {
            stamp: Time {
                sec: 1_700_000_000,
                nanosec: 0,
            },
            frame_id: String::new(),
        },
        name: vec!["shoulder".into(), "elbow".into(), "wrist".into()],
        position: vec![1.0, 2.0, 3.0],
        velocity: vec![4.0, 5.0, 6.0],
        effort: vec![7.0, 8.0, 9.0],
    };
    let bytes = msg.to_cdr();
    assert_eq!(bytes.len(), 156);
    assert_eq!(
        &bytes[..12],
        &[0, 1, 0, 0, 0x00, 0xf1, 0x53, 0x65, 0, 0, 0, 0]
    );
    assert_eq!(&bytes[12..20], &[1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&bytes[20..24], &[3, 0, 0, 0]);
    assert_eq!(&bytes[24..37], b"\x09\0\0\0shoulder\0");
    // position count at offset 60 (after the header), elements at 64.
    assert_eq!(&bytes[64..68], &[3, 0, 0, 0]);
    assert_eq!(&bytes[68..76], &1.0f64.to_le_bytes());
    // velocity count, then 4 bytes of padding before the f64s.
    assert_eq!(&bytes[92..96], &[3, 0, 0, 0]);
    assert_eq!(&bytes[100..108], &4.0f64.to_le_bytes());
}

#[test]
fn xcdr2_aligns_doubles_to_four() {
    // JointState with frame_id "abcd" and one position in plain XCDR2 LE:
    // the f64 follows its count at offset 28 (after the header), which is
    // 4-aligned but not 8-aligned: a reader aligning doubles to 8 (as
    // classic CDR does) would read it from 32 and get the velocity count.
    let mut b = vec![0, 7, 0, 0];
    b.extend_from_slice(&1i32.to_le_bytes());
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&5u32.to_le_bytes()); // frame_id "abcd" at 8
    b.extend_from_slice(b"abcd\0");
    b.extend_from_slice(&[0, 0, 0]); // to 20
    b.extend_from_slice(&0u32.to_le_bytes()); // names at 20
    b.extend_from_slice(&1u32.to_le_bytes()); // position count at 24
    let at = b.len() - 4;
    assert_eq!(at % 8, 4, "the double must sit at 4 mod 8");
    b.extend_from_slice(&0.5f64.to_le_bytes()); // at 28
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    let js = JointState::from_cdr(&b).unwrap();
    assert_eq!(js.position, vec![0.5]);
    assert_eq!(js.header.frame_id, "abcd");
    assert_eq!(js.header.stamp, Time { sec: 1, nanosec: 2 });
}
