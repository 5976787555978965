// Drives the agent portal in a real headless Chromium through playwright-core. Run by
// tests/portal/browser.rs; exits non-zero with a clear message on failure.
//
//   node tests/portal.mjs <base url> <login> <password> <customer number> <cash-in amount> <masked name>
//
// It signs in, cashes in (checking the masked name), reads the customer's SMS in the development
// provider, pays out the withdrawal the customer started on USSD, and proves that a POST without
// the CSRF token is refused. Environment: PLAYWRIGHT_CORE_DIR (required), CHROMIUM_BIN.

import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [base, login, password, number, amount, maskedName] = process.argv.slice(2);
if (!base || !login || !password || !number || !amount || !maskedName) {
  console.error("usage: node tests/portal.mjs <base url> <login> <password> <number> <amount> <masked name>");
  process.exit(2);
}
const coreDir = process.env.PLAYWRIGHT_CORE_DIR;
if (!coreDir) {
  console.error("PLAYWRIGHT_CORE_DIR must name the playwright-core package directory");
  process.exit(2);
}
let chromium;
try {
  ({ chromium } = createRequire(import.meta.url)(resolve(coreDir)));
} catch (e) {
  console.error(`portal: FAILED: cannot load playwright-core from ${coreDir}: ${e.message}`);
  process.exit(2);
}
const executablePath = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const log = (...a) => console.log("portal:", ...a);
const profile = mkdtempSync(join(tmpdir(), "mkoba-portal-chromium-"));
let context;
let page;
const problems = [];

async function text(selector) {
  return ((await page.locator(selector).first().textContent()) ?? "").trim();
}

async function expectText(selector, wanted, what) {
  const got = await text(selector);
  if (!got.includes(wanted)) throw new Error(`${what}: ${selector} should contain ${JSON.stringify(wanted)} but shows ${JSON.stringify(got)}`);
  log(`${what}: ${JSON.stringify(got)}`);
}

async function run() {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: false,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 360, height: 740 },
    timeout: 60_000,
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // The development SMS inbox is plain JSON with no icon: the browser's own /favicon.ico probe
    // there is not the portal's business. Every other error counts.
    if (m.type() === "error" && !(m.location().url || "").endsWith("/favicon.ico")) {
      problems.push(`console error: ${m.text()} (${m.location().url})`);
    }
  });

  // Sign in (a 360-px-wide phone screen: nothing may need sideways scrolling).
  const first = await page.goto(`${base}/portal`);
  if (!first || first.status() !== 200) throw new Error(`GET /portal answered ${first && first.status()}`);
  if (!page.url().endsWith("/portal/sign-in")) throw new Error(`/portal should lead to sign-in, got ${page.url()}`);
  await page.fill("#login", login);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL("**/portal/dashboard"), page.click("button[type=submit]")]);
  await expectText("#float-available", "KES", "dashboard");
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  if (wide > 360) throw new Error(`the dashboard is ${wide}px wide on a 360-px screen`);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "mkoba_portal");
  if (!session || !session.httpOnly || session.sameSite !== "Strict") {
    throw new Error(`the session cookie must be HttpOnly and SameSite=Strict: ${JSON.stringify(session)}`);
  }
  if (await page.evaluate(() => document.cookie.includes("mkoba_portal"))) {
    throw new Error("page scripts must not see the session cookie");
  }

  // Cash-in: number and amount, then the masked name to confirm, then the receipt.
  await page.click("nav >> text=Cash-in");
  await page.fill("#phone", number);
  await page.fill("#amount", amount);
  await page.click("button[type=submit] >> text=Check");
  await expectText("#facts", maskedName, "confirm cash-in");
  // A double click on confirm: the form token makes it one cash-in.
  await page.locator("#confirm").dblclick();
  await page.waitForSelector("#code");
  const code = await text("#code");
  if (!/^[A-Z0-9]{10}$/.test(code)) throw new Error(`receipt code ${JSON.stringify(code)}`);
  log(`cash-in receipt ${code}`);

  // The customer's SMS in the development provider carries that code.
  const digits = number.replace(/\D/g, "");
  const inbox = await page.goto(`${base}/dev/sms/${digits}`);
  const messages = (await inbox.json()).messages;
  const sms = messages.find((m) => m.template === "cash_in" && m.body.includes(code));
  if (!sms) throw new Error(`no cash-in SMS with ${code} for ${number}: ${JSON.stringify(messages)}`);
  log(`SMS: ${JSON.stringify(sms.body)}`);

  // Cash-out: the withdrawal the customer started on USSD waits here; pay it and confirm.
  await page.goto(`${base}/portal/cash-out`);
  const pay = page.locator("#waiting button[id^=pay-]");
  if ((await pay.count()) !== 1) throw new Error(`one withdrawal should wait: ${await text("main")}`);
  await expectText("#waiting", maskedName, "waiting withdrawal");
  await Promise.all([page.waitForSelector("#code"), pay.click()]);
  await expectText(".notice", "Cash-out posted", "cash-out");
  log(`cash-out receipt ${await text("#code")}`);

  const seen = problems.length;
  // A POST without the CSRF token (same origin, with the session cookie) is refused. The CSP
  // forbids scripts from calling the server at all (connect-src falls back to 'none'), so the
  // forged request is a plain form, as another page of this origin could submit it.
  const [forged] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/portal/cash-in/check")),
    page.evaluate((n) => {
      const form = document.createElement("form");
      form.method = "post";
      form.action = "/portal/cash-in/check";
      for (const [name, value] of [["phone", n], ["amount", "100"]]) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = value;
        form.appendChild(input);
      }
      document.body.appendChild(form);
      form.submit();
    }, number),
  ]);
  await page.waitForLoadState();
  if (forged.status() !== 403) throw new Error(`a CSRF-less POST should be refused with 403, got ${forged.status()}`);
  await expectText("h1", "Form expired", "CSRF-less POST");
  // And scripts cannot reach the server behind the page's back.
  const blocked = await page.evaluate(async () => {
    try {
      await fetch("/portal/dashboard");
      return false;
    } catch {
      return true;
    }
  });
  if (!blocked) throw new Error("the CSP should block fetch() from portal pages");
  // The two refusals just provoked are logged by the browser as errors; they are the point.
  const provoked = problems.splice(seen);
  problems.push(...provoked.filter((p) => !p.includes("Content Security Policy") && !p.includes("status of 403")));

  // Sign out: back to the sign-in page, and the dashboard is closed.
  await page.goto(`${base}/portal/dashboard`);
  await Promise.all([page.waitForURL("**/portal/sign-in"), page.click("header button >> text=Sign out")]);
  await page.goto(`${base}/portal/dashboard`);
  if (!page.url().endsWith("/portal/sign-in")) throw new Error(`after sign-out the dashboard should redirect: ${page.url()}`);

  if (problems.length) throw new Error(problems.join("\n"));
}

let code = 0;
try {
  await run();
  log("OK");
} catch (e) {
  code = 1;
  console.error(`portal: FAILED: ${e && e.message ? e.message : e}`);
  if (page) {
    try {
      console.error(`portal: at ${page.url()}: ${JSON.stringify((await page.locator("body").textContent()).slice(0, 1500))}`);
    } catch {}
  }
  if (problems.length) console.error(problems.join("\n"));
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
