import { test, expect, Page } from "@playwright/test";
import * as fs from "fs";
import * as path from "path";

import { castVote, typePrompt, waitForBothDone } from "./helpers";

// scripts/test.sh creates this admin with `server admin create` and starts a second worker.
const ADMIN = process.env.ARENA_ADMIN ?? "e2e-admin";
const PASSWORD = process.env.ARENA_ADMIN_PASSWORD ?? "correct horse battery";
const SECOND_WORKER = process.env.SECOND_WORKER_URL ?? "";
const shot = (name: string) => path.join(__dirname, "..", "..", "docs", name);

async function signIn(page: Page, username: string, password: string) {
  await page.waitForLoadState("networkidle");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function countedVotes(page: Page): Promise<number> {
  await page.goto("/leaderboard");
  const text = await page.locator(".run").innerText();
  return Number(/(\d+) counted vote/.exec(text)![1]);
}

test("a volunteer is refused the console; a stranger is sent to sign in", async ({ page }) => {
  await page.goto("/admin");
  await expect(page).toHaveURL(/\/signin\?next=\/admin$/);
  await page.goto("/signup");
  await page.waitForLoadState("networkidle");
  await page.getByLabel("Username").fill(`vol${Date.now()}`);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.locator(".me")).not.toHaveText("Sign in");
  const r = await page.goto("/admin");
  expect(r!.status()).toBe(403);
  await expect(page.locator(".notice.failure")).toContainText("admin role");
  await expect(page.locator("table")).toHaveCount(0);
});

test("an admin adds a model on a second worker, edits a weight, voids a vote; all audited", async ({ page }) => {
  expect(SECOND_WORKER, "SECOND_WORKER_URL").not.toBe("");
  await page.goto("/admin");
  await expect(page).toHaveURL(/\/signin/);
  await signIn(page, ADMIN, PASSWORD);
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.locator("tr[data-model]")).toHaveCount(2);
  await expect(page.locator("tr[data-model] [data-health=up]").first()).toBeVisible();

  // A new model on the second worker, while the arena runs.
  const key = `smollm2-second-${Date.now() % 100000}`;
  const add = page.locator("form.add-model");
  await add.getByLabel("Key").fill(key);
  await add.getByLabel("Display name").fill("SmolLM2 on the second worker");
  await add.getByLabel("Organization").fill("Hugging Face");
  await add.getByLabel("Temperature").fill("0.7");
  await add.getByLabel("Max tokens").fill("32");
  await add.getByRole("button", { name: "Add model" }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/models/${key}$`));
  const endpoint = page.locator("form.add-endpoint");
  await endpoint.getByLabel("Base URL").fill(SECOND_WORKER);
  await endpoint.getByLabel("Upstream model").fill("smollm2-135m-instruct");
  await endpoint.getByRole("button", { name: "Add endpoint" }).click();
  await expect(page.locator(".endpoint")).toHaveCount(1);
  // Its health comes up (the gateway checked it); "Test this endpoint" answers.
  await expect(async () => {
    await page.reload();
    await expect(page.locator(".endpoint [data-health=up]")).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 60_000 });
  await page.waitForLoadState("networkidle");
  await page.getByRole("button", { name: "Test this endpoint" }).click();
  await expect(page.locator(".test-result")).toContainText("Answered: TTFT");
  await page.screenshot({ path: shot("console-model.png"), fullPage: true });

  // Edit a weight: one of the first two models leaves the draw, so every battle has the new one.
  await page.goto("/admin/models/smollm2-135m-instruct-t1.0");
  await page.waitForLoadState("networkidle");
  const edit = page.locator("form.edit-model");
  await edit.getByLabel("Weight").fill("0");
  await edit.getByRole("button", { name: "Save" }).click();
  await expect(page.locator(".notice[role=status]")).toContainText("Saved");
  await page.goto("/admin");
  await expect(page.locator("tr[data-model='smollm2-135m-instruct-t1.0'] .weight")).toHaveText("0");
  await page.screenshot({ path: shot("console-models.png"), fullPage: true });

  // The next battle uses the new model, with no restart.
  const before = await countedVotes(page);
  await page.goto("/");
  await typePrompt(page, "Say hello.", "Start battle");
  await page.getByRole("button", { name: "Start battle" }).click();
  await waitForBothDone(page);
  await castVote(page, "model_a");
  await expect(page.locator(".reveal")).toContainText("SmolLM2 on the second worker");
  await expect(async () => {
    expect(await countedVotes(page)).toBe(before + 1);
  }).toPass({ timeout: 30_000 });

  // Void that vote: it leaves the leaderboard.
  await page.goto(`/admin/moderation?model=${key}`);
  await page.waitForLoadState("networkidle");
  const row = page.locator("tr[data-vote]").first();
  await expect(row).toHaveAttribute("data-voided", "false");
  await row.locator("form:has(button[data-action=vote-void]) input[name=reason]").fill("test vote");
  await row.locator("button[data-action=vote-void]").click();
  await expect(page.locator(".notice[role=status]")).toContainText("1 vote(s) changed");
  await expect(page.locator("tr[data-vote]").first()).toHaveAttribute("data-voided", "true");
  await page.screenshot({ path: shot("console-moderation.png"), fullPage: true });
  await expect(async () => {
    expect(await countedVotes(page)).toBe(before);
  }).toPass({ timeout: 30_000 });

  await page.goto("/admin/pairing");
  await expect(page.locator("table.pairs")).toContainText(key);
  await page.screenshot({ path: shot("console-pairing.png"), fullPage: true });

  // The audit log shows each step, and offers no way to change it.
  await page.goto("/admin/audit");
  for (const action of ["model.create", "endpoint.create", "model.update", "vote.void"]) {
    await expect(page.locator(`tr[data-action='${action}']`).first()).toBeVisible();
  }
  await expect(page.locator("table.audit form, table.audit button")).toHaveCount(0);
  await page.screenshot({ path: shot("console-audit.png"), fullPage: true });

  // Put the weight back for the other tests.
  await page.goto("/admin/models/smollm2-135m-instruct-t1.0");
  await page.waitForLoadState("networkidle");
  await page.locator("form.edit-model").getByLabel("Weight").fill("1");
  await page.locator("form.edit-model").getByRole("button", { name: "Save" }).click();
  await expect(page.locator(".notice[role=status]")).toContainText("Saved");
});

test("a researcher downloads the votes from /data", async ({ page }) => {
  await page.goto("/signin?next=/data");
  await signIn(page, ADMIN, PASSWORD);
  await expect(page).toHaveURL(/\/data$/);
  await page.waitForLoadState("networkidle");
  await page.locator("select[name=schema]").selectOption("full");
  await page.locator("select[name=votes]").selectOption("all");
  await page.locator("select[name=voided]").selectOption("include");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download" }).click(),
  ]);
  expect(download.suggestedFilename()).toBe("arena-full.jsonl");
  const file = await download.path();
  const rows = fs.readFileSync(file!, "utf8").trim().split("\n").map((l: string) => JSON.parse(l));
  expect(rows.length).toBeGreaterThan(0);
  expect(rows.some((r: any) => r.voided === true)).toBe(true);
  // The download ran through the page's progress indicator: rows counted as they arrived.
  const progress = page.locator(".export-progress[role=status]");
  await expect(progress).toContainText(`Done: ${rows.length} rows`);
  await expect(progress).toContainText("saved as arena-full.jsonl");
  await expect(progress.locator("progress")).toHaveAttribute("value", "1");
  await page.screenshot({ path: shot("data.png"), fullPage: true });
  // Parquet: bytes only (rows are not lines), and the same file name scheme.
  await page.locator("select[name=format]").selectOption("parquet");
  const [parquet] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download" }).click(),
  ]);
  expect(parquet.suggestedFilename()).toBe("arena-full.parquet");
  expect(fs.readFileSync((await parquet.path())!).subarray(0, 4).toString()).toBe("PAR1");
  await expect(progress).toContainText("saved as arena-full.parquet");
  // A bad filter: the server's message, in the page, and nothing downloaded.
  await page.locator("input[name=models]").fill("no-such-model");
  await page.getByRole("button", { name: "Download" }).click();
  await expect(progress.locator("[role=alert]")).toContainText("no-such-model");

  // An API token from the account page reads the same export from a script, until revoked.
  await page.goto("/account");
  await page.waitForLoadState("networkidle");
  await page.locator("form.tokens").getByLabel("Name").fill("notebook");
  await page.getByRole("button", { name: "Create token" }).click();
  const token = (await page.locator(".new-token code").innerText()).trim();
  expect(token).toMatch(/^arena_[0-9a-f]{64}$/);
  const script = await page.context().browser()!.newContext();
  const abs = (p: string) => new URL(p, page.url()).toString();
  const r = await script.request.get(abs("/api/v1/exports/battles?schema=full&votes=all&voided=include"), {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(r.status()).toBe(200);
  expect((await r.text()).trim().split("\n").length).toBe(rows.length);
  await page.getByRole("button", { name: "Revoke" }).click();
  await expect(page.locator(".token-list")).toContainText("revoked");
  const again = await script.request.get(abs("/api/v1/leaderboard"), { headers: { Authorization: `Bearer ${token}` } });
  expect(again.status()).toBe(401);
  await script.close();
});
