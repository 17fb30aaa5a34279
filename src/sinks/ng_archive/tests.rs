use super::*;
use std::sync::Arc;

fn noisy_frame(seed: u8) -> Frame {
    // Pseudo-random pixels so PNG cannot compress them away: each file is ~the raw size.
    let data: Vec<u8> = (0..64 * 64 * 3u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 ^ seed).collect();
    Frame::still(64, 64, PixelFormat::Rgb8, data)
}

/// The name the station gives part `i`'s image.
fn stem(i: u8) -> String {
    format!("2026-11-29T21-00-{i:02}.000Z_{i:08}_recipe-a")
}

#[test]
fn quota_deletes_oldest_first_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = NgArchive::open(dir.path(), 40_000, 0, Arc::default()).unwrap();
    for i in 0..5u8 {
        assert!(a.save(&noisy_frame(i), &stem(i), "").is_some());
    }
    assert!(a.bytes() <= 40_000, "archive holds {} bytes over its quota", a.bytes());
    assert!(a.metrics.snapshot().archive_evicted >= 1);
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.contains(&format!("{}.png", stem(4))), "newest kept: {names:?}");
    assert!(!names.contains(&format!("{}.png", stem(0))), "oldest deleted: {names:?}");
    let reopened = NgArchive::open(dir.path(), 40_000, 0, Arc::default()).unwrap();
    assert_eq!(reopened.bytes(), a.bytes());
}

#[test]
fn unwritable_folder_is_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = NgArchive::open(dir.path(), 10_000_000, 0, Arc::default()).unwrap();
    std::fs::remove_dir_all(dir.path()).unwrap();
    assert!(a.save(&noisy_frame(1), &stem(1), "").is_none());
    assert!(a.save(&noisy_frame(2), &stem(2), "").is_none());
    assert_eq!(a.metrics.snapshot().archive_write_errors, 2);
    assert_eq!(a.bytes(), 0);
}

#[test]
fn a_folder_with_files_the_archive_did_not_write_is_refused_and_nothing_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("recipe-a.png");
    std::fs::write(&reference, b"a recipe reference").unwrap();
    match NgArchive::open(dir.path(), 1024 * 1024, 0, Arc::default()) {
        Err(e @ ArchiveError::Foreign { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("records.archive.dir") && msg.contains("recipe-a.png"), "{msg}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a folder of references was taken as the archive"),
    }
    assert!(reference.is_file());
}

#[test]
fn the_quota_deletes_only_images_the_archive_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = NgArchive::open(dir.path(), 40_000, 0, Arc::default()).unwrap();
    assert!(a.save(&noisy_frame(0), &stem(0), "").is_some());
    // Dropped in after the start: the quota must leave it alone.
    let other = dir.path().join("0000-reference.png");
    std::fs::write(&other, vec![0u8; 30_000]).unwrap();
    for i in 1..6u8 {
        assert!(a.save(&noisy_frame(i), &stem(i), "").is_some());
    }
    assert!(a.metrics.snapshot().archive_evicted >= 1);
    assert!(other.is_file(), "a file the archive did not write was deleted");
}

#[test]
fn archive_names_are_recognised() {
    assert!(is_archive_name(&format!("{}.png", stem(3))));
    assert!(is_archive_name("2026-11-29T21-00-03.000Z_123456789_electrode.png"));
    for other in
        ["recipe-a.png", "t000.png", "2026-11-29T21-00-03.000Z_123_a.png", "2026-11-29T21-00-03.000Z_00000001_a.jpg"]
    {
        assert!(!is_archive_name(other), "{other}");
    }
}

#[test]
fn archiving_stops_while_the_disk_is_under_its_free_space_floor() {
    let dir = tempfile::tempdir().unwrap();
    // A floor no disk meets: every image is skipped, counted, and nothing is written.
    let mut a = NgArchive::open(dir.path(), 40_000, u64::MAX / 2, Arc::default()).unwrap();
    assert!(a.save(&noisy_frame(0), &stem(0), "").is_none());
    assert!(a.save(&noisy_frame(1), &stem(1), "").is_none());
    let m = a.metrics.snapshot();
    assert_eq!((m.archive_skipped_low_space, m.archive_saved, m.archive_write_errors), (2, 0, 0));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
