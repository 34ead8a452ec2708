//! A figure: a title, one or more panels (`svg::Chart`) in a grid (small
//! multiples), notes, and one legend for all panels, laid out below them so
//! that no label is ever cut: entries flow into as many rows as they need.

use std::fmt::Write;

use super::svg::{Chart, Series, escape, text_width, wrap};

/// A figure of panels sharing one legend.
#[derive(Debug, Clone, Default)]
pub struct Figure {
    /// Title.
    pub title: String,
    /// Lines under the title (what the panels are, how to read them).
    pub notes: Vec<String>,
    /// Panels, row by row.
    pub panels: Vec<Chart>,
    /// Panels per row (0: up to three).
    pub columns: usize,
    /// Height of each panel in px (0: a default for the layout).
    pub panel_height: f64,
}

/// One legend entry: a series' look and its text.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    text: String,
    color: String,
    dashed: bool,
}

const TITLE_FONT: f64 = 15.0;
const NOTE_FONT: f64 = 12.0;
const LEGEND_FONT: f64 = 12.0;
const LEGEND_ROW: f64 = 20.0;
const MARGIN: f64 = 12.0;

/// The names of series in `chart` that have the same points as an earlier
/// series, each with the name of the first one it repeats.
pub fn identical_series(chart: &Chart) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, s) in chart.series.iter().enumerate() {
        if s.points.is_empty() {
            continue;
        }
        if let Some(first) = chart.series[..i].iter().find(|e| same_points(e, s)) {
            out.push((s.name.clone(), first.name.clone()));
        }
    }
    out
}

fn same_points(a: &Series, b: &Series) -> bool {
    a.points.len() == b.points.len()
        && a.points
            .iter()
            .zip(&b.points)
            .all(|(p, q)| p.0.to_bits() == q.0.to_bits() && p.1.to_bits() == q.1.to_bits())
}

/// Adds a note to `panel` naming the curves that coincide there (the later
/// one is drawn over the earlier one).
pub fn note_identical(panel: &mut Chart) {
    let same = identical_series(panel);
    if !same.is_empty() {
        let pairs: Vec<String> = same.iter().map(|(s, f)| format!("{s} = {f}")).collect();
        panel.notes.push(format!(
            "identical curves, drawn over each other: {}",
            pairs.join("; ")
        ));
    }
}

impl Figure {
    /// A figure of one panel.
    pub fn single(title: impl Into<String>, panel: Chart) -> Self {
        Figure {
            title: title.into(),
            panels: vec![panel],
            ..Figure::default()
        }
    }

    /// Whether any panel has a point to draw.
    pub fn has_data(&self) -> bool {
        self.panels.iter().any(Chart::has_data)
    }

    fn columns(&self) -> usize {
        match self.columns {
            0 => self.panels.len().clamp(1, 3),
            c => c,
        }
    }

    /// The legend: one entry per distinct series (by name and look) in
    /// panel order. In a one-panel figure a series identical to an earlier
    /// one says so.
    fn legend(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        let same = match self.panels.as_slice() {
            [one] => identical_series(one),
            _ => Vec::new(),
        };
        for s in self.panels.iter().flat_map(|p| &p.series) {
            let mut text = s.name.clone();
            if let Some((_, first)) = same.iter().find(|(n, _)| *n == s.name) {
                text.push_str(&format!(" (same curve as {first})"));
            }
            let e = Entry {
                text,
                color: s.color.clone(),
                dashed: s.dashed,
            };
            if !entries
                .iter()
                .any(|x| x.text == e.text && x.color == e.color)
            {
                entries.push(e);
            }
        }
        entries
    }

    /// Renders the figure as a standalone SVG document.
    pub fn render(&self) -> String {
        let cols = self.columns();
        let rows = self.panels.len().div_ceil(cols).max(1);
        let (width, panel_h) = self.size(cols);
        let panel_w = (width - 2.0 * MARGIN) / cols as f64;
        let title_lines = wrap(&self.title, width - 2.0 * MARGIN, TITLE_FONT);
        let note_lines: Vec<String> = self
            .notes
            .iter()
            .flat_map(|n| wrap(n, width - 2.0 * MARGIN, NOTE_FONT))
            .collect();
        let head = 10.0 + title_lines.len() as f64 * 20.0 + note_lines.len() as f64 * 16.0 + 6.0;
        // Lay the legend out first: its rows decide the height.
        let (placed, legend_rows) = self.place_legend(width);
        let legend_top = head + rows as f64 * panel_h + 8.0;
        let height = legend_top + legend_rows as f64 * LEGEND_ROW + 10.0;
        let mut o = String::new();
        let _ = writeln!(
            o,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="Helvetica, Arial, sans-serif">"#
        );
        let _ = writeln!(o, r#"<rect width="100%" height="100%" fill="white"/>"#);
        write_heading(&mut o, &title_lines, &note_lines);
        for (i, panel) in self.panels.iter().enumerate() {
            let (r, c) = (i / cols, i % cols);
            panel.render_into(
                &mut o,
                MARGIN + c as f64 * panel_w,
                head + r as f64 * panel_h,
                panel_w,
                panel_h,
            );
        }
        write_legend(&mut o, &placed, legend_top);
        let _ = writeln!(o, "</svg>");
        o
    }

    /// The figure's width and one panel's height for `cols` columns.
    fn size(&self, cols: usize) -> (f64, f64) {
        let width = if cols == 1 {
            720.0
        } else {
            cols as f64 * 330.0
        };
        let panel_h = match self.panel_height {
            h if h > 0.0 => h,
            _ if cols == 1 => 380.0,
            _ => 290.0,
        };
        (width, panel_h)
    }

    /// The legend's entries placed left to right, wrapped within `width`:
    /// each entry's x and row, and how many rows they take.
    fn place_legend(&self, width: f64) -> (Vec<(f64, usize, Entry)>, usize) {
        let mut placed: Vec<(f64, usize, Entry)> = Vec::new();
        let (mut lx, mut lrow) = (MARGIN, 0usize);
        for e in self.legend() {
            let w = 30.0 + text_width(&e.text, LEGEND_FONT) + 18.0;
            if lx + w > width - MARGIN && lx > MARGIN {
                lx = MARGIN;
                lrow += 1;
            }
            placed.push((lx, lrow, e));
            lx += w;
        }
        let rows = if placed.is_empty() { 0 } else { lrow + 1 };
        (placed, rows)
    }
}

/// Writes the title's and the notes' lines from the top.
fn write_heading(o: &mut String, title_lines: &[String], note_lines: &[String]) {
    let mut y = 10.0;
    for line in title_lines {
        y += 20.0;
        let _ = writeln!(
            o,
            r#"<text class="title" x="{MARGIN}" y="{:.1}" font-size="{TITLE_FONT}" font-weight="bold">{}</text>"#,
            y - 4.0,
            escape(line)
        );
    }
    for line in note_lines {
        y += 16.0;
        let _ = writeln!(
            o,
            r##"<text class="figure-note" x="{MARGIN}" y="{:.1}" font-size="{NOTE_FONT}" fill="#333">{}</text>"##,
            y - 3.0,
            escape(line)
        );
    }
}

/// Writes the legend's placed entries, its rows from `legend_top`.
fn write_legend(o: &mut String, placed: &[(f64, usize, Entry)], legend_top: f64) {
    let _ = writeln!(o, r#"<g class="legend" font-size="{LEGEND_FONT}">"#);
    for (x, row, e) in placed {
        let ly = legend_top + *row as f64 * LEGEND_ROW + 8.0;
        let dash = if e.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            o,
            r#"<g class="legend-entry"><line x1="{x:.1}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{}" stroke-width="3"{dash}/><text x="{:.1}" y="{:.1}">{}</text></g>"#,
            x + 24.0,
            e.color,
            x + 30.0,
            ly + 4.0,
            escape(&e.text)
        );
    }
    let _ = writeln!(o, "</g>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::svg::Style;

    fn series(name: &str, i: usize, pts: &[(f64, f64)]) -> Series {
        let mut s = Series::new(name, Style::Line, i);
        s.points = pts.to_vec();
        s
    }

    #[test]
    fn a_long_legend_wraps_inside_the_figure() {
        let names: Vec<String> = (0..6)
            .map(|i| format!("priority-missing-class-{i} (never: 34%)"))
            .collect();
        let panel = Chart {
            series: names
                .iter()
                .enumerate()
                .map(|(i, n)| series(n, i, &[(0.0, i as f64)]))
                .collect(),
            ..Chart::default()
        };
        let svg = Figure::single("t", panel).render();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let width: f64 = doc
            .root_element()
            .attribute("width")
            .unwrap()
            .parse()
            .unwrap();
        let entries: Vec<_> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("legend-entry"))
            .collect();
        assert_eq!(entries.len(), 6);
        for e in entries {
            let text = e.children().find(|c| c.has_tag_name("text")).unwrap();
            let x: f64 = text.attribute("x").unwrap().parse().unwrap();
            let label = text.text().unwrap();
            assert!(
                x + text_width(label, LEGEND_FONT) <= width,
                "{label} at {x} overflows {width}"
            );
        }
    }

    #[test]
    fn identical_curves_are_named_in_the_legend_of_a_single_panel() {
        let panel = Chart {
            series: vec![
                series("a", 0, &[(0.0, 0.0), (1.0, 0.0)]),
                series("b", 1, &[(0.0, 0.0), (1.0, 0.0)]),
                series("c", 2, &[(0.0, 1.0), (1.0, 0.0)]),
            ],
            ..Chart::default()
        };
        let svg = Figure::single("t", panel).render();
        assert!(svg.contains(">b (same curve as a)<"), "{svg}");
        assert!(svg.contains(">c<"));
    }
}
