//! Segmentation IoU of an electrode folder, measured part by part as the offline station settles them:
//! each judged part's segmentation map against its labels drawn at the map's size. A part the station
//! could not judge (a frame it refused) has no map: it counts as predicting background everywhere, as a
//! missed defect counts in the miss rate. Labels that cannot be drawn leave the figures out, with a
//! warning, rather than stopping the evaluation.

use std::path::Path;

use cellgate::inspect::qualification::segmentation::{SegmentationFigures, SegmentationTally};
use cellgate::part::PartRecord;
use cellgate::sources::coco_masks::{LabelMaskError, LabelMasks};

pub struct Segmentation {
    labels: LabelMasks,
    tally: SegmentationTally,
    /// The segmentation map's size (width, height), from the first judged part.
    size: Option<(usize, usize)>,
    /// Frames of parts settled without a map.
    unjudged: Vec<String>,
    failed: Option<LabelMaskError>,
}

impl Segmentation {
    /// The labels of the folder `data`; `None` (warned) when they cannot be read.
    pub fn open(data: &Path) -> Option<Self> {
        match LabelMasks::open(data) {
            Ok(labels) => Some(Self {
                labels,
                tally: SegmentationTally::default(),
                size: None,
                unjudged: Vec::new(),
                failed: None,
            }),
            Err(e) => {
                log::warn!("segmentation IoU not measured: {e}");
                None
            }
        }
    }

    pub fn add(&mut self, part: &PartRecord) {
        if self.failed.is_some() {
            return;
        }
        let Some(result) = &part.electrode else {
            self.unjudged.push(part.frame.clone());
            return;
        };
        self.size.get_or_insert(result.mask_size);
        match self.labels.mask(&part.frame, result.mask_size) {
            Ok(label) => self.tally.add(&result.mask, &label),
            Err(e) => self.failed = Some(e),
        }
    }

    /// The figures; `None` when no part was judged or a label could not be drawn (warned).
    pub fn figures(mut self) -> Option<SegmentationFigures> {
        let Some(size) = self.size else {
            log::warn!("segmentation IoU not measured: no part was judged");
            return None;
        };
        let nothing = vec![0u8; size.0 * size.1];
        for frame in std::mem::take(&mut self.unjudged) {
            match self.labels.mask(&frame, size) {
                Ok(label) => self.tally.add(&nothing, &label),
                Err(e) => {
                    self.failed.get_or_insert(e);
                }
            }
        }
        if let Some(e) = self.failed {
            log::warn!("segmentation IoU not measured: {e}");
            return None;
        }
        Some(self.tally.figures())
    }
}
