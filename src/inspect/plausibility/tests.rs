use super::*;
use crate::sources::PixelFormat;

impl FrameChecks {
    /// A check of a part with no recipe reference to compare with.
    fn check0(
        &mut self,
        cavity: usize,
        camera: &Frame,
        xray: Option<&Frame>,
    ) -> (Result<(), ImplausiblePart>, Option<bool>) {
        self.check(cavity, camera, xray, "")
    }
}

fn frame(format: PixelFormat, w: u32, h: u32, px: impl Fn(usize, usize) -> Vec<u8>) -> Frame {
    let mut data = Vec::new();
    for y in 0..h as usize {
        for x in 0..w as usize {
            data.extend(px(x, y));
        }
    }
    Frame::still(w, h, format, data)
}

fn grey(v: u8) -> Frame {
    frame(PixelFormat::Gray8, 64, 16, |_, _| vec![v])
}

/// A textured frame like a seal band: stripes of two grey levels.
fn textured(lo: u8, hi: u8) -> Frame {
    frame(PixelFormat::Rgb8, 256, 64, |x, _| if (x / 4) % 2 == 0 { vec![lo; 3] } else { vec![hi; 3] })
}

fn verdict(f: &Frame) -> Option<Implausible> {
    let b = Bounds::default();
    b.check(&FrameStats::of(f, &b))
}

#[test]
fn blank_frames_of_every_kind_are_refused_with_their_reason() {
    let black = verdict(&grey(0)).map(|i| i.reason);
    assert!(black.as_deref().is_some_and(|r| r.starts_with("too dark")), "{black:?}");
    let white = verdict(&grey(255)).map(|i| i.reason);
    assert!(white.as_deref().is_some_and(|r| r.starts_with("too bright")), "{white:?}");
    let mid = verdict(&grey(128)).map(|i| i.reason);
    assert!(mid.as_deref().is_some_and(|r| r.starts_with("flat")), "{mid:?}");
    let one = frame(PixelFormat::Rgb8, 1, 1, |_, _| vec![120, 130, 140]);
    assert!(verdict(&one).is_some(), "a 1x1 frame shows no part");
    // A lens cap with sensor noise: dark, a little texture.
    let cap = frame(PixelFormat::Gray8, 200, 100, |x, y| vec![((x * 7 + y * 13) % 5) as u8]);
    assert!(verdict(&cap).is_some());
    // Mostly black with a bright corner: dark share over the bound though the mean passes.
    let corner = frame(PixelFormat::Gray8, 100, 100, |x, y| vec![if x < 30 && y < 30 { 250 } else { 0 }]);
    let r = verdict(&corner).map(|i| i.reason);
    assert!(r.as_deref().is_some_and(|r| r.contains("dark")), "{r:?}");
    // Most of the frame blown out.
    let blown = frame(PixelFormat::Gray8, 100, 100, |x, _| vec![if x < 85 { 255 } else { 100 }]);
    let r = verdict(&blown).map(|i| i.reason);
    assert!(r.as_deref().is_some_and(|r| r.contains("saturated")), "{r:?}");
}

#[test]
fn textured_frames_pass_in_every_pixel_format() {
    assert_eq!(verdict(&textured(60, 180)), None);
    // A black-and-white chart (the HIL's vivid checkers): half dark, half saturated, a real scene.
    assert_eq!(verdict(&textured(0, 255)), None);
    // A low-contrast electrode coating (std about 0.02 of full scale) still passes.
    assert_eq!(verdict(&textured(55, 65)), None);
    // 16-bit X-ray: full 16-bit range, the low byte matters.
    let xray = frame(PixelFormat::Gray16, 128, 128, |x, _| {
        let v: u16 = if x % 2 == 0 { 40_000 } else { 44_000 };
        v.to_le_bytes().to_vec()
    });
    assert_eq!(verdict(&xray), None);
    let flat16 = frame(PixelFormat::Gray16, 128, 128, |_, _| 40_000u16.to_le_bytes().to_vec());
    assert!(verdict(&flat16).is_some());
}

#[test]
fn each_bound_admits_a_frame_exactly_at_it_and_refuses_one_just_past_it() {
    let b = Bounds::default();
    let fine = FrameStats { mean: 0.5, contrast: 0.2, dark_fraction: 0.1, saturated_fraction: 0.1, samples: 100 };
    assert_eq!(b.check(&fine), None);
    let at = [
        FrameStats { mean: b.min_mean, ..fine },
        FrameStats { mean: b.max_mean, ..fine },
        FrameStats { contrast: b.min_contrast, ..fine },
        FrameStats { dark_fraction: b.max_dark_fraction, ..fine },
        FrameStats { saturated_fraction: b.max_saturated_fraction, ..fine },
    ];
    for s in at {
        assert_eq!(b.check(&s), None, "at the bound: {s:?}");
    }
    let step = 1e-4;
    let past = [
        (FrameStats { mean: b.min_mean - step, ..fine }, "too dark"),
        (FrameStats { mean: b.max_mean + step, ..fine }, "too bright"),
        (FrameStats { contrast: b.min_contrast - step, ..fine }, "flat"),
        (FrameStats { dark_fraction: b.max_dark_fraction + step, ..fine }, "dark ("),
        (FrameStats { saturated_fraction: b.max_saturated_fraction + step, ..fine }, "saturated ("),
    ];
    for (s, why) in past {
        let got = b.check(&s);
        assert!(got.as_ref().is_some_and(|i| i.reason.contains(why) && i.stats == s), "{s:?}: {got:?}");
    }
}

#[test]
fn a_frame_with_no_pixels_or_fewer_bytes_than_its_size_is_black_and_refused() {
    let empty = |w, h, format, len| FrameStats::of(&Frame::still(w, h, format, vec![128u8; len]), &Bounds::default());
    let black = FrameStats { mean: 0.0, contrast: 0.0, dark_fraction: 1.0, saturated_fraction: 0.0, samples: 0 };
    for (w, h, format, len) in [
        (64, 0, PixelFormat::Gray8, 0),
        (0, 16, PixelFormat::Gray8, 0),
        (0, 0, PixelFormat::Rgb8, 30),
        // One byte short, and an RGB frame that carries one byte per pixel.
        (64, 16, PixelFormat::Gray8, 64 * 16 - 1),
        (64, 16, PixelFormat::Rgb8, 64 * 16),
        (64, 16, PixelFormat::Gray16, 64 * 16 + 64),
    ] {
        let s = empty(w, h, format, len);
        assert_eq!(s, black, "{w}x{h} {format:?} in {len} bytes");
        assert!(Bounds::default().check(&s).is_some_and(|i| i.reason.starts_with("too dark")));
    }
    // Bytes to spare are fine (a driver's padded buffer): the frame is read, not refused.
    assert_eq!(empty(64, 16, PixelFormat::Gray8, 64 * 16 + 7).mean, 128.0 / 255.0);
}

#[test]
fn colour_frames_are_judged_by_their_luma() {
    let uniform =
        |rgb: [u8; 3]| FrameStats::of(&frame(PixelFormat::Rgb8, 32, 8, |_, _| rgb.to_vec()), &Bounds::default());
    for (rgb, luma) in [([255, 0, 0], 0.299), ([0, 255, 0], 0.587), ([0, 0, 255], 0.114), ([255, 255, 255], 1.0)] {
        let s = uniform(rgb);
        assert!((s.mean - luma).abs() < 1e-5, "{rgb:?}: {s:?}");
        assert_eq!((s.contrast, s.samples), (0.0, 256), "{rgb:?}");
    }
}

#[test]
fn a_column_texture_is_seen_although_its_period_divides_the_sampling_step() {
    // A line-scan strip, 16384x16 (sampled every 8th pixel, two sampled rows), its columns alternately
    // dark and bright (an X-ray grid): an unstaggered grid would see one column colour only, a flat frame.
    let strip = frame(PixelFormat::Gray8, 16384, 16, |x, _| vec![if x % 2 == 0 { 60 } else { 180 }]);
    let s = FrameStats::of(&strip, &Bounds::default());
    assert!((s.contrast - 60.0 / 255.0).abs() < 0.01 && (s.mean - 120.0 / 255.0).abs() < 0.01, "{s:?}");
    assert_eq!(verdict(&strip), None);
}

#[test]
fn statistics_of_a_large_frame_are_sampled_but_exact_for_a_regular_pattern() {
    // 1920x1080 half black, half white (left/right): mean 0.5, contrast 0.5.
    let f = frame(PixelFormat::Gray8, 1920, 1080, |x, _| vec![if x < 960 { 0 } else { 255 }]);
    let s = FrameStats::of(&f, &Bounds::default());
    assert!((s.mean - 0.5).abs() < 0.01, "{s:?}");
    assert!((s.contrast - 0.5).abs() < 0.01, "{s:?}");
    assert!((s.dark_fraction - 0.5).abs() < 0.01 && (s.saturated_fraction - 0.5).abs() < 0.01, "{s:?}");
}

#[test]
fn the_alarm_goes_on_at_the_nth_implausible_part_in_a_row_and_off_at_the_next_good_one() {
    let mut c = FrameChecks::new(&PlausibilityConfig::default()).expect("enabled by default");
    let (good, blank) = (textured(60, 180), grey(0));
    assert_eq!(c.check0(0, &blank, None).1, None);
    assert_eq!(c.check0(0, &blank, None).1, None);
    assert!(!c.alarmed(), "two implausible parts are not yet a run");
    // A good frame in between restarts the count.
    assert_eq!(c.check0(0, &good, None), (Ok(()), None));
    assert_eq!(c.check0(0, &blank, None).1, None);
    assert_eq!(c.check0(0, &blank, None).1, None);
    let (r, change) = c.check0(0, &blank, None);
    assert!(r.is_err());
    assert_eq!(change, Some(true), "third in a row (the default alarm_after)");
    assert!(c.alarmed(), "on: the capture step looks at the camera between parts");
    assert_eq!(c.check0(0, &blank, None).1, None, "the alarm is raised once per run");
    assert_eq!(c.check0(0, &good, None), (Ok(()), Some(false)));
    assert!(!c.alarmed());
    assert_eq!(c.check0(0, &good, None).1, None);
}

#[test]
fn one_blocked_cavity_alarms_although_the_other_cavities_see_parts() {
    let mut c = FrameChecks::new(&PlausibilityConfig::default()).expect("enabled by default");
    let (good, blank) = (textured(60, 180), grey(0));
    let mut changes = Vec::new();
    for _ in 0..3 {
        changes.push(c.check0(0, &good, None).1);
        changes.push(c.check0(1, &blank, None).1);
    }
    assert_eq!(changes, [None, None, None, None, None, Some(true)], "cavity 1's third blank frame");
    assert_eq!(c.check0(0, &good, None).1, None, "cavity 0 does not clear cavity 1's run");
    assert_eq!(c.check0(1, &good, None).1, Some(false));
}

#[test]
fn a_pair_is_refused_for_either_frame_and_alarms_for_either_imager() {
    let cfg = PlausibilityConfig { alarm_after: 2, ..PlausibilityConfig::default() };
    let mut c = FrameChecks::new(&cfg).expect("enabled by default");
    let good = textured(60, 180);
    let (r, change) = c.check0(0, &good, Some(&grey(255)));
    assert!(
        matches!(&r, Err(ImplausiblePart::Exposure { imager: Imager::Xray, why }) if why.reason.starts_with("too bright")),
        "{r:?}"
    );
    let shown = r.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(shown.starts_with("X-ray imager: implausible frame: too bright"), "what the record says: {shown}");
    assert_eq!(change, None);
    let (r, change) = c.check0(0, &grey(0), Some(&good));
    assert!(
        matches!(&r, Err(ImplausiblePart::Exposure { imager: Imager::Camera, why }) if why.reason.starts_with("too dark")),
        "{r:?}"
    );
    assert_eq!(change, Some(true), "two implausible parts in a row, either imager: alarm");
    assert_eq!(c.check0(0, &good, Some(&good)), (Ok(()), Some(false)));
    assert!(FrameChecks::new(&PlausibilityConfig { enabled: false, ..cfg }).is_none());
}

#[test]
fn with_references_a_frame_of_another_scene_is_refused_and_its_own_scene_passes() {
    use crate::inspect::reference_similarity::Layout;
    // Halves: the reference dark above and bright below, the wrong scene dark left and bright right.
    let split = |across: bool| {
        frame(PixelFormat::Rgb8, 256, 64, move |x, y| {
            let dark = if across { x < 128 } else { y < 32 };
            vec![if dark { 60 } else { 180 }; 3]
        })
    };
    let refs = ReferenceCheck::new(0.5, &Default::default()).expect("no files to read");
    refs.set("r", Layout::of(&split(false)).expect("not flat"));
    let mut c = FrameChecks::new(&PlausibilityConfig::default()).expect("enabled by default").with_references(refs);
    assert_eq!(c.check(0, &split(false), None, "r").0, Ok(()));
    let (r, _) = c.check(0, &split(true), None, "r");
    assert!(matches!(&r, Err(ImplausiblePart::Reference(f)) if f.recipe == "r"), "{r:?}");
}
