// Run axe-core in headless Chromium (Debian's, never a downloaded one) on
// each HTML file named on the command line; print one JSON object:
// {"<file>": [{"id", "impact", "help", "nodes": [<target>, ...]}, ...], ...}.
// Usage: AXE_TAGS=wcag2a,... node axe.mjs CHROMIUM FILE...
// (exit 0 whatever axe finds; 2 on misuse)
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import puppeteer from "puppeteer-core";

// The rule sets to run, comma-separated (tests/report/axe.py names them once).
const TAGS = (process.env.AXE_TAGS || "").split(",").filter(Boolean);

const [browserPath, ...files] = process.argv.slice(2);
if (!browserPath || files.length === 0 || TAGS.length === 0) {
  console.error("usage: AXE_TAGS=wcag2a,... node axe.mjs CHROMIUM FILE...");
  process.exit(2);
}
const require = createRequire(import.meta.url);
const axeSource = await readFile(require.resolve("axe-core/axe.min.js"), "utf8");

const browser = await puppeteer.launch({
  executablePath: browserPath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
const results = {};
try {
  for (const file of files) {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    // Offline, as the pack must be: only the file itself and its data: images load.
    await page.setRequestInterception(true);
    page.on("request", (request) => {
      const url = request.url();
      if (url.startsWith("file:") || url.startsWith("data:")) request.continue();
      else request.abort();
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    await page.addScriptTag({ content: axeSource });
    const found = await page.evaluate(
      async (tags) => {
        const run = await globalThis.axe.run(document, { runOnly: { type: "tag", values: tags } });
        return run.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          nodes: v.nodes.map((n) => n.target.join(" ")),
        }));
      },
      TAGS,
    );
    results[file] = found;
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(results));
