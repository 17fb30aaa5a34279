//! Camera pixel formats to the station's frames: YUYV and MJPEG to RGB, GREY and Y16 kept grey, RGB24 as
//! is. Rows may be padded (`bytesperline`); the padding is dropped here.

use super::super::PixelFormat;

/// What a camera delivers, by its V4L2 fourcc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub enum CameraFormat {
    #[serde(rename = "MJPG")]
    Mjpeg,
    #[serde(rename = "YUYV")]
    Yuyv,
    #[serde(rename = "GREY")]
    Grey,
    #[serde(rename = "Y16")]
    Y16,
    #[serde(rename = "RGB3")]
    Rgb24,
}

impl CameraFormat {
    pub const ALL: [CameraFormat; 5] =
        [CameraFormat::Mjpeg, CameraFormat::Yuyv, CameraFormat::Grey, CameraFormat::Y16, CameraFormat::Rgb24];

    pub fn fourcc(self) -> [u8; 4] {
        match self {
            CameraFormat::Mjpeg => *b"MJPG",
            CameraFormat::Yuyv => *b"YUYV",
            CameraFormat::Grey => *b"GREY",
            CameraFormat::Y16 => *b"Y16 ",
            CameraFormat::Rgb24 => *b"RGB3",
        }
    }

    pub fn from_fourcc(f: [u8; 4]) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.fourcc() == f)
    }

    /// Bytes per pixel of the raw buffer (MJPEG is compressed: none).
    fn raw_bpp(self) -> usize {
        match self {
            CameraFormat::Mjpeg => 0,
            CameraFormat::Yuyv | CameraFormat::Y16 => 2,
            CameraFormat::Grey => 1,
            CameraFormat::Rgb24 => 3,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConvertError {
    #[error("{format:?} {width}x{height}: buffer of {got} bytes, need {need}")]
    Short { format: CameraFormat, width: u32, height: u32, got: usize, need: usize },
    #[error("MJPEG frame does not decode: {0}")]
    Jpeg(String),
    #[error("{format:?} {width}x{height} with {stride} bytes per line is not a frame this station can hold")]
    Geometry { format: CameraFormat, width: u32, height: u32, stride: usize },
    #[error("MJPEG frame is {got_w}x{got_h}, negotiated {width}x{height}")]
    JpegSize { got_w: u32, got_h: u32, width: u32, height: u32 },
}

/// Converts one raw buffer; `stride` is the negotiated bytes per line (0: tightly packed).
pub fn convert(
    format: CameraFormat,
    raw: &[u8],
    width: u32,
    height: u32,
    stride: usize,
) -> Result<(PixelFormat, Vec<u8>), ConvertError> {
    let (w, h) = (width as usize, height as usize);
    if format == CameraFormat::Mjpeg {
        return decode_jpeg(raw, width, height);
    }
    // Checked: a driver's (or a corrupted) size or stride must not wrap around the bounds check below.
    let geometry = || {
        let row = w.checked_mul(format.raw_bpp()).filter(|&r| r > 0)?;
        let stride = stride.max(row);
        Some((row, stride, stride.checked_mul(h.checked_sub(1)?)?.checked_add(row)?))
    };
    let Some((row, stride, need)) = geometry() else {
        return Err(ConvertError::Geometry { format, width, height, stride });
    };
    if raw.len() < need {
        return Err(ConvertError::Short { format, width, height, got: raw.len(), need });
    }
    let rows = (0..h).map(|y| &raw[y * stride..y * stride + row]);
    Ok(match format {
        CameraFormat::Grey | CameraFormat::Rgb24 | CameraFormat::Y16 => {
            let mut out = Vec::with_capacity(row * h);
            rows.for_each(|r| out.extend_from_slice(r));
            let pf = match format {
                CameraFormat::Grey => PixelFormat::Gray8,
                CameraFormat::Y16 => PixelFormat::Gray16,
                _ => PixelFormat::Rgb8,
            };
            (pf, out)
        }
        CameraFormat::Yuyv => {
            let mut out = vec![0u8; w * h * 3];
            for (r, dst) in rows.zip(out.chunks_exact_mut(w * 3)) {
                yuyv_row(r, dst);
            }
            (PixelFormat::Rgb8, out)
        }
        CameraFormat::Mjpeg => unreachable!("decoded above"),
    })
}

/// One row of YUYV (Y0 U Y1 V per two pixels) to RGB, BT.601 limited range, the V4L2 default for YUV.
fn yuyv_row(src: &[u8], dst: &mut [u8]) {
    for (px, out) in src.chunks_exact(4).zip(dst.chunks_exact_mut(6)) {
        let d = px[1] as i32 - 128;
        let e = px[3] as i32 - 128;
        let (rc, gc, bc) = (409 * e, -100 * d - 208 * e, 516 * d);
        for (k, y) in [px[0], px[2]].into_iter().enumerate() {
            let c = 298 * (y as i32 - 16) + 128;
            out[k * 3] = ((c + rc) >> 8).clamp(0, 255) as u8;
            out[k * 3 + 1] = ((c + gc) >> 8).clamp(0, 255) as u8;
            out[k * 3 + 2] = ((c + bc) >> 8).clamp(0, 255) as u8;
        }
    }
}

fn decode_jpeg(raw: &[u8], width: u32, height: u32) -> Result<(PixelFormat, Vec<u8>), ConvertError> {
    use image::ImageDecoder;
    let jpeg = |e: image::ImageError| ConvertError::Jpeg(e.to_string());
    let decoder = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(raw)).map_err(jpeg)?;
    // The header's size before decoding: a corrupted frame declaring 10000x10000 would otherwise cost
    // 300 MB and seconds of the capture thread before its size is refused.
    let (got_w, got_h) = decoder.dimensions();
    if (got_w, got_h) != (width, height) {
        return Err(ConvertError::JpegSize { got_w, got_h, width, height });
    }
    let img = image::DynamicImage::from_decoder(decoder).map_err(jpeg)?;
    Ok(match img {
        image::DynamicImage::ImageLuma8(g) => (PixelFormat::Gray8, g.into_raw()),
        other => (PixelFormat::Rgb8, other.into_rgb8().into_raw()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_known_pixels() {
        // BT.601 limited range: 75% colour bars as a camera sends them (Y, U, V) and the RGB they stand for.
        let bars: [([u8; 3], [u8; 3]); 5] = [
            ([235, 128, 128], [255, 255, 255]), // white
            ([16, 128, 128], [0, 0, 0]),        // black
            ([81, 90, 240], [255, 0, 0]),       // red
            ([145, 54, 34], [0, 255, 0]),       // green
            ([41, 240, 110], [0, 0, 255]),      // blue
        ];
        for (yuv, rgb) in bars {
            let raw = [yuv[0], yuv[1], yuv[0], yuv[2]];
            let (pf, out) = convert(CameraFormat::Yuyv, &raw, 2, 1, 0).unwrap();
            assert_eq!(pf, PixelFormat::Rgb8);
            for (got, want) in out[..3].iter().zip(rgb) {
                assert!((*got as i32 - want as i32).abs() <= 2, "{yuv:?} -> {:?}, want {rgb:?}", &out[..3]);
            }
            assert_eq!(out[..3], out[3..]);
        }
    }

    #[test]
    fn padded_rows_are_dropped() {
        // 3x2 GREY with 4 bytes per line: the fourth byte of each row is padding.
        let raw = [1, 2, 3, 99, 4, 5, 6, 99];
        let (pf, out) = convert(CameraFormat::Grey, &raw, 3, 2, 4).unwrap();
        assert_eq!((pf, out), (PixelFormat::Gray8, vec![1, 2, 3, 4, 5, 6]));
        let raw16 = [0x34, 0x12, 0xff, 0xff, 0x78, 0x56, 0xff, 0xff];
        let (pf, out) = convert(CameraFormat::Y16, &raw16, 1, 2, 4).unwrap();
        assert_eq!((pf, out), (PixelFormat::Gray16, vec![0x34, 0x12, 0x78, 0x56]));
    }

    #[test]
    fn a_short_buffer_is_an_error_not_a_crash() {
        let e = convert(CameraFormat::Rgb24, &[0; 10], 2, 2, 0).unwrap_err();
        assert_eq!(e, ConvertError::Short { format: CameraFormat::Rgb24, width: 2, height: 2, got: 10, need: 12 });
        assert!(matches!(convert(CameraFormat::Mjpeg, &[0xff, 0xd8, 0], 2, 2, 0), Err(ConvertError::Jpeg(_))));
    }

    #[test]
    fn sizes_that_overflow_are_an_error_not_a_crash() {
        // Found by fuzzing (tests/fuzz-corpus/frame_convert/regression-stride-overflow): stride x height
        // wrapped around usize and panicked the capture thread.
        let e = convert(CameraFormat::Grey, &[0; 16], 2, u32::MAX, usize::MAX / 2).unwrap_err();
        assert!(matches!(e, ConvertError::Geometry { height: u32::MAX, .. }), "{e}");
        assert!(matches!(convert(CameraFormat::Yuyv, &[0; 16], 0, 2, 0), Err(ConvertError::Geometry { .. })));
        assert!(matches!(convert(CameraFormat::Rgb24, &[0; 16], 2, 0, 0), Err(ConvertError::Geometry { .. })));
    }

    #[test]
    fn mjpeg_decodes_to_rgb() {
        let img =
            image::RgbImage::from_fn(
                16,
                8,
                |x, _| if x < 8 { image::Rgb([250, 10, 10]) } else { image::Rgb([10, 10, 250]) },
            );
        let mut jpg = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut jpg), image::ImageFormat::Jpeg)
            .unwrap();
        let (pf, out) = convert(CameraFormat::Mjpeg, &jpg, 16, 8, 0).unwrap();
        assert_eq!(pf, PixelFormat::Rgb8);
        assert!(out[0] > 200 && out[2] < 60, "left is red: {:?}", &out[..3]);
        let right = (3 * 16 + 15) * 3; // row 3, last pixel
        assert!(out[right + 2] > 200 && out[right] < 60, "right is blue: {:?}", &out[right..right + 3]);
        assert!(matches!(convert(CameraFormat::Mjpeg, &jpg, 8, 8, 0), Err(ConvertError::JpegSize { .. })));
    }

    #[test]
    fn an_mjpeg_frame_declaring_a_huge_size_is_refused_before_decoding() {
        // A 16x8 frame whose header says 16000x16000. Decoded first, it failed on the image crate's
        // 512 MB limit instead (and 10000x10000, under that limit, cost 300 MB and seconds:
        // tests/fuzz-corpus/frame_convert/regression-mjpeg-huge-header).
        let mut jpg = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::new(16, 8))
            .write_to(&mut std::io::Cursor::new(&mut jpg), image::ImageFormat::Jpeg)
            .unwrap();
        let sof = jpg.windows(2).position(|w| w == [0xff, 0xc0]).expect("baseline JPEG");
        jpg[sof + 5..sof + 9].copy_from_slice(&[0x3e, 0x80, 0x3e, 0x80]);
        let e = convert(CameraFormat::Mjpeg, &jpg, 16, 8, 0).unwrap_err();
        assert_eq!(e, ConvertError::JpegSize { got_w: 16_000, got_h: 16_000, width: 16, height: 8 });
    }
}
