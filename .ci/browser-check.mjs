// Loads a poolsim report.html in headless Chromium and checks it:
// every number marked with data-col/data-value equals the cell of
// summary.csv it names (and its text is that value rounded), every figure
// is present and draws something, and the page logs no console error.
// Takes a full-page screenshot.
//
//   node .ci/browser-check.mjs REPORT.html SUMMARY.csv SCREENSHOT.png
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const require = createRequire(process.env.PLAYWRIGHT_CORE || import.meta.url);
const { chromium } = require("playwright-core");
const [html, csv, shot] = process.argv.slice(2);

const fail = (msg) => {
  console.error(`browser check: ${msg}`);
  process.exitCode = 1;
};
const lines = readFileSync(csv, "utf8").trim().split("\n");
const header = lines[0].split(",");
const rows = lines.slice(1).map((l) => l.split(","));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
  ],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
const errors = [];
const requests = [];
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
page.on("pageerror", (e) => errors.push(String(e)));
page.on("request", (r) => { if (!r.url().startsWith("file:")) requests.push(r.url()); });
await page.goto(pathToFileURL(html).href, { waitUntil: "load" });

const cells = await page.$$eval("[data-col][data-value]", (els) =>
  els.map((e) => ({
    row: Number(e.dataset.row), col: e.dataset.col, value: e.dataset.value, text: e.textContent.trim(),
  })));
if (cells.length === 0) fail("no number of summary.csv on the page");
let checked = 0;
for (const c of cells) {
  const col = header.indexOf(c.col);
  if (col < 0 || !rows[c.row]) { fail(`${c.col} row ${c.row}: not in summary.csv`); continue; }
  const want = rows[c.row][col];
  if (c.value !== want) fail(`${c.col} row ${c.row}: page says ${c.value}, summary.csv ${want}`);
  if (want === "") {
    if (c.text !== "-") fail(`${c.col} row ${c.row}: empty in summary.csv, shown as ${c.text}`);
  } else if (!Number.isNaN(Number(want))) {
    const decimals = (c.text.split(".")[1] || "").length;
    if (Math.abs(Number(c.text) - Number(want)) > 0.5 * 10 ** -decimals + 1e-12) {
      fail(`${c.col} row ${c.row}: shown ${c.text}, summary.csv ${want}`);
    }
  }
  checked += 1;
}
// Every summary row's headline numbers are on the page.
for (let r = 0; r < rows.length; r++) {
  for (const col of ["deadlock_rate", "deadlock_rate_lo", "deadlock_rate_hi", "cost_usd_mean"]) {
    if (!cells.some((c) => c.row === r && c.col === col)) fail(`row ${r}: ${col} missing`);
  }
}

const figures = await page.$$eval("figure[data-file]", (fs) =>
  fs.map((f) => {
    const svg = f.querySelector("svg");
    const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    const drawn = svg ? [...svg.querySelectorAll("g.series")]
      .filter((g) => Number(g.dataset.points) > 0).length : 0;
    const marks = svg ? svg.querySelectorAll("g.series path, g.series circle").length : 0;
    return { file: f.dataset.file, width: box.width, height: box.height, drawn, marks };
  }));
const expected = (process.env.FIGURES || "").split(",").filter(Boolean);
for (const name of expected) {
  if (!figures.some((f) => f.file === name)) fail(`figure ${name} missing`);
}
if (figures.length === 0) fail("no figure");
for (const f of figures) {
  if (!(f.width > 100 && f.height > 100)) fail(`${f.file}: drawn ${f.width}x${f.height}`);
  if (f.drawn === 0 || f.marks === 0) fail(`${f.file}: no series drawn`);
}
if (errors.length) fail(`console errors: ${errors.join(" | ")}`);
if (requests.length) fail(`network requests: ${requests.join(" ")}`);
await page.screenshot({ path: shot, fullPage: true });
await browser.close();
if (!process.exitCode) {
  console.log(`browser check: ok (${checked} numbers equal summary.csv, ${figures.length} figures drawn, no console error; screenshot ${shot})`);
}
