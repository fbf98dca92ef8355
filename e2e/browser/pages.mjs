// Renders the hub's pages in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) at desktop and phone widths, saves screenshots, drives the admin page,
// and fails on any console error, page error or failed request.
//
// Environment: HUB_URL (http://127.0.0.1:PORT/hub/), OUT_DIR (screenshots), PROFILE_DIR
// (a fresh Chromium profile), USER_NAME / ADMIN_NAME / PASSWORD (DummyAuthenticator).
// Prints one JSON object with what it saw; exits 1 on the first failure.
import { chromium } from "playwright-core";
import path from "node:path";

const hub = process.env.HUB_URL;
const out = process.env.OUT_DIR;
const profile = process.env.PROFILE_DIR;
const password = process.env.PASSWORD;
const userName = process.env.USER_NAME;
const adminName = process.env.ADMIN_NAME;
const newUser = process.env.NEW_USER || "newbie";

const viewports = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
};

const problems = [];
// The URL of a page that is expected to answer with an error status (403, 404): Chromium
// logs "Failed to load resource" for it, which is not a problem.
let expectedErrorPage = null;
const seen = { screenshots: [], steps: [] };

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  viewport: viewports.desktop,
});

try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    if (
      expectedErrorPage &&
      msg.text().startsWith("Failed to load resource") &&
      msg.location().url === expectedErrorPage
    ) {
      return;
    }
    problems.push(`console error on ${page.url()}: ${msg.text()} (${msg.location().url})`);
  });
  page.on("pageerror", (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  page.on("requestfailed", (req) =>
    problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`),
  );
  page.on("response", (res) => {
    // Error pages answer 403/404 on purpose; anything a page loads must work.
    if (res.status() >= 400 && res.request().resourceType() !== "document") {
      problems.push(`${res.status()} for ${res.url()}`);
    }
  });

  async function shoot(name) {
    for (const [width, size] of Object.entries(viewports)) {
      await page.setViewportSize(size);
      // Nothing may stick out sideways on a phone.
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      check(overflow <= 1, `${name} at ${width} is ${overflow}px wider than the screen`);
      const file = path.join(out, `${name}-${width}.png`);
      await page.screenshot({ path: file, fullPage: true });
      seen.screenshots.push(file);
    }
    await page.setViewportSize(viewports.desktop);
  }

  async function login(name) {
    await page.goto(`${hub}login`);
    await page.getByLabel("Username").fill(name);
    await page.getByLabel("Password").fill(password);
    await Promise.all([page.waitForURL(/\/hub\/home/), page.getByRole("button", { name: "Sign in" }).click()]);
  }

  // Login page: labels, focus style, announcement, logo.
  let response = await page.goto(`${hub}login`);
  check(response.status() === 200, `login page: ${response.status()}`);
  check((await page.locator("#announcement").textContent()).includes("Maintenance"), "announcement missing");
  check(await page.locator("header img").isVisible(), "logo missing");
  const logoLoaded = await page.locator("header img").evaluate((img) => img.complete && img.naturalWidth > 0);
  check(logoLoaded, "logo did not load");
  await page.getByLabel("Username").focus();
  const outline = await page
    .getByLabel("Username")
    .evaluate((el) => getComputedStyle(el).outlineStyle + " " + getComputedStyle(el).outlineWidth);
  check(!outline.startsWith("none"), `no focus style on the username field (${outline})`);
  await shoot("login");
  seen.steps.push("login page");

  // Wrong password: the login page with its error.
  await page.getByLabel("Username").fill(userName);
  await page.getByLabel("Password").fill("wrong-password");
  expectedErrorPage = `${hub}login`;
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForSelector("#login-error");
  await shoot("login-error");
  expectedErrorPage = null;
  seen.steps.push("login error");

  // A user: home, then the admin page is 403, then a 404 page, then logout.
  await login(userName);
  check((await page.locator("#username").textContent()) === userName, "home shows the user");
  await shoot("home");
  expectedErrorPage = `${hub}admin`;
  response = await page.goto(`${hub}admin`);
  check(response.status() === 403, `admin page for a non-admin: ${response.status()}`);
  await shoot("error-403");
  expectedErrorPage = `${hub}no-such-page`;
  response = await page.goto(`${hub}no-such-page`);
  check(response.status() === 404, `unknown page: ${response.status()}`);
  await shoot("error-404");
  expectedErrorPage = null;
  // Following a plain link to the logout page only asks (a cross-site link cannot sign out).
  response = await page.goto(`${hub}logout`);
  check(response.status() === 200, `logout confirmation page: ${response.status()}`);
  check(await page.locator("#logout-confirm").isVisible(), "logout confirmation button");
  await shoot("logout-confirm");
  await page.getByRole("link", { name: "Stay signed in" }).click();
  await page.waitForURL(/\/hub\/home/);
  // The home page's Sign out button posts the form and signs out at once.
  await Promise.all([page.waitForURL(/login/), page.getByRole("button", { name: "Sign out" }).first().click()]);
  await shoot("logout");
  seen.steps.push("user pages");

  // The admin: home, admin page, add, make admin, search, delete.
  await login(adminName);
  check(await page.getByRole("link", { name: "Admin" }).isVisible(), "admin link on home");
  await shoot("home-admin");
  await page.getByRole("link", { name: "Admin" }).click();
  await page.waitForURL(/\/hub\/admin/);
  check(await page.locator("table#users").isVisible(), "users table");
  await shoot("admin");

  await page.getByLabel("Add a user").fill(newUser);
  await Promise.all([page.waitForURL(/done=added/), page.getByRole("button", { name: "Add user" }).click()]);
  check((await page.locator("#notice").textContent()).includes(`Added user ${newUser}`), "add notice");
  const row = () => page.locator(`tr[data-user="${newUser}"]`);
  check((await row().count()) === 1, "new user listed");
  seen.steps.push("added");

  await Promise.all([
    page.waitForURL(/done=admin/),
    page.getByRole("button", { name: `Make ${newUser} an admin` }).click(),
  ]);
  check((await row().locator(".tag.admin").count()) === 1, "new user is admin");
  seen.steps.push("made admin");

  // Groups: create one, add the new user, remove them, delete the group.
  await page.getByLabel("Create a group").fill("reviewers");
  await Promise.all([page.waitForURL(/done=group-added/), page.getByRole("button", { name: "Create group" }).click()]);
  check((await page.locator("#notice").textContent()).includes("Created group reviewers"), "group notice");
  await page.getByLabel("User to add to reviewers").fill(newUser);
  await Promise.all([
    page.waitForURL(/done=member-added/),
    page.getByRole("button", { name: "Add the user to reviewers" }).click(),
  ]);
  check((await page.locator("table#groups").textContent()).includes(newUser), "member listed");
  await shoot("admin-groups");
  await Promise.all([
    page.waitForURL(/done=member-removed/),
    page.getByRole("button", { name: `Remove ${newUser} from reviewers` }).click(),
  ]);
  await Promise.all([
    page.waitForURL(/done=group-deleted/),
    page.getByRole("button", { name: "Delete group reviewers" }).click(),
  ]);
  check(!(await page.locator("table#groups").textContent()).includes("reviewers"), "group gone");
  seen.steps.push("managed a group");

  await page.getByLabel("Search users").fill(newUser.slice(0, 3));
  await Promise.all([page.waitForURL(/q=/), page.getByRole("button", { name: "Search" }).click()]);
  const names = await page.locator("tbody tr[data-user]").evaluateAll((rows) => rows.map((r) => r.dataset.user));
  check(names.length >= 1 && names.every((n) => n.includes(newUser.slice(0, 3))), `search result: ${names}`);
  await shoot("admin-search");
  seen.steps.push("searched");

  await Promise.all([
    page.waitForURL(/done=deleted/),
    page.getByRole("button", { name: `Delete ${newUser}` }).click(),
  ]);
  check((await page.locator("#notice").textContent()).includes(`Deleted user ${newUser}`), "delete notice");
  check((await row().count()) === 0, "deleted user gone");
  await shoot("admin-deleted");
  seen.steps.push("deleted");

  // Keyboard: Tab reaches the skip link first, and it is visible when focused.
  await page.goto(`${hub}home`);
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement?.textContent?.trim());
  check(focused === "Skip to content", `first Tab stop: ${focused}`);
} catch (err) {
  problems.push(String(err?.stack || err));
} finally {
  await context.close();
}

console.log(JSON.stringify({ ...seen, problems }));
process.exit(problems.length ? 1 : 0);
