//! A filled polygon rasterised as Pillow's `ImageDraw.polygon(xy, fill=1)` rasterises it on an 8-bit
//! image, pixel for pixel: the Python evaluator draws COCO polygon labels that way, and `cellgate
//! evaluate`'s segmentation IoU must count the same label pixels. The rules (vertices truncated to
//! integers, scan lines through edge intersections computed in single precision, horizontal edges drawn
//! whole, corner fix-ups, half-pixel rounding of span ends) are Pillow's; `tests/fixtures/pillow_polygons`
//! holds masks Pillow drew, which the tests compare against.

/// One polygon edge between integer vertices.
#[derive(Debug, Clone, Copy)]
struct Edge {
    x0: i32,
    y0: i32,
    xmin: i32,
    xmax: i32,
    ymin: i32,
    ymax: i32,
    /// x step per row (0 for a horizontal edge).
    dx: f32,
}

impl Edge {
    fn new(x0: i32, y0: i32, x1: i32, y1: i32) -> Self {
        let dx = if y0 == y1 { 0.0 } else { (x1 - x0) as f32 / (y1 - y0) as f32 };
        Edge { x0, y0, xmin: x0.min(x1), xmax: x0.max(x1), ymin: y0.min(y1), ymax: y0.max(y1), dx }
    }

    fn horizontal(&self) -> bool {
        self.ymin == self.ymax
    }

    fn spans(&self, y: i32) -> bool {
        y >= self.ymin && y <= self.ymax
    }

    /// Where the edge crosses row `y`, in single precision as Pillow computes it.
    fn x_at(&self, y: i32) -> f32 {
        (y - self.y0) as f32 * self.dx + self.x0 as f32
    }
}

/// Rounds half away from zero to an integer (a span's first pixel); the sum is single precision on the
/// positive side, as in Pillow.
fn round_up(f: f32) -> i32 {
    if f >= 0.0 {
        (f + 0.5).floor() as i32
    } else {
        -((f64::from(f).abs() + 0.5).floor() as i32)
    }
}

/// Rounds half towards zero to an integer (a span's last pixel).
fn round_down(f: f32) -> i32 {
    if f >= 0.0 {
        (f - 0.5).ceil() as i32
    } else {
        -((f64::from(f).abs() - 0.5).ceil() as i32)
    }
}

/// A `w` x `h` mask (row-major) being drawn on.
struct Canvas<'a> {
    mask: &'a mut [bool],
    w: i32,
    h: i32,
}

impl Canvas<'_> {
    /// Pixels `x0..=x1` of row `y`, clipped to the canvas.
    fn span(&mut self, x0: i32, y: i32, x1: i32) {
        if y < 0 || y >= self.h || x0 >= self.w || x1 < 0 {
            return;
        }
        let (x0, x1) = (x0.max(0), x1.min(self.w - 1));
        if x0 <= x1 {
            let row = (y * self.w) as usize;
            self.mask[row + x0 as usize..=row + x1 as usize].fill(true);
        }
    }
}

/// The edges of the polygon through `xy` (integer vertices), closed; a run of horizontal segments going
/// one way is one edge.
fn edges(xy: &[(i32, i32)]) -> Vec<Edge> {
    let mut out: Vec<Edge> = Vec::with_capacity(xy.len());
    for (i, pair) in xy.windows(2).enumerate() {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        if i > 0 && y0 == y1 && xy[i - 1].1 == y0 {
            let before = xy[i - 1].0;
            if let Some(last) = out.last_mut() {
                if x1 > x0 && x0 > before {
                    last.xmax = x1;
                    continue;
                }
                if x1 < x0 && x0 < before {
                    last.xmin = x1;
                    continue;
                }
            }
        }
        out.push(Edge::new(x0, y0, x1, y1));
    }
    if let (Some(&first), Some(&last)) = (xy.first(), xy.last()) {
        if first != last {
            out.push(Edge::new(last.0, last.1, first.0, first.1));
        }
    }
    out
}

/// Fills the polygon through the points `xy` (x, y pairs; a trailing odd value is ignored) on `mask`, a
/// `w` x `h` row-major image, as Pillow's filled polygon does.
pub fn fill(mask: &mut [bool], w: usize, h: usize, xy: &[f64]) {
    // Pillow truncates each coordinate towards zero (a C cast) before drawing.
    let points: Vec<(i32, i32)> = xy.chunks_exact(2).map(|p| (p[0] as i32, p[1] as i32)).collect();
    if points.is_empty() {
        return;
    }
    let mut canvas = Canvas { mask, w: w as i32, h: h as i32 };
    let all = edges(&points);
    let (mut ymin, mut ymax) = (canvas.h - 1, 0);
    let mut sloped: Vec<Edge> = Vec::with_capacity(all.len());
    for e in &all {
        ymin = ymin.min(e.ymin);
        ymax = ymax.max(e.ymax);
        if e.horizontal() {
            canvas.span(e.xmin, e.ymin, e.xmax);
        } else {
            sloped.push(*e);
        }
    }
    let (first, last) = (ymin.max(0), ymax.min(canvas.h));
    let mut xs: Vec<f32> = Vec::with_capacity(sloped.len() * 2);
    for y in first..=last {
        xs.clear();
        for (i, e) in sloped.iter().enumerate() {
            if !e.spans(y) {
                continue;
            }
            let x = e.x_at(y);
            xs.push(x);
            if y == e.ymax && y < last {
                // An edge ending on this row counts twice, so the row's spans pair up.
                xs.push(x);
            } else if (y == e.ymin || y == e.ymax) && e.dx != 0.0 {
                if let Some(moved) = corner(e, &sloped[..i], y, x) {
                    if let Some(v) = xs.last_mut() {
                        *v = moved;
                    }
                }
            }
        }
        xs.sort_by(f32::total_cmp);
        for pair in xs.chunks_exact(2) {
            canvas.span(round_up(pair[0]), y, round_down(pair[1]));
        }
    }
}

/// Where a sloped edge `e` that starts or ends on row `y` at `x` is moved to when an earlier edge meets it
/// there at a sharp corner (so the corner's tip is not drawn as a detached pixel run), or `None`.
fn corner(e: &Edge, earlier: &[Edge], y: i32, x: f32) -> Option<f32> {
    for other in earlier {
        if (y != other.ymin && y != other.ymax) || other.dx == 0.0 {
            continue;
        }
        if x.round() != other.x_at(y).round() {
            continue;
        }
        // The neighbouring row inside the edge: the one after its start, or before its end.
        let next = if y == e.ymax { y - 1 } else { y + 1 };
        if !other.spans(next) {
            continue;
        }
        let (a, b) = (e.x_at(next), other.x_at(next));
        if x > a + 1.0 && x > b + 1.0 {
            return Some(a.max(b).round() + 1.0);
        }
        if x < a - 1.0 && x < b - 1.0 {
            return Some(a.min(b).round() - 1.0);
        }
        return None;
    }
    None
}
