// The index page in Debian's headless Chromium, driven by playwright-core, at a desktop and a
// mobile width: axe-core's findings, horizontal overflow, the overview, the filter, keyboard
// focus, and the embed builder (copy, style, label, preview). Prints one JSON object;
// `host/tests/it/index_browser.rs` runs it and asserts on it.
//
// usage: node index-check.js <page url> <screenshot dir> <badge path, e.g. /_/web@eu/health/>
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const [url, shots, badgePath] = process.argv.slice(2);
const VIEWPORTS = {
  desktop: { viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 },
  mobile: { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
};
const axeSource = fs.readFileSync(require.resolve("axe-core"), "utf8");

async function loaded(page) {
  await page.waitForFunction(() => {
    const p = document.getElementById("progress");
    return p && p.dataset.total && Number(p.dataset.loaded) + Number(p.dataset.failed) === Number(p.dataset.total);
  }, null, { timeout: 20000 });
}

// axe in the page (evaluated through DevTools, so the page's CSP stays on for its own script).
async function axe(page) {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
    }));
  });
}

async function overflow(page) {
  return page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
}

async function check(browser, name, options) {
  const context = await browser.newContext({
    ...options,
    permissions: ["clipboard-read", "clipboard-write"],
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("response", (response) => {
    if (response.status() >= 400 && !response.url().endsWith("/favicon.ico")) errors.push(`${response.status()} ${response.url()}`);
  });
  await page.goto(url);
  await loaded(page);
  const out = { errors };
  out.overflow = await overflow(page);
  out.overview = await page.evaluate(() => Object.fromEntries(
    Array.from(document.querySelectorAll("#overview li.count")).map((li) =>
      [li.dataset.state, Number(li.querySelector(".n").textContent)])));
  out.badges = await page.evaluate(() =>
    Array.from(document.querySelectorAll("img.badge")).map((img) => img.getAttribute("src")));
  out.descriptions = await page.evaluate(() =>
    Array.from(document.querySelectorAll("figure.badge figcaption")).map((f) => f.textContent));
  out.axe = await axe(page);

  // Keyboard: the first 30 stops of Tab, each with a visible focus outline.
  await page.locator("body").focus();
  out.focus = [];
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press("Tab");
    out.focus.push(await page.evaluate(() => {
      const e = document.activeElement;
      if (e === document.body) return null;
      const style = getComputedStyle(e);
      return { tag: e.tagName.toLowerCase(), text: (e.textContent || e.getAttribute("aria-label") || "").trim().slice(0, 40),
        outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0 };
    }));
  }
  out.focus = out.focus.filter(Boolean);

  // The builder: open the badge's panel from the keyboard; nothing below it moves.
  const figure = page.locator("figure.badge", { has: page.locator(`img[src="${badgePath}?format=svg"]`) });
  const summary = figure.locator("summary");
  const row = figure.locator("xpath=ancestor::tr[1]");
  const next = row.locator("xpath=following::tr[1]");
  // Where the next row is on the page (not in the viewport: focus may scroll).
  const at = async () => (await next.count()) ? next.evaluate((e) => {
    const box = e.getBoundingClientRect();
    return { x: box.left + window.scrollX, y: box.top + window.scrollY };
  }) : null;
  const before = await at();
  await summary.focus();
  await page.keyboard.press("Enter");
  await figure.locator(".builder").waitFor();
  const after = await at();
  out.shift = before && after ? Math.abs(after.y - before.y) + Math.abs(after.x - before.x) : 0;
  const snippet = async (format) => figure.locator("dt", { hasText: new RegExp(`^${format}$`) })
    .locator("xpath=following-sibling::dd[1]/code").textContent();
  out.snippets = {};
  for (const format of ["Markdown", "HTML", "URL", "reStructuredText", "AsciiDoc"]) {
    out.snippets[format] = await snippet(format);
  }
  await figure.getByRole("button", { name: "copy Markdown" }).click();
  await figure.locator("[role=status]", { hasText: "copied" }).waitFor();
  out.copied = await page.evaluate(() => navigator.clipboard.readText());
  await figure.locator("select").selectOption("for-the-badge");
  await figure.locator(".builder input").fill("prod web");
  out.styled = { Markdown: await snippet("Markdown"), URL: await snippet("URL") };
  const preview = figure.locator(".preview img");
  await page.waitForFunction((img) => img.complete && img.naturalWidth > 0, await preview.elementHandle());
  out.preview = { src: await preview.getAttribute("src"), width: await preview.evaluate((img) => img.naturalWidth) };
  out.overflowOpen = await overflow(page);
  out.axeOpen = await axe(page);
  fs.mkdirSync(shots, { recursive: true });
  await figure.scrollIntoViewIfNeeded();
  await page.evaluate(() => window.scrollBy(0, -120));
  await page.screenshot({ path: path.join(shots, `index-${name}.png`) });
  await page.keyboard.press("Escape");
  out.closedByEscape = await figure.locator("details").evaluate((d) => !d.open);

  // The live filter, and the state filter (a link of the overview).
  await page.locator("#filter").fill("ledger");
  out.filtered = await page.evaluate(() => Array.from(document.querySelectorAll("tr.service:not([hidden]) th")).map((th) => th.textContent));
  await page.locator("#filter").fill("");
  await page.locator('#overview li[data-state="failing"] a').click();
  await page.waitForURL(/state=failing/);
  out.failing = await page.evaluate(() => Array.from(document.querySelectorAll("tr.service th")).map((th) => th.textContent));
  await context.close();
  return out;
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  try {
    const result = {};
    for (const [name, options] of Object.entries(VIEWPORTS)) {
      result[name] = await check(browser, name, options);
    }
    process.stdout.write(JSON.stringify(result) + "\n");
  } finally {
    await browser.close();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
