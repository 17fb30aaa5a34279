//! X-ray onto visible: a 3x3 homography (visible pixel = H * X-ray pixel, homogeneous) from config, applied
//! by inverse mapping with bilinear sampling, and its estimation from point correspondences on a
//! calibration target (`cellgate calibrate`).

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AlignError {
    #[error("a homography needs at least 4 point pairs, got {0}")]
    TooFewPoints(usize),
    #[error("the points are degenerate (three or more on one line, or repeated): no unique homography")]
    Degenerate,
    #[error("the homography is singular (it folds the image onto a line)")]
    Singular,
}

/// Row-major 3x3 matrix mapping X-ray pixel coordinates to visible pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Homography(pub [[f64; 3]; 3]);

impl Default for Homography {
    fn default() -> Self {
        Self([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    }
}

impl Homography {
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let m = &self.0;
        let w = m[2][0] * x + m[2][1] * y + m[2][2];
        ((m[0][0] * x + m[0][1] * y + m[0][2]) / w, (m[1][0] * x + m[1][1] * y + m[1][2]) / w)
    }

    pub fn inverse(&self) -> Result<Self, AlignError> {
        let m = &self.0;
        let cof = |r0: usize, r1: usize, c0: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
        let det = m[0][0] * cof(1, 2, 1, 2) - m[0][1] * cof(1, 2, 0, 2) + m[0][2] * cof(1, 2, 0, 1);
        if det.abs() < 1e-12 {
            return Err(AlignError::Singular);
        }
        let adj = [
            [cof(1, 2, 1, 2), -cof(0, 2, 1, 2), cof(0, 1, 1, 2)],
            [-cof(1, 2, 0, 2), cof(0, 2, 0, 2), -cof(0, 1, 0, 2)],
            [cof(1, 2, 0, 1), -cof(0, 2, 0, 1), cof(0, 1, 0, 1)],
        ];
        Ok(Self(adj.map(|r| r.map(|v| v / det))))
    }

    /// Least-squares homography from `(xray, visible)` point pairs (normalised DLT with h33 = 1).
    pub fn estimate(pairs: &[([f64; 2], [f64; 2])]) -> Result<Self, AlignError> {
        if pairs.len() < 4 {
            return Err(AlignError::TooFewPoints(pairs.len()));
        }
        // Hartley normalisation: centre each point set and scale it to a mean distance of sqrt(2).
        let norm = |pts: Vec<[f64; 2]>| {
            let n = pts.len() as f64;
            let (cx, cy) = (pts.iter().map(|p| p[0]).sum::<f64>() / n, pts.iter().map(|p| p[1]).sum::<f64>() / n);
            let d = pts.iter().map(|p| ((p[0] - cx).powi(2) + (p[1] - cy).powi(2)).sqrt()).sum::<f64>() / n;
            let s = if d > 0.0 { std::f64::consts::SQRT_2 / d } else { 1.0 };
            Homography([[s, 0.0, -s * cx], [0.0, s, -s * cy], [0.0, 0.0, 1.0]])
        };
        let tx = norm(pairs.iter().map(|p| p.0).collect());
        let tv = norm(pairs.iter().map(|p| p.1).collect());
        // Normal equations of the 2N x 8 system, accumulated row by row.
        let mut ata = [[0.0f64; 8]; 8];
        let mut atb = [0.0f64; 8];
        for (a, b) in pairs {
            let (x, y) = tx.apply(a[0], a[1]);
            let (u, v) = tv.apply(b[0], b[1]);
            for (row, rhs) in
                [([x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y], u), ([0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y], v)]
            {
                for i in 0..8 {
                    atb[i] += row[i] * rhs;
                    for j in 0..8 {
                        ata[i][j] += row[i] * row[j];
                    }
                }
            }
        }
        let h = solve8(ata, atb).ok_or(AlignError::Degenerate)?;
        let hn = Homography([[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], 1.0]]);
        // Undo the normalisation: H = Tv^-1 * Hn * Tx, scaled so h33 = 1.
        let h = mul(&mul(&tv.inverse()?, &hn), &tx);
        let s = h.0[2][2];
        if s.abs() < 1e-12 {
            return Err(AlignError::Degenerate);
        }
        Ok(Homography(h.0.map(|r| r.map(|v| v / s))))
    }

    /// Warps a single-channel X-ray image onto the visible frame's grid (`out_w` x `out_h`); pixels that
    /// fall outside the X-ray image are 0.
    pub fn warp_gray(&self, src: &[u8], w: u32, h: u32, out_w: u32, out_h: u32) -> Result<Vec<u8>, AlignError> {
        let inv = self.inverse()?;
        let (w, h) = (w as usize, h as usize);
        let mut out = vec![0u8; out_w as usize * out_h as usize];
        let m = inv.0;
        for (oy, row) in out.chunks_exact_mut(out_w as usize).enumerate() {
            let y = oy as f64;
            // Along a row the homogeneous coordinates move linearly: three additions per pixel.
            let (mut sx, mut sy, mut sw) = (m[0][1] * y + m[0][2], m[1][1] * y + m[1][2], m[2][1] * y + m[2][2]);
            for px in row.iter_mut() {
                let (x, yy) = (sx / sw, sy / sw);
                sx += m[0][0];
                sy += m[1][0];
                sw += m[2][0];
                if !(x >= 0.0 && yy >= 0.0 && x <= (w - 1) as f64 && yy <= (h - 1) as f64) {
                    continue;
                }
                let (x0, y0) = (x as usize, yy as usize);
                let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
                let (fx, fy) = (x - x0 as f64, yy - y0 as f64);
                let p = |xx: usize, yy: usize| src[yy * w + xx] as f64;
                let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
                let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
                *px = (top * (1.0 - fy) + bottom * fy).round() as u8;
            }
        }
        Ok(out)
    }
}

fn mul(a: &Homography, b: &Homography) -> Homography {
    let mut r = [[0.0; 3]; 3];
    for (i, row) in r.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a.0[i][k] * b.0[k][j]).sum();
        }
    }
    Homography(r)
}

/// Gaussian elimination with partial pivoting on one 8x8 system (a linear-algebra crate would be a large
/// dependency for this single solve).
fn solve8(mut a: [[f64; 8]; 8], mut b: [f64; 8]) -> Option<[f64; 8]> {
    let scale = a.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    for col in 0..8 {
        let piv = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-10 * scale {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let (pivot_row, pivot_b) = (a[col], b[col]);
        for r in col + 1..8 {
            let f = a[r][col] / pivot_row[col];
            for (v, p) in a[r].iter_mut().zip(pivot_row).skip(col) {
                *v -= f * p;
            }
            b[r] -= f * pivot_b;
        }
    }
    let mut x = [0.0; 8];
    for r in (0..8).rev() {
        x[r] = (b[r] - (r + 1..8).map(|c| a[r][c] * x[c]).sum::<f64>()) / a[r][r];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Homography {
        // A slight rotation, scale, shift and perspective, as between two imagers on one fixture.
        Homography([[1.02, 0.03, 4.5], [-0.02, 0.98, -3.0], [1e-5, -2e-5, 1.0]])
    }

    #[test]
    fn estimate_recovers_a_known_transform_from_correspondences() {
        let h = known();
        let grid: Vec<[f64; 2]> =
            (0..4).flat_map(|i| (0..3).map(move |j| [20.0 + 70.0 * i as f64, 15.0 + 90.0 * j as f64])).collect();
        let pairs: Vec<([f64; 2], [f64; 2])> = grid
            .iter()
            .map(|p| {
                let (u, v) = h.apply(p[0], p[1]);
                (*p, [u, v])
            })
            .collect();
        let e = Homography::estimate(&pairs).expect("estimate");
        for (a, b) in e.0.iter().flatten().zip(h.0.iter().flatten()) {
            assert!((a - b).abs() < 1e-6, "{e:?} vs {h:?}");
        }
    }

    #[test]
    fn too_few_or_collinear_points_are_refused() {
        assert_eq!(Homography::estimate(&[([0.0, 0.0], [0.0, 0.0]); 3]), Err(AlignError::TooFewPoints(3)));
        let line: Vec<([f64; 2], [f64; 2])> =
            (0..6).map(|i| ([i as f64, 2.0 * i as f64], [i as f64, i as f64])).collect();
        assert_eq!(Homography::estimate(&line), Err(AlignError::Degenerate));
    }

    #[test]
    fn warp_moves_pixels_where_the_homography_says() {
        // A bright dot at (10, 20) in the X-ray lands at H(10, 20) in the visible grid.
        let (w, h) = (64u32, 48u32);
        let mut src = vec![0u8; (w * h) as usize];
        src[(20 * w + 10) as usize] = 200;
        let shift = Homography([[1.0, 0.0, 7.0], [0.0, 1.0, -5.0], [0.0, 0.0, 1.0]]);
        let out = shift.warp_gray(&src, w, h, w, h).expect("warp");
        assert_eq!(out[(15 * w + 17) as usize], 200);
        assert_eq!(out.iter().filter(|&&v| v > 0).count(), 1, "an integer shift moves one pixel exactly");
        // Identity leaves the image as it is; a singular matrix is refused.
        assert_eq!(Homography::default().warp_gray(&src, w, h, w, h).expect("identity"), src);
        assert_eq!(
            Homography([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).inverse(),
            Err(AlignError::Singular)
        );
    }

    #[test]
    fn warp_of_a_known_transform_matches_the_reference_sampling() {
        let (w, h) = (80u32, 60u32);
        let src: Vec<u8> = (0..w * h).map(|i| ((i % w) * 2 + i / w) as u8).collect(); // at most 217
        let hm = known();
        let out = hm.warp_gray(&src, w, h, w, h).expect("warp");
        let inv = hm.inverse().expect("inverse");
        // A linear ramp is reproduced exactly by bilinear sampling wherever the source covers the pixel.
        let mut checked = 0;
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = inv.apply(x as f64, y as f64);
                if sx >= 0.0 && sy >= 0.0 && sx <= (w - 1) as f64 && sy <= (h - 1) as f64 {
                    let want = (sx * 2.0 + sy).round();
                    assert!((out[(y * w + x) as usize] as f64 - want).abs() <= 1.0, "({x},{y})");
                    checked += 1;
                }
            }
        }
        assert!(checked > 2000, "{checked}");
    }
}
