//! The marks drawn in a panel's plot area: interval bands, fault
//! markers, each series' line, error bars and points, and point labels
//! placed so that they do not overlap.

use std::fmt::Write;

use super::{Chart, PointLabel, Series, Style, escape, text_width};

impl Chart {
    /// The interval bands, drawn under the series.
    pub(super) fn bands_into(
        &self,
        o: &mut String,
        sx: &dyn Fn(f64) -> f64,
        sy: &dyn Fn(f64) -> f64,
    ) {
        for b in &self.bands {
            if b.points.is_empty() {
                continue;
            }
            let mut d = String::new();
            for (i, &(bx, _, hi)) in b.points.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if i == 0 { "M" } else { "L" },
                    sx(bx),
                    sy(hi)
                );
            }
            for &(bx, lo, _) in b.points.iter().rev() {
                let _ = write!(d, "L{:.1},{:.1} ", sx(bx), sy(lo));
            }
            let _ = writeln!(
                o,
                r#"<path class="band" data-name="{}" d="{}Z" fill="{}" fill-opacity="0.18" stroke="none"/>"#,
                escape(&b.name),
                d,
                b.color
            );
        }
    }

    /// The vertical markers (faults) over the plot area from `top`, `ph`
    /// high, their labels staggered.
    pub(super) fn markers_into(
        &self,
        o: &mut String,
        sx: &dyn Fn(f64) -> f64,
        (top, ph): (f64, f64),
    ) {
        for (i, m) in self.markers.iter().enumerate() {
            let mx = sx(m.x);
            // Stagger labels so that close markers stay readable.
            let ly = top + 12.0 + (i % 4) as f64 * 13.0;
            let _ = writeln!(
                o,
                r##"<g class="marker" data-name="{}"><line x1="{mx:.1}" x2="{mx:.1}" y1="{top:.1}" y2="{:.1}" stroke="#B00020" stroke-dasharray="5 4"/><text x="{:.1}" y="{ly:.1}" font-size="11" fill="#B00020">{}</text></g>"##,
                escape(&m.label),
                top + ph,
                mx + 3.0,
                escape(&m.label)
            );
        }
    }

    /// Labels next to their points, stacked downwards where they would
    /// overlap, and to the left of points near the right edge.
    pub(super) fn point_labels(
        &self,
        o: &mut String,
        sx: &dyn Fn(f64) -> f64,
        sy: &dyn Fn(f64) -> f64,
        right: f64,
    ) {
        let mut placed: Vec<(f64, f64, f64)> = Vec::new();
        let mut order: Vec<&PointLabel> = self
            .labels
            .iter()
            .filter(|l| l.x.is_finite() && l.y.is_finite())
            .collect();
        order.sort_by(|a, b| {
            sy(a.y)
                .total_cmp(&sy(b.y))
                .then(sx(a.x).total_cmp(&sx(b.x)))
        });
        for l in order {
            let width = text_width(&l.text, 10.0);
            let (px, py) = (sx(l.x), sy(l.y));
            let (mut x, anchor) = if px + 6.0 + width > right {
                (px - 6.0 - width, "end")
            } else {
                (px + 6.0, "start")
            };
            let mut y = py - 6.0;
            while placed
                .iter()
                .any(|&(ox, oy, ow)| (oy - y).abs() < 11.0 && x < ox + ow && ox < x + width)
            {
                y += 12.0;
            }
            placed.push((x, y, width));
            if anchor == "end" {
                x += width;
            }
            let _ = writeln!(
                o,
                r##"<text class="point-label" x="{x:.1}" y="{y:.1}" font-size="10" fill="#333" text-anchor="{anchor}">{}</text>"##,
                escape(&l.text)
            );
        }
    }
}

/// One series: its line (a step line for `Style::Step`), error bars and
/// points.
pub(super) fn series_into(
    o: &mut String,
    s: &Series,
    sx: &dyn Fn(f64) -> f64,
    sy: &dyn Fn(f64) -> f64,
) {
    let _ = writeln!(
        o,
        r#"<g class="series" data-name="{}" data-points="{}">"#,
        escape(&s.name),
        s.finite_points().count()
    );
    let dash = if s.dashed {
        r#" stroke-dasharray="6 4""#
    } else {
        ""
    };
    if matches!(s.style, Style::Line | Style::Step) {
        let mut d = String::new();
        let mut prev: Option<f64> = None;
        for (x, y) in s.finite_points() {
            match prev {
                None => {
                    let _ = write!(d, "M{:.1},{:.1} ", sx(x), sy(y));
                }
                Some(py) if s.style == Style::Step => {
                    let _ = write!(d, "L{:.1},{:.1} L{:.1},{:.1} ", sx(x), sy(py), sx(x), sy(y));
                }
                Some(_) => {
                    let _ = write!(d, "L{:.1},{:.1} ", sx(x), sy(y));
                }
            }
            prev = Some(y);
        }
        let _ = writeln!(
            o,
            r#"<path d="{d}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
            s.color
        );
    }
    for &(x, lo, hi) in &s.error_bars {
        if x.is_finite() && lo.is_finite() && hi.is_finite() {
            let _ = writeln!(
                o,
                r#"<line class="error-bar" x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2"/>"#,
                sx(x),
                sx(x),
                sy(lo),
                sy(hi),
                s.color
            );
        }
    }
    if s.style != Style::Step {
        let r = if s.style == Style::Points { 4.5 } else { 3.0 };
        for (x, y) in s.finite_points() {
            let _ = writeln!(
                o,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{r}" fill="{}"/>"#,
                sx(x),
                sy(y),
                s.color
            );
        }
    }
    let _ = writeln!(o, "</g>");
}
