//! Episode writer → reader: every message type survives bit-exact (NaNs,
//! empty arrays, a 1M-point cloud), metadata and attachments come back, and
//! the file is `.partial` until it is finished.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::Duration;

use reel_episode::ros2::builtin_interfaces::Time;
use reel_episode::ros2::foxglove_msgs::CompressedVideo;
use reel_episode::ros2::geometry_msgs::{Quaternion, Transform, TransformStamped, Vector3};
use reel_episode::ros2::sensor_msgs::{
    CameraInfo, CompressedImage, Image, JointState, PointCloud2,
};
use reel_episode::ros2::std_msgs::{Header, StringMsg};
use reel_episode::ros2::tf2_msgs::TFMessage;
use reel_episode::ros2::RosMessage;
use reel_episode::Error;
use reel_episode::{
    partial_path_for, EpisodeMeta, EpisodeReader, EpisodeWriter, EpisodeWriterOptions, FileState,
    Outcome, SourceKind,
};

fn nan_with_payload() -> f64 {
    f64::from_bits(0x7ff8_dead_beef_0001)
}

/// Writes one message of every type and checks it comes back bit-exact
/// through both the indexed and the linear read path.
#[test]
fn every_type_round_trips_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all_types.mcap");
    let mut w = EpisodeWriter::create(
        &path,
        EpisodeMeta::new("all types", "test"),
        reel_testkit::episodes::fast_options(),
    )
    .unwrap();

    let mut expected: Vec<(String, Vec<u8>, String)> = Vec::new();
    macro_rules! put {
        ($topic:expr, $msg:expr) => {{
            let msg = $msg;
            let topic = w.add_topic(&$topic).unwrap();
            let t = 1_700_000_000_000_000_000 + expected.len() as u64 * 1_000_000;
            w.write(topic, &msg, t, t).unwrap();
            expected.push(($topic.to_string(), msg.to_cdr(), format!("{msg:?}")));
        }};
    }
    put!(
        "/time",
        Time {
            sec: -5,
            nanosec: 999_999_999
        }
    );
    put!("/header", Header::new(42, "base_link"));
    put!("/string/empty", StringMsg::default());
    put!(
        "/string/unicode",
        StringMsg {
            data: "größe ✓ 日本".into()
        }
    );
    put!("/joints/empty", JointState::default());
    put!(
        "/joints/nan",
        JointState {
            header: Header::new(1, "base"),
            name: vec!["a".into(), "".into()],
            position: vec![f64::NAN, nan_with_payload()],
            velocity: vec![f64::INFINITY, f64::NEG_INFINITY],
            effort: vec![-0.0, f64::MIN_POSITIVE / 2.0],
        }
    );
    put!(
        "/image",
        Image {
            header: Header::new(2, "cam"),
            height: 2,
            width: 3,
            encoding: "rgb8".into(),
            is_bigendian: 0,
            step: 9,
            data: (0..18).collect(),
        }
    );
    put!(
        "/compressed",
        CompressedImage {
            header: Header::new(3, "cam"),
            format: "jpeg".into(),
            data: reel_testkit::synthetic_rig::jpeg_frame(32, 24, 0, 1),
        }
    );
    let mut info = reel_testkit::synthetic_rig::camera_info(640, 480, 4, "cam");
    info.d = vec![];
    info.k[1] = nan_with_payload();
    put!("/camera_info", info);
    // 1M points, 16 bytes each, every byte pattern present.
    let n = 1_000_000usize;
    let mut data = Vec::with_capacity(n * 16);
    let mut noise = reel_testkit::synthetic_rig::Noise::new(3);
    while data.len() < n * 16 {
        data.extend_from_slice(&noise.next_u64().to_le_bytes());
    }
    let mut cloud = reel_testkit::synthetic_rig::lidar_revolution(4, 5, 0.1, &mut noise);
    cloud.fields.truncate(4);
    cloud.point_step = 16;
    cloud.width = n as u32;
    cloud.row_step = (n * 16) as u32;
    cloud.data = data;
    cloud.is_dense = false;
    put!("/points", cloud);
    put!("/points/empty", PointCloud2::default());
    let tf = TransformStamped {
        header: Header::new(6, "world"),
        child_frame_id: "base".into(),
        transform: Transform {
            translation: Vector3 {
                x: 1.0,
                y: -2.0,
                z: nan_with_payload(),
            },
            rotation: Quaternion {
                x: 0.0,
                y: 0.0,
                z: std::f64::consts::FRAC_1_SQRT_2,
                w: std::f64::consts::FRAC_1_SQRT_2,
            },
        },
    };
    put!("/transform", tf.clone());
    put!(
        "/tf",
        TFMessage {
            transforms: vec![tf.clone(), tf]
        }
    );
    put!("/tf_static", TFMessage::default());
    put!(
        "/video",
        CompressedVideo {
            timestamp: Time { sec: 7, nanosec: 8 },
            frame_id: "cam".into(),
            data: vec![0, 0, 0, 1, 0x67, 0x42],
            format: "h264".into(),
        }
    );
    w.attach("rig.toml", "application/toml", b"[rig]\nname = \"t\"\n", 0)
        .unwrap();
    let path = w.finish().unwrap();

    let reader = EpisodeReader::open(&path).unwrap();
    assert_eq!(reader.state(), &FileState::Closed);
    assert_eq!(reader.profile(), "ros2");
    assert!(reader
        .summary()
        .is_some_and(|s| !s.chunk_indexes.is_empty()));

    let indexed: Vec<_> = reader.messages().map(Result::unwrap).collect();
    assert_eq!(indexed.len(), expected.len());
    let linear: Vec<_> = reader
        .scan()
        .filter_map(|e| match e {
            reel_episode::ScanEvent::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(linear.len(), expected.len());

    for (i, ((topic, bytes, debug), (a, b))) in
        expected.iter().zip(indexed.iter().zip(&linear)).enumerate()
    {
        assert_eq!(&a.channel.topic, topic);
        assert_eq!(
            a.data.as_ref(),
            bytes.as_slice(),
            "{topic}: indexed bytes differ"
        );
        assert_eq!(
            b.data.as_ref(),
            bytes.as_slice(),
            "{topic}: linear bytes differ"
        );
        let schema = a.channel.schema.as_ref().unwrap();
        assert_eq!(schema.encoding, "ros2msg");
        assert_eq!(a.channel.message_encoding, "cdr");
        assert!(a.channel.metadata.contains_key("offered_qos_profiles"));
        // Decoding as the schema's type gives the same value, NaN payloads included.
        let decoded = match schema.name.as_str() {
            "sensor_msgs/msg/JointState" => {
                format!("{:?}", reader.decode::<JointState>(a, i as u64).unwrap())
            }
            "sensor_msgs/msg/PointCloud2" => {
                format!("{:?}", reader.decode::<PointCloud2>(a, i as u64).unwrap())
            }
            "sensor_msgs/msg/CameraInfo" => {
                format!("{:?}", reader.decode::<CameraInfo>(a, i as u64).unwrap())
            }
            "sensor_msgs/msg/CompressedImage" => {
                format!(
                    "{:?}",
                    reader.decode::<CompressedImage>(a, i as u64).unwrap()
                )
            }
            "sensor_msgs/msg/Image" => {
                format!("{:?}", reader.decode::<Image>(a, i as u64).unwrap())
            }
            "tf2_msgs/msg/TFMessage" => {
                format!("{:?}", reader.decode::<TFMessage>(a, i as u64).unwrap())
            }
            "geometry_msgs/msg/TransformStamped" => {
                format!(
                    "{:?}",
                    reader.decode::<TransformStamped>(a, i as u64).unwrap()
                )
            }
            "foxglove_msgs/msg/CompressedVideo" => {
                format!(
                    "{:?}",
                    reader.decode::<CompressedVideo>(a, i as u64).unwrap()
                )
            }
            "std_msgs/msg/String" => {
                format!("{:?}", reader.decode::<StringMsg>(a, i as u64).unwrap())
            }
            "std_msgs/msg/Header" => format!("{:?}", reader.decode::<Header>(a, i as u64).unwrap()),
            "builtin_interfaces/msg/Time" => {
                format!("{:?}", reader.decode::<Time>(a, i as u64).unwrap())
            }
            other => panic!("unexpected schema {other}"),
        };
        assert_eq!(&decoded, debug);
        assert!(reel_episode::ros2::check_decodes(&schema.name, &a.data)
            .unwrap()
            .is_ok());
    }
    let attachments = reader.attachments().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0].name, "rig.toml");
    assert_eq!(attachments[0].data, b"[rig]\nname = \"t\"\n");
}

#[test]
fn episode_is_partial_until_finished_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ep.mcap");
    let mut w = EpisodeWriter::create(
        &path,
        EpisodeMeta::new("t", "r"),
        reel_testkit::episodes::fast_options(),
    )
    .unwrap();
    let topic = w.add_topic::<StringMsg>("/episode/events").unwrap();
    w.write(topic, &StringMsg { data: "x".into() }, 1, 1)
        .unwrap();
    assert!(partial_path_for(&path).exists());
    assert!(!path.exists());
    // A second writer on the same name is refused while the first runs.
    let err = EpisodeWriter::create(
        &path,
        EpisodeMeta::new("t", "r"),
        reel_testkit::episodes::fast_options(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    // Same topic, other type: refused.
    assert!(matches!(
        w.add_topic::<JointState>("/episode/events"),
        Err(Error::TopicTypeMismatch { .. })
    ));
    let done = w.finish().unwrap();
    assert_eq!(done, path);
    assert!(path.exists());
    assert!(!partial_path_for(&path).exists());
    let before = std::fs::read(&path).unwrap();
    let err = EpisodeWriter::create(
        &path,
        EpisodeMeta::new("t", "r"),
        reel_testkit::episodes::fast_options(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "existing episode was touched"
    );
}

#[test]
fn metadata_is_stored_at_open_and_updated_at_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.mcap");
    let mut meta = EpisodeMeta::new("pick the cube", "so101");
    meta.source = SourceKind::Sim;
    meta.seed = Some(7);
    meta.operator = Some("op".into());
    let mut w =
        EpisodeWriter::create(&path, meta.clone(), reel_testkit::episodes::fast_options()).unwrap();
    // Readable before the episode is finished (a crash keeps it).
    let r = EpisodeReader::open(w.partial_path()).unwrap();
    assert_eq!(r.state(), &FileState::Truncated);
    assert_eq!(r.episode_meta().unwrap().unwrap(), meta);
    w.set_outcome(Outcome::Success);
    let path = w.finish().unwrap();
    let r = EpisodeReader::open(&path).unwrap();
    let stored = r.episode_meta().unwrap().unwrap();
    assert_eq!(stored.outcome, Outcome::Success);
    assert_eq!(stored.seed, Some(7));
    assert_eq!(stored.episode_id, meta.episode_id);
    assert_eq!(r.metadata().unwrap().len(), 2);
}

/// With a large byte limit, chunks still close on the time limit.
#[test]
fn chunks_close_on_the_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timed.mcap");
    let options = EpisodeWriterOptions {
        chunk_size_bytes: 1 << 30,
        max_chunk_duration: Duration::from_millis(40),
        sync_on_flush: true,
        ..Default::default()
    };
    let mut w = EpisodeWriter::create(&path, EpisodeMeta::new("t", "r"), options).unwrap();
    let topic = w.add_topic::<StringMsg>("/episode/events").unwrap();
    for i in 0..5u64 {
        w.write(
            topic,
            &StringMsg {
                data: i.to_string(),
            },
            i,
            i,
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    // Each write came more than the limit after the last flush, so it closed its chunk.
    let readable = |w: &EpisodeWriter| {
        let r = EpisodeReader::open(w.partial_path()).unwrap();
        r.messages().filter(Result::is_ok).count()
    };
    assert_eq!(readable(&w), 5);
    // A write right after a flush stays in the open chunk until the limit
    // passes and a write or a timer tick (`flush_if_due`) closes it.
    w.flush().unwrap();
    w.write(topic, &StringMsg { data: "6".into() }, 6, 6)
        .unwrap();
    assert_eq!(readable(&w), 5);
    assert!(!w.flush_if_due().unwrap());
    std::thread::sleep(Duration::from_millis(50));
    assert!(w.flush_if_due().unwrap());
    assert_eq!(readable(&w), 6);
    let path = w.finish().unwrap();
    let r = EpisodeReader::open(&path).unwrap();
    assert!(r.summary().unwrap().chunk_indexes.len() >= 5);
}

/// A file without a summary is read linearly.
#[test]
fn files_without_summary_are_read_linearly() {
    let Some(testdata) = reel_testkit::skip::testdata("files_without_summary_are_read_linearly")
    else {
        return;
    };
    let path = testdata.join("mcap/foxglove_conformance/TenMessages-pad.mcap");
    let r = EpisodeReader::open(&path).unwrap();
    assert!(r.summary().is_none());
    assert_eq!(r.state(), &FileState::ClosedWithoutSummary);
    assert_eq!(r.messages().map(Result::unwrap).count(), 10);
}

/// A mixed episode of the synthetic rig reads back in full through both paths.
#[test]
fn synthetic_rig_episode_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = reel_testkit::episodes::write_small_episode(
        &dir.path().join("rig.mcap"),
        2.0,
        reel_testkit::episodes::fast_options(),
    );
    let info = reel_episode::info(&path).unwrap();
    assert!(info.cleanly_closed, "{:?}", info.problems);
    let joints = info
        .topics
        .iter()
        .find(|t| t.topic == "/robot/arm0/joint_states")
        .unwrap();
    assert_eq!(joints.message_count, 400);
    assert!((joints.mean_rate_hz.unwrap() - 200.0).abs() < 0.5);
    assert!((joints.worst_gap_secs.unwrap() - 0.005).abs() < 1e-6);
    let cams = info
        .topics
        .iter()
        .find(|t| t.topic == "/camera/cam0/image/compressed")
        .unwrap();
    assert_eq!(cams.message_count, 60);
    assert_eq!(
        reel_testkit::episodes::all_messages(&path).len() as u64,
        info.message_count
    );
}

#[test]
fn a_topic_of_another_writer_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = EpisodeWriter::create(
        dir.path().join("a.mcap"),
        EpisodeMeta::new("t", "r"),
        reel_testkit::episodes::fast_options(),
    )
    .unwrap();
    let mut b = EpisodeWriter::create(
        dir.path().join("b.mcap"),
        EpisodeMeta::new("t", "r"),
        reel_testkit::episodes::fast_options(),
    )
    .unwrap();
    let _ = a.add_topic::<StringMsg>("/one").unwrap();
    let second = a.add_topic::<StringMsg>("/two").unwrap();
    let err = b.write(second, &StringMsg::default(), 0, 0).unwrap_err();
    assert!(matches!(err, Error::UnknownTopic { .. }), "{err}");
}
