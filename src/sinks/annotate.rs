//! The electrode station's NG picture: the visible image with the segmentation overlaid and each defect's
//! box and label, the X-ray beside it with the same boxes, in one PNG a person reads at a glance.

use font8x8::legacy::BASIC_LEGACY;
use image::{Rgb, RgbImage};

use crate::inspect::electrode::ElectrodeResult;
use crate::sources::{Frame, PixelFormat};

/// One colour per class, in label order; chosen to stay apart on dark coating and grey X-ray.
pub const CLASS_COLOURS: [[u8; 3]; 5] = [[255, 220, 0], [255, 64, 160], [0, 200, 255], [255, 120, 0], [80, 255, 80]];
const MASK_ALPHA: f32 = 0.45;

fn rgb_of(frame: &Frame, x: u32, y: u32) -> [u8; 3] {
    let i = (y * frame.width + x) as usize;
    match frame.format {
        PixelFormat::Rgb8 => [frame.data[3 * i], frame.data[3 * i + 1], frame.data[3 * i + 2]],
        PixelFormat::Gray8 => [frame.data[i]; 3],
        PixelFormat::Gray16 => [frame.data[2 * i + 1]; 3], // the high byte of little-endian 16 bits
    }
}

fn rect(img: &mut RgbImage, b: [f32; 4], x_off: u32, colour: [u8; 3], frame_w: u32) {
    let (w, h) = (frame_w as i64, img.height() as i64);
    let clamp = |v: f32, hi: i64| (v.round() as i64).clamp(0, hi - 1);
    let (x0, y0, x1, y1) = (clamp(b[0], w), clamp(b[1], h), clamp(b[2], w), clamp(b[3], h));
    for t in 0..2 {
        for x in x0..=x1 {
            for y in [y0 + t, y1 - t] {
                img.put_pixel(x_off + x as u32, y.clamp(0, h - 1) as u32, Rgb(colour));
            }
        }
        for y in y0..=y1 {
            for x in [x0 + t, x1 - t] {
                img.put_pixel(x_off + x.clamp(0, w - 1) as u32, y as u32, Rgb(colour));
            }
        }
    }
}

/// Draws `text` with the 8x8 bitmap font on a dark band, its top-left at (x, y), clipped to the image.
fn label(img: &mut RgbImage, text: &str, x: i64, y: i64, colour: [u8; 3]) {
    for (n, ch) in text.chars().enumerate() {
        let glyph = BASIC_LEGACY.get(ch as usize).copied().unwrap_or([0; 8]);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                let (px, py) = (x + (n * 8 + col) as i64, y + row as i64);
                if px < 0 || py < 0 || px >= img.width() as i64 || py >= img.height() as i64 {
                    continue;
                }
                let on = bits >> col & 1 == 1;
                img.put_pixel(px as u32, py as u32, Rgb(if on { colour } else { [0, 0, 0] }));
            }
        }
    }
}

/// Visible (with mask and labelled boxes) | X-ray (with boxes), both at the visible frame's size.
pub fn annotate(visible: &Frame, xray: &Frame, result: &ElectrodeResult) -> RgbImage {
    let (w, h) = (visible.width, visible.height);
    let (mw, mh) = result.mask_size;
    let mut img = RgbImage::new(2 * w, h);
    for y in 0..h {
        for x in 0..w {
            let mut p = rgb_of(visible, x, y);
            if mw > 0 && mh > 0 {
                let k = result.mask[(y as usize * mh / h as usize) * mw + x as usize * mw / w as usize];
                if k > 0 {
                    let c = CLASS_COLOURS[(k - 1) as usize % CLASS_COLOURS.len()];
                    p = [0, 1, 2].map(|i| (p[i] as f32 * (1.0 - MASK_ALPHA) + c[i] as f32 * MASK_ALPHA) as u8);
                }
            }
            img.put_pixel(x, y, Rgb(p));
            // The X-ray as the imager saw it, scaled to the visible frame's grid.
            let (xx, xy) = (x * xray.width / w, y * xray.height / h);
            img.put_pixel(w + x, y, Rgb(rgb_of(xray, xx, xy)));
        }
    }
    for d in &result.detections {
        let c = CLASS_COLOURS[d.class % CLASS_COLOURS.len()];
        rect(&mut img, d.bbox, 0, c, w);
        rect(&mut img, d.bbox, w, c, w);
        let text = format!("{} {:.2}", d.label, d.score);
        let ly = if d.bbox[1] >= 10.0 { d.bbox[1] as i64 - 10 } else { d.bbox[3] as i64 + 2 };
        let lx = (d.bbox[0] as i64).min(w as i64 - 8 * text.len() as i64).max(0);
        label(&mut img, &text, lx, ly, c);
    }
    img
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::inspect::electrode::rules::ClassPresence;
    use crate::inspect::electrode::Detection;

    fn frame(w: u32, h: u32, format: PixelFormat, v: u8) -> Frame {
        Frame::still(w, h, format, vec![v; (w * h) as usize * format.bytes_per_pixel()])
    }

    #[test]
    fn ng_picture_shows_mask_boxes_and_labels_beside_the_xray() {
        let (vis, xr) = (frame(64, 48, PixelFormat::Rgb8, 40), frame(64, 48, PixelFormat::Gray8, 150));
        // A crack segmented at mask cells (8..12, 20..24) of a 32x24 mask (half resolution).
        let mut mask = vec![0u8; 32 * 24];
        for y in 20..24 {
            for x in 8..12 {
                mask[y * 32 + x] = 5;
            }
        }
        let d = Detection { class: 4, label: "crack", score: 0.87, bbox: [14.0, 38.0, 26.0, 47.0], area_px: 64.0 };
        let r = ElectrodeResult {
            detections: vec![d],
            presence: ClassPresence([0.0; 5]),
            area_px: vec![0.0; 5],
            mask,
            mask_size: (32, 24),
        };
        let img = annotate(&vis, &xr, &r);
        assert_eq!(img.dimensions(), (128, 48));
        let crack = CLASS_COLOURS[4];
        assert_eq!(img.get_pixel(14, 42).0, crack, "box edge on the visible side");
        assert_eq!(img.get_pixel(64 + 14, 42).0, crack, "same box on the X-ray side");
        let blended = img.get_pixel(18, 42).0;
        assert!(blended != [40, 40, 40] && blended[1] > blended[0], "mask overlay in the crack colour: {blended:?}");
        assert_eq!(img.get_pixel(2, 2).0, [40, 40, 40], "untouched visible pixel");
        assert_eq!(img.get_pixel(64 + 2, 2).0, [150, 150, 150], "untouched X-ray pixel");
        // The label sits above the box: some of its pixels are in the class colour.
        let lit = (28..36).flat_map(|y| (14..70).map(move |x| (x, y))).filter(|&(x, y)| img.get_pixel(x, y).0 == crack);
        assert!(lit.count() > 20, "label text drawn");
    }
}
