// Drives the phone simulator page (GET /simulator) in a real headless Chromium through
// playwright-core. Run by tests/simulator.rs; exits non-zero with a clear message on failure.
//
//   node tests/simulator.mjs <base url> <number> <pin> <expected balance text> <expected SMS text> [<unregistered number>]
//
// Environment: PLAYWRIGHT_CORE_DIR (the playwright-core package directory, required) and
// CHROMIUM_BIN (default /usr/bin/chromium).

import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const [base, number, pin, expectBalance, expectSms, stranger] = process.argv.slice(2);
if (!base || !number || !pin || !expectBalance || !expectSms) {
  console.error("usage: node tests/simulator.mjs <base url> <number> <pin> <balance text> <sms text> [<unregistered number>]");
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
  console.error(`simulator: FAILED: cannot load playwright-core from ${coreDir}: ${e.message}`);
  process.exit(2);
}
const executablePath = process.env.CHROMIUM_BIN || "/usr/bin/chromium";

const log = (...a) => console.log("simulator:", ...a);
const profile = mkdtempSync(join(tmpdir(), "mkoba-chromium-"));
let context;
let page;
const problems = [];

async function screenText() {
  return (await page.locator("#screen").textContent()) ?? "";
}

// Waits until the phone's screen contains `text`; fails with what the screen shows instead.
async function expectScreen(text, what) {
  try {
    await page.waitForFunction(
      (t) => (document.getElementById("screen").textContent || "").includes(t),
      text,
      { timeout: 15_000 },
    );
  } catch {
    throw new Error(`${what}: the screen should contain ${JSON.stringify(text)} but shows ${JSON.stringify(await screenText())}`);
  }
  log(`${what}: ${JSON.stringify(await screenText())}`);
}

async function pressKeys(keys) {
  for (const key of keys) {
    await page.click(`#keys button[data-key="${key}"]`);
  }
}

async function run() {
  // Headless is given explicitly in args (headless: false stops Playwright adding its own).
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
    timeout: 60_000,
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });

  const response = await page.goto(`${base}/simulator`);
  if (!response || response.status() !== 200) {
    throw new Error(`GET /simulator answered ${response && response.status()}`);
  }
  log(`page loaded: ${await page.title()}`);

  // The number: from the demo list when it is one, typed otherwise.
  const inList = await page.locator(`#demo option[value="${number}"]`).count();
  if (inList) {
    await page.selectOption("#demo", number);
    log(`chose ${number} from the demo list`);
  } else {
    await page.fill("#number", number);
    log(`typed ${number}`);
  }
  if ((await page.inputValue("#number")) !== number) {
    throw new Error(`#number should be ${number} but is ${await page.inputValue("#number")}`);
  }

  // The cash-in SMS is already in the inbox.
  const cashIn = page.locator('#inbox li[data-template="cash_in"]');
  try {
    await cashIn.first().waitFor({ timeout: 15_000 });
  } catch {
    throw new Error(`the inbox should list the cash-in SMS but shows ${JSON.stringify(await page.locator("#inbox").textContent())} (${await page.locator("#inbox-note").textContent()})`);
  }
  const smsBody = (await cashIn.first().locator(".body").textContent()) ?? "";
  if (!smsBody.includes(expectSms)) {
    throw new Error(`the cash-in SMS should contain ${JSON.stringify(expectSms)}: ${JSON.stringify(smsBody)}`);
  }
  log(`inbox: ${JSON.stringify(smsBody)}`);

  // Dial the short code on the keypad and press call.
  const serviceCode = JSON.parse(await page.locator("#config").textContent()).serviceCode;
  await pressKeys(serviceCode);
  if ((await page.inputValue("#input")) !== serviceCode) {
    throw new Error(`the keypad should have typed ${serviceCode}: ${await page.inputValue("#input")}`);
  }
  await page.click("#dial");
  await expectScreen("My balance", "main menu");

  // 6 (My balance) on the keypad, then Send.
  await pressKeys("6");
  await page.click("#send");
  await expectScreen("Enter PIN", "PIN prompt");

  // The PIN from the keyboard, Enter to send.
  await page.locator("#input").pressSequentially(pin);
  await page.locator("#input").press("Enter");
  await expectScreen(expectBalance, "balance");
  const status = await page.locator("#status").textContent();
  if (status !== "Ended") throw new Error(`END should close the session; status is ${status}`);

  // A number nobody registered, typed, reaches registration; the red key hangs up.
  if (stranger) {
    await page.fill("#number", stranger);
    await page.click("#dial"); // call with nothing typed dials the service code
    await expectScreen("Welcome to mkoba", "registration");
    if ((await page.locator("#status").textContent()) !== "Session") {
      throw new Error("CON should keep the session open");
    }
    await page.click("#end");
    await expectScreen(`Dial ${serviceCode}`, "after hanging up");
  }

  if (problems.length) throw new Error(problems.join("\n"));
}

let code = 0;
try {
  await run();
  log("OK");
} catch (e) {
  code = 1;
  console.error(`simulator: FAILED: ${e && e.message ? e.message : e}`);
  if (page) {
    try {
      console.error(`simulator: screen=${JSON.stringify(await screenText())} inbox=${JSON.stringify(await page.locator("#inbox").textContent())}`);
    } catch {}
  }
  if (problems.length) console.error(problems.join("\n"));
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
