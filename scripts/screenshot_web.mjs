// Opens a page (the `reel view --web` viewer) in headless Chromium, waits for the
// WebAssembly viewer to start and draw, and saves a screenshot. Used by hand to
// look at the web viewer as a reviewer would:
//   node scripts/screenshot_web.mjs URL OUT.png [SECONDS]
// Needs Debian's chromium and playwright-core (npm install playwright-core).
import { chromium } from "playwright-core";

const [url, out, seconds = "60"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
  ],
});
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
const messages = [];
page.on("console", (m) => messages.push(`${m.type()}: ${m.text()}`));
await page.goto(url);
await page.waitForTimeout(Number(seconds) * 1000);
await page.screenshot({ path: out });
console.log(messages.filter((m) => m.startsWith("error")).slice(0, 10).join("\n"));
await browser.close();
