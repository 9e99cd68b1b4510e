import { test, expect } from "@playwright/test";
import * as fs from "fs";
import * as path from "path";
import { typePrompt, waitForBothDone } from "./helpers";

// The volunteer's first minute (#24): what every page loads answers, without a 404 in the log.
test("every page names a favicon that is served", async ({ page }) => {
  const missing: string[] = [];
  page.on("response", (r) => {
    if (r.status() === 404) missing.push(r.url());
  });
  await page.goto("/");
  await page.waitForLoadState("networkidle");
  await expect(page.locator('link[rel="icon"]')).toHaveAttribute("href", "/favicon.ico");
  const icon = await page.request.get("/favicon.ico");
  expect(icon.status()).toBe(200);
  expect((await icon.body()).subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0]));
  expect(missing).toEqual([]);
});

// No vote buttons on the empty page (nothing to vote on yet), on a desktop and on a phone; they
// appear with the battle.
for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
  test(`no vote buttons before a battle (${viewport.width} px)`, async ({ browser }) => {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto("/");
    await page.waitForLoadState("networkidle");
    await expect(page.locator("textarea[name=prompt]")).toBeVisible();
    await expect(page.locator("button.vote").first()).toBeHidden();
    await context.close();
  });
}

// The prompt's language starts as the page's: Basque on a Basque page, Spanish on a Spanish one.
for (const locale of ["eu", "es", "en"]) {
  test(`the prompt language follows the page language (${locale})`, async ({ browser }) => {
    const context = await browser.newContext({ locale });
    const page = await context.newPage();
    await page.goto("/");
    await page.waitForLoadState("networkidle");
    await expect(page.locator("html")).toHaveAttribute("lang", locale);
    await expect(page.locator("select[name=language]")).toHaveValue(locale);
    await context.close();
  });
}

// The terms dialog before the first vote is a modal one: its agree button takes the focus, Tab
// stays inside it, and Esc closes it without recording anything.
test("the terms dialog takes the focus, keeps it, and closes with Esc", async ({ page }) => {
  await page.goto("/");
  await typePrompt(page, "Name two rivers.", "Start battle");
  await page.getByRole("button", { name: "Start battle" }).click();
  await waitForBothDone(page);
  await page.locator("button.vote[data-winner=model_a]").click();
  const dialog = page.getByRole("dialog", { name: "Terms of use" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "I agree — record my vote" })).toBeFocused();
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press("Tab");
    expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  }
  await page.keyboard.press("Shift+Tab");
  expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(page.locator(".reveal")).toHaveCount(0);
  await expect(page.locator(".turn").last().locator(".voted")).toHaveCount(0);
});

// After the reveal the page says the truth, in every language and on a phone: the vote buttons
// give way to a plain line (votes after the names are known do not count) and a new battle.
function localeText(lang: string, key: string): string {
  const file = path.join(__dirname, "..", "..", "app", "locales", `${lang}.toml`);
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^([a-z0-9_]+) = "(.*)"$/.exec(line.trim());
    if (m && m[1] === key) return m[2].replace(/\\"/g, '"');
  }
  throw new Error(`${key} is not in ${lang}.toml`);
}

for (const [locale, viewport] of [
  ["eu", { width: 390, height: 844 }],
  ["es", { width: 1280, height: 800 }],
] as const) {
  test(`after the reveal no vote is offered (${locale}, ${viewport.width} px)`, async ({ browser }) => {
    const context = await browser.newContext({ locale, viewport });
    const page = await context.newPage();
    await page.goto("/");
    await typePrompt(page, "Kaixo! Zer moduz?", localeText(locale, "start_battle"));
    await page.getByRole("button", { name: localeText(locale, "start_battle") }).click();
    await waitForBothDone(page);
    await page.locator("button.vote[data-winner=tie]").click();
    // The terms dialog's agree button has the focus: Enter records the vote.
    await expect(page.getByRole("dialog")).toBeVisible();
    await page.keyboard.press("Enter");
    await expect(page.locator(".reveal")).toBeVisible();
    await expect(page.locator(".vote-area")).toBeHidden();
    const after = page.locator(".after-reveal");
    await expect(after).toContainText(localeText(locale, "after_reveal"));
    await expect(after.getByRole("button", { name: localeText(locale, "new_battle") })).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await context.close();
  });
}
