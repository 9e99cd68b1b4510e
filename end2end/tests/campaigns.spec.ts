import { test, expect, Page } from "@playwright/test";
import * as path from "path";

import { typePrompt, waitForBothDone } from "./helpers";

// scripts/test.sh creates this admin with `server admin create`.
const ADMIN = process.env.ARENA_ADMIN ?? "e2e-admin";
const PASSWORD = process.env.ARENA_ADMIN_PASSWORD ?? "correct horse battery";
const shot = (name: string) => path.join(__dirname, "..", "..", "docs", name);

// RFC 3339 (UTC, whole seconds), `minutes` from now.
const at = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString().slice(0, 19) + "Z";

async function signIn(page: Page) {
  await page.goto("/signin");
  await page.waitForLoadState("networkidle");
  await page.getByLabel("Username").fill(ADMIN);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(".me")).toHaveText(ADMIN);
}

// Opens the console's form on `slug` (or a new one), sets the fields, saves.
async function saveCampaign(page: Page, slug: string | null, fields: Record<string, string>) {
  await page.goto(slug ? `/admin/campaigns?edit=${slug}` : "/admin/campaigns");
  await page.waitForLoadState("networkidle");
  const form = page.locator("form.campaign-form");
  for (const [name, value] of Object.entries(fields)) {
    await form.locator(`[name=${name}]`).fill(value);
  }
  await form.getByRole("button", { name: "Save campaign" }).click();
  await expect(page.locator(".notice[role=status]")).toHaveText("Campaign saved.");
}

test("a campaign before, during and after its dates, with registration and rubric votes", async ({ page, browser }) => {
  const slug = `euskara-${Date.now() % 100000}`;
  await signIn(page);
  await saveCampaign(page, null, {
    name: "Basque week",
    slug,
    description: "A week of prompts in Basque.",
    starts_at: at(60),
    ends_at: at(120),
    languages: "eu",
    questions: "proficiency: How well do you speak Basque? (1-5)",
    axes: "content: Content\nlanguage: Language quality",
  });
  const row = page.locator(`tr[data-campaign=${slug}]`);
  await expect(row.locator(".campaign-status")).toHaveText("Upcoming");

  // A volunteer (another browser) before the dates: told when it opens, no composer.
  const volunteer = await (await browser.newContext()).newPage();
  await volunteer.goto(`/c/${slug}`);
  await expect(volunteer.locator(".campaign-gate")).toContainText("This campaign opens on");
  await expect(volunteer.locator("textarea[name=prompt]")).toHaveCount(0);

  // The admin opens it now.
  await saveCampaign(page, slug, { starts_at: at(-60) });
  await expect(row.locator(".campaign-status")).toHaveText("Open");

  // During: the registration question first, then the battle in Basque with the rubric.
  await volunteer.goto(`/c/${slug}`);
  await volunteer.waitForLoadState("networkidle");
  const question = volunteer.locator("form.registration select[name=proficiency]");
  await expect(async () => {
    await question.selectOption("4");
    await expect(volunteer.getByRole("button", { name: "Save and start" })).toBeEnabled({ timeout: 1000 });
  }).toPass({ timeout: 60_000 });
  await volunteer.getByRole("button", { name: "Save and start" }).click();
  await expect(volunteer.locator("textarea[name=prompt]")).toBeVisible();
  await expect(volunteer.locator("select[name=language]")).toBeHidden();
  await typePrompt(volunteer, "Idatzi esaldi bat itsasoari buruz.", "Start battle");
  await volunteer.getByRole("button", { name: "Start battle" }).click();
  await waitForBothDone(volunteer);
  const vote = volunteer.locator("button.rubric-vote");
  await expect(vote).toBeDisabled();
  // Content: A; language: B. Content comes first in the rule, so A wins.
  await volunteer.locator("[data-axis=content] button[data-verdict=model_a]").click();
  await expect(vote).toBeDisabled();
  await volunteer.locator("[data-axis=language] button[data-verdict=model_b]").click();
  await volunteer.screenshot({ path: shot("campaign-rubric.png"), fullPage: true });
  await vote.click();
  const agree = volunteer.getByRole("button", { name: "I agree — record my vote" });
  const voted = volunteer.locator(".turn").last().locator(".voted");
  await expect(voted.or(agree)).toBeVisible();
  if (await agree.isVisible()) await agree.click();
  await expect(voted).toHaveAttribute("data-winner", "model_a");
  await expect(volunteer.locator(".reveal")).toBeVisible();
  expect(volunteer.url()).toContain(`/c/${slug}?battle=`);

  // Its leaderboard: the vote, the progress chart; the volunteer joins the contributor board.
  await volunteer.goto(`/c/${slug}/leaderboard`);
  await expect(volunteer.locator(".run")).toContainText("1 counted vote");
  await expect(volunteer.locator("svg.progress-chart rect.bar")).toHaveCount(1);
  await volunteer.waitForLoadState("networkidle");
  const join = volunteer.locator("form.join");
  await expect(async () => {
    await join.locator("input[name=alias]").fill("Itsaso");
    await join.getByRole("button", { name: "Join" }).click();
    await expect(volunteer.locator("table.contributor-board")).toContainText("Itsaso", { timeout: 2000 });
  }).toPass({ timeout: 60_000 });
  await volunteer.screenshot({ path: shot("campaign-leaderboard.png"), fullPage: true });

  // After its end: the battle page says it closed; the leaderboard stays.
  await saveCampaign(page, slug, { starts_at: at(-120), ends_at: at(-1) });
  await expect(row.locator(".campaign-status")).toHaveText("Closed");
  await volunteer.goto(`/c/${slug}`);
  await expect(volunteer.locator(".campaign-gate")).toContainText("This campaign closed on");
  await expect(volunteer.locator("textarea[name=prompt]")).toHaveCount(0);
  await volunteer.goto(`/c/${slug}/leaderboard`);
  await expect(volunteer.locator(".run")).toContainText("1 counted vote");
  await expect(volunteer.locator("table.contributor-board")).toContainText("Itsaso");
});
