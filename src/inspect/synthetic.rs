//! Synthetic defects drawn on a known-good image, for the self-test every model passes before it
//! judges a part: a model that calls the reference OK but cannot call a drawn defect NG (or find a drawn
//! defect on a blank sheet) is no inspection, whatever its manifest says.
//!
//! The seal defects copy the training renderer's (`scripts/ml/seal_render.py`): a crack is a jagged dark
//! fissure multiplying the film by `1 - depth * gauss(distance)`, a foreign particle a dark blob. Drawn
//! larger than a typical sample, across the whole frame height, so they cross the seal band wherever a
//! recipe puts it. Positions are fractions of the frame, so any reference size works.

use std::sync::Arc;

use crate::sources::{Frame, FrameInfo, PixelFormat};

/// A seal defect the self-test draws on the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealDefect {
    /// A dark jagged fissure from the top of the frame to the bottom, at 3/8 of the width.
    Crack,
    /// Dark particles along the frame's height at 5/8 of the width. Not used by the self-test: seal
    /// model 1.0.0 called it NG on the demo references but OK on a checkers reference (its black
    /// squares hide the particles).
    Particles,
}

impl SealDefect {
    pub const ALL: [SealDefect; 2] = [SealDefect::Crack, SealDefect::Particles];

    pub fn name(self) -> &'static str {
        match self {
            SealDefect::Crack => "crack",
            SealDefect::Particles => "particles",
        }
    }
}

/// Multiplies the RGB image by `1 - depth * exp(-d² / 2σ²)` around each point (the renderer's tint).
fn darken_around(w: usize, h: usize, rgb: &mut [u8], points: &[(f32, f32)], depth: f32, sigma: f32) {
    let reach = (3.0 * sigma).ceil() as i64;
    let mut tint = vec![1.0f32; w * h];
    for &(px, py) in points {
        let (cx, cy) = (px.round() as i64, py.round() as i64);
        for y in (cy - reach).max(0)..(cy + reach + 1).min(h as i64) {
            for x in (cx - reach).max(0)..(cx + reach + 1).min(w as i64) {
                let d2 = (x as f32 - px).powi(2) + (y as f32 - py).powi(2);
                tint[y as usize * w + x as usize] *= 1.0 - depth * (-d2 / (2.0 * sigma * sigma)).exp();
            }
        }
    }
    for (px, t) in rgb.chunks_exact_mut(3).zip(&tint) {
        for c in px {
            *c = (f32::from(*c) * t).round() as u8;
        }
    }
}

/// The reference (RGB) with `defect` drawn on it.
pub fn seal_defect(reference: &Frame, defect: SealDefect) -> Frame {
    let (w, h) = (reference.width as usize, reference.height as usize);
    let mut rgb = reference.data.to_vec();
    // Sizes scale with the frame's height (the models' 64-row input: a 1-pixel crack stays 1 pixel).
    let unit = h as f32 / 64.0;
    match defect {
        SealDefect::Crack => {
            // A fixed zigzag, so the self-test is the same every time.
            let x0 = w as f32 * 0.375;
            let points: Vec<(f32, f32)> = (0..h * 2)
                .map(|i| {
                    let y = i as f32 / 2.0;
                    (x0 + 3.0 * unit * ((y / (6.0 * unit)).sin() + 0.5 * (y / (2.3 * unit)).sin()), y)
                })
                .collect();
            darken_around(w, h, &mut rgb, &points, 0.55, 1.1 * unit);
        }
        SealDefect::Particles => {
            let x0 = w as f32 * 0.625;
            let points: Vec<(f32, f32)> = (0..8)
                .map(|i| (x0 + if i % 2 == 0 { 0.0 } else { 2.0 * unit }, (i as f32 + 0.5) * h as f32 / 8.0))
                .collect();
            darken_around(w, h, &mut rgb, &points, 0.65, 3.0 * unit);
        }
    }
    reference
        .with_pixels(reference.width, reference.height, reference.format, rgb)
        .with_info(Arc::new(FrameInfo { name: format!("self-test {}", defect.name()), ..(*reference.info).clone() }))
}

/// An electrode defect the self-test draws, with what the training renderer does to each modality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectrodeDefect {
    /// Bare foil shines through a furrow: visible much brighter, X-ray a trace brighter.
    Scratch,
    /// Metal inside the coating: X-ray much darker, surface unchanged.
    Inclusion,
    /// A break through the coating: visible darker, X-ray brighter.
    Crack,
    /// A flake on the sheet: visible light grey, X-ray darker.
    ForeignObject,
    /// A surface stain: visible darker only.
    DarkSpot,
}

impl ElectrodeDefect {
    pub const ALL: [ElectrodeDefect; 5] = [
        ElectrodeDefect::Scratch,
        ElectrodeDefect::Inclusion,
        ElectrodeDefect::Crack,
        ElectrodeDefect::ForeignObject,
        ElectrodeDefect::DarkSpot,
    ];

    /// Its class index in the detector's output order (`ELECTRODE_LABELS`).
    pub fn class(self) -> usize {
        match self {
            ElectrodeDefect::Scratch => 0,
            ElectrodeDefect::DarkSpot => 1,
            ElectrodeDefect::ForeignObject => 2,
            ElectrodeDefect::Inclusion => 3,
            ElectrodeDefect::Crack => 4,
        }
    }
}

/// Pixels within `half` of the polyline through `points`.
fn near_polyline(x: f32, y: f32, points: &[(f32, f32)], half: f32) -> bool {
    points.windows(2).any(|s| {
        let ((ax, ay), (bx, by)) = (s[0], s[1]);
        let (dx, dy) = (bx - ax, by - ay);
        let t = (((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy).max(1e-6)).clamp(0.0, 1.0);
        (x - ax - t * dx).powi(2) + (y - ay - t * dy).powi(2) <= half * half
    })
}

/// The electrode self-test's pair: a defect-free electrode sheet (the renderer's coating tone, X-ray
/// transmission and coating stripes) with `defects` drawn in a row across it, each in its own cell.
pub fn electrode_sheet(width: u32, height: u32, defects: &[ElectrodeDefect]) -> (Frame, Frame) {
    let (w, h) = (width as usize, height as usize);
    let unit = width.min(height) as f32 / 256.0;
    let mut vis = vec![0f32; w * h * 3];
    let mut xray = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let stripe = 4.0 * (2.0 * std::f32::consts::PI * x as f32 / (120.0 * unit)).sin();
            let v = [72.0 + stripe, 72.0 + stripe, 76.0 + stripe];
            vis[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&v);
            xray[y * w + x] = 165.0 - stripe;
        }
    }
    let cell = w as f32 / defects.len().max(1) as f32;
    for (k, d) in defects.iter().enumerate() {
        let (cx, cy) = (cell * (k as f32 + 0.5), h as f32 * if k % 2 == 0 { 0.35 } else { 0.65 });
        let u = unit;
        let inside: Box<dyn Fn(f32, f32) -> bool> = match d {
            ElectrodeDefect::Scratch => {
                let pts = [(cx - 8.0 * u, cy - 35.0 * u), (cx + 3.0 * u, cy), (cx + 8.0 * u, cy + 35.0 * u)];
                Box::new(move |x, y| near_polyline(x, y, &pts, 2.0 * u))
            }
            ElectrodeDefect::Crack => {
                let pts: Vec<(f32, f32)> = (0..7)
                    .map(|i| (cx + if i % 2 == 0 { -4.0 } else { 4.0 } * u, cy + (i as f32 - 3.0) * 8.0 * u))
                    .collect();
                Box::new(move |x, y| near_polyline(x, y, &pts, 1.5 * u))
            }
            ElectrodeDefect::Inclusion => {
                Box::new(move |x, y| (x - cx).powi(2) + (y - cy).powi(2) <= (5.0 * u).powi(2))
            }
            ElectrodeDefect::ForeignObject => {
                Box::new(move |x, y| (x - cx).powi(2) + (y - cy).powi(2) <= (11.0 * u).powi(2))
            }
            ElectrodeDefect::DarkSpot => Box::new(move |x, y| (x - cx).powi(2) + (y - cy).powi(2) <= (9.0 * u).powi(2)),
        };
        let reach = 40.0 * u;
        let (x0, x1) = (((cx - reach).max(0.0)) as usize, ((cx + reach) as usize).min(w));
        let (y0, y1) = (((cy - reach).max(0.0)) as usize, ((cy + reach) as usize).min(h));
        for y in y0..y1 {
            for x in x0..x1 {
                if !inside(x as f32 + 0.5, y as f32 + 0.5) {
                    continue;
                }
                let (v, xr) = (&mut vis[(y * w + x) * 3..(y * w + x) * 3 + 3], &mut xray[y * w + x]);
                match d {
                    ElectrodeDefect::Scratch => {
                        v.iter_mut().zip([1.0, 0.97, 0.9]).for_each(|(c, g)| *c += 85.0 * g);
                        *xr += 4.0;
                    }
                    ElectrodeDefect::Inclusion => *xr -= 65.0,
                    ElectrodeDefect::Crack => {
                        v.iter_mut().for_each(|c| *c -= 32.0);
                        *xr += 40.0;
                    }
                    ElectrodeDefect::ForeignObject => {
                        v.iter_mut().for_each(|c| *c = 150.0);
                        *xr -= 26.0;
                    }
                    ElectrodeDefect::DarkSpot => v.iter_mut().zip([1.0, 1.0, 0.9]).for_each(|(c, g)| *c -= 31.0 * g),
                }
            }
        }
    }
    let to_u8 = |v: Vec<f32>| -> Vec<u8> { v.into_iter().map(|x| x.clamp(0.0, 255.0).round() as u8).collect() };
    let frame = |format: PixelFormat, data: Vec<u8>, name: &str| Frame::still(width, height, format, data).named(name);
    (
        frame(PixelFormat::Rgb8, to_u8(vis), "self-test sheet"),
        frame(PixelFormat::Gray8, to_u8(xray), "self-test sheet x-ray"),
    )
}
