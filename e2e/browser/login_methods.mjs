// The login page of a hub with several login methods, in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core): every method visible and labelled at
// desktop and phone widths (screenshots saved, nothing wider than the screen), then a
// login through one method's button (at a local provider that approves at once) and one
// through the form, each landing where `next` said.
//
// Environment: HUB_URL (http://127.0.0.1:PORT/hub/), OUT_DIR, PROFILE_DIR, METHODS (the
// labels in page order, separated by "|"), BUTTON_LABEL and BUTTON_USER (a redirect
// method and the hub username it logs in), FORM_NAME / FORM_USER / PASSWORD (a form
// method). Prints one JSON object; exits 1 on the first failure.
import { chromium } from "playwright-core";
import path from "node:path";

const hub = process.env.HUB_URL;
const out = process.env.OUT_DIR;
const labels = process.env.METHODS.split("|");
const viewports = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
};
const problems = [];
const seen = { screenshots: [], steps: [] };

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

const context = await chromium.launchPersistentContext(process.env.PROFILE_DIR, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
  viewport: viewports.desktop,
});

try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error on ${page.url()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error on ${page.url()}: ${err.message}`));

  const next = "/hub/home?from=login-methods";
  const loginUrl = `${hub}login?next=${encodeURIComponent(next)}`;
  const response = await page.goto(loginUrl);
  check(response.status() === 200, `login page: ${response.status()}`);
  const sections = page.locator("section.login-method");
  check((await sections.count()) === labels.length, `${await sections.count()} methods shown`);
  for (const [index, label] of labels.entries()) {
    const section = sections.nth(index);
    check((await section.getAttribute("aria-label")) === label, `method ${index} is not ${label}`);
    check(await section.isVisible(), `${label} is not visible`);
  }
  for (const [width, size] of Object.entries(viewports)) {
    await page.setViewportSize(size);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    check(overflow <= 1, `the login page at ${width} is ${overflow}px wider than the screen`);
    for (const label of labels) {
      const box = await page.locator(`section.login-method[aria-label="${label}"]`).boundingBox();
      check(box && box.width > 0 && box.x >= 0 && box.x + box.width <= size.width + 1, `${label} off screen at ${width}`);
    }
    const file = path.join(out, `login-methods-${width}.png`);
    await page.screenshot({ path: file, fullPage: true });
    seen.screenshots.push(file);
  }
  await page.setViewportSize(viewports.desktop);
  seen.steps.push("every method shown");

  // A redirect method's button: to the provider and back, to `next`.
  await Promise.all([
    page.waitForURL((url) => url.pathname === "/hub/home"),
    page.getByRole("link", { name: `Sign in with ${process.env.BUTTON_LABEL}` }).click(),
  ]);
  check(new URL(page.url()).search === "?from=login-methods", `next lost: ${page.url()}`);
  check((await page.locator("#username").textContent()) === process.env.BUTTON_USER, "button login user");
  seen.steps.push("button login");
  await context.clearCookies();

  // The form method, its fields labelled within its own section.
  await page.goto(loginUrl);
  const form = page.locator(`section.login-method[aria-label="${process.env.FORM_NAME}"]`);
  await form.getByLabel("Username").fill(process.env.FORM_USER);
  await form.getByLabel("Password").fill(process.env.PASSWORD);
  await Promise.all([
    page.waitForURL((url) => url.pathname === "/hub/home"),
    form.getByRole("button", { name: "Sign in" }).click(),
  ]);
  check(new URL(page.url()).search === "?from=login-methods", `next lost: ${page.url()}`);
  check((await page.locator("#username").textContent()) === process.env.FORM_USER, "form login user");
  seen.steps.push("form login");
} catch (err) {
  problems.push(String(err && err.stack ? err.stack : err));
} finally {
  await context.close();
}
console.log(JSON.stringify({ ...seen, problems }));
process.exit(problems.length ? 1 : 0);
