import { test, expect, Page } from "@playwright/test";
import * as path from "path";

import { answers, castVote, typePrompt, waitForBothDone } from "./helpers";

test("the home page hydrates: a suggested prompt fills the box", async ({ page }) => {
  await page.goto("/");
  const start = page.getByRole("button", { name: "Start battle" });
  await expect(start).toBeDisabled();
  // Only a hydrated page reacts to this click: on a loaded machine the first click may come
  // before hydration, so it is retried until the page reacts.
  await expect(async () => {
    await page.locator(".suggestion").first().click();
    await expect(page.locator("textarea[name=prompt]")).toHaveValue(/photosynthesis/, { timeout: 1000 });
  }).toPass({ timeout: 60_000 });
  await expect(start).toBeEnabled();
});

test("a full battle: stream, vote, reveal, continue without votes, start anew", async ({ page }) => {
  await page.goto("/");
  await expect(page.locator("body")).not.toContainText("smollm2");
  const box = page.locator("textarea[name=prompt]");
  // Wait for hydration: typing must enable the button.
  await typePrompt(page, "Name three colours.", "Start battle");
  await page.getByRole("button", { name: "Start battle" }).click();

  // Both answers stream side by side, anonymously.
  await expect(answers(page)).toHaveCount(2);
  await expect(answers(page).nth(0).locator(".label")).toHaveText("Model A");
  await expect(answers(page).nth(1).locator(".label")).toHaveText("Model B");
  const vote = page.locator("button.vote[data-winner=model_a]");
  await expect(vote).toBeDisabled();
  await waitForBothDone(page);
  expect((await answers(page).nth(0).locator(".content").innerText()).length).toBeGreaterThan(0);
  expect((await answers(page).nth(1).locator(".content").innerText()).length).toBeGreaterThan(0);
  await expect(page.locator(".reveal")).toHaveCount(0);

  // Vote with the button: the first vote asks for the terms first (nothing is recorded before
  // they are accepted); then the names appear.
  await expect(vote).toBeEnabled();
  await vote.click();
  const consent = page.getByRole("dialog", { name: "Terms of use" });
  await expect(consent).toBeVisible();
  await expect(consent.getByRole("link", { name: "terms of use and data-use notice" })).toHaveAttribute("href", "/terms");
  await expect(page.locator(".reveal")).toHaveCount(0);
  await consent.getByRole("button", { name: "I agree — record my vote" }).click();
  await expect(page.locator(".reveal")).toContainText("SmolLM2-135M-Instruct");
  // After the reveal the page says the truth: the vote buttons give way to a plain line, and
  // a new battle is the obvious next step.
  await expect(page.locator(".vote-area")).toBeHidden();
  const after = page.locator(".after-reveal");
  await expect(after).toContainText("votes on this battle no longer count");
  await expect(after.getByRole("button", { name: "+ New battle" })).toBeVisible();
  await page.screenshot({ path: path.join(__dirname, "..", "..", "docs", "screenshot.png"), fullPage: true });

  // The conversation goes on; the shortcuts record nothing after the reveal.
  await box.fill("Now name three animals.");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.locator(".turn")).toHaveCount(2);
  await waitForBothDone(page);
  await page.locator("h1, .prompt").first().click();
  await page.keyboard.press("3");
  await expect(page.locator(".vote-area")).toBeHidden();
  await expect(page.locator(".turn").last().locator(".voted")).toHaveCount(0);
  await expect(after).toBeVisible();

  // A new battle starts clean, with the vote buttons back.
  await after.getByRole("button", { name: "+ New battle" }).click();
  await expect(page.locator(".turn")).toHaveCount(0);
  await expect(page.locator(".after-reveal")).toHaveCount(0);
});

test("a battle survives a reload, mid-stream and after the vote", async ({ page }) => {
  await page.goto("/");
  await typePrompt(page, "Write two sentences about rivers.", "Start battle");
  await page.getByRole("button", { name: "Start battle" }).click();
  // The battle is in the address at once; reloading while the answers are written resumes them.
  await expect(page).toHaveURL(/\?battle=[0-9a-f-]{36}$/);
  const url = page.url();
  await page.reload();
  await expect(page.locator(".turn .prompt")).toHaveText("Write two sentences about rivers.");
  await waitForBothDone(page);
  const textA = await answers(page).nth(0).locator(".content").innerText();
  expect(textA.length).toBeGreaterThan(0);
  // A reload of a finished turn shows the same answers, still votable and still anonymous.
  await page.reload();
  await waitForBothDone(page);
  expect(await answers(page).nth(0).locator(".content").innerText()).toBe(textA);
  await expect(page.locator(".reveal")).toHaveCount(0);
  await expect(page.locator("button.vote[data-winner=model_b]")).toBeEnabled();
  await castVote(page, "model_b");
  await expect(page.locator(".reveal")).toContainText("SmolLM2-135M-Instruct");
  // After the vote, a reload shows the vote and the names.
  await page.goto(url);
  await expect(page.locator(".turn .voted")).toHaveAttribute("data-winner", "model_b");
  await expect(page.locator(".reveal")).toContainText("SmolLM2-135M-Instruct");
  await expect(page.locator(".vote-area")).toBeHidden();
  await expect(page.locator(".after-reveal")).toBeVisible();
  // A new battle takes the battle out of the address; someone else's link shows nothing of it.
  await page.locator(".after-reveal").getByRole("button", { name: "+ New battle" }).click();
  await expect(page).toHaveURL(/\/$/);
  const stranger = await page.context().browser()!.newContext();
  const other = await stranger.newPage();
  await other.goto(url);
  await expect(other.locator("[role=alert]")).toContainText("not available");
  await expect(other.locator(".turn")).toHaveCount(0);
  await stranger.close();
});

test("works at phone width", async ({ browser }) => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await page.goto("/");
  await expect(page.locator("textarea[name=prompt]")).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.close();
});

test("the leaderboard renders on the server and its filters round-trip", async ({ page }) => {
  await page.goto("/leaderboard");
  const rows = page.locator("table.board tbody tr");
  await expect(rows).toHaveCount(2);
  await expect(page.locator("table.board")).toContainText("SmolLM2-135M-Instruct (temperature 0.2)");
  await expect(page.locator("p.run")).toContainText("sandwich 95% CI");
  // Server-drawn SVG: the two heatmaps (and the interval plot once a vote counts).
  expect(await page.locator(".leaderboard svg").count()).toBeGreaterThanOrEqual(2);
  await page.locator("select[name=ci]").selectOption("bootstrap");
  await page.locator("select[name=ties]").selectOption("davidson");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/ci=bootstrap/);
  await expect(page.locator("p.run")).toContainText("bootstrap 95% percentile CI (1000 rounds, seed 1)");
  await expect(page.locator("select[name=ci]")).toHaveValue("bootstrap");
  // The run it shows can be refitted from the votes, to the bit.
  const href = await page.getByRole("link", { name: "refit it from the votes" }).getAttribute("href");
  const reproduced = await (await page.request.get(href!)).json();
  expect(reproduced.identical).toBe(true);
});

test("a young leaderboard: provisional models, one notice, plots at their size, style control", async ({ browser }) => {
  // The battles above left a few votes between the two entries: too few to rank them.
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await page.goto("/leaderboard");
  await expect(page.locator("table.board tbody tr.provisional")).toHaveCount(2);
  await expect(page.locator("table.board tbody tr").first().locator("td").first()).toHaveText("provisional");
  await expect(page.locator(".leaderboard .notice")).toHaveCount(1);
  await expect(page.locator(".leaderboard .notice")).toContainText("Too few votes to rank the models yet");
  await expect(page.locator("table.board")).toContainText("more to rank");
  // Two models make a small heatmap, not two page-wide cells; nothing widens the page itself.
  const heatmap = page.locator("svg.heatmap").first();
  const box = await heatmap.boundingBox();
  const natural = Number(await heatmap.getAttribute("width"));
  expect(box!.width).toBeLessThanOrEqual(natural + 0.5);
  expect(box!.width).toBeLessThan(420);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: path.join(__dirname, "..", "..", "docs", "leaderboard-phone.png"), fullPage: true });
  // Style control: a second ranking (or, on these few votes, a plain word on why not yet).
  await page.locator("select[name=style]").selectOption("control");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/style=control/);
  const section = page.locator("section.style-board");
  await expect(section.locator("h2")).toHaveText("Style-controlled ranking");
  await expect(section.locator("table.style tbody tr, [role=status]").first()).toBeVisible();
  await expect(page.locator("body")).not.toContainText("server function");
  await page.close();
});

test("a bad leaderboard query shows a plain message, not a spinner or internal text", async ({ page }) => {
  const response = await page.goto("/leaderboard?ci=foo");
  expect(response!.status()).toBeLessThan(500);
  const alert = page.locator(".leaderboard [role=alert]");
  await expect(alert).toHaveText("ci must be sandwich or bootstrap");
  await expect(page.getByText("Computing…")).toHaveCount(0);
  await expect(page.locator("body")).not.toContainText("server function");
  // The page hydrated and the filters still work from here.
  await page.locator("select[name=ci]").selectOption("sandwich");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.locator("table.board tbody tr")).toHaveCount(2);
});
