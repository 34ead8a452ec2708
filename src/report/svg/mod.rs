//! A small SVG chart renderer: one panel with axes and nice ticks, lines,
//! step lines, points with error bars and labels, shaded interval bands and
//! vertical markers (drawn by `marks.rs`). `figure.rs` lays panels out and
//! draws the legend.
//!
//! Hand-written rather than a plotting crate so that figures need no system
//! fonts, render the same everywhere, and carry a stable structure (each
//! series is a `<g class="series" data-name="..." data-points="N">`) that
//! tests can check.

use std::fmt::Write;

mod marks;
use marks::series_into;

/// Colours for successive series: Okabe-Ito (distinguishable by most
/// colour-blind readers), then four of Paul Tol's.
pub const PALETTE: [&str; 12] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
    "#882255", "#44AA99", "#999933", "#AA4499",
];

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Straight segments between points, each point marked.
    Line,
    /// Horizontal then vertical segments (an empirical CDF, a sampled gauge).
    Step,
    /// Markers only.
    Points,
}

/// One named series.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Data points.
    pub points: Vec<(f64, f64)>,
    /// Vertical intervals drawn at each point (`Points` style), if any.
    pub error_bars: Vec<(f64, f64, f64)>,
    /// How to draw it.
    pub style: Style,
    /// Colour.
    pub color: String,
    /// Dashed line.
    pub dashed: bool,
}

impl Series {
    /// A series of `style` with a palette colour.
    pub fn new(name: impl Into<String>, style: Style, index: usize) -> Self {
        Series {
            name: name.into(),
            points: Vec::new(),
            error_bars: Vec::new(),
            style,
            color: PALETTE[index % PALETTE.len()].to_string(),
            dashed: false,
        }
    }

    fn finite_points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    }
}

/// A shaded band between a lower and an upper curve.
#[derive(Debug, Clone)]
pub struct Band {
    /// What it shows (kept in the SVG for readers and tests).
    pub name: String,
    /// (x, low, high) triples.
    pub points: Vec<(f64, f64, f64)>,
    /// Colour (drawn translucent).
    pub color: String,
}

/// A vertical line marking an instant (a fault, its end).
#[derive(Debug, Clone)]
pub struct Marker {
    /// Label next to the line.
    pub label: String,
    /// Where.
    pub x: f64,
}

/// A text label next to a data point.
#[derive(Debug, Clone)]
pub struct PointLabel {
    /// Where.
    pub x: f64,
    /// Where.
    pub y: f64,
    /// What.
    pub text: String,
}

/// One panel of a figure: a plot area with its axes.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// Panel title (in a figure of several panels, what sets it apart).
    pub title: String,
    /// Short lines under the title (e.g. which curves coincide).
    pub notes: Vec<String>,
    /// Horizontal axis label, with unit.
    pub x_label: String,
    /// Vertical axis label, with unit.
    pub y_label: String,
    /// Series.
    pub series: Vec<Series>,
    /// Bands, drawn under the series.
    pub bands: Vec<Band>,
    /// Vertical markers.
    pub markers: Vec<Marker>,
    /// Labels next to points.
    pub labels: Vec<PointLabel>,
    /// Fixed vertical range, else fitted.
    pub y_range: Option<(f64, f64)>,
    /// Fixed horizontal range, else fitted (panels sharing a time axis).
    pub x_range: Option<(f64, f64)>,
    /// Category names for the horizontal axis (x = 0, 1, 2...), if any.
    pub x_categories: Vec<String>,
    /// Start the horizontal axis at zero (durations, counts).
    pub x_from_zero: bool,
}

/// About five round tick values covering `[lo, hi]`.
pub fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| (hi - lo) / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil();
    // Round each tick to the step's precision so 3 x 0.2 prints as 0.6.
    let decimals = (-step.log10().floor()).max(0.0) as usize + 1;
    let mut ticks = Vec::new();
    let mut k = 0.0;
    while (first + k) * step <= hi + step * 1e-9 {
        let t = (first + k) * step;
        ticks.push(format!("{t:.decimals$}").parse().unwrap_or(t));
        k += 1.0;
    }
    ticks
}

/// A tick value without trailing zeros.
pub fn fmt_tick(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e9 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Text made safe for SVG and HTML content and attributes.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The width of `text` at `size` px in a sans-serif font, generously
/// estimated (0.6 em a character) so that laid-out text is never cut.
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

/// `text` broken at spaces into lines of at most `width` px at `size` px.
pub fn wrap(text: &str, width: f64, size: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if !line.is_empty() && text_width(&candidate, size) > width {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Space around a panel's plot area.
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const BOTTOM: f64 = 46.0;
const TITLE: f64 = 20.0;
const NOTE: f64 = 14.0;

fn finite_range(v: &[f64]) -> Option<(f64, f64)> {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.is_empty() {
        return None;
    }
    let lo = f.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    })
}

impl Chart {
    /// Whether the panel has anything to draw.
    pub fn has_data(&self) -> bool {
        self.series
            .iter()
            .any(|s| s.finite_points().next().is_some())
    }

    /// The horizontal extent of the data, markers included.
    pub fn x_extent(&self) -> Option<(f64, f64)> {
        let mut xs: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect();
        xs.extend(self.markers.iter().map(|m| m.x));
        finite_range(&xs)
    }

    fn data_range(&self) -> ((f64, f64), (f64, f64)) {
        let mut ys: Vec<f64> = Vec::new();
        for s in &self.series {
            ys.extend(s.points.iter().map(|p| p.1));
            for &(_, lo, hi) in &s.error_bars {
                ys.extend([lo, hi]);
            }
        }
        for b in &self.bands {
            for &(_, lo, hi) in &b.points {
                ys.extend([lo, hi]);
            }
        }
        let x = if !self.x_categories.is_empty() {
            (-0.5, self.x_categories.len() as f64 - 0.5)
        } else if let Some(r) = self.x_range {
            r
        } else {
            let (lo, hi) = self.x_extent().unwrap_or((0.0, 1.0));
            let pad = (hi - lo) * 0.04;
            let lo = if self.x_from_zero && lo >= 0.0 {
                0.0
            } else {
                lo - pad
            };
            (lo, hi + pad)
        };
        let y = self.y_range.unwrap_or_else(|| {
            let (lo, hi) = finite_range(&ys).unwrap_or((0.0, 1.0));
            // Start counts and durations at zero; pad the top a little.
            let lo = if lo >= 0.0 { 0.0 } else { lo };
            let hi = if hi <= lo { lo + 1.0 } else { hi };
            (lo, hi + (hi - lo) * 0.05)
        });
        (x, y)
    }

    /// The height the title and notes take above the plot area when the
    /// panel is `width` px wide.
    pub fn header_height(&self, width: f64) -> f64 {
        let notes: usize = self
            .notes
            .iter()
            .map(|n| wrap(n, width - 8.0, 11.0).len())
            .sum();
        let title = if self.title.is_empty() {
            4.0
        } else {
            4.0 + self.title_lines(width).len() as f64 * (TITLE - 4.0)
        };
        title + notes as f64 * NOTE + 6.0
    }

    fn title_lines(&self, width: f64) -> Vec<String> {
        wrap(&self.title, width - 8.0, 12.0 * 1.1)
    }

    /// Draws the panel in the box at (`x`, `y`) of `w` x `h` px.
    pub fn render_into(&self, o: &mut String, x: f64, y: f64, w: f64, h: f64) {
        let ((x0, x1), (y0, y1)) = self.data_range();
        let top = self.header_height(w);
        let bottom = if self.x_categories.is_empty() {
            BOTTOM
        } else {
            let longest = self
                .x_categories
                .iter()
                .map(|c| text_width(c, 11.0))
                .fold(0.0, f64::max);
            BOTTOM + (longest * 0.6).min(120.0)
        };
        let pw = w - LEFT - RIGHT;
        let ph = (h - top - bottom).max(40.0);
        let sx = |v: f64| LEFT + (v - x0) / (x1 - x0) * pw;
        let sy = |v: f64| top + ph - (v.clamp(y0, y1) - y0) / (y1 - y0) * ph;
        let _ = writeln!(
            o,
            r#"<g class="panel" data-name="{}" transform="translate({x:.1} {y:.1})">"#,
            escape(&self.title)
        );
        self.heading_into(o, w);
        self.axes(o, (x0, x1), (y0, y1), top, pw, ph, h);
        self.bands_into(o, &sx, &sy);
        self.markers_into(o, &sx, (top, ph));
        for s in &self.series {
            series_into(o, s, &sx, &sy);
        }
        self.point_labels(o, &sx, &sy, LEFT + pw);
        let _ = writeln!(o, "</g>");
    }

    /// The panel's title and notes, wrapped within its width `w`.
    fn heading_into(&self, o: &mut String, w: f64) {
        let mut ny = 4.0;
        for line in self.title_lines(w) {
            ny += TITLE - 4.0;
            let _ = writeln!(
                o,
                r#"<text class="panel-title" x="4" y="{:.1}" font-size="12" font-weight="bold">{}</text>"#,
                ny - 3.0,
                escape(&line)
            );
        }
        for note in &self.notes {
            for line in wrap(note, w - 8.0, 11.0) {
                ny += NOTE;
                let _ = writeln!(
                    o,
                    r##"<text class="note" x="4" y="{:.1}" font-size="11" fill="#444">{}</text>"##,
                    ny - 3.0,
                    escape(&line)
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn axes(
        &self,
        o: &mut String,
        (x0, x1): (f64, f64),
        (y0, y1): (f64, f64),
        top: f64,
        pw: f64,
        ph: f64,
        h: f64,
    ) {
        let sx = |v: f64| LEFT + (v - x0) / (x1 - x0) * pw;
        let sy = |v: f64| top + ph - (v - y0) / (y1 - y0) * ph;
        let _ = writeln!(o, r##"<g class="axes" font-size="11" fill="#333">"##);
        for t in nice_ticks(y0, y1) {
            let ty = sy(t);
            let _ = writeln!(
                o,
                r##"<line x1="{LEFT}" x2="{:.1}" y1="{ty:.1}" y2="{ty:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + pw,
                LEFT - 5.0,
                ty + 4.0,
                fmt_tick(t)
            );
        }
        if self.x_categories.is_empty() {
            for t in nice_ticks(x0, x1) {
                let tx = sx(t);
                let _ = writeln!(
                    o,
                    r##"<line x1="{tx:.1}" x2="{tx:.1}" y1="{top:.1}" y2="{:.1}" stroke="#f0f0f0"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                    top + ph,
                    top + ph + 15.0,
                    fmt_tick(t)
                );
            }
        } else {
            for (i, c) in self.x_categories.iter().enumerate() {
                let _ = writeln!(
                    o,
                    r#"<text class="category" transform="translate({:.1} {:.1}) rotate(-35)" text-anchor="end">{}</text>"#,
                    sx(i as f64),
                    top + ph + 13.0,
                    escape(c)
                );
            }
        }
        let _ = writeln!(
            o,
            r##"<rect x="{LEFT}" y="{top:.1}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="#333"/>"##
        );
        let _ = writeln!(
            o,
            r#"<text class="x-label" x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            h - 8.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            o,
            r#"<text class="y-label" transform="translate(16 {:.1}) rotate(-90)" font-size="12" text-anchor="middle">{}</text>"#,
            top + ph / 2.0,
            escape(&self.y_label)
        );
        let _ = writeln!(o, "</g>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 1.0), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        assert_eq!(nice_ticks(0.0, 230.0), vec![0.0, 50.0, 100.0, 150.0, 200.0]);
    }

    #[test]
    fn wrapping_keeps_every_word_and_fits_the_width() {
        let lines = wrap(
            "never recovered: single-pool 34%, split-pool 0%",
            120.0,
            10.0,
        );
        // 6 px a character: at most 20 characters a line.
        assert!(lines.iter().all(|l| l.chars().count() <= 20), "{lines:?}");
        assert_eq!(
            lines.join(" "),
            "never recovered: single-pool 34%, split-pool 0%"
        );
    }

    #[test]
    fn a_panel_draws_each_series_as_a_named_group_with_its_point_count() {
        let mut a = Series::new("single-pool", Style::Line, 0);
        a.points = vec![(0.0, 0.1), (1.0, 0.5), (2.0, f64::NAN)];
        let chart = Chart {
            title: "t".into(),
            series: vec![a],
            bands: vec![Band {
                name: "single-pool 95%".into(),
                points: vec![(0.0, 0.0, 0.2), (1.0, 0.4, 0.6)],
                color: PALETTE[0].into(),
            }],
            ..Chart::default()
        };
        let mut svg = String::new();
        chart.render_into(&mut svg, 0.0, 0.0, 400.0, 300.0);
        assert!(svg.contains(r#"<g class="series" data-name="single-pool" data-points="2">"#));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains(r#"class="band" data-name="single-pool 95%""#));
    }
}
