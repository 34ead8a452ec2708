//! A small SVG chart renderer: axes with nice ticks, lines, step lines,
//! points with error bars, shaded interval bands, vertical markers and a
//! legend.
//!
//! Hand-written rather than a plotting crate so that figures need no system
//! fonts, render the same everywhere, and carry a stable structure (each
//! series is a `<g class="series" data-name="...">`) that tests can check.

use std::fmt::Write;

/// Colours for successive series: Okabe-Ito (distinguishable by most
/// colour-blind readers), then four of Paul Tol's.
pub const PALETTE: [&str; 12] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
    "#882255", "#44AA99", "#999933", "#AA4499",
];

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Straight segments between points.
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

/// A vertical line marking an instant (a fault).
#[derive(Debug, Clone)]
pub struct Marker {
    /// Label next to the line.
    pub label: String,
    /// Where.
    pub x: f64,
}

/// A chart.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// Title.
    pub title: String,
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
    /// Fixed vertical range, else fitted.
    pub y_range: Option<(f64, f64)>,
    /// Category names for the horizontal axis (x = 0, 1, 2...), if any.
    pub x_categories: Vec<String>,
    /// Start the horizontal axis at zero (durations, counts).
    pub x_from_zero: bool,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 64.0;

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

fn fmt_tick(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e9 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Chart {
    fn data_range(&self) -> ((f64, f64), (f64, f64)) {
        let mut xs: Vec<f64> = Vec::new();
        let mut ys: Vec<f64> = Vec::new();
        for s in &self.series {
            for &(x, y) in &s.points {
                xs.push(x);
                ys.push(y);
            }
            for &(x, lo, hi) in &s.error_bars {
                xs.push(x);
                ys.extend([lo, hi]);
            }
        }
        for b in &self.bands {
            for &(x, lo, hi) in &b.points {
                xs.push(x);
                ys.extend([lo, hi]);
            }
        }
        xs.extend(self.markers.iter().map(|m| m.x));
        let finite = |v: &Vec<f64>| {
            let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
            if f.is_empty() {
                (0.0, 1.0)
            } else {
                let lo = f.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if hi > lo {
                    (lo, hi)
                } else {
                    (lo - 0.5, hi + 0.5)
                }
            }
        };
        let (lo, hi) = finite(&xs);
        let pad = (hi - lo) * 0.04;
        let mut x = (
            if self.x_from_zero && lo >= 0.0 {
                0.0
            } else {
                lo - pad
            },
            hi + pad,
        );
        if !self.x_categories.is_empty() {
            x = (-0.5, self.x_categories.len() as f64 - 0.5);
        }
        let y = self.y_range.unwrap_or_else(|| {
            let (lo, hi) = finite(&ys);
            // Start counts and durations at zero; pad the top a little.
            let lo = if lo >= 0.0 { 0.0 } else { lo };
            (lo, hi + (hi - lo) * 0.05)
        });
        (x, y)
    }

    /// Renders the chart as a standalone SVG document.
    pub fn render(&self) -> String {
        let ((x0, x1), (y0, y1)) = self.data_range();
        let pw = WIDTH - LEFT - RIGHT;
        // Category names are drawn slanted and need more room below.
        let bottom = if self.x_categories.is_empty() {
            BOTTOM
        } else {
            BOTTOM + 70.0
        };
        let ph = HEIGHT - TOP - bottom;
        let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
        let sy = |y: f64| TOP + ph - (y.clamp(y0, y1) - y0) / (y1 - y0) * ph;
        let mut o = String::new();
        let _ = writeln!(
            o,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif">"#
        );
        let _ = writeln!(o, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            o,
            r#"<text class="title" x="12" y="28" font-size="15" font-weight="bold">{}</text>"#,
            escape(&self.title)
        );
        // Grid and ticks.
        let _ = writeln!(o, r##"<g class="axes" font-size="12" fill="#333">"##);
        for t in nice_ticks(y0, y1) {
            let y = sy(t);
            let _ = writeln!(
                o,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + pw,
                LEFT - 6.0,
                y + 4.0,
                fmt_tick(t)
            );
        }
        if self.x_categories.is_empty() {
            for t in nice_ticks(x0, x1) {
                let x = sx(t);
                let _ = writeln!(
                    o,
                    r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#f0f0f0"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
                    TOP + ph,
                    TOP + ph + 18.0,
                    fmt_tick(t)
                );
            }
        } else {
            for (i, c) in self.x_categories.iter().enumerate() {
                let _ = writeln!(
                    o,
                    r#"<text transform="translate({:.1} {}) rotate(-35)" text-anchor="end">{}</text>"#,
                    sx(i as f64),
                    TOP + ph + 14.0,
                    escape(c)
                );
            }
        }
        let _ = writeln!(
            o,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
        );
        let _ = writeln!(
            o,
            r#"<text class="x-label" x="{}" y="{}" font-size="13" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            HEIGHT - 18.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            o,
            r#"<text class="y-label" transform="translate(20 {}) rotate(-90)" font-size="13" text-anchor="middle">{}</text>"#,
            TOP + ph / 2.0,
            escape(&self.y_label)
        );
        let _ = writeln!(o, "</g>");
        for b in &self.bands {
            if b.points.is_empty() {
                continue;
            }
            let mut d = String::new();
            for (i, &(x, _, hi)) in b.points.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if i == 0 { "M" } else { "L" },
                    sx(x),
                    sy(hi)
                );
            }
            for &(x, lo, _) in b.points.iter().rev() {
                let _ = write!(d, "L{:.1},{:.1} ", sx(x), sy(lo));
            }
            let _ = writeln!(
                o,
                r#"<path class="band" data-name="{}" d="{}Z" fill="{}" fill-opacity="0.18" stroke="none"/>"#,
                escape(&b.name),
                d,
                b.color
            );
        }
        for m in &self.markers {
            let x = sx(m.x);
            let _ = writeln!(
                o,
                r##"<g class="marker" data-name="{}"><line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#B00020" stroke-dasharray="5 4"/><text x="{:.1}" y="{}" font-size="12" fill="#B00020">{}</text></g>"##,
                escape(&m.label),
                TOP + ph,
                x + 4.0,
                TOP + 14.0,
                escape(&m.label)
            );
        }
        for s in &self.series {
            let _ = writeln!(o, r#"<g class="series" data-name="{}">"#, escape(&s.name));
            let dash = if s.dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            match s.style {
                Style::Line | Style::Step => {
                    let mut d = String::new();
                    let mut prev: Option<(f64, f64)> = None;
                    for &(x, y) in &s.points {
                        if !(x.is_finite() && y.is_finite()) {
                            continue;
                        }
                        match prev {
                            None => {
                                let _ = write!(d, "M{:.1},{:.1} ", sx(x), sy(y));
                            }
                            Some((_, py)) if s.style == Style::Step => {
                                let _ = write!(
                                    d,
                                    "L{:.1},{:.1} L{:.1},{:.1} ",
                                    sx(x),
                                    sy(py),
                                    sx(x),
                                    sy(y)
                                );
                            }
                            Some(_) => {
                                let _ = write!(d, "L{:.1},{:.1} ", sx(x), sy(y));
                            }
                        }
                        prev = Some((x, y));
                    }
                    let _ = writeln!(
                        o,
                        r#"<path d="{d}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
                        s.color
                    );
                    if s.style == Style::Line && s.points.len() <= 40 {
                        for &(x, y) in &s.points {
                            if x.is_finite() && y.is_finite() {
                                let _ = writeln!(
                                    o,
                                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                                    sx(x),
                                    sy(y),
                                    s.color
                                );
                            }
                        }
                    }
                }
                Style::Points => {
                    for &(x, lo, hi) in &s.error_bars {
                        if lo.is_finite() && hi.is_finite() {
                            let _ = writeln!(
                                o,
                                r#"<line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2"/>"#,
                                sx(x),
                                sx(x),
                                sy(lo),
                                sy(hi),
                                s.color
                            );
                        }
                    }
                    for &(x, y) in &s.points {
                        if x.is_finite() && y.is_finite() {
                            let _ = writeln!(
                                o,
                                r#"<circle cx="{:.1}" cy="{:.1}" r="4.5" fill="{}"/>"#,
                                sx(x),
                                sy(y),
                                s.color
                            );
                        }
                    }
                }
            }
            let _ = writeln!(o, "</g>");
        }
        // Legend.
        let lx = LEFT + pw + 14.0;
        let _ = writeln!(o, r#"<g class="legend" font-size="12">"#);
        for (i, s) in self.series.iter().enumerate() {
            let y = TOP + 10.0 + i as f64 * 20.0;
            let dash = if s.dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            let _ = writeln!(
                o,
                r#"<line x1="{lx}" x2="{}" y1="{y}" y2="{y}" stroke="{}" stroke-width="3"{dash}/><text x="{}" y="{}">{}</text>"#,
                lx + 22.0,
                s.color,
                lx + 28.0,
                y + 4.0,
                escape(&s.name)
            );
        }
        let _ = writeln!(o, "</g>\n</svg>");
        o
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
    fn renders_each_series_as_a_named_group() {
        let mut a = Series::new("single-pool", Style::Line, 0);
        a.points = vec![(0.0, 0.1), (1.0, 0.5)];
        let mut chart = Chart {
            title: "t".into(),
            series: vec![a],
            ..Chart::default()
        };
        chart.bands.push(Band {
            name: "single-pool 95%".into(),
            points: vec![(0.0, 0.0, 0.2), (1.0, 0.4, 0.6)],
            color: PALETTE[0].into(),
        });
        let svg = chart.render();
        assert!(svg.contains(r#"<g class="series" data-name="single-pool">"#));
        assert!(svg.contains(r#"class="band" data-name="single-pool 95%""#));
        assert!(svg.starts_with("<svg"));
    }
}
