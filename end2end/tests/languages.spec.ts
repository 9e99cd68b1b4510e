import { test, expect, Browser } from "@playwright/test";
import * as fs from "fs";
import * as path from "path";

// scripts/test.sh creates this admin with `server admin create`.
const ADMIN = process.env.ARENA_ADMIN ?? "e2e-admin";
const PASSWORD = process.env.ARENA_ADMIN_PASSWORD ?? "correct horse battery";

// The UI's texts, as app/build.rs compiles them in.
function texts(lang: string): Map<string, string> {
  const file = path.join(__dirname, "..", "..", "app", "locales", `${lang}.toml`);
  const out = new Map<string, string>();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^([a-z0-9_]+) = "(.*)"$/.exec(line.trim());
    if (m) out.set(m[1], m[2].replace(/\\"/g, '"').replace(/\\\\/g, "\\"));
  }
  return out;
}

// English fragments that must not appear on a page in `lang`: of every text that the language
// translates differently, its pieces between placeholders of at least 12 characters (shorter
// ones, like "Tie", also occur in names and answers).
function untranslated(lang: string): string[] {
  const english = texts("en");
  const ours = texts(lang);
  const out: string[] = [];
  for (const [key, text] of english) {
    if (ours.get(key) === text) continue;
    for (const piece of text.split(/\{[a-z_]+\}/)) {
      const p = piece.trim();
      if (p.length >= 12) out.push(p);
    }
  }
  return out;
}

// Every page: the volunteer's, the researcher's, and the admins' console.
const PAGES = [
  "/",
  "/leaderboard",
  "/leaderboard?style=control",
  "/leaderboard/regressions",
  "/data",
  "/c/arena",
  "/c/arena/leaderboard",
  "/signin",
  "/signup",
  "/account",
  "/admin",
  "/admin/pairing",
  "/admin/campaigns",
  "/admin/moderation",
  "/admin/imports",
  "/admin/users",
  "/admin/audit",
];

async function walk(browser: Browser, lang: string) {
  // The browser's language (Chromium sends it as Accept-Language).
  const context = await browser.newContext({ locale: lang });
  const page = await context.newPage();
  // Signed in as the admin, so that the console's pages (and /data, /account) show everything.
  await page.goto("/signin");
  await page.waitForLoadState("networkidle");
  const fields = page.locator(".account-form input");
  await fields.nth(0).fill(ADMIN);
  await fields.nth(1).fill(PASSWORD);
  await page.locator(".account-form button[type=submit]").click();
  await expect(page.locator(".me")).toHaveText(ADMIN);
  const forbidden = untranslated(lang);
  const models = await (await page.request.get("/api/v1/admin/models")).json();
  const pages = [...PAGES, `/admin/models/${models[0].key}`];
  for (const url of pages) {
    await page.goto(url);
    await page.waitForLoadState("networkidle");
    await expect(page.locator("html")).toHaveAttribute("lang", lang);
    const body = await page.locator("body").innerText();
    const left = forbidden.filter((f) => body.includes(f));
    expect(left, `${url} in ${lang} still shows English`).toEqual([]);
  }
  await context.close();
}

test("every page comes out in Basque, without an untranslated text", async ({ browser }) => {
  await walk(browser, "eu");
});

test("every page comes out in Spanish, without an untranslated text", async ({ browser }) => {
  await walk(browser, "es");
});

// The switch in the top bar, clicked on a hydrated page (the client router must leave the link
// to the server) and without JavaScript: the language changes, the cookie remembers it, and the
// visitor stays on the page they were on.
for (const javaScriptEnabled of [true, false]) {
  test(`the language switch works ${javaScriptEnabled ? "after hydration" : "without JavaScript"}`, async ({ browser }) => {
    const context = await browser.newContext({ locale: "en", javaScriptEnabled });
    const page = await context.newPage();
    await page.goto("/leaderboard");
    if (javaScriptEnabled) await page.waitForLoadState("networkidle");
    await expect(page.locator("html")).toHaveAttribute("lang", "en");
    await page.locator('a[hreflang="eu"]').click();
    await expect(page.locator("html")).toHaveAttribute("lang", "eu");
    await expect(page).toHaveURL(/\/leaderboard$/);
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === "arena_lang")?.value).toBe("eu");
    await page.locator('a[hreflang="es"]').click();
    await expect(page.locator("html")).toHaveAttribute("lang", "es");
    await context.close();
  });
}
