//! Where frames come from. Every source delivers `Frame`s through the same trait, so the demo, the tests
//! and the station share one path; only the source differs.

pub mod coco_masks;
mod config;
pub mod image_file;
pub mod pairing;
pub mod replay;
pub mod v4l2;

pub use config::SourceConfig;
use std::sync::Arc;
use std::time::Instant;

/// Pixel layout of a frame's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Rgb8,
    Gray8,
    /// 16-bit grey, little-endian (V4L2 Y16): X-ray imagers.
    Gray16,
}

impl PixelFormat {
    pub fn channels(self) -> usize {
        match self {
            PixelFormat::Rgb8 => 3,
            PixelFormat::Gray8 | PixelFormat::Gray16 => 1,
        }
    }

    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb8 => 3,
            PixelFormat::Gray8 => 1,
            PixelFormat::Gray16 => 2,
        }
    }
}

/// What the replay knows of a frame (from a labelled dataset); cameras leave it empty.
#[derive(Debug, Clone, Default)]
pub struct FrameInfo {
    /// File name or camera frame name, for logs and archives.
    pub name: String,
    /// The recipe this part belongs to, when the source knows it.
    pub recipe: Option<Arc<str>>,
    /// Ground truth from a labelled dataset: true = NG.
    pub label_ng: Option<bool>,
    pub defect: Option<String>,
    /// Ground truth of a labelled electrode dataset: each defect's class and box (x0, y0, x1, y1, frame
    /// pixels).
    pub label_boxes: Vec<(&'static str, [f32; 4])>,
}

#[derive(Debug, Clone)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    pub data: Arc<[u8]>,
    /// When the exposure happened (the kernel timestamp for a camera).
    pub timestamp: Instant,
    pub sequence: u64,
    pub info: Arc<FrameInfo>,
}

impl AsRef<Frame> for Frame {
    fn as_ref(&self) -> &Frame {
        self
    }
}

impl Frame {
    /// A still image (a reference, a test frame): exposed now, no sequence, nothing known of it.
    /// The one constructor: every frame starts here and is then given what its source knows of it
    /// (`exposed`, `named`, `with_info`), or is made from another one (`with_pixels`).
    pub fn still(width: u32, height: u32, format: PixelFormat, data: impl Into<Arc<[u8]>>) -> Self {
        Self { width, height, format, data: data.into(), timestamp: Instant::now(), sequence: 0, info: Arc::default() }
    }

    /// When it was exposed and its number in the source's sequence.
    pub fn exposed(self, timestamp: Instant, sequence: u64) -> Self {
        Self { timestamp, sequence, ..self }
    }

    /// Named for logs and archives; nothing else known of it.
    pub fn named(self, name: impl Into<String>) -> Self {
        self.with_info(Arc::new(FrameInfo { name: name.into(), ..FrameInfo::default() }))
    }

    pub fn with_info(self, info: Arc<FrameInfo>) -> Self {
        Self { info, ..self }
    }

    /// Other pixels of the same exposure (an aligned X-ray, an annotated picture): the timestamp, sequence
    /// and info stay.
    pub fn with_pixels(&self, width: u32, height: u32, format: PixelFormat, data: impl Into<Arc<[u8]>>) -> Self {
        Self {
            width,
            height,
            format,
            data: data.into(),
            timestamp: self.timestamp,
            sequence: self.sequence,
            info: self.info.clone(),
        }
    }

    /// The frame as 8-bit grey, into `out` (cleared first): RGB by ITU-R BT.601 luma, as PIL's
    /// convert("L"); 16-bit grey by its high byte, as the training pipeline reads 16-bit X-ray images.
    pub fn gray8_into(&self, out: &mut Vec<u8>) {
        out.clear();
        match self.format {
            PixelFormat::Gray8 => out.extend_from_slice(&self.data),
            PixelFormat::Gray16 => out.extend(self.data.chunks_exact(2).map(|b| b[1])),
            PixelFormat::Rgb8 => out.extend(
                self.data
                    .chunks_exact(3)
                    .map(|p| ((p[0] as u32 * 299 + p[1] as u32 * 587 + p[2] as u32 * 114 + 500) / 1000) as u8),
            ),
        }
    }

    /// Checks that the byte count fits the size and format; a bad frame is rejected, never a crash.
    pub fn validate(&self) -> Result<(), SourceError> {
        let want = self.width as usize * self.height as usize * self.format.bytes_per_pixel();
        if self.width == 0 || self.height == 0 || self.data.len() != want {
            return Err(SourceError::BadFrame(format!(
                "{}: {}x{} {:?} needs {want} bytes, got {}",
                self.info.name,
                self.width,
                self.height,
                self.format,
                self.data.len()
            )));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source ended")]
    Ended,
    #[error("camera unavailable: {0}")]
    Unavailable(String),
    #[error("bad frame: {0}")]
    BadFrame(String),
}

/// A camera, or anything that behaves like one.
pub trait FrameSource: Send {
    /// The first frame exposed after `after` (the trigger time).
    fn capture(&mut self, after: Instant) -> Result<Frame, SourceError>;
    /// A short description for logs and `status`.
    fn describe(&self) -> String;
    /// Frames the device dropped so far (gaps in its sequence numbers).
    fn dropped_frames(&self) -> u64 {
        0
    }
    /// Called with `Some(reason)` when the device is lost and `None` when it is back, as it happens, so the
    /// alarm follows the camera even while no part is triggered. Sources without a device ignore it.
    fn watch_faults(&mut self, _notify: FaultNotifier) {}
    /// A live camera: a frame taken between parts shows the line as it is now. (A replayed folder is
    /// not: capturing there would only skip a file.)
    fn live(&self) -> bool {
        false
    }
}

/// Told of a source's device being lost (`Some(reason)`) or back (`None`).
pub type FaultNotifier = Box<dyn Fn(Option<&str>) + Send>;
