//! What an archived NG picture shows, kept in the PNG itself (an `iTXt` chunk, keyword `cellgate`, right
//! after the header): the verdict and score, or for an electrode part the rules that fired. The picture
//! carries its reason wherever it is copied, and the NG gallery reads it from the file's first bytes.

/// The chunk's keyword.
const KEYWORD: &[u8] = b"cellgate";
/// PNG signature and the IHDR chunk (length, type, 13 bytes, CRC): a caption goes right after them.
const AFTER_HEADER: usize = 8 + 4 + 4 + 13 + 4;
/// Longest caption written (the rest is cut at a character boundary).
const MAX_CAPTION: usize = 1024;
/// How much of a file the gallery reads for its caption.
pub const CAPTION_WINDOW: usize = AFTER_HEADER + 12 + KEYWORD.len() + 5 + MAX_CAPTION;

/// `png` with `caption` in an `iTXt` chunk after its header; a buffer that is not a PNG is left alone.
pub fn with_caption(png: Vec<u8>, caption: &str) -> Vec<u8> {
    if png.len() < AFTER_HEADER || &png[12..16] != b"IHDR" {
        return png;
    }
    let mut text = caption;
    if text.len() > MAX_CAPTION {
        let mut end = MAX_CAPTION;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text = &text[..end];
    }
    // keyword, NUL, not compressed, method 0, no language (NUL), no translated keyword (NUL), UTF-8 text.
    let mut body = b"iTXt".to_vec();
    body.extend_from_slice(KEYWORD);
    body.extend_from_slice(&[0, 0, 0, 0, 0]);
    body.extend_from_slice(text.as_bytes());
    let mut out = Vec::with_capacity(png.len() + body.len() + 8);
    out.extend_from_slice(&png[..AFTER_HEADER]);
    out.extend_from_slice(&((body.len() - 4) as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out.extend_from_slice(&png[AFTER_HEADER..]);
    out
}

/// The caption of a PNG's first bytes, when it has one where `with_caption` puts it.
pub fn caption_of(head: &[u8]) -> Option<String> {
    let chunk = head.get(AFTER_HEADER..)?;
    let len = u32::from_be_bytes(chunk.get(..4)?.try_into().ok()?) as usize;
    let body = chunk.get(4..8 + len)?;
    if &body[..4] != b"iTXt" || crc32(body).to_be_bytes() != *chunk.get(8 + len..12 + len)? {
        return None;
    }
    let text = body[4..].strip_prefix(KEYWORD)?.strip_prefix(&[0, 0, 0, 0, 0])?;
    String::from_utf8(text.to_vec()).ok()
}

/// The CRC-32 PNG chunks carry (ISO 3309, reflected, polynomial 0xEDB88320).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::ng_archive::encode_png;
    use crate::sources::{Frame, PixelFormat};

    #[test]
    fn a_captioned_picture_still_decodes_and_gives_its_caption_back() {
        let frame = Frame::still(4, 2, PixelFormat::Rgb8, vec![7u8; 24]);
        let png = with_caption(encode_png(&frame).unwrap(), "rule 0 (crack): 1 defect(s) > 0 -> reject0; ligne é");
        let img = image::load_from_memory(&png).expect("a valid PNG (the chunk's CRC checked)");
        assert_eq!((img.width(), img.height()), (4, 2));
        assert_eq!(caption_of(&png).as_deref(), Some("rule 0 (crack): 1 defect(s) > 0 -> reject0; ligne é"));
        assert_eq!(caption_of(&encode_png(&frame).unwrap()), None, "no caption, none read");
        let long = "é".repeat(MAX_CAPTION);
        let cut = caption_of(&with_caption(encode_png(&frame).unwrap(), &long)).unwrap();
        assert!(cut.len() <= MAX_CAPTION && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn the_crc_is_png_s() {
        // The IEND chunk's CRC, as every PNG ends.
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }
}
