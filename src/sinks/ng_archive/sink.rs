//! The archive as a record sink: the frame of every part that brought one (the scheduler attaches frames
//! to NG parts only), under a name that starts with its time and part number; an electrode part as its
//! annotated picture.

use super::NgArchive;
use crate::inspect::decision::Verdict;
use crate::part::PartRecord;
use crate::sinks::annotate::annotate;
use crate::sinks::record::RecordSink;
use crate::sources::PixelFormat;

impl RecordSink for NgArchive {
    fn name(&self) -> &str {
        "NG archive"
    }

    fn record(&mut self, r: &PartRecord) {
        let Some(frame) = &r.image else { return };
        let stem = format!("{}_{:08}_{}", r.time.replace(':', "-"), r.part, r.recipe);
        let caption = caption(r);
        match (&r.xray, &r.electrode) {
            // The electrode NG picture: defects drawn on the visible frame, the X-ray beside it.
            (Some(xray), Some(result)) => {
                let img = annotate(frame, xray, result);
                let (width, height) = img.dimensions();
                let drawn = frame.with_pixels(width, height, PixelFormat::Rgb8, img.into_raw());
                self.save(&drawn, &stem, &caption);
            }
            _ => {
                self.save(frame, &stem, &caption);
            }
        }
    }
}

/// Why the part is in the archive: the rules that fired (electrode), or the score against its threshold.
fn caption(r: &PartRecord) -> String {
    let verdict = match r.verdict {
        Verdict::Ok => "OK",
        Verdict::Ng => "NG",
        Verdict::Error => "error",
    };
    let why = if r.reasons.is_empty() {
        match r.p_ng {
            Some(p) => format!("{verdict}, p_ng {p:.4} >= threshold {}", r.threshold),
            None => format!("{verdict}: {}", r.error.as_deref().unwrap_or("no result")),
        }
    } else {
        r.reasons.join("; ")
    };
    let model = r.model.as_ref().map(|m| format!(" ({} {})", m.name, m.version)).unwrap_or_default();
    format!("part {} recipe {}: {why}{model}", r.part, r.recipe)
}
