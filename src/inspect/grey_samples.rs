//! The frame checks' view of a frame: grey levels on a sparse grid, read in one pass that feeds every
//! check (exposure statistics, the reference layout), so that both checks see the same pixels and the
//! frame, cold from the camera's buffer, is fetched once.

use crate::sources::{Frame, PixelFormat};

/// At most this many pixels are sampled per frame: the shares the exposure bounds are about (a mean, a
/// spread, 90 % dark) are within half a percent from 4096 samples, and the reference layout gets 16 or
/// more per cell of its 8 x 32 grid.
pub const MAX_SAMPLES: usize = 4_096;

/// Calls `visit(x, y, grey)` for each sampled pixel, grey as a fraction of full scale (RGB by BT.601
/// luma, 16-bit by its full range). The grid steps equally in both directions (square whatever the
/// aspect ratio), and each sampled row starts one column further on: a texture whose period divides the
/// step (alternate columns of an X-ray grid) is not sampled on its bright or dark columns only. Returns
/// `false`, visiting nothing, for a frame with no pixels or with fewer bytes than its size needs.
pub fn for_each(frame: &Frame, mut visit: impl FnMut(usize, usize, f32)) -> bool {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let bpp = frame.format.bytes_per_pixel();
    if w == 0 || h == 0 || frame.data.len() < w * h * bpp {
        return false;
    }
    let step = (((w * h) as f64 / MAX_SAMPLES as f64).sqrt().ceil() as usize).max(1);
    let grey = |p: &[u8]| -> f32 {
        match frame.format {
            PixelFormat::Gray8 => p[0] as f32 / 255.0,
            PixelFormat::Gray16 => u16::from_le_bytes([p[0], p[1]]) as f32 / 65535.0,
            PixelFormat::Rgb8 => (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0,
        }
    };
    for (k, y) in (0..h).step_by(step).enumerate() {
        let row = &frame.data[y * w * bpp..(y + 1) * w * bpp];
        for x in (k % step..w).step_by(step) {
            visit(x, y, grey(&row[x * bpp..]));
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visited(frame: &Frame) -> Vec<(usize, usize, f32)> {
        let mut out = Vec::new();
        for_each(frame, |x, y, g| out.push((x, y, g)));
        out
    }

    #[test]
    fn a_small_frame_is_read_whole_and_a_large_one_on_at_most_4096_pixels_spanning_it() {
        let small = Frame::still(64, 48, PixelFormat::Gray8, vec![51; 64 * 48]);
        let got = visited(&small);
        assert_eq!(got.len(), 64 * 48);
        assert!(got.iter().all(|&(_, _, g)| g == 0.2));
        let hd = visited(&Frame::still(1920, 1080, PixelFormat::Gray8, vec![0; 1920 * 1080]));
        assert!((MAX_SAMPLES / 2..=MAX_SAMPLES).contains(&hd.len()), "{}", hd.len());
        let (max_x, max_y) = hd.iter().fold((0, 0), |(a, b), &(x, y, _)| (a.max(x), b.max(y)));
        assert!(max_x > 1900 && max_y > 1050, "the grid spans the frame: up to ({max_x}, {max_y})");
    }

    #[test]
    fn each_format_gives_grey_as_a_fraction_of_full_scale() {
        let one = |format, data: Vec<u8>| visited(&Frame::still(1, 1, format, data))[0].2;
        assert_eq!(one(PixelFormat::Gray8, vec![255]), 1.0);
        assert_eq!(one(PixelFormat::Gray16, 32768u16.to_le_bytes().to_vec()), 32768.0 / 65535.0);
        assert!((one(PixelFormat::Rgb8, vec![0, 255, 0]) - 0.587).abs() < 1e-6);
    }

    #[test]
    fn a_frame_with_no_pixels_or_too_few_bytes_is_not_read() {
        for frame in
            [Frame::still(0, 16, PixelFormat::Gray8, vec![]), Frame::still(64, 16, PixelFormat::Rgb8, vec![0; 64 * 16])]
        {
            assert!(!for_each(&frame, |_, _, _| panic!("visited")));
        }
    }
}
